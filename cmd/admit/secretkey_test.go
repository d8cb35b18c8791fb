package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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
		a := with(keyA)
		succeeded(t, run(a, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com"))
		succeeded(t, run(a, "", "certs", "rotate"))
		succeeded(t, run(a, "s3cret\n", "sso", "add-oidc", "--account", "acme", "--name", "corp", "--issuer", p.Issuer, "--client-id", "admit", "--client-secret-stdin"))
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
		hook := decode[webhookJSON](t, succeeded(t, run(a, "", "webhook", "add", "--url", rc.URL, "--json")))
		rotated := decode[webhookJSON](t, succeeded(t, run(a, "", "webhook", "rotate-secret", "--id", hook.ID, "--overlap", "24h", "--json")))

		// The new key alone, or no key at all, is refused before the
		// rotation: one line each, nothing written.
		refusedInOneLine(t, "the new key alone", run(with(keyB), "", "webhook", "list"), "ADMIT_SECRET_KEY_PREVIOUS")
		refusedInOneLine(t, "no key", run(with(), "", "webhook", "list"), "give this process the server's key")
		refusedInOneLine(t, "a wrong previous key", run(with(keyB, keyC), "", "secret-key", "rotate"), "neither ADMIT_SECRET_KEY")
		refusedInOneLine(t, "rotate without the old key", run(with(keyB), "", "secret-key", "rotate"), "ADMIT_SECRET_KEY_PREVIOUS")
		// Replicas with both keys run beside ones with the old key alone.
		succeeded(t, run(with(keyB, keyA), "", "webhook", "list"))
		// Swapped keys rotate nothing and record nothing (the wrong
		// previous key after the rotation below is still refused).
		refusedInOneLine(t, "swapped keys rotating", run(with(keyA, keyB), "", "secret-key", "rotate"), "are the two swapped")

		// A secret that does not open with either key stops the rotation:
		// nothing changes, the old key still works alone.
		breakOne(t, db, keyA, hook.ID)
		refusedInOneLine(t, "a secret that does not open", run(with(keyB, keyA), "", "secret-key", "rotate"), "nothing was changed")
		succeeded(t, run(a, "", "webhook", "list"))
		mendOne(t, db, keyA, hook.ID)

		r := decode[map[string]any](t, succeeded(t, run(with(keyB, keyA), "", "secret-key", "rotate", "--json")))
		// Two SAML keys, one client secret, a webhook's two secrets.
		if r["resealed_keys"] != float64(2) || r["resealed_client_secrets"] != float64(1) || r["resealed_webhook_secrets"] != float64(2) {
			t.Errorf("rotate: %v; want 2 keys, 1 client secret and 2 webhook secrets sealed anew", r)
		}
		if again := decode[map[string]any](t, succeeded(t, run(with(keyB, keyA), "", "secret-key", "rotate", "--json"))); again["resealed_keys"] != float64(0) || again["resealed_webhook_secrets"] != float64(0) {
			t.Errorf("rotate again: %v; want nothing to do", again)
		}
		openAllWith(t, db, keyB, 5)

		// Afterwards: the old key alone is refused, a wrong previous key
		// too; the new one alone works, and signs a delivery with the
		// webhook's secrets.
		refusedInOneLine(t, "the old key after the rotation", run(a, "", "webhook", "list"), "is the one the last rotation replaced")
		refusedInOneLine(t, "a wrong previous key after", run(with(keyB, keyC), "", "webhook", "list"), "not the key the last rotation replaced")
		// Swapped after the rotation, a process would seal with the
		// retired key what the new one alone cannot open.
		refusedInOneLine(t, "swapped keys after the rotation", run(with(keyA, keyB), "", "webhook", "list"), "they are swapped")
		refusedInOneLine(t, "swapped keys rotating after", run(with(keyA, keyB), "", "secret-key", "rotate"), "they are swapped")
		tested := decode[webhookTestJSON](t, succeeded(t, run(with(keyB), "", "webhook", "test", "--id", hook.ID, "--json")))
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
		refusedInOneLine(t, "the first rotation's old key as the second's previous", run(with(keyC, keyA), "", "secret-key", "rotate"), "neither ADMIT_SECRET_KEY")
		third := decode[map[string]any](t, succeeded(t, run(with(keyC, keyB), "", "secret-key", "rotate", "--json")))
		if third["resealed_keys"] != float64(2) || third["resealed_client_secrets"] != float64(1) || third["resealed_webhook_secrets"] != float64(2) {
			t.Errorf("rotate B to C: %v; want 2 keys, 1 client secret and 2 webhook secrets sealed anew", third)
		}
		openAllWith(t, db, keyC, 5)
		refusedInOneLine(t, "B alone after the second rotation", run(with(keyB), "", "webhook", "list"), "is the one the last rotation replaced")
		refusedInOneLine(t, "B and A after the second rotation", run(with(keyB, keyA), "", "webhook", "list"), "neither ADMIT_SECRET_KEY")
		refusedInOneLine(t, "C with A after the second rotation", run(with(keyC, keyA), "", "webhook", "list"), "not the key the last rotation replaced")
		succeeded(t, run(with(keyC, keyB), "", "webhook", "list"))
		succeeded(t, run(with(keyC), "", "webhook", "list"))
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

// TestRollingRotationWithNextKey rolls a rotation from key A to key B the
// way docs/operations.md tells, through the binary: every replica first
// gets B as ADMIT_SECRET_KEY_NEXT; then, mid-roll, what a replica already
// on B (ADMIT_SECRET_KEY=B, ADMIT_SECRET_KEY_PREVIOUS=A) seals and signs
// (a webhook's secret, an invitation link) opens on one still on A with B
// as next, and the other way round; secret-key rotate runs with A and B
// as next, is audited on the installation with the two fingerprints and
// the counts (and no key), and a rerun records nothing. It checks the
// refusals on the way: a malformed next key, one equal to the key or to
// the previous key, one without a key, keys swapped, next and previous
// both given to rotate, A with B as next once the rotation is done, and a
// next key that is the retired one. (The openers each take the next key
// in their package's tests; TestAcceptedKeysCoverEveryUse holds the
// wiring to every use.)
func TestRollingRotationWithNextKey(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		const key, prev, next = "ADMIT_SECRET_KEY=", "ADMIT_SECRET_KEY_PREVIOUS=", "ADMIT_SECRET_KEY_NEXT="
		env := func(settings ...string) []string {
			return append(append(os.Environ(), "ADMIT_DATABASE_URL="+db, allowLoopback), settings...)
		}
		run := func(env []string, args ...string) result {
			t.Helper()
			return admitWith(t, env, "", args...)
		}
		fp := func(k string) string {
			f, err := keyFingerprint(mustDecode(k))
			if err != nil {
				t.Fatal(err)
			}
			return f[:12]
		}
		var mu sync.Mutex
		delivered := 0
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			delivered++
			mu.Unlock()
		}))
		t.Cleanup(rc.Close)

		onA, ahead, rolled := env(key+keyA), env(key+keyA, next+keyB), env(key+keyB, prev+keyA)
		succeeded(t, run(onA, "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com"))
		succeeded(t, run(onA, "certs", "rotate"))
		succeeded(t, run(onA, "webhook", "add", "--url", rc.URL))

		refusedInOneLine(t, "a malformed next key", run(env(key+keyA, next+"not a key"), "webhook", "list"), "ADMIT_SECRET_KEY_NEXT")
		refusedInOneLine(t, "the next key equal to the key", run(env(key+keyA, next+keyA), "webhook", "list"), "ADMIT_SECRET_KEY_NEXT is the same key as ADMIT_SECRET_KEY:")
		refusedInOneLine(t, "the next key equal to the previous key", run(env(key+keyB, prev+keyA, next+keyA), "webhook", "list"), "ADMIT_SECRET_KEY_NEXT is the same key as ADMIT_SECRET_KEY_PREVIOUS")
		refusedInOneLine(t, "a next key without a key", run(env(next+keyB), "webhook", "list"), "ADMIT_SECRET_KEY_NEXT is set without ADMIT_SECRET_KEY")
		refusedInOneLine(t, "the database's key as next", run(env(key+keyB, next+keyA), "webhook", "list"), "are the two swapped")
		refusedInOneLine(t, "rotate with a previous and a next key", run(env(key+keyB, prev+keyA, next+keyC), "secret-key", "rotate"), "not both")
		refusedInOneLine(t, "rotate with the keys swapped", run(env(key+keyB, next+keyA), "secret-key", "rotate"), "are the two swapped")

		// Step 1 done, step 2 under way: the replicas on B and those on A
		// with B as next open what the others seal and sign.
		succeeded(t, run(ahead, "webhook", "list"))
		byB := decode[webhookJSON](t, succeeded(t, run(rolled, "webhook", "add", "--url", rc.URL+"/b", "--json")))
		succeeded(t, run(rolled, "invite", "create", "--account", "acme", "--email", "b@example.com"))
		succeeded(t, run(ahead, "invite", "create", "--account", "acme", "--email", "a@example.com"))
		if tested := decode[webhookTestJSON](t, succeeded(t, run(ahead, "webhook", "test", "--id", byB.ID, "--json"))); !tested.Delivered {
			t.Errorf("the new key's webhook, tested with the old key and the new as next: %+v", tested)
		}
		for _, m := range decode[[]mailJSON](t, succeeded(t, run(ahead, "mail", "list", "--account", "acme", "--json"))) {
			for name, e := range map[string][]string{"the new key as next": ahead, "the new key, the old as previous": rolled} {
				if r := run(e, "mail", "show", "--account", "acme", "--id", m.ID); r.code != 0 || !strings.Contains(r.stdout, "/invite/") {
					t.Errorf("the invitation to %s rendered with %s: exit %d, %s", m.To, name, r.code, r.stderr)
				}
			}
		}

		// The rotation, with the settings of step 1.
		r := decode[map[string]any](t, succeeded(t, run(ahead, "secret-key", "rotate", "--json")))
		if r["fingerprint"] != fp(keyB) || r["previous_fingerprint"] != fp(keyA) || r["resealed_keys"] != float64(2) || r["resealed_webhook_secrets"] != float64(1) {
			t.Errorf("rotate: %v; want A to B, 2 keys and 1 webhook secret sealed anew (the other webhook's is B's already)", r)
		}
		if again := decode[map[string]any](t, succeeded(t, run(ahead, "secret-key", "rotate", "--json"))); again["resealed_keys"] != float64(0) || again["resealed_webhook_secrets"] != float64(0) {
			t.Errorf("rotate again: %v; want nothing to do", again)
		}
		openAllWith(t, db, keyB, 4)
		list := succeeded(t, run(env(key+keyB), "audit", "list", "--installation", "--action", "secret_key.rotated", "--json"))
		events := decode[[]auditJSON](t, list)
		if len(events) != 1 {
			t.Fatalf("secret_key.rotated events: %d; want the rotation's alone (a rerun that changes nothing records none):\n%s", len(events), list.stdout)
		}
		var data map[string]any
		if err := json.Unmarshal(events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if e := events[0]; e.Actor.Source != directory.SourceCLI || e.Actor.Name == "" || data["from"] != fp(keyA) || data["to"] != fp(keyB) ||
			data["resealed_keys"] != float64(2) || data["resealed_webhook_secrets"] != float64(1) || data["resealed_client_secrets"] != float64(0) || data["host"] == "" {
			t.Errorf("the rotation's audit event: %+v, %v", e, data)
		}
		for _, k := range []string{keyA, keyB, strings.TrimRight(keyA, "="), strings.TrimRight(keyB, "=")} {
			if strings.Contains(list.stdout, k) {
				t.Errorf("the audit event holds a key:\n%s", list.stdout)
			}
		}
		if r := run(rolled, "audit", "list", "--account", "acme", "--installation"); r.code != exitUsage || !strings.Contains(r.stderr, "give --account S or --installation") {
			t.Errorf("audit list with --account and --installation: exit %d, %s; want a usage error", r.code, r.stderr)
		}

		// After the rotation: the replicas move to B with A as previous; a
		// process on A with B as next is refused (it would seal with the
		// retired key), and so is the retired key as a next key.
		succeeded(t, run(rolled, "webhook", "list"))
		refusedInOneLine(t, "the old key with the new as next, after the rotation", run(ahead, "webhook", "list"), "the rotation to ADMIT_SECRET_KEY_NEXT")
		refusedInOneLine(t, "the retired key as next", run(env(key+keyB, next+keyA), "webhook", "list"), "never goes back")
		refusedInOneLine(t, "rotating back to the retired key as next", run(env(key+keyB, next+keyA), "secret-key", "rotate"), "never goes back")
		// The next rotation may be prepared during this one's overlap.
		succeeded(t, run(env(key+keyB, prev+keyA, next+keyC), "webhook", "list"))
		succeeded(t, run(env(key+keyB, next+keyC), "webhook", "list"))
		mu.Lock()
		defer mu.Unlock()
		if delivered != 1 {
			t.Errorf("deliveries: %d; want the one test", delivered)
		}
	})
}

