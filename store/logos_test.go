package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestLogos: a logo's bytes come back unchanged (every byte value, so
// no text encoding touches them), a second upload replaces the first,
// and each account sees and deletes only its own.
func TestLogos(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		for _, id := range []string{"a", "b"} {
			if err := s.CreateAccount(ctx, directory.Account{ID: id, Slug: "acct-" + id, Name: id, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		data := make([]byte, 512)
		for i := range data {
			data[i] = byte(i)
		}
		first := directory.Logo{AccountID: "a", Hash: "1111", ContentType: "image/png", Data: data, Width: 120, Height: 30, CreatedAt: now}
		if err := s.PutLogo(ctx, first); err != nil {
			t.Fatal(err)
		}
		second := directory.Logo{AccountID: "a", Hash: "2222", ContentType: "image/webp", Data: []byte{0, 1, 0xff}, Width: 1, Height: 2, CreatedAt: now.Add(time.Second)}
		if err := s.PutLogo(ctx, second); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindLogo(ctx, "a")
		if err != nil || got.Hash != "2222" || got.ContentType != "image/webp" || !bytes.Equal(got.Data, second.Data) || got.Width != 1 || got.Height != 2 || !got.CreatedAt.Equal(second.CreatedAt) {
			t.Fatalf("FindLogo after replacing = %+v, %v", got, err)
		}
		if err := s.PutLogo(ctx, first); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FindLogo(ctx, "a"); !bytes.Equal(got.Data, data) {
			t.Errorf("the bytes changed on the way: %v", got.Data)
		}
		if _, err := s.FindLogo(ctx, "b"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("account b's logo: %v; want NotFound", err)
		}
		if err := s.DeleteLogo(ctx, "b"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("deleting account b's logo: %v; want NotFound", err)
		}
		if err := s.DeleteLogo(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindLogo(ctx, "a"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("after DeleteLogo: %v; want NotFound", err)
		}
	})
}
