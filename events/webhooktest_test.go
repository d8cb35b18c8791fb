package events_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/store/storetest"
)

// TestWebhookTestEvent: a test event goes to its webhook at once, signed
// with its secret, valid by its schema (an account's webhook's and a
// platform-wide one's, whose account is empty); it is not in the feed, not
// among the webhook's deliveries, and audited on the account.
func TestWebhookTestEvent(t *testing.T) {
	schema := compileSchemas(t)[directory.EventWebhookTest]
	eachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock()
		st := openStore(t, url)
		r := newRig(t, st, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		check(t, publishAll(r.svc))
		rc := newReceiver(t)
		sender := events.NewWorker(r.config())
		for _, account := range []string{a.ID, ""} {
			hook, secret := r.webhook(t, rc.URL+"/"+account, account)
			before := len(rc.all())
			test := must[directory.WebhookTest](t)(r.svc.TestWebhook(ctx, operator, hook.ID, sender))
			res := test.Result
			got := rc.all()[before:]
			if res.Err != nil || res.Status != 200 || len(got) != 1 || got[0].ID != test.Event.ID {
				t.Fatalf("account %q: %+v, %d requests; want one, answered 200", account, res, len(got))
			}
			kept := must[[]directory.WebhookTestRecord](t)(st.FindWebhookTests(ctx, hook.ID, 10))
			if len(kept) != 1 || kept[0].EventID != test.Event.ID || !kept[0].Delivered() || kept[0].Status != 200 || kept[0].SentBy != operator.Name || kept[0].SentAt.Sub(clk.Now()).Abs() > time.Millisecond {
				t.Errorf("account %q: kept %+v; want the test, delivered (200), sent by %s at %s", account, kept, operator.Name, clk.Now())
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(got[0].Body))
			check(t, err)
			if err := schema.Validate(doc); err != nil {
				t.Errorf("account %q: the test event %s does not validate: %v", account, got[0].Body, err)
			}
			ts, _ := strconv.ParseInt(got[0].Timestamp, 10, 64)
			if want, err := events.Signature([]string{secret}, got[0].ID, time.Unix(ts, 0), got[0].Body); err != nil || got[0].Signature != want {
				t.Errorf("account %q: signature %q; want %q (%v)", account, got[0].Signature, want, err)
			}
			if ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 10)); len(ds) != 0 {
				t.Errorf("account %q: %d deliveries listed; a test event is not one", account, len(ds))
			}
		}
		// Tests of one webhook sent at once keep its newest, no more.
		hook, _ := r.webhook(t, rc.URL+"/many", a.ID)
		var sending sync.WaitGroup
		for range 16 {
			sending.Go(func() {
				if _, err := r.svc.TestWebhook(ctx, operator, hook.ID, sender); err != nil {
					t.Error(err)
				}
			})
		}
		sending.Wait()
		if kept := must[[]directory.WebhookTestRecord](t)(st.FindWebhookTests(ctx, hook.ID, 100)); len(kept) != directory.KeptWebhookTests {
			t.Errorf("16 tests at once: %d kept; want %d", len(kept), directory.KeptWebhookTests)
		}
		check(t, publishAll(r.svc))
		for _, ev := range feed(t, r.svc, "") {
			if ev.Type == directory.EventWebhookTest {
				t.Errorf("a test event is in the feed: %+v", ev)
			}
		}
		trail := must[[]directory.AuditEvent](t)(r.svc.AuditEvents(ctx, a.ID, 100))
		tested := 0
		for _, e := range trail {
			if e.Action == "webhook.tested" {
				tested++
			}
		}
		if tested != 1+16 {
			t.Errorf("%d webhook.tested in acme's trail; want 17, one a test of its webhooks (the platform-wide webhook's is logged)", tested)
		}
	})
}

// TestWebhookTestAnswersOwnersInTheSameTime: a test of an owner's
// endpoint that got no answer is answered after the whole TestTimeout,
// whether the connection was refused at once or the host stayed silent,
// so that timing the answer tells no open port from a closed one; the
// operators' own endpoints are answered as soon as the attempt ends.
func TestWebhookTestAnswersOwnersInTheSameTime(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := openStore(t, storetest.SQLiteURL(t))
	r := newRig(t, st, clk, 0)
	a := mustAccount(t, r.svc, "acme", "acme.example")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, err)
	check(t, closed.Close())
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	check(t, err)
	t.Cleanup(func() { silent.Close() })
	const timeout = 400 * time.Millisecond
	cfg := r.config()
	cfg.PublicClient, cfg.TestTimeout = r.fetch, timeout // the loopback stands for the internet here
	sender := events.NewWorker(cfg)
	for _, tc := range []struct {
		name       string
		url        string
		owners     bool
		atLeast    time.Duration
		lessThan   time.Duration
		wantStatus int
	}{
		{"an owner's, refused", "https://" + closed.Addr().String() + "/hook", true, timeout, 3 * timeout, 0},
		{"an owner's, refused, the caller gone at once", "https://" + closed.Addr().String() + "/hook?gone", true, timeout, 3 * timeout, 0},
		{"an owner's, silent", "https://" + silent.Addr().String() + "/hook", true, timeout, 3 * timeout, 0},
		{"the operators', refused", "http://" + closed.Addr().String() + "/hook", false, 0, timeout / 2, 0},
	} {
		var hook directory.Webhook
		if tc.owners { // on loopback, which admit no longer lets an owner add
			hook = r.keptOwnersWebhook(t, st, a.ID, tc.url)
		} else {
			hook = must[directory.Webhook](t)(r.svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: a.ID, URL: tc.url},
				func(purpose string) string { return r.sealer.Seal([]byte(events.NewSecret()), purpose) }))
		}
		start := time.Now()
		callCtx, hangUp := context.WithCancel(ctx)
		if strings.HasSuffix(tc.url, "?gone") {
			// The result is kept only after the whole wait, whoever waits:
			// its time must tell no more than the answer would have.
			time.AfterFunc(10*time.Millisecond, hangUp)
		}
		test := must[directory.WebhookTest](t)(r.svc.TestWebhook(callCtx, operator, hook.ID, sender))
		hangUp()
		took, res := time.Since(start), test.Result
		if res.Err == nil || res.Status != tc.wantStatus || took < tc.atLeast || took >= tc.lessThan {
			t.Errorf("%s: %v (status %d) after %s; want no answer, after %s to %s", tc.name, res.Err, res.Status, took, tc.atLeast, tc.lessThan)
		}
	}
}