// TestNoKeyComesBack: after A to B and B to C, the key A retired (say
// after it leaked) comes back in no variable: not as the next key, not as
// the key a process seals with beside C as previous, and no rotation moves
// to it, whichever pair of variables it is given in; the database stays
// C's. (The last rotation's old key, B, is refused the same way by
// TestRollingRotationWithNextKey.) A new key D may still come next.
func TestNoKeyComesBack(t *testing.T) {
	t.Parallel()
	const keyD = "m7Pq2Rt5Vx8Za1Cd4Fg7Hj0Kl3Np6Sr9Uw2Yz5Bc8Ef="
	eachDatabase(t, func(t *testing.T, db string) {
		const key, prev, next = "ADMIT_SECRET_KEY=", "ADMIT_SECRET_KEY_PREVIOUS=", "ADMIT_SECRET_KEY_NEXT="
		env := func(settings ...string) []string {
			return append(append(os.Environ(), "ADMIT_DATABASE_URL="+db, allowLoopback), settings...)
		}
		run := func(e []string, args ...string) result {
			t.Helper()
			return admitWith(t, e, "", args...)
		}
		succeeded(t, run(env(key+keyA), "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com"))
		succeeded(t, run(env(key+keyA), "webhook", "add", "--url", "https://hooks.example.com/admit"))
		succeeded(t, run(env(key+keyA, next+keyB), "secret-key", "rotate"))
		succeeded(t, run(env(key+keyC, prev+keyB), "secret-key", "rotate"))
		for _, c := range []struct {
			name string
			env  []string
			args []string
		}{
			{"A as next", env(key+keyC, next+keyA), []string{"webhook", "list"}},
			{"rotating to A as next", env(key+keyC, next+keyA), []string{"secret-key", "rotate"}},
			{"A as next, B as previous", env(key+keyC, prev+keyB, next+keyA), []string{"webhook", "list"}},
			{"A as the key, C as previous", env(key+keyA, prev+keyC), []string{"webhook", "list"}},
			{"rotating to A as the key, C as previous", env(key+keyA, prev+keyC), []string{"secret-key", "rotate"}},
		} {
			r := run(c.env, c.args...)
			if msg := strings.TrimSpace(r.stderr); r.code == 0 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "never goes back") {
				t.Errorf("%s: exit %d, %q; want a one-line refusal saying a rotation never goes back", c.name, r.code, msg)
			}
		}
		openAllWith(t, db, keyC, 1)
		succeeded(t, run(env(key+keyC, next+keyD), "webhook", "list"))
	})
}

