package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestWebhooksAPI: an operator's key manages an account's webhooks: the
// secret comes once, in the answers that make it, and opens with the
// server's sealer to what it said; deliveries are listed with their
// attempts and can be sent again; the account's own key (an admin's
// rights) may not, another account's webhooks and the platform-wide ones
// are not found, and bad input is a problem that changes nothing.
func TestWebhooksAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		site := newAPISite(t, s)
		base := "/api/v1/accounts/alpha/webhooks"

		r := site.do(t, "POST", base, site.opKey, map[string]any{"url": "https://hooks.alpha.test/admit", "events": []string{"user.created", "membership.deactivated", "user.created"}})
		if r.status != 201 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("add: Cache-Control %q; the secret must not be cached", cc)
		}
		added := r.json(t)
		id, secret := added["id"].(string), added["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") || added["state"] != "enabled" || len(added["events"].([]any)) != 2 {
			t.Fatalf("added %v", added)
		}
		stored := must[directory.Webhook](t)(site.svc.Webhook(ctx, id))
		if stored.AccountID != site.alpha.ID || !stored.PublicOnly {
			t.Errorf("the webhook belongs to %q, public addresses only %v; want alpha's, true", stored.AccountID, stored.PublicOnly)
		}
		if opened, err := site.sealer.Open(stored.Secret, directory.WebhookSecretPurpose(id)); err != nil || string(opened) != secret {
			t.Errorf("the stored secret opens to %q, %v; want the one answered", opened, err)
		}
		wantProblem(t, "the same URL again", site.do(t, "POST", base, site.opKey, map[string]any{"url": "https://hooks.alpha.test/admit"}), 409, "")
		got := site.do(t, "GET", base+"/"+id, site.opKey, nil)
		if got.status != 200 || got.json(t)["secret"] != nil {
			t.Errorf("get: %d %s; want the webhook without its secret", got.status, got.body)
		}
		if l := site.do(t, "GET", base, site.opKey, nil).data(t); len(l) != 1 || l[0]["id"] != id || l[0]["secret"] != nil {
			t.Errorf("list: %v", l)
		}

		// Rotating answers a new secret; the old one keeps signing.
		r = site.do(t, "POST", base+"/"+id+"/rotate-secret", site.opKey, map[string]any{"overlap_seconds": 3600})
		if r.status != 200 {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		if rot := r.json(t); rot["secret"] == secret || !strings.HasPrefix(rot["secret"].(string), "whsec_") || rot["previous_secret_until"] == nil {
			t.Errorf("rotated %v", rot)
		}
		// Rotations at once take turns: each secret answered is the
		// current or the previous one as the next replaces it, never
		// replaced by a rotation that read the same secret.
		answered := map[string]bool{}
		var mu sync.Mutex
		var rotations sync.WaitGroup
		for range 4 {
			rotations.Go(func() {
				r := site.do(t, "POST", base+"/"+id+"/rotate-secret", site.opKey, map[string]any{"overlap_seconds": 3600})
				if r.status != 200 {
					t.Errorf("rotate at once: %d %s", r.status, r.body)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				answered[r.json(t)["secret"].(string)] = true
			})
		}
		rotations.Wait()
		after := must[directory.Webhook](t)(site.svc.Webhook(ctx, id))
		current := must[[]byte](t)(site.sealer.Open(after.Secret, directory.WebhookSecretPurpose(id)))
		previous := must[[]byte](t)(site.sealer.Open(after.Older[0].Sealed, directory.WebhookSecretPurpose(id)))
		if !answered[string(current)] || !answered[string(previous)] || string(current) == string(previous) {
			t.Errorf("after 4 rotations at once the secrets are not two of the 4 answered: a rotation's secret was replaced by one that read the same")
		}

		// Bad input: a problem, nothing changed.
		for _, bad := range []struct {
			what, method, path string
			body               any
			status             int
		}{
			{"no URL", "POST", base, map[string]any{}, 400},
			{"a URL with a password", "POST", base, map[string]any{"url": "https://u:p@hooks.alpha.test/"}, 400},
			{"ftp", "POST", base, map[string]any{"url": "ftp://hooks.alpha.test/"}, 400},
			{"plain http", "POST", base, map[string]any{"url": "http://hooks.alpha.test/"}, 400},
			{"an unknown event type", "POST", base, map[string]any{"url": "https://hooks.alpha.test/2", "events": []string{"user.exploded"}}, 400},
			{"an unknown field", "POST", base, map[string]any{"url": "https://hooks.alpha.test/2", "secret": "whsec_mine"}, 400},
			{"a week and a second of overlap", "POST", base + "/" + id + "/rotate-secret", map[string]any{"overlap_seconds": 7*24*3600 + 1}, 400},
			{"a negative overlap", "POST", base + "/" + id + "/rotate-secret", map[string]any{"overlap_seconds": -1}, 400},
			{"a huge overlap", "POST", base + "/" + id + "/rotate-secret", map[string]any{"overlap_seconds": int64(1) << 62}, 400},
			{"a limit of 0", "GET", base + "/" + id + "/deliveries?limit=0", nil, 400},
			{"no such webhook", "GET", base + "/nope", nil, 404},
			{"no such delivery", "POST", base + "/" + id + "/deliveries/nope/redeliver", nil, 404},
		} {
			wantProblem(t, bad.what, site.do(t, bad.method, bad.path, site.opKey, bad.body), bad.status, "")
		}
		if hooks := must[[]directory.Webhook](t)(site.svc.Webhooks(ctx, site.alpha.ID)); len(hooks) != 1 {
			t.Errorf("%d webhooks after the refused requests; want 1", len(hooks))
		}

		// Deliveries, with their attempts, and redelivery.
		must[directory.Added](t)(site.svc.AddUser(ctx, site.alpha.ID, operator, directory.NewUser{Email: "new@alpha.test", FirstName: "N", LastName: "U", Role: directory.RoleMember}))
		if _, err := site.svc.PublishEvents(ctx, 100); err != nil {
			t.Fatal(err)
		}
		ds := site.do(t, "GET", base+"/"+id+"/deliveries", site.opKey, nil)
		list := ds.data(t)
		if ds.status != 200 || len(list) != 1 || list[0]["status"] != "pending" || list[0]["event_type"] != "user.created" || len(list[0]["attempts"].([]any)) != 0 {
			t.Fatalf("deliveries: %d %s; want the user.created one, pending", ds.status, ds.body)
		}
		delivery := list[0]["id"].(string)
		// Pending, it goes out on its own (in its person's order).
		wantProblem(t, "sending a pending delivery again", site.do(t, "POST", base+"/"+id+"/deliveries/"+delivery+"/redeliver", site.opKey, nil), 409, "")
		deliver(t, site.svc, 200)
		if list := site.do(t, "GET", base+"/"+id+"/deliveries", site.opKey, nil).data(t); list[0]["status"] != "delivered" || len(list[0]["attempts"].([]any)) != 1 {
			t.Fatalf("after an attempt: %v", list[0])
		}
		if r := site.do(t, "POST", base+"/"+id+"/deliveries/"+delivery+"/redeliver", site.opKey, nil); r.status != 202 || r.json(t)["status"] != "pending" || r.json(t)["redelivered_at"] == nil {
			t.Errorf("redeliver: %d %s; want 202, pending, with redelivered_at", r.status, r.body)
		}
		// Sent again and again, a delivery lists its latest attempts only.
		for range directory.AttemptsShown + 1 {
			deliver(t, site.svc, 200)
			if r := site.do(t, "POST", base+"/"+id+"/deliveries/"+delivery+"/redeliver", site.opKey, nil); r.status != 202 {
				t.Fatalf("redeliver: %d %s", r.status, r.body)
			}
		}
		deliver(t, site.svc, 200)
		all := must[[]directory.WebhookAttempt](t)(site.svc.WebhookAttempts(ctx, delivery))
		if len(all) != directory.AttemptsShown+3 {
			t.Errorf("%d attempts kept; want all %d", len(all), directory.AttemptsShown+3)
		}
		listed := site.do(t, "GET", base+"/"+id+"/deliveries", site.opKey, nil).data(t)[0]["attempts"].([]any)
		if len(listed) != directory.AttemptsShown || listed[0].(map[string]any)["at"] != all[3].At.Format(time.RFC3339Nano) {
			t.Errorf("%d attempts listed, from %v; want the latest %d, from %s", len(listed), listed[0], directory.AttemptsShown, all[3].At.Format(time.RFC3339Nano))
		}

		// Given up (here marked so: it takes 3 days), it is sent again by
		// recovering what the webhook gave up, since a time or all.
		db := s.DB()
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE webhook_deliveries SET status = 'failed', finished_at = ? WHERE id = ?`), time.Now(), delivery); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "recover since a time that is not one", site.do(t, "POST", base+"/"+id+"/recover", site.opKey, map[string]any{"since": "yesterday"}), 400, "")
		// Times to come, one with an offset PostgreSQL takes only as UTC.
		for _, since := range []string{time.Now().Add(time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).In(time.FixedZone("", 16*3600)).Format(time.RFC3339)} {
			if r := site.do(t, "POST", base+"/"+id+"/recover", site.opKey, map[string]any{"since": since}); r.status != 202 || r.json(t)["recovered"] != float64(0) {
				t.Errorf("recover since %s, to come: %d %s; want 202, none", since, r.status, r.body)
			}
		}
		if d := must[directory.WebhookDelivery](t)(s.FindWebhookDelivery(ctx, delivery)); d.Status != directory.DeliveryFailed {
			t.Fatalf("after recovering none: %s; want failed still", d.Status)
		}
		if r := site.do(t, "POST", base+"/"+id+"/recover", site.opKey, map[string]any{"since": time.Now().Add(-time.Hour).In(time.FixedZone("", -5*3600)).Format(time.RFC3339)}); r.status != 202 || r.json(t)["recovered"] != float64(1) {
			t.Errorf("recover since an hour ago: %d %s; want 202, one", r.status, r.body)
		}
		if d := must[directory.WebhookDelivery](t)(s.FindWebhookDelivery(ctx, delivery)); d.Status != directory.DeliveryPending || d.RedeliveredAt == nil {
			t.Errorf("after recovering: %s, redelivered %v; want pending, redelivered now", d.Status, d.RedeliveredAt)
		}
		if evs := must[[]directory.AuditEvent](t)(site.svc.AuditTrail(ctx, site.alpha.ID, "", "webhook.recovered", time.Time{}, 10)); len(evs) != 1 || !strings.Contains(strings.ReplaceAll(string(evs[0].Data), " ", ""), `"deliveries":1`) {
			t.Errorf("audited recoveries: %d; want one, of one delivery (none for those that recovered nothing)", len(evs))
		}
		deliver(t, site.svc, 200)

		// A test event: sent at once, how it went answered (here no
		// answer: the name has no address), not listed among the
		// deliveries; at most 10 a minute for the account, however many
		// are sent at once.
		var tests sync.WaitGroup
		var sentOK, throttled atomic.Int64
		for range 14 {
			tests.Go(func() {
				r := site.do(t, "POST", base+"/"+id+"/test", site.opKey, nil)
				if r.status == 429 {
					throttled.Add(1)
					return
				}
				got := r.json(t)
				if r.status != 200 || got["delivered"] != false || got["status"] != float64(0) || !strings.Contains(fmt.Sprint(got["error"]), "no answer") || got["event_id"] == "" || got["duration_ms"] != float64(0) {
					t.Errorf("test: %d %s; want 200, not delivered, no answer, no duration shown", r.status, r.body)
				}
				sentOK.Add(1)
			})
		}
		tests.Wait()
		if sentOK.Load() != 10 || throttled.Load() != 4 {
			t.Errorf("14 tests at once: %d sent, %d throttled; want 10 and 4", sentOK.Load(), throttled.Load())
		}
		// The tests sent are kept with the webhook, newest first, with who
		// sent them and how they went.
		kept := site.do(t, "GET", base+"/"+id+"/tests", site.opKey, nil).data(t)
		if len(kept) != 10 {
			t.Errorf("%d tests kept; want the 10 sent", len(kept))
		}
		var last time.Time
		for i, k := range kept {
			at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(k["sent_at"]))
			if err != nil || k["sent_by"] != "provisioning" || k["delivered"] != false || !strings.Contains(fmt.Sprint(k["error"]), "no answer") || i > 0 && at.After(last) {
				t.Errorf("kept test %d: %v; want sent by the key, not delivered (no answer), newest first", i, k)
			}
			last = at
		}
		// Another webhook of the account's, or this one added again, is
		// no fresh count.
		other := site.do(t, "POST", base, site.opKey, map[string]any{"url": "https://hooks.alpha.test/other"})
		if other.status != 201 {
			t.Fatalf("add another: %d %s", other.status, other.body)
		}
		otherID := other.json(t)["id"].(string)
		wantProblem(t, "a test of another webhook in the same minute", site.do(t, "POST", base+"/"+otherID+"/test", site.opKey, nil), 429, "throttled")
		if r := site.do(t, "DELETE", base+"/"+otherID, site.opKey, nil); r.status != 204 {
			t.Fatalf("remove the other: %d", r.status)
		}
		if list := site.do(t, "GET", base+"/"+id+"/deliveries", site.opKey, nil).data(t); len(list) != 1 {
			t.Errorf("%d deliveries after the tests; want the one, tests are not listed", len(list))
		}

		// A pause the endpoint asked for is shown while it lasts.
		until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		if err := s.PauseWebhook(ctx, id, until); err != nil {
			t.Fatal(err)
		}
		if got := site.do(t, "GET", base+"/"+id, site.opKey, nil).json(t)["paused_until"]; got != until.Format(time.RFC3339) {
			t.Errorf("paused_until %v; want %s", got, until.Format(time.RFC3339))
		}

		// Enabling is for a disabled webhook: it clears the failures, and
		// the pause.
		wantProblem(t, "enabling an enabled webhook", site.do(t, "POST", base+"/"+id+"/enable", site.opKey, nil), 409, "")
		if _, err := s.DisableWebhook(ctx, id, "the endpoint answered 410 Gone", time.Now()); err != nil {
			t.Fatal(err)
		}
		if r := site.do(t, "POST", base+"/"+id+"/enable", site.opKey, nil); r.status != 200 || r.json(t)["state"] != "enabled" || r.json(t)["paused_until"] != nil {
			t.Errorf("enable: %d %s", r.status, r.body)
		}
		if err := s.PauseWebhook(ctx, id, time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := site.do(t, "GET", base+"/"+id, site.opKey, nil).json(t)["paused_until"]; got != nil {
			t.Errorf("a pause over: paused_until %v; want null", got)
		}

		// The account's own key acts as an admin: webhooks are the owners'.
		wantProblem(t, "the account's key lists", site.do(t, "GET", base, site.keyA, nil), 403, "")
		wantProblem(t, "the account's key adds", site.do(t, "POST", base, site.keyA, map[string]any{"url": "https://x.alpha.test/"}), 403, "")
		for _, op := range []struct{ method, path string }{
			{"GET", base + "/" + id},
			{"DELETE", base + "/" + id},
			{"POST", base + "/" + id + "/rotate-secret"},
			{"POST", base + "/" + id + "/enable"},
			{"POST", base + "/" + id + "/test"},
			{"GET", base + "/" + id + "/tests"},
			{"GET", base + "/" + id + "/deliveries"},
			{"POST", base + "/" + id + "/deliveries/" + delivery + "/redeliver"},
			{"POST", base + "/" + id + "/recover"},
		} {
			wantProblem(t, "the account's key: "+op.method+" "+op.path, site.do(t, op.method, op.path, site.keyA, nil), 403, "")
		}
		if d := must[directory.WebhookDelivery](t)(s.FindWebhookDelivery(ctx, delivery)); d.Status != directory.DeliveryDelivered {
			t.Errorf("alpha's delivery after the account's key sent it again: %s; want delivered, untouched", d.Status)
		}
		// Another account's webhook, or a platform-wide one, is not found
		// through this account, whatever the key.
		beta := must[directory.Webhook](t)(site.svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: site.beta.ID, URL: "https://hooks.beta.test/"}, func(string) string { return "sealed" }))
		platform := must[directory.Webhook](t)(site.svc.AddWebhook(ctx, operator, directory.NewWebhook{URL: "https://platform.test/"}, func(string) string { return "sealed" }))
		// The operators' own endpoint for alpha (admit webhook add
		// --account) may lead into their network: not the owners'.
		operators := must[directory.Webhook](t)(site.svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: site.alpha.ID, URL: "http://10.20.30.40:8080/internal/alpha"}, func(string) string { return "sealed" }))
		if l := site.do(t, "GET", base, site.opKey, nil); strings.Contains(string(l.body), operators.ID) || strings.Contains(string(l.body), "10.20.30.40") {
			t.Errorf("the owners' list shows the operators' endpoint: %s", l.body)
		}
		for _, other := range []string{beta.ID, platform.ID, operators.ID} {
			for _, op := range []struct{ method, path string }{
				{"GET", base + "/" + other},
				{"DELETE", base + "/" + other},
				{"POST", base + "/" + other + "/rotate-secret"},
				{"POST", base + "/" + other + "/enable"},
				{"POST", base + "/" + other + "/test"},
				{"GET", base + "/" + other + "/tests"},
				{"GET", base + "/" + other + "/deliveries"},
				{"POST", base + "/" + other + "/recover"},
			} {
				wantProblem(t, op.method+" another's webhook", site.do(t, op.method, op.path, site.opKey, nil), 404, "")
			}
		}
		// A delivery of another webhook is not this webhook's: not through
		// beta's owners' own webhook either, which beta's owners may reach.
		betaOwn := site.do(t, "POST", "/api/v1/accounts/beta/webhooks", site.opKey, map[string]any{"url": "https://hooks.beta.test/own"})
		if betaOwn.status != 201 {
			t.Fatalf("beta's owners add a webhook: %d %s", betaOwn.status, betaOwn.body)
		}
		for _, through := range []string{beta.ID, betaOwn.json(t)["id"].(string)} {
			if r := site.do(t, "POST", "/api/v1/accounts/beta/webhooks/"+through+"/deliveries/"+delivery+"/redeliver", site.opKey, nil); r.status != 404 {
				t.Errorf("redelivering alpha's delivery through beta's webhook %s: %d %s", through, r.status, r.body)
			}
		}
		if d := must[directory.WebhookDelivery](t)(s.FindWebhookDelivery(ctx, delivery)); d.Status != directory.DeliveryDelivered {
			t.Errorf("alpha's delivery after beta's attempts to send it again: %s; want delivered, untouched", d.Status)
		}
		for _, h := range []string{beta.ID, platform.ID, operators.ID} {
			if _, err := site.svc.Webhook(ctx, h); err != nil {
				t.Errorf("webhook %s: %v after the refused removal", h, err)
			}
		}

		// At most MaxAccountWebhooks an account, however many adds race.
		var wg sync.WaitGroup
		var raced atomic.Int64
		for i := range 12 {
			wg.Go(func() {
				if r := site.do(t, "POST", base, site.opKey, map[string]any{"url": fmt.Sprintf("https://hooks.alpha.test/%d", i)}); r.status == 201 {
					raced.Add(1)
				} else if r.status != 400 {
					t.Errorf("add %d: %d %s", i, r.status, r.body)
				}
			})
		}
		wg.Wait()
		if n := len(site.do(t, "GET", base, site.opKey, nil).data(t)); n != directory.MaxAccountWebhooks || raced.Load() != int64(n-1) {
			t.Errorf("%d webhooks (%d added at once); want %d", n, raced.Load(), directory.MaxAccountWebhooks)
		}
		wantProblem(t, "one webhook too many", site.do(t, "POST", base, site.opKey, map[string]any{"url": "https://hooks.alpha.test/z"}), 400, "")

		// Removed, it is gone with its deliveries.
		if r := site.do(t, "DELETE", base+"/"+id, site.opKey, nil); r.status != 204 {
			t.Fatalf("remove: %d %s", r.status, r.body)
		}
		wantProblem(t, "a removed webhook", site.do(t, "GET", base+"/"+id, site.opKey, nil), 404, "")
		audit := must[[]directory.AuditEvent](t)(site.svc.AuditEvents(ctx, site.alpha.ID, 100))
		for _, action := range []string{"webhook.created", "webhook.secret_rotated", "webhook.redelivered", "webhook.enabled", "webhook.removed"} {
			found := false
			for _, e := range audit {
				found = found || e.Action == action && e.Actor.Name == "provisioning"
			}
			if !found {
				t.Errorf("no %s in alpha's trail by the key", action)
			}
		}
	})
}

// must returns a function that fails the test on err, else returns v.
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// deliver makes one attempt of every delivery due, in the order of the
// feed, as a worker would (the API and console tests run none): the i-th
// is answered statuses[i], or the last of them.
func deliver(t *testing.T, svc *directory.Service, statuses ...int) {
	t.Helper()
	ctx := context.Background()
	ds, err := svc.ClaimWebhookDeliveries(ctx, 100, directory.DeliveryLease{Room: 100, PerWebhook: 100})
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]directory.WebhookResult, len(ds))
	for i, d := range ds {
		status := statuses[min(i, len(statuses)-1)]
		rs[i] = directory.WebhookResult{Delivery: d, Status: status}
		if status < 200 || status > 299 {
			rs[i].Err = fmt.Errorf("the endpoint answered %d", status)
		}
	}
	if _, err := svc.RecordWebhookResults(ctx, rs, directory.DeliveryLease{}); err != nil {
		t.Fatal(err)
	}
}

// TestAPIWithoutOptionalParts: an API built without a spreadsheet reader,
// a sealer or a sender answers what needs them 501, not_implemented, and
// changes nothing; the console built without a sender offers no test and
// refuses one.
func TestAPIWithoutOptionalParts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		site := newAPISite(t, s)
		mux := http.NewServeMux()
		admin.NewAPI(admin.APIConfig{Directory: site.svc}).Register(mux)
		bare := &apiSite{svc: site.svc, server: httptest.NewServer(mux)}
		t.Cleanup(bare.server.Close)
		hook := site.do(t, "POST", "/api/v1/accounts/alpha/webhooks", site.opKey, map[string]any{"url": "https://hooks.alpha.test/admit"}).json(t)["id"].(string)
		for _, tc := range []struct {
			what, path string
			body       any
		}{
			{"add a webhook", "/api/v1/accounts/alpha/webhooks", map[string]any{"url": "https://hooks.alpha.test/2"}},
			{"rotate its secret", "/api/v1/accounts/alpha/webhooks/" + hook + "/rotate-secret", nil},
			{"send a test event", "/api/v1/accounts/alpha/webhooks/" + hook + "/test", nil},
		} {
			wantProblem(t, tc.what, bare.do(t, "POST", tc.path, site.opKey, tc.body), 501, "not_implemented")
		}
		if hooks := must[[]directory.Webhook](t)(site.svc.Webhooks(ctx, site.alpha.ID)); len(hooks) != 1 {
			t.Errorf("%d webhooks after the refusals; want 1", len(hooks))
		}
		// A key that may not test, or a webhook that is not the account's,
		// is refused as anywhere else first.
		wantProblem(t, "the account's key tests", bare.do(t, "POST", "/api/v1/accounts/alpha/webhooks/"+hook+"/test", site.keyA, nil), 403, "forbidden")
		wantProblem(t, "a test of no webhook", bare.do(t, "POST", "/api/v1/accounts/alpha/webhooks/nope/test", site.opKey, nil), 404, "not_found")
		if trail := must[[]directory.AuditEvent](t)(site.svc.AuditEvents(ctx, site.alpha.ID, 100)); slices.ContainsFunc(trail, func(e directory.AuditEvent) bool { return e.Action == "webhook.tested" }) {
			t.Error("a test event refused for want of a sender was audited")
		}
	})
}
