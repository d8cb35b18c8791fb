package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

var secretValue = regexp.MustCompile(`<code id="secret-value">([^<]+)</code>`)

// TestWebhooksPage: an owner adds an endpoint for some event types and
// sees its secret once; a refused URL is said and the form keeps what was
// typed; the webhook's page lists its deliveries with their attempts and
// sends one again; rotating shows a new secret once; a disabled endpoint
// is enabled; removing it removes it. An admin is told webhooks are the
// owners'; another account's owner reaches nothing of them.
func TestWebhooksPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		p := s.signIn(t, owner, a)
		if code, _ := p.get("/admin/acme/webhooks"); code != 200 {
			t.Fatalf("Webhooks page: %d", code)
		}
		p.sees("No webhook yet.", `value="membership.deactivated"`)
		if code, _ := p.post("/admin/acme/webhooks", url.Values{"url": {"http://10.0.0.1:8080/hook\x00"}, "events": {"user.created"}}); code != http.StatusBadRequest {
			t.Errorf("a URL with a NUL: %d; want 400", code)
		}
		p.sees("is not a URL", `value="user.created" checked`)
		// An owner is told the owners' rule, not the operators' allow list
		// (found: "or http:// to a host in ADMIT_OUTBOUND_ALLOW").
		for _, u := range []string{"ftp://x", "http://hooks.acme.example/admit"} {
			if code, _ := p.post("/admin/acme/webhooks", url.Values{"url": {u}}); code != http.StatusBadRequest {
				t.Errorf("%s: %d; want 400", u, code)
			}
			p.sees("a webhook URL is https://")
			if strings.Contains(p.last, "ADMIT_OUTBOUND_ALLOW") || strings.Contains(p.last, "operators") {
				t.Errorf("%s: an owner is told the operators' rule:\n%s", u, p.last)
			}
		}
		if code, _ := p.post("/admin/acme/webhooks", url.Values{"url": {"https://hooks.acme.example/admit"}, "events": {"user.created", "membership.deactivated"}}); code != 200 {
			t.Fatalf("add: %d\n%s", code, p.last)
		}
		m := secretValue.FindStringSubmatch(p.last)
		if m == nil || !strings.HasPrefix(m[1], "whsec_") {
			t.Fatalf("no secret on the page:\n%s", p.last)
		}
		secret := m[1]
		if code, _ := p.post("/admin/acme/webhooks", url.Values{"url": {"https://hooks.acme.example/admit"}}); code != http.StatusConflict {
			t.Errorf("the same URL again (a reload of the form): %d; want 409", code)
		}
		p.sees("there is a webhook to https://hooks.acme.example/admit already")
		if code, _ := p.post("/admin/acme/webhooks", url.Values{"url": {"HTTPS://Hooks.Acme.Example:443/admit"}}); code != http.StatusConflict {
			t.Errorf("the same URL written another way: %d; want 409", code)
		}
		hooks := must[[]directory.Webhook](t)(s.svc.Webhooks(ctx, a.ID))
		if len(hooks) != 1 || hooks[0].URL != "https://hooks.acme.example/admit" || len(hooks[0].EventTypes) != 2 {
			t.Fatalf("webhooks %+v", hooks)
		}
		hook := hooks[0]
		p.get("/admin/acme/webhooks")
		if strings.Contains(p.last, secret) {
			t.Error("the secret is shown again")
		}
		p.sees("user.created, membership.deactivated", "Enabled")
		// Removing drops the secret: its button shows only once opened.
		p.sees(`<details class="confirm"><summary>Remove…</summary>`, "signing secret is gone")

		// Its page: deliveries with attempts, and sending one again.
		must[directory.Added](t)(s.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "sam@acme.example", FirstName: "S", LastName: "M", Role: directory.RoleMember}))
		if _, err := s.svc.PublishEvents(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if code, _ := p.get("/admin/acme/webhooks/" + hook.ID); code != 200 {
			t.Fatalf("webhook page: %d", code)
		}
		p.sees("Pending", "none yet", "<td>user.created</td>")
		if strings.Contains(p.last, "Send again") {
			t.Error("Send again offered for a pending delivery")
		}
		ds := must[[]directory.WebhookDelivery](t)(s.svc.WebhookDeliveries(ctx, hook.ID, 10))
		if len(ds) != 2 {
			t.Fatalf("%d deliveries; want the user.created of olive and of sam (published after the webhook was added)", len(ds))
		}
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/deliveries/"+ds[0].ID+"/redeliver", url.Values{}); code != http.StatusConflict {
			t.Errorf("sending a pending delivery again: %d; want 409", code)
		}
		// A test event, sent from the page: how it went is shown on the
		// page the form leads back to (here no answer: the name has no
		// address), which a reload does not send again; it is not listed
		// among the deliveries, but among the recent tests.
		p.get("/admin/acme/webhooks/" + hook.ID)
		p.sees("Send a test event")
		if strings.Contains(p.last, `id="tests"`) {
			t.Errorf("recent test events listed before any was sent:\n%s", p.last)
		}
		code, shown := p.post("/admin/acme/webhooks/"+hook.ID+"/test", url.Values{})
		if code != 200 || !strings.HasPrefix(shown, "/admin/acme/webhooks/"+hook.ID+"?test=") {
			t.Fatalf("test event: %d at %s\n%s", code, shown, p.last)
		}
		p.sees(`id="test-result"`, "was not delivered: no answer", `id="tests"`, "Not delivered: no answer", owner.User.Email)
		p.get(shown)
		p.sees(`id="test-result"`, "was not delivered: no answer")
		if n := len(s.events(t, a, "webhook.tested")); n != 1 {
			t.Errorf("%d tests sent after a reload of the result; want 1", n)
		}
		p.get("/admin/acme/webhooks/" + hook.ID)
		p.sees(`id="tests"`, "Not delivered: no answer")
		if strings.Contains(p.last, `id="test-result"`) {
			t.Errorf("the page shows a test result it was not led to:\n%s", p.last)
		}
		if n := len(must[[]directory.WebhookDelivery](t)(s.svc.WebhookDeliveries(ctx, hook.ID, 10))); n != 2 {
			t.Errorf("%d deliveries after a test event; want 2, a test is not listed", n)
		}
		deliver(t, s.svc, 503, 200) // olive's fails, sam's (ds[0], the newest) goes
		p.get("/admin/acme/webhooks/" + hook.ID)
		p.sees("Pending, next try", ": 503, ", "the endpoint answered 503", "Delivered", "Send again")
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/deliveries/"+ds[0].ID+"/redeliver", url.Values{}); code != 200 {
			t.Fatalf("send again: %d\n%s", code, p.last)
		}
		p.sees("will be sent again")
		// Given up (here marked so: it takes 3 days), olive's is sent
		// again by the recovery form, within the time chosen.
		if _, err := st.DB().ExecContext(ctx, st.DB().Rebind(`UPDATE webhook_deliveries SET status = 'failed', finished_at = ? WHERE id = ?`), time.Now(), ds[1].ID); err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/webhooks/" + hook.ID)
		p.sees("Send given-up deliveries again", `<option value="168h" selected>`)
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/recover", url.Values{"within": {"forever"}}); code != http.StatusBadRequest {
			t.Errorf("recover within a time not offered: %d; want 400", code)
		}
		p.sees("Choose how far back")
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/recover", url.Values{"within": {"24h"}}); code != 200 {
			t.Fatalf("recover: %d\n%s", code, p.last)
		}
		p.sees("will be sent again in a moment, each person")
		if d := must[directory.WebhookDelivery](t)(st.FindWebhookDelivery(ctx, ds[1].ID)); d.Status != directory.DeliveryPending || d.RedeliveredAt == nil {
			t.Errorf("olive's delivery after recovering: %s, redelivered %v; want pending, redelivered", d.Status, d.RedeliveredAt)
		}
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/recover", url.Values{"within": {"all"}}); code != 200 {
			t.Fatalf("recover again: %d\n%s", code, p.last)
		}
		p.sees("No delivery was given up in that time")
		if evs := s.events(t, a, "webhook.recovered"); len(evs) != 1 || evs[0].Actor.ID != owner.User.ID {
			t.Errorf("recoveries audited: %+v; want the one that recovered something, by the owner", evs)
		}

		// Rotating shows a new secret once; the same form sent again (a
		// reload) rotates nothing more, so the original keeps its overlap.
		version := url.Values{"version": {strconv.FormatInt(must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID)).UpdatedAt.UnixNano(), 10)}}
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/rotate", version); code != 200 {
			t.Fatalf("rotate: %d\n%s", code, p.last)
		}
		if m := secretValue.FindStringSubmatch(p.last); m == nil || m[1] == secret {
			t.Errorf("rotating showed no new secret:\n%s", p.last)
		}
		rotated := must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID))
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/rotate", version); code != http.StatusConflict {
			t.Errorf("the rotate form sent again: %d; want 409", code)
		}
		if again := must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID)); again.Secret != rotated.Secret || len(again.Older) == 0 || again.Older[0].Sealed != hook.Secret {
			t.Error("the form sent again rotated the secret again")
		}
		// A double click: the form sent several times at once rotates
		// once, and the others are told; a secret shown is never one
		// that another rotation replaced at once.
		clicks := make([]*person, 6)
		for i := range clicks {
			clicks[i] = s.signIn(t, owner, a)
			clicks[i].get("/admin/acme/webhooks/" + hook.ID)
		}
		version = url.Values{"version": {strconv.FormatInt(rotated.UpdatedAt.UnixNano(), 10)}}
		codes := make([]int, len(clicks))
		var wg sync.WaitGroup
		for i, c := range clicks {
			wg.Go(func() {
				codes[i], _ = c.post("/admin/acme/webhooks/"+hook.ID+"/rotate", url.Values{"version": version["version"]})
			})
		}
		wg.Wait()
		if n := slices.Index(codes, 200); n < 0 || slices.ContainsFunc(codes[n+1:], func(c int) bool { return c == 200 }) || slices.ContainsFunc(codes, func(c int) bool { return c != 200 && c != http.StatusConflict }) {
			t.Errorf("the rotate form sent %d times at once: %v; want one 200, the others 409", len(clicks), codes)
		}
		if again := must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID)); len(again.Older) == 0 || again.Older[0].Sealed != rotated.Secret {
			t.Error("the secret the clicks were shown with is not the previous one")
		}

		// A pause the endpoint asked for is shown while it lasts.
		if err := st.PauseWebhook(ctx, hook.ID, time.Date(2999, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/webhooks")
		p.sees("paused until 2999-01-02 03:04:05 UTC, as the endpoint asked")
		p.get("/admin/acme/webhooks/" + hook.ID)
		p.sees("paused until 2999-01-02 03:04:05 UTC, as the endpoint asked")

		// Disabled (a day of failures), it is enabled from the page.
		if _, err := st.DisableWebhook(ctx, hook.ID, "the endpoint failed every delivery for 24h0m0s", time.Now()); err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/webhooks")
		p.sees("Disabled: the endpoint failed every delivery")
		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/enable", url.Values{}); code != 200 {
			t.Fatalf("enable: %d", code)
		}
		p.sees("is enabled")
		if h := must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID)); h.DisabledAt != nil || h.PausedUntil != nil {
			t.Error("still disabled, or paused")
		}
		if strings.Contains(p.last, "paused until") {
			t.Errorf("a pause shown after enabling:\n%s", p.last)
		}

		// An admin is told; beta's owner reaches nothing of acme's.
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		pa := s.signIn(t, ada, a)
		pa.get("/admin/acme/webhooks")
		pa.sees("Only the owners of this account see and manage its webhooks")
		if strings.Contains(pa.last, hook.URL) {
			t.Error("an admin sees the endpoint")
		}
		if code, _ := pa.get("/admin/acme/webhooks/" + hook.ID); code != http.StatusForbidden {
			t.Errorf("an admin viewing the webhook: %d; want 403", code)
		}
		if strings.Contains(pa.last, hook.URL) {
			t.Error("an admin sees the endpoint on its page")
		}
		// Each change an owner may make, by an admin and by beta's owner
		// through beta (where acme's webhook is not found), is refused
		// and changes nothing: the webhook, its secret and its deliveries
		// are as they were.
		if _, err := st.DisableWebhook(ctx, hook.ID, "the endpoint answered 410 Gone", time.Now()); err != nil {
			t.Fatal(err)
		}
		before := must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID))
		// Given up again, for a recovery to change.
		if _, err := st.DB().ExecContext(ctx, st.DB().Rebind(`UPDATE webhook_deliveries SET status = 'failed', finished_at = ? WHERE id = ?`), time.Now(), ds[1].ID); err != nil {
			t.Fatal(err)
		}
		olives := must[directory.WebhookDelivery](t)(st.FindWebhookDelivery(ctx, ds[1].ID))
		changes := func(prefix string) map[string]url.Values {
			return map[string]url.Values{
				prefix:                             {"url": {"https://evil.example/admit"}},
				prefix + "/" + hook.ID + "/remove": {},
				prefix + "/" + hook.ID + "/rotate": {"version": {strconv.FormatInt(before.UpdatedAt.UnixNano(), 10)}},
				prefix + "/" + hook.ID + "/enable": {},
				prefix + "/" + hook.ID + "/test":   {},
				prefix + "/" + hook.ID + "/deliveries/" + olives.ID + "/redeliver": {},
				prefix + "/" + hook.ID + "/recover":                                {"within": {"all"}},
			}
		}
		for path, form := range changes("/admin/acme/webhooks") {
			if code, _ := pa.post(path, form); code != http.StatusForbidden {
				t.Errorf("an admin: %s: %d; want 403", path, code)
			}
		}
		bo := s.add(t, b, "bo@beta.example", directory.RoleOwner)
		pb := s.signIn(t, bo, b)
		for path, form := range changes("/admin/beta/webhooks") {
			if path == "/admin/beta/webhooks" {
				continue // beta's own webhook, beta's owner's to add
			}
			if code, _ := pb.post(path, form); code != http.StatusNotFound {
				t.Errorf("beta's owner: %s: %d; want 404", path, code)
			}
		}
		if code, _ := pb.get("/admin/beta/webhooks/" + hook.ID); code != http.StatusNotFound {
			t.Errorf("beta's owner viewing acme's webhook: %d; want 404", code)
		}
		after := must[directory.Webhook](t)(s.svc.Webhook(ctx, hook.ID))
		if after.DisabledAt == nil || after.Secret != before.Secret || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("acme's webhook changed by those refused: enabled %v, secret changed %v", after.DisabledAt == nil, after.Secret != before.Secret)
		}
		if d := must[directory.WebhookDelivery](t)(st.FindWebhookDelivery(ctx, olives.ID)); d.Status != directory.DeliveryFailed || !d.RedeliveredAt.Equal(*olives.RedeliveredAt) {
			t.Errorf("acme's delivery after refused redeliveries: %s, redelivered %v", d.Status, d.RedeliveredAt)
		}
		if n := len(must[[]directory.Webhook](t)(s.svc.Webhooks(ctx, a.ID))); n != 1 {
			t.Errorf("%d webhooks of acme after an admin's add; want 1", n)
		}

		if code, _ := p.post("/admin/acme/webhooks/"+hook.ID+"/remove", url.Values{}); code != 200 {
			t.Fatalf("remove: %d", code)
		}
		p.sees("has been removed", "No webhook yet.")
	})
}