// TestRotationKilledMidway kills secret-key rotate (SIGKILL) while its
// transaction runs: on PostgreSQL while it waits for a webhook row another
// connection holds, after resealing the keys and the other webhooks; on
// SQLite, which lets no one stop a writer from outside, partway through
// a few thousand webhooks. Either way the database is wholly A's after
// (nothing half resealed, the fingerprint A's), and a rerun rotates it.
func TestRotationKilledMidway(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		ctx := context.Background()
		a := append(os.Environ(), "ADMIT_DATABASE_URL="+db, allowLoopback, "ADMIT_SECRET_KEY="+keyA)
		ahead := append(a[:len(a):len(a)], "ADMIT_SECRET_KEY_NEXT="+keyB)
		if r := admitWith(t, a, "", "certs", "rotate"); r.code != 0 {
			t.Fatalf("certs rotate: %s", r.stderr)
		}
		s, sealer := openStore(t, db), sealerOf(t, keyA)
		n := 20000
		if strings.HasPrefix(db, "postgres") {
			n = 20
		}
		last := "wh" + strconv.Itoa(100000+n-1)
		if err := s.Tx(ctx, func(tx directory.Store) error {
			for i := range n {
				id, now := "wh"+strconv.Itoa(100000+i), time.Now()
				if err := tx.CreateWebhook(ctx, directory.Webhook{ID: id, URL: "https://hooks.example.com/" + id, Secret: sealer.Seal([]byte("whsec_"+id), directory.WebhookSecretPurpose(id)), CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		release := func() {}
		if strings.HasPrefix(db, "postgres") {
			tx, err := s.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `SELECT id FROM webhooks WHERE id = $1 FOR UPDATE`, last); err != nil {
				t.Fatal(err)
			}
			release = func() { _ = tx.Rollback() }
		}
		cmd := exec.Command(admitBin, "secret-key", "rotate")
		cmd.Env, cmd.Dir = ahead, t.TempDir()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(db, "postgres") {
			// Killed once it waits for the row: inside its transaction.
			for waiting := 0; waiting == 0; time.Sleep(20 * time.Millisecond) {
				if err := s.DB().GetContext(ctx, &waiting, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			time.Sleep(killAfter)
		}
		_ = cmd.Process.Kill()
		state, _ := cmd.Process.Wait()
		release()
		if state.Success() {
			t.Fatalf("the rotation finished before it was killed: make it longer")
		}
		if fp, _, err := s.InstanceSetting(ctx, store.SettingKeyFingerprint); err != nil || fp[:12] != mustFingerprint(t, keyA) {
			t.Errorf("after the kill the database belongs to %q (%v); want A's", fp, err)
		}
		openAllWith(t, db, keyA, 2+n)
		start := time.Now()
		r := admitWith(t, ahead, "", "secret-key", "rotate", "--json")
		if r.code != 0 {
			t.Fatalf("rotate after the kill: %s", r.stderr)
		}
		took, inTx := time.Since(start), time.Duration(decode[map[string]any](t, r)["seconds"].(float64)*float64(time.Second))
		if !strings.HasPrefix(db, "postgres") && (killAfter < took-inTx || killAfter > took) {
			t.Logf("the rerun ran %v, %v of it in its transaction: the kill after %v may have missed the transaction", took, inTx, killAfter)
		}

		openAllWith(t, db, keyB, 2+n)
	})
}

// killAfter is when the SQLite rotation of TestRotationKilledMidway is
// killed: it starts its transaction within about 0.3 seconds here, and
// spends about 2.4 in it (the test logs it when that no longer holds).
var killAfter = time.Second

func mustFingerprint(t *testing.T, key string) string {
	t.Helper()
	fp, err := keyFingerprint(mustDecode(key))
	if err != nil {
		t.Fatal(err)
	}
	return fp[:12]
}

// succeeded fails the test unless the command r ran exited 0.
func succeeded(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	return r
}

// refusedInOneLine checks that the command r ran was refused with a
// non-zero exit and a one-line reason saying want.
func refusedInOneLine(t *testing.T, what string, r result, want string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	if r.code == 0 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) {
		t.Errorf("%s: exit %d, %q; want a one-line refusal saying %q", what, r.code, msg, want)
	}
}
