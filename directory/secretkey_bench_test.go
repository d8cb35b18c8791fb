package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkResealSecrets measures admit secret-key rotate: n webhooks,
// each with a rotated-out secret still signing, and n OIDC connections,
// all sealed anew each run (the key alternates). The transaction holds
// each row it reseals, and the key's fingerprint, until it commits: its
// time is the longest a replica's write of a secret waits.
func BenchmarkResealSecrets(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			storetest.EachB(b, func(b *testing.B, s *store.Store) {
				ctx := context.Background()
				keyA, keyB := []byte("benchmark sealing key A of 32 b."), []byte("benchmark sealing key B of 32 b.")
				sealer := func(key []byte, previous ...[]byte) *certs.Sealer {
					sl, err := certs.NewSealer(key, previous...)
					if err != nil {
						b.Fatal(err)
					}
					return sl
				}
				a, byA := mustAccount(b, directory.NewService(directory.Config{Store: s}), "bench"), sealer(keyA)
				now := time.Now().UTC()
				for i := range n {
					c := directory.Connection{ID: fmt.Sprintf("conn-%05d", i), AccountID: a.ID, Protocol: directory.ProtocolOIDC, Name: fmt.Sprintf("corp%d", i),
						JITMode: directory.JITCreate, CreatedAt: now, UpdatedAt: now}
					c.SealedSecret = byA.Seal([]byte("client secret"), directory.ClientSecretPurpose(a.ID, c.Name))
					if err := s.CreateConnection(ctx, c); err != nil {
						b.Fatal(err)
					}
					w := directory.Webhook{ID: fmt.Sprintf("hook-%05d", i), URL: "https://hooks.example/in", CreatedAt: now, UpdatedAt: now}
					purpose := directory.WebhookSecretPurpose(w.ID)
					w.Secret = byA.Seal([]byte("whsec_new"), purpose)
					if err := s.CreateWebhook(ctx, w); err != nil {
						b.Fatal(err)
					}
					w.Older = []directory.OlderSecret{{Sealed: byA.Seal([]byte("whsec_old"), purpose), Until: now.Add(24 * time.Hour)}}
					if err := s.UpdateWebhookSecrets(ctx, w); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.RecordKeyFingerprints(ctx, "A", ""); err != nil {
					b.Fatal(err)
				}
				svc := directory.NewService(directory.Config{Store: s})
				from, to := "A", "B"
				reseal := map[string]*certs.Sealer{"B": sealer(keyB, keyA), "A": sealer(keyA, keyB)}
				for b.Loop() {
					got, err := svc.ResealSecrets(ctx, directory.KeyRotation{Fingerprint: to, PreviousFingerprint: from}, reseal[to].Reseal)
					if err != nil {
						b.Fatal(err)
					}
					if got.ClientSecrets != n || got.WebhookSecrets != 2*n {
						b.Fatalf("resealed %+v; want %d client secrets and %d webhook secrets", got, n, 2*n)
					}
					from, to = to, from
				}
			})
		})
	}
}
