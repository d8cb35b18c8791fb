package certs_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func newSealer(t testing.TB) *certs.Sealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s, err := certs.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotationPublishesBeforeUseAndKeepsThePrevious(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m := certs.New(certs.Config{Store: s, Sealer: newSealer(t), KeyBits: 1024})
		first, err := m.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(first.Published) != 1 || first.Active.Key == nil {
			t.Fatalf("first start: %d published", len(first.Published))
		}
		// Step one: published, not used.
		rot, err := m.Rotate(ctx)
		if err != nil || rot.Published == nil {
			t.Fatalf("rotate 1: %+v %v", rot, err)
		}
		set, _ := m.Current(ctx)
		if set.Active.Record.ID != first.Active.Record.ID || len(set.Published) != 2 || set.Published[1].Record.ID != rot.Published.ID {
			t.Fatalf("after step one the old key must still sign and both be published: active %s, %d published", set.Active.Record.ID, len(set.Published))
		}
		// Step two: the new one signs; the old stays published as previous.
		rot2, err := m.Rotate(ctx)
		if err != nil || rot2.Activated == nil || rot2.Activated.ID != rot.Published.ID || rot2.Previous.ID != first.Active.Record.ID {
			t.Fatalf("rotate 2: %+v %v", rot2, err)
		}
		set, _ = m.Current(ctx)
		if set.Active.Record.ID != rot.Published.ID || len(set.Published) != 2 || len(set.Decrypting()) != 2 {
			t.Fatalf("after step two: active %s, %d published", set.Active.Record.ID, len(set.Published))
		}
		if err := m.Retire(ctx, set.Active.Record.ID); directory.KindOf(err) != directory.Conflict {
			t.Errorf("retiring the active certificate: %v, want Conflict", err)
		}
		if err := m.Retire(ctx, first.Active.Record.ID); err != nil {
			t.Fatal(err)
		}
		set, _ = m.Current(ctx)
		if len(set.Published) != 1 {
			t.Errorf("after retiring: %d published", len(set.Published))
		}
		// The key at rest is sealed: the stored text is not a PEM key.
		all, _ := s.FindCertificates(ctx)
		for _, c := range all {
			if strings.Contains(c.SealedKey, "PRIVATE KEY") || !strings.HasPrefix(c.SealedKey, "v1.") {
				t.Errorf("key stored unsealed: %.40s", c.SealedKey)
			}
		}
		// Another server key cannot open them.
		other := certs.New(certs.Config{Store: s, Sealer: newSealer(t)})
		if _, err := other.Current(ctx); err == nil || !strings.Contains(err.Error(), "ADMIT_SECRET_KEY") {
			t.Errorf("opened with another server key: %v", err)
		}
	})
}

func TestSealerBindsPurpose(t *testing.T) {
	s := newSealer(t)
	sealed := s.Seal([]byte("client secret"), "connection a")
	if got, err := s.Open(sealed, "connection a"); err != nil || string(got) != "client secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, "connection b"); err == nil {
		t.Error("a value sealed for one purpose opened for another")
	}
	if _, err := s.Open("v1.AAAA", "connection a"); err == nil {
		t.Error("garbage opened")
	}
}
