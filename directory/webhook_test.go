package directory_test

import (
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestCheckWebhookURL is the table of webhook URLs an operator may give.
func TestCheckWebhookURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		want string // "" when accepted; else words of the refusal
	}{
		{"https://platform.example.com/hooks/admit", ""},
		{"http://10.1.2.3:8080/hooks", ""}, // the guarded client decides where it may go
		{"https://platform.example.com/hooks?tenant=a", ""},
		{"ftp://platform.example.com/hooks", "https://"},
		{"javascript:alert(1)", "https://"},
		{"/hooks", "is not a URL"},
		{"https://", "is not a URL"},
		{"https:platform.example.com", "is not a URL"},
		{"https://user:pw@platform.example.com/", "no user name or password"},
		{"https://platform.example.com/#frag", "no #fragment"},
		{"https://platform.example.com/" + strings.Repeat("a", 2100), "longer than 2048"},
		{"https://plat form.example.com/", "is not a URL"},
		{"https://platform.example.com/a b  Your password expired, sign in at https://evil.example", "is not a URL"},
		{"https://platform.example.com/a\tb", "is not a URL"},
	} {
		err := directory.CheckWebhookURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%.60q: %v; want accepted", tc.url, err)
		case tc.want != "" && (directory.KindOf(err) != directory.Invalid || !strings.Contains(directory.Message(err), tc.want)):
			t.Errorf("%.60q: %v; want Invalid saying %q", tc.url, err, tc.want)
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
// never a panic, and what is accepted is what the rest relies on.
func FuzzWebhookInput(f *testing.F) {
	for _, s := range []string{"https://platform.example.com/hooks", "user.created,membership.deleted", "1042", "https://u:p@x/#f", "%zz", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := directory.CheckWebhookURL(s); err != nil && directory.KindOf(err) != directory.Invalid {
			t.Fatalf("CheckWebhookURL(%q): %v is not Invalid", s, err)
		} else if err == nil && !(strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(strings.ToLower(s), "http")) {
			t.Fatalf("CheckWebhookURL(%q) accepted a URL that is not http(s)", s)
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
