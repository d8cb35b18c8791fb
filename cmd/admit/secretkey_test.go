package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/sso/oidctest"
	"github.com/admit-dev/admit/store"
)

// Two keys for rotation tests, as admit secret-key generate makes them.
const (
	keyA = "zGC6OyN9H6bIFhztAdqQMD3dNqYvzPguqOPFZEb8iew="
	keyB = "q0T8n4b3Yb2xw9yH5wq2V7w1rJb4Qe8Zp6Xk3Lm9Ns0="
	keyC = "Vt1mQ8d2Zr7Kx4Lp9Wb3Yn6Jc0Hs5Ga8Fe2Du7Ci1Bo="
)

// TestSecretKeyRotation seals secrets of every kind under key A, rotates
// to key B through the binary, and finds each opening with B alone (a
// webhook secret then signing a delivery); it checks the refusals on the
// way: neither key, a wrong previous key, a rotation a secret stops.
func TestSecretKeyRotation(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Client{ID: "admit", Secret: "s3cret", RedirectURI: "http://localhost:8080/sso/acme/oidc/corp/callback"})
	eachDatabase(t, func(t *testing.T, db string) {
		with := func(keys ...string) []string {
			env := append(os.Environ(), "ADMIT_DATABASE_URL="+db, allowLoopback)
			for i, k := range keys {
				env = append(env, []string{"ADMIT_SECRET_KEY=", "ADMIT_SECRET_KEY_PREVIOUS="}[i]+k)
			}
			return env
		}
		run := func(env []string, stdin string, args ...string) result {
			t.Helper()
			return admitWith(t, env, stdin, args...)
		}
		must := func(r result) result {
			t.Helper()
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			return r
		}
		oneLine := func(what string, r result, want string) {
			t.Helper()
			msg := strings.TrimSpace(r.stderr)
			if r.code == 0 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) {
				t.Errorf("%s: exit %d, %q; want a one-line refusal saying %q", what, r.code, msg, want)
			}
		}
		a := with(keyA)
		must(run(a, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com"))
		must(run(a, "", "certs", "rotate"))
		must(run(a, "s3cret\n", "sso", "add-oidc", "--account", "acme", "--name", "corp", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin"))
		var mu sync.Mutex
		var got []*http.Request
		var bodies [][]byte
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got, bodies = append(got, r), append(bodies, b)
			mu.Unlock()
		}))
		t.Cleanup(rc.Close)
		hook := decode[webhookJSON](t, must(run(a, "", "webhook", "add", "--url", rc.URL, "--json")))
		rotated := decode[webhookJSON](t, must(run(a, "", "webhook", "rotate-secret", "--id", hook.ID, "--overlap", "24h", "--json")))

		// The new key alone, or no key at all, is refused before the
		// rotation: one line each, nothing written.
		oneLine("the new key alone", run(with(keyB), "", "webhook", "list"), "ADMIT_SECRET_KEY_PREVIOUS")
		oneLine("no key", run(with(), "", "webhook", "list"), "give this process the server's key")
		oneLine("a wrong previous key", run(with(keyB, keyC), "", "secret-key", "rotate"), "neither ADMIT_SECRET_KEY")
		oneLine("rotate without the old key", run(with(keyB), "", "secret-key", "rotate"), "ADMIT_SECRET_KEY_PREVIOUS")
		// Replicas with both keys run beside ones with the old key alone.
		must(run(with(keyB, keyA), "", "webhook", "list"))
		// Swapped keys rotate nothing and record nothing (the wrong
		// previous key after the rotation below is still refused).
		oneLine("swapped keys rotating", run(with(keyA, keyB), "", "secret-key", "rotate"), "are the two swapped")

		// A secret that does not open with either key stops the rotation:
		// nothing changes, the old key still works alone.
		breakOne(t, db, keyA, hook.ID)
		oneLine("a secret that does not open", run(with(keyB, keyA), "", "secret-key", "rotate"), "nothing was changed")
		must(run(a, "", "webhook", "list"))
		mendOne(t, db, keyA, hook.ID)

		r := decode[map[string]any](t, must(run(with(keyB, keyA), "", "secret-key", "rotate", "--json")))
		// Two SAML keys, one client secret, a webhook's two secrets.
		if r["resealed_keys"] != float64(2) || r["resealed_client_secrets"] != float64(1) || r["resealed_webhook_secrets"] != float64(2) {
			t.Errorf("rotate: %v; want 2 keys, 1 client secret and 2 webhook secrets sealed anew", r)
		}
		if again := decode[map[string]any](t, must(run(with(keyB, keyA), "", "secret-key", "rotate", "--json"))); again["resealed_keys"] != float64(0) || again["resealed_webhook_secrets"] != float64(0) {
			t.Errorf("rotate again: %v; want nothing to do", again)
		}
		openAllWith(t, db, keyB, 5)

		// Afterwards: the old key alone is refused, a wrong previous key
		// too; the new one alone works, and signs a delivery with the
		// webhook's secrets.
		oneLine("the old key after the rotation", run(a, "", "webhook", "list"), "is the one the last rotation replaced")
		oneLine("a wrong previous key after", run(with(keyB, keyC), "", "webhook", "list"), "not the key the last rotation replaced")
		// Swapped after the rotation, a process would seal with the
		// retired key what the new one alone cannot open.
		oneLine("swapped keys after the rotation", run(with(keyA, keyB), "", "webhook", "list"), "they are swapped")
		oneLine("swapped keys rotating after", run(with(keyA, keyB), "", "secret-key", "rotate"), "they are swapped")
		tested := decode[webhookTestJSON](t, must(run(with(keyB), "", "webhook", "test", "--id", hook.ID, "--json")))
		mu.Lock()
		defer mu.Unlock()
		if !tested.Delivered || len(got) != 1 {
			t.Fatalf("webhook test with the new key: %+v, %d requests", tested, len(got))
		}
		ts, _ := strconv.ParseInt(got[0].Header.Get("webhook-timestamp"), 10, 64)
		for _, secret := range []string{rotated.Secret, hook.Secret} {
			sig, err := events.Signature([]string{secret}, got[0].Header.Get("webhook-id"), time.Unix(ts, 0), bodies[0])
			if err != nil || !strings.Contains(got[0].Header.Get("webhook-signature"), sig) {
				t.Errorf("the delivery's signature %q lacks the one of secret %s…", got[0].Header.Get("webhook-signature"), secret[:10])
			}
		}

		// A second rotation, B to C: the same again; B's overlap key A is
		// refused as C's previous, B alone is the replaced key.
		oneLine("the first rotation's old key as the second's previous", run(with(keyC, keyA), "", "secret-key", "rotate"), "neither ADMIT_SECRET_KEY")
		third := decode[map[string]any](t, must(run(with(keyC, keyB), "", "secret-key", "rotate", "--json")))
		if third["resealed_keys"] != float64(2) || third["resealed_client_secrets"] != float64(1) || third["resealed_webhook_secrets"] != float64(2) {
			t.Errorf("rotate B to C: %v; want 2 keys, 1 client secret and 2 webhook secrets sealed anew", third)
		}
		openAllWith(t, db, keyC, 5)
		oneLine("B alone after the second rotation", run(with(keyB), "", "webhook", "list"), "is the one the last rotation replaced")
		oneLine("B and A after the second rotation", run(with(keyB, keyA), "", "webhook", "list"), "neither ADMIT_SECRET_KEY")
		oneLine("C with A after the second rotation", run(with(keyC, keyA), "", "webhook", "list"), "not the key the last rotation replaced")
		must(run(with(keyC, keyB), "", "webhook", "list"))
		must(run(with(keyC), "", "webhook", "list"))
	})
}

