package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
)

// TestWebhookCommands runs the webhook and events commands through the
// binary, with their refusals, and a server whose worker delivers to a
// loopback receiver (allowed as ADMIT_OUTBOUND_ALLOW would allow it).
func TestWebhookCommands(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		type hit struct {
			id, ts, sig string
			body        []byte
		}
		var mu sync.Mutex
		var hits []hit
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			hits = append(hits, hit{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), b})
			mu.Unlock()
		}))
		defer rc.Close()
		if r := admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := admit(t, db, "", "webhook", "add", "--url", rc.URL+"/hooks", "--account", "acme", "--events", "user.created,membership.created", "--json")
		added := decode[webhookJSON](t, r)
		if r.code != 0 || !strings.HasPrefix(added.Secret, "whsec_") || added.Account != "acme" || len(added.Events) != 2 {
			t.Fatalf("webhook add: exit %d, %+v\n%s", r.code, added, r.stderr)
		}
		// A loopback receiver without the operators' allow list is added,
		// with a warning that names the entry that would let it through.
		if !strings.HasPrefix(r.stderr, "admit: warning: from here, admit would not deliver to "+rc.URL+"/hooks") || !strings.Contains(r.stderr, "add 127.0.0.1/32 to ADMIT_OUTBOUND_ALLOW") {
			t.Errorf("webhook add of a loopback URL without the allow list: %q; want a warning", r.stderr)
		}
		allowed := admitWith(t, append(os.Environ(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_OUTBOUND_ALLOW=127.0.0.1"), "", "webhook", "add", "--url", rc.URL+"/other", "--account", "acme", "--json")
		if other := decode[webhookJSON](t, allowed); allowed.code != 0 || strings.Contains(allowed.stderr, "warning") {
			t.Errorf("webhook add with the allow list: exit %d, %q; want no warning", allowed.code, allowed.stderr)
		} else if r := admit(t, db, "", "webhook", "remove", "--id", other.ID); r.code != 0 {
			t.Fatal(r.stderr)
		}

		// Refusals: one line, a non-zero exit, nothing stored.
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"webhook", "add", "--url", "ftp://platform.example/x"}, "https://"},
			{[]string{"webhook", "add", "--url", "https://user:pw@platform.example/x"}, "no user name or password"},
			{[]string{"webhook", "add", "--url", "not a url"}, "is not a URL"},
			{[]string{"webhook", "add", "--url", "https://platform.example/x", "--events", "user.created,user.exploded"}, `unknown event type "user.exploded"`},
			{[]string{"webhook", "add", "--url", "https://platform.example/x", "--account", "nosuch"}, `no account "nosuch"`},
			{[]string{"webhook", "remove", "--id", "nosuch"}, "no webhook nosuch"},
			{[]string{"webhook", "rotate-secret", "--id", added.ID, "--overlap", "400h"}, "between 0 and 7 days"},
			{[]string{"webhook", "redeliver", "--id", "nosuch"}, "no webhook delivery nosuch"},
			{[]string{"webhook", "recover", "--id", "nosuch"}, "no webhook nosuch"},
			{[]string{"webhook", "recover", "--id", added.ID, "--since", "last week"}, `--since "last week": want a date`},
			{[]string{"events", "tail", "--after", "yesterday"}, "is not an event cursor"},
		} {
			r := admit(t, db, "", tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && !strings.Contains(r.stderr, "usage:") {
				t.Errorf("%v: exit %d, stderr %q; want a one-line refusal saying %q", tc.args, r.code, r.stderr, tc.want)
			}
		}
		list := decode[[]webhookJSON](t, admit(t, db, "", "webhook", "list", "--json"))
		if len(list) != 1 || list[0].ID != added.ID || list[0].State != "enabled" || list[0].Secret != "" {
			t.Errorf("webhook list: %+v; want the one webhook, enabled, without its secret", list)
		}

		// The server's worker delivers what the CLI does, signed with the
		// printed secret.
		srv := startServer(t, t.TempDir(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_OUTBOUND_ALLOW=127.0.0.1")
		defer srv.stop(t)
		if r := admit(t, db, "", "user", "add", "--account", "acme", "--email", "ann@acme.example", "--first", "Ann", "--last", "Lee", "--invite"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := len(hits)
			mu.Unlock()
			if n >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries after 30s; want user.created and membership.created\n%s", n, srv.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		for _, h := range hits {
			ts, _ := strconv.ParseInt(h.ts, 10, 64)
			want, err := events.Signature([]string{added.Secret}, h.id, time.Unix(ts, 0), h.body)
			if err != nil || h.sig != want {
				t.Errorf("delivery %s: signature %q; want %q (%v)", h.id, h.sig, want, err)
			}
			var ev struct{ Type string }
			_ = json.Unmarshal(h.body, &ev)
			if ev.Type != "user.created" && ev.Type != "membership.created" {
				t.Errorf("delivered %s; the webhook wants user.created and membership.created only", ev.Type)
			}
		}
		firstID := hits[0].id
		mu.Unlock()

		// Every attempt is listed, and one can be sent again.
		var ds []webhookDeliveryJSON
		deadline = time.Now().Add(10 * time.Second)
		for len(ds) < 2 || ds[0].Status != "delivered" || ds[1].Status != "delivered" {
			if time.Now().After(deadline) {
				t.Fatalf("webhook deliveries: %+v", ds)
			}
			time.Sleep(50 * time.Millisecond)
			ds = decode[[]webhookDeliveryJSON](t, admit(t, db, "", "webhook", "deliveries", "--id", added.ID, "--json"))
		}
		if len(ds[0].Attempts) != 1 || ds[0].Attempts[0].Status != 200 {
			t.Errorf("attempts %+v; want one answered 200", ds[0].Attempts)
		}
		if ds[0].CreatedAt == "" || ds[0].Waiting != "" {
			t.Errorf("delivery %+v; want when it was made, and nothing waited for", ds[0])
		}
		if types := []string{ds[0].EventType, ds[1].EventType}; !slices.Contains(types, "user.created") || !slices.Contains(types, "membership.created") {
			t.Errorf("deliveries of event types %q; want user.created and membership.created", types)
		}
		// As text: a header row, then each delivery's type before its event's id.
		if text := admit(t, db, "", "webhook", "deliveries", "--id", added.ID).stdout; !strings.HasPrefix(text, "DELIVERY ") ||
			!regexp.MustCompile(`  user\.created +(`+ds[0].EventID+`|`+ds[1].EventID+`)  `).MatchString(text) {
			t.Errorf("webhook deliveries says:\n%s\nwant a header row, and each event's type before its id", text)
		}
		var again webhookDeliveryJSON
		for _, d := range ds {
			if d.EventID == firstID {
				again = d
			}
		}
		if r := admit(t, db, "", "webhook", "redeliver", "--id", again.ID); r.code != 0 {
			t.Fatalf("redeliver: %s", r.stderr)
		}
		deadline = time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n, last := len(hits), hits[len(hits)-1].id
			mu.Unlock()
			if n == 3 && last == firstID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the redelivery did not come: %d hits", n)
			}
			time.Sleep(50 * time.Millisecond)
		}

		// Nothing given up to send again (TestRecoverGivenUpDeliveries in
		// events sends what was).
		if r := admit(t, db, "", "webhook", "recover", "--id", added.ID, "--since", "72h"); r.code != 0 || !strings.Contains(r.stdout, "has no given-up delivery to send again since ") {
			t.Errorf("webhook recover: exit %d, %q %s", r.code, r.stdout, r.stderr)
		}
		if got := decode[map[string]any](t, admit(t, db, "", "webhook", "recover", "--id", added.ID, "--json")); got["recovered"] != float64(0) || got["id"] != added.ID {
			t.Errorf("webhook recover --json: %v", got)
		}

		// The feed: in order, resumable after a cursor.
		r = admit(t, db, "", "events", "tail", "--account", "acme", "--json")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) < 3 {
			t.Fatalf("events tail: exit %d, %q %s", r.code, r.stdout, r.stderr)
		}
		var evs []struct{ Cursor, Type, ID string }
		for _, l := range lines {
			var ev struct{ Cursor, Type, ID string }
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("events tail line %q: %v", l, err)
			}
			evs = append(evs, ev)
		}
		// As text: a header row (as every list has), then each event's
		// cursor first, and its id.
		text := strings.Split(strings.TrimSpace(admit(t, db, "", "events", "tail", "--account", "acme").stdout), "\n")
		if len(text) != len(lines)+1 || !strings.HasPrefix(strings.TrimSpace(text[0]), "CURSOR  TIME ") || strings.Contains(text[0], "ACCOUNT") ||
			!strings.HasPrefix(strings.TrimSpace(text[1]), evs[0].Cursor+" ") || !strings.Contains(text[1], evs[0].ID) {
			t.Errorf("events tail as text: %q; want a header, then each event's cursor first, and its id", text)
		}
		if every := admit(t, db, "", "events", "tail").stdout; !strings.Contains(every, " acme ") || !strings.Contains(every, " ACCOUNT ") || strings.Contains(text[1], " acme ") {
			t.Errorf("events tail of every account:\n%s\nwant each event's account under ACCOUNT (and not in one account's: %q)", every, text[1])
		}
		if r := admit(t, db, "", "events", "tail", "--account", "acme", "--after", evs[len(evs)-1].Cursor); r.code != 0 || strings.TrimSpace(r.stdout) != "no events of acme after cursor "+evs[len(evs)-1].Cursor {
			t.Errorf("events tail after the last: exit %d, %q; want a sentence", r.code, r.stdout)
		}
		r = admit(t, db, "", "events", "tail", "--account", "acme", "--after", evs[0].Cursor, "--json")
		if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(got) != len(lines)-1 || !strings.Contains(got[0], evs[1].ID) {
			t.Errorf("events tail --after %s: %q; want the events after the first", evs[0].Cursor, r.stdout)
		}
		// A cursor past the end (the database restored from an older
		// backup) is refused with the reason, on one line.
		r = admit(t, db, "", "events", "tail", "--account", "acme", "--after", "999999")
		if msg := strings.TrimSpace(r.stderr); r.code == 0 || r.stdout != "" || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "past the end of the events feed") {
			t.Errorf("events tail --after 999999: exit %d, %q %q; want a one-line refusal", r.code, r.stdout, msg)
		}

		// A test event: sent now, signed with the webhook's secret, to it
		// only, and not in the feed. Without the operators' allow list the
		// loopback receiver is refused: a one-line reason, exit 1.
		mu.Lock()
		before := len(hits)
		mu.Unlock()
		r = admitWith(t, append(os.Environ(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_OUTBOUND_ALLOW=127.0.0.1"), "", "webhook", "test", "--id", added.ID, "--json")
		tested := decode[webhookTestJSON](t, r)
		mu.Lock()
		got := hits[before:]
		mu.Unlock()
		if r.code != 0 || !tested.Delivered || tested.Status != 200 || len(got) != 1 || got[0].id != tested.EventID {
			t.Fatalf("webhook test: exit %d, %+v, %d requests\n%s", r.code, tested, len(got), r.stderr)
		}
		var sent directory.Event
		if err := json.Unmarshal(got[0].body, &sent); err != nil || sent.Type != directory.EventWebhookTest || sent.ID != tested.EventID {
			t.Errorf("the test event sent: %s, %v", got[0].body, err)
		}
		ts, _ := strconv.ParseInt(got[0].ts, 10, 64)
		if sig, err := events.Signature([]string{added.Secret}, got[0].id, time.Unix(ts, 0), got[0].body); err != nil || !strings.Contains(got[0].sig, sig) {
			t.Errorf("the test event's signature %q; want %q (%v)", got[0].sig, sig, err)
		}
		if feed := admit(t, db, "", "events", "tail", "--account", "acme"); strings.Contains(feed.stdout, tested.EventID) || strings.Contains(feed.stdout, "webhook.test") {
			t.Errorf("the test event is in the feed: %s", feed.stdout)
		}
		r = admit(t, db, "", "webhook", "test", "--id", added.ID)
		if msg := strings.TrimSpace(r.stderr); r.code == 0 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "was not delivered") || !strings.Contains(msg, "add 127.0.0.1/32 to ADMIT_OUTBOUND_ALLOW ") {
			t.Errorf("webhook test without the allow list: exit %d, %q; want a one-line refusal naming the allow-list entry", r.code, msg)
		}
		// Both tests are kept with the webhook, newest first.
		r = admit(t, db, "", "webhook", "tests", "--id", added.ID, "--json")
		kept := decode[[]webhookTestJSON](t, r)
		if r.code != 0 || len(kept) != 2 || kept[0].Delivered || !kept[0].Finished || kept[1].EventID != tested.EventID || !kept[1].Delivered || kept[1].SentBy == "" {
			t.Errorf("webhook tests: exit %d, %+v; want the refused test, then the delivered one", r.code, kept)
		}
		if text := admit(t, db, "", "webhook", "tests", "--id", added.ID).stdout; !strings.HasPrefix(text, "SENT") || !strings.Contains(text, tested.EventID) || !strings.Contains(text, "delivered: 200 in ") || !strings.Contains(text, "not delivered: ") {
			t.Errorf("webhook tests as text: %q", text)
		}
		if r := admit(t, db, "", "webhook", "test", "--id", "nosuch"); r.code == 0 || !strings.Contains(r.stderr, "no webhook nosuch") {
			t.Errorf("webhook test of no webhook: exit %d, %q", r.code, r.stderr)
		}

		// Rotation prints a new secret; remove takes the webhook away.
		r = admit(t, db, "", "webhook", "rotate-secret", "--id", added.ID, "--overlap", "1h", "--json")
		rotated := decode[webhookJSON](t, r)
		if r.code != 0 || rotated.Secret == added.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.RotationEnds == "" {
			t.Errorf("rotate-secret: exit %d, %+v", r.code, rotated)
		}
		if r := admit(t, db, "", "webhook", "remove", "--id", added.ID); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if r := admit(t, db, "", "webhook", "list"); r.code != 0 || !strings.Contains(r.stdout, "no webhooks") {
			t.Errorf("webhook list after remove: %q", r.stdout)
		}
	})
}
