package directory_test

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestCleanWebhookURL is the table of webhook URLs an operator or owner
// may give, and of how each is kept.
func TestCleanWebhookURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want string // how it is kept, when accepted
		bad  string // else words of the refusal
	}{
		{url: "https://platform.example.com/hooks/admit", want: "https://platform.example.com/hooks/admit"},
		{url: "http://10.1.2.3:8080/hooks", want: "http://10.1.2.3:8080/hooks"}, // the guarded client decides where it may go
		{url: "https://platform.example.com/hooks?tenant=a", want: "https://platform.example.com/hooks?tenant=a"},
		// One endpoint written another way is kept as the same URL; its
		// path and query are the receiver's to read, case and all.
		{url: "HTTPS://Platform.Example.COM:443/Hooks?Tenant=A", want: "https://platform.example.com/Hooks?Tenant=A"},
		{url: "http://Hooks.Example:80/x", want: "http://hooks.example/x"},
		{url: "https://hooks.example:8443/x", want: "https://hooks.example:8443/x"},
		{url: "http://hooks.example:443/x", want: "http://hooks.example:443/x"}, // not http's default
		{url: "https://[2001:DB8::1]:443/x", want: "https://[2001:db8::1]/x"},
		{url: "https://Hooks.Example:/x", want: "https://hooks.example/x"}, // an empty port is the default
		// Only ASCII letters are lowered: the client turns the others into
		// their ASCII form, which lowering first can change (İ is not i),
		// and a zone is an interface name.
		{url: "https://İstanbul.Example/hook", want: "https://xn--istanbul-o0e.example/hook"},
		{url: "https://STRAẞE.example/hook", want: "https://strasse.example/hook"},
		{url: "http://[FE80::1%25ETH0]:8080/x", want: "http://[fe80::1%25ETH0]:8080/x"},
		// What the client dials the same, kept the same: a name in its
		// ASCII form (full-width letters, a soft hyphen, the ideographic
		// full stop mapped as the client maps them), an address in its
		// shortest form.
		{url: "https://BÜCHER.example/hook", want: "https://xn--bcher-kva.example/hook"},
		{url: "https://xn--bcher-kva.example/hook", want: "https://xn--bcher-kva.example/hook"},
		{url: "https://ｈooks.example/x", want: "https://hooks.example/x"},
		{url: "https://hoo\u00ADks.example/x", want: "https://hooks.example/x"},
		{url: "https://hooks\u3002example/x", want: "https://hooks.example/x"},
		{url: "https://[2001:0db8:0::1]/x", want: "https://[2001:db8::1]/x"},
		{url: "https://[2001:db8::zz]/x", bad: "is not a URL"},
		{url: "https://h/" + strings.Repeat("ä", 700), bad: "with its non-ASCII characters encoded"},
		{url: "https://hooks.example:0443/x", want: "https://hooks.example/x"},
		{url: "https://hooks.example:08443/x", want: "https://hooks.example:8443/x"},
		{url: "https://hooks.example:99999/x", bad: "not a port"},
		{url: "https://hooks.example:0/x", bad: "not a port"},
		// The same endpoint to a client, another URL to the duplicate check.
		{url: "https://hooks.example./x", bad: "without a final dot"},
		{url: "https://Hooks.Example.:443/x", bad: "without a final dot"},
		{url: "https://hooks.example%2E/x", bad: "is not a URL"},
		{url: "https://hooks.example\u3002/x", bad: "without a final dot"},
		{url: "https://hooks.example\uFF0E/x", bad: "without a final dot"},
		{url: "https://hooks\u2028.example/x", bad: "is not a URL"},
		{url: "https://\u00AD/hooks", bad: "is not a domain name"},
		{url: "https://\u200B\uFE0F:8443/admit", bad: "is not a domain name"},
		// What an owner could write into the notice admins are mailed,
		// with blanks of other scripts or a right-to-left mark: encoded.
		{url: "https://h.example/?\u2800.\u2800Action\u2800required", want: "https://h.example/?%E2%A0%80.%E2%A0%80Action%E2%A0%80required"},
		{url: "https://h.example/a\u202Eb?q=\u3164", want: "https://h.example/a%E2%80%AEb?q=%E3%85%A4"},
		{url: "ftp://platform.example.com/hooks", bad: "https://"},
		{url: "javascript:alert(1)", bad: "https://"},
		{url: "/hooks", bad: "is not a URL"},
		{url: "https://", bad: "is not a URL"},
		{url: "http://:", bad: "is not a URL"},
		{url: "https://:443/x", bad: "is not a URL"},
		{url: "https:platform.example.com", bad: "is not a URL"},
		{url: "https://user:pw@platform.example.com/", bad: "no user name or password"},
		{url: "https://platform.example.com/#frag", bad: "no #fragment"},
		{url: "https://platform.example.com/" + strings.Repeat("a", 2100), bad: "longer than 2048"},
		{url: "https://plat form.example.com/", bad: "is not a URL"},
		{url: "https://platform.example.com/a b  Your password expired, sign in at https://evil.example", bad: "is not a URL"},
		{url: "https://platform.example.com/a\tb", bad: "is not a URL"},
	} {
		got, err := directory.CleanWebhookURL(tc.url)
		switch {
		case tc.bad == "" && (err != nil || got != tc.want):
			t.Errorf("%.60q: %q, %v; want %q", tc.url, got, err, tc.want)
		case tc.bad != "" && (directory.KindOf(err) != directory.Invalid || !strings.Contains(directory.Message(err), tc.bad)):
			t.Errorf("%.60q: %v; want Invalid saying %q", tc.url, err, tc.bad)
		}
	}
}