// sealerOf is the sealer of a secret key alone.
func sealerOf(t *testing.T, key string) *certs.Sealer {
	t.Helper()
	k, err := deriveKeys(mustDecode(key))
	if err != nil {
		t.Fatal(err)
	}
	s, err := certs.NewSealer(k.sealing)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openStore(t *testing.T, db string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openAllWith opens every secret at rest with key alone: want of them.
func openAllWith(t *testing.T, db, key string, want int) {
	t.Helper()
	ctx, s, sealer := context.Background(), openStore(t, db), sealerOf(t, key)
	n := 0
	open := func(what, sealed, purpose string) {
		if _, err := sealer.Open(sealed, purpose); err != nil {
			t.Errorf("%s does not open with the new key alone: %v", what, err)
		}
		n++
	}
	cs, err := s.FindCertificates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		open("key "+c.ID, c.SealedKey, directory.KeyPurpose(c.Kind, c.ID))
	}
	conns, err := s.FindAllConnections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		open("client secret of "+c.Name, c.SealedSecret, directory.ClientSecretPurpose(c.AccountID, c.Name))
	}
	hooks, err := s.FindWebhooks(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		open("webhook secret", h.Secret, directory.WebhookSecretPurpose(h.ID))
		for _, o := range h.Older {
			open("older webhook secret", o.Sealed, directory.WebhookSecretPurpose(h.ID))
		}
	}
	if n != want {
		t.Errorf("opened %d secrets; want %d", n, want)
	}
}

// breakOne seals a webhook's current secret with a third key, as a
// damaged row or a secret sealed by a misconfigured replica would be;
// mendOne puts it back under key (its plaintext is kept meanwhile).
var broken sync.Map

func breakOne(t *testing.T, db, key, id string) {
	t.Helper()
	ctx, s := context.Background(), openStore(t, db)
	w, err := s.FindWebhook(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sealerOf(t, key).Open(w.Secret, directory.WebhookSecretPurpose(id))
	if err != nil {
		t.Fatal(err)
	}
	broken.Store(db+id, plain)
	w.Secret = sealerOf(t, keyC).Seal(plain, directory.WebhookSecretPurpose(id))
	if err := s.UpdateWebhookSecrets(ctx, w); err != nil {
		t.Fatal(err)
	}
}

func mendOne(t *testing.T, db, key, id string) {
	t.Helper()
	ctx, s := context.Background(), openStore(t, db)
	w, err := s.FindWebhook(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := broken.Load(db + id)
	w.Secret = sealerOf(t, key).Seal(plain.([]byte), directory.WebhookSecretPurpose(id))
	if err := s.UpdateWebhookSecrets(ctx, w); err != nil {
		t.Fatal(err)
	}
}