func TestParseEventTypes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"user.created", []string{"user.created"}, false},
		{" user.created , membership.deleted,user.created,", []string{"user.created", "membership.deleted"}, false},
		{"user.created,user.exploded", nil, true},
		{"USER.CREATED", nil, true},
		{"account.created", nil, true}, // audited, not an event
	} {
		got, err := directory.ParseEventTypes(tc.in)
		if tc.bad != (err != nil) || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("ParseEventTypes(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseEventCursor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"1042", 1042, false},
		{"-1", 0, true}, {"yesterday", 0, true}, {"1e3", 0, true}, {"99999999999999999999", 0, true}, {" 5", 0, true},
	} {
		got, err := directory.ParseEventCursor(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("ParseEventCursor(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
		if err != nil && directory.KindOf(err) != directory.Invalid {
			t.Errorf("ParseEventCursor(%q): kind %v; want Invalid", tc.in, directory.KindOf(err))
		}
	}
}

// FuzzWebhookInput: what an operator types for a webhook (URL, event
// types, a feed cursor) is refused with an Invalid error or accepted,
// never a panic, and what is accepted is what the rest relies on (a URL
// kept clean stays the same cleaned again).
func FuzzWebhookInput(f *testing.F) {
	for _, s := range []string{"https://platform.example.com/hooks", "user.created,membership.deleted", "1042", "https://u:p@x/#f", "%zz", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if clean, err := directory.CleanWebhookURL(s); err != nil && directory.KindOf(err) != directory.Invalid {
			t.Fatalf("CleanWebhookURL(%q): %v is not Invalid", s, err)
		} else if err == nil {
			if !strings.HasPrefix(clean, "https://") && !strings.HasPrefix(clean, "http://") {
				t.Fatalf("CleanWebhookURL(%q) = %q, not http(s)", s, clean)
			}
			// It is shown in mail: printable ASCII, nothing that reads as
			// a space or turns the text around.
			if i := strings.IndexFunc(clean, func(r rune) bool { return r <= ' ' || r > '~' }); i >= 0 {
				t.Fatalf("CleanWebhookURL(%q) = %q, with %q", s, clean, clean[i:])
			}
			// Kept URLs are compared clean: cleaning one again changes nothing.
			if again, err := directory.CleanWebhookURL(clean); err != nil || again != clean {
				t.Fatalf("CleanWebhookURL(%q) = %q; cleaned again: %q, %v", s, clean, again, err)
			}
			// And cleaning never changes where the client connects.
			if before, after := connectsTo(s), connectsTo(clean); before != after {
				t.Fatalf("CleanWebhookURL(%q) = %q: the client connected to %q, and now to %q", s, clean, before, after)
			}
		}
		types, err := directory.ParseEventTypes(s)
		if err != nil && directory.KindOf(err) != directory.Invalid {
			t.Fatalf("ParseEventTypes(%q): %v is not Invalid", s, err)
		}
		for _, typ := range types {
			if !directory.IsEventType(typ) {
				t.Fatalf("ParseEventTypes(%q) gave %q", s, typ)
			}
		}
		if n, err := directory.ParseEventCursor(s); err == nil && n < 0 {
			t.Fatalf("ParseEventCursor(%q) = %d", s, n)
		} else if err != nil && directory.KindOf(err) != directory.Invalid {
			t.Fatalf("ParseEventCursor(%q): %v is not Invalid", s, err)
		}
	})
}

// connectsTo is the address an HTTP client dials for rawURL: its host in
// ASCII (IDNA, as net/http converts a name that is not ASCII already) in
// lower case, and its port.
func connectsTo(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "unparsable"
	}
	host := u.Hostname()
	if strings.ContainsFunc(host, func(r rune) bool { return r >= utf8.RuneSelf }) {
		if host, err = idna.Lookup.ToASCII(host); err != nil {
			host = "not IDNA: " + u.Hostname()
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String()
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return strings.ToLower(host) + " port " + port
}

// TestOwnersWebhooksOnPublicHostsOnly: an account's owners cannot add an
// endpoint whose host can only be one admit never sends their events to
// (an address that is not public, or localhost); the operators can, for
// their own network. A name is judged when it is resolved, at each attempt.
func TestOwnersWebhooksOnPublicHostsOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// The guarded client's rule, as the wiring passes it in.
		refused := func(addr netip.Addr) string {
			var r *fetch.RefusedError
			if errors.As(fetch.Allow{}.Check(addr), &r) {
				return r.Reason
			}
			return ""
		}
		svc := directory.NewService(directory.Config{Store: s, RefusedAddress: refused})
		a, err := svc.CreateAccount(ctx, directory.Actor{Source: directory.SourceCLI, Name: "op"}, directory.NewAccount{Slug: "acme", Name: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		seal := func(string) string { return "sealed" }
		for _, tc := range []struct {
			url  string
			want string // in the refusal; "" when added
		}{
			{"https://127.0.0.1/hook", "127.0.0.1 is a loopback address"},
			{"https://[::1]:8443/hook", "::1 is a loopback address"},
			{"https://10.1.2.3/hook", "10.1.2.3 is a private address"},
			{"https://169.254.169.254/latest", "a cloud instance metadata address"},
			{"https://[::ffff:10.0.0.1]/hook", "::ffff:10.0.0.1 is a private address"},
			{"https://0.0.0.0/hook", "0.0.0.0 is"},
			{"https://localhost/hook", "localhost is this machine"},
			{"https://LOCALHOST:9000/hook", "localhost is this machine"},
			{"https://hooks.localhost/hook", "hooks.localhost is this machine"},
			{"https://localhost./hook", "without a final dot"},
			{"https://127.1/hook", "127.1 is an address in a form"},
			{"https://0x7f.1/hook", "0x7f.1 is an address in a form"},
			{"https://2130706433/hook", "2130706433 is an address in a form"},
			{"https://0177.0.0.1/hook", "0177.0.0.1 is an address in a form"},
			{"https://0x7f000001/hook", "0x7f000001 is an address in a form"},
			{"https://[2606:4700::1%25eth0]/hook", "is an address on one of this machine's interfaces"},
			{"https://hooks.2026.example/admit", ""},
			{"https://1password.example/admit", ""},
			{"https://hooks.example/admit", ""},
			{"https://93.184.216.34/admit", ""},
			{"https://[2606:2800:220:1:248:1893:25c8:1946]/admit", ""},
		} {
			_, err := svc.AddWebhook(ctx, directory.Actor{Source: directory.SourceCLI, Name: "op"}, directory.NewWebhook{AccountID: a.ID, URL: tc.url, PublicOnly: true}, seal)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s: %v; want it added", tc.url, err)
			case tc.want != "" && (directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%s: %v; want it refused, saying %q", tc.url, err, tc.want)
			}
		}
		// The operators' own may lead into their network.
		if _, err := svc.AddWebhook(ctx, directory.Actor{Source: directory.SourceCLI, Name: "op"}, directory.NewWebhook{AccountID: a.ID, URL: "https://10.1.2.3/hook"}, seal); err != nil {
			t.Errorf("the operators' endpoint on a private address: %v; want it added", err)
		}
	})
}

// TestDeliveryWaiting is the table of what a pending delivery waits for,
// when not its next attempt's time.
func TestDeliveryWaiting(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	for _, tc := range []struct {
		name string
		d    directory.WebhookDelivery
		w    directory.Webhook
		want string
	}{
		{"ready", directory.WebhookDelivery{Status: directory.DeliveryPending, Ready: true, NextAttemptAt: earlier}, directory.Webhook{}, ""},
		{"ready, retried later", directory.WebhookDelivery{Status: directory.DeliveryPending, Ready: true, NextAttemptAt: later}, directory.Webhook{}, ""},
		{"behind the person's earlier event", directory.WebhookDelivery{Status: directory.DeliveryPending, NextAttemptAt: earlier}, directory.Webhook{}, "waits for an earlier event about the same person"},
		{"paused", directory.WebhookDelivery{Status: directory.DeliveryPending, Ready: true}, directory.Webhook{PausedUntil: &later}, "waits until 2026-12-03T10:00:00Z, as the endpoint asked (Retry-After)"},
		{"a pause over", directory.WebhookDelivery{Status: directory.DeliveryPending, Ready: true}, directory.Webhook{PausedUntil: &earlier}, ""},
		{"disabled, and paused, and behind", directory.WebhookDelivery{Status: directory.DeliveryPending}, directory.Webhook{DisabledAt: &earlier, PausedUntil: &later}, "waits for the webhook to be enabled"},
		{"delivered", directory.WebhookDelivery{Status: directory.DeliveryDelivered}, directory.Webhook{DisabledAt: &earlier}, ""},
		{"given up", directory.WebhookDelivery{Status: directory.DeliveryFailed}, directory.Webhook{}, ""},
	} {
		if got := tc.d.Waiting(tc.w, now); got != tc.want {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
}
