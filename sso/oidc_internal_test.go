package sso

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestOIDCEmailTrust is the table of when an OIDC provider's email is
// believed (the nOAuth class of attack), Google's hd included.
func TestOIDCEmailTrust(t *testing.T) {
	t.Parallel()
	acme := directory.Account{Slug: "acme", Name: "Acme", Domains: []string{"example.com", "example.org"}}
	conn := func(issuer string, trust directory.EmailTrust, domains ...string) directory.Connection {
		return directory.Connection{Name: "oidc", Protocol: directory.ProtocolOIDC, Domains: domains,
			Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: issuer, ClientID: "c", EmailTrust: trust}}}
	}
	const okta = "https://acme.okta.com"
	const entra = "https://login.microsoftonline.com/0b3d-tenant/v2.0"
	tests := []struct {
		name   string
		conn   directory.Connection
		claims string
		email  string // the signed-in address; empty when refused
		refuse string // part of the refusal
	}{
		{"verified email", conn(okta, ""), `{"email":"pat@example.com","email_verified":true}`, "pat@example.com", ""},
		{"verified as a string", conn(okta, ""), `{"email":"pat@example.com","email_verified":"true"}`, "pat@example.com", ""},
		{"no email_verified", conn(okta, ""), `{"email":"pat@example.com"}`, "", "email_verified is not true"},
		{"email_verified false", conn(okta, ""), `{"email":"pat@example.com","email_verified":false}`, "", "email_verified is not true"},
		{"email_verified nonsense", conn(okta, ""), `{"email":"pat@example.com","email_verified":"yes please"}`, "", "email_verified"},
		{"verified vouches for email only, not upn", conn(okta, directory.EmailVerified), `{"upn":"pat@example.com","email_verified":true}`, "", "came from upn"},
		{"domain trust without email_verified", conn(entra, directory.EmailDomain), `{"email":"pat@example.com"}`, "pat@example.com", ""},
		{"domain trust takes the username when there is no email", conn(entra, directory.EmailDomain), `{"preferred_username":"pat@example.org"}`, "pat@example.org", ""},
		{"domain trust still refuses a stated false", conn(entra, directory.EmailDomain), `{"email":"pat@example.com","email_verified":false}`, "", "not verified"},
		{"Entra xms_edov false", conn(entra, directory.EmailDomain), `{"email":"pat@example.com","xms_edov":false}`, "", "xms_edov"},
		{"Entra xms_edov true", conn(entra, directory.EmailDomain), `{"email":"pat@example.com","xms_edov":true}`, "pat@example.com", ""},
		{"Google Workspace account", conn(googleIssuer, ""), `{"email":"pat@example.com","email_verified":true,"hd":"example.com"}`, "pat@example.com", ""},
		{"Google hd in capitals", conn(googleIssuer, ""), `{"email":"pat@example.com","email_verified":true,"hd":"EXAMPLE.com"}`, "pat@example.com", ""},
		{"personal Google account with a company address", conn(googleIssuer, ""), `{"email":"pat@example.com","email_verified":true}`, "", `hd ""`},
		{"another company's Workspace", conn(googleIssuer, ""), `{"email":"pat@example.com","email_verified":true,"hd":"other.example"}`, "", "other.example"},
		{"hd of the account but not of the connection", conn(googleIssuer, "", "example.org"), `{"email":"pat@example.com","email_verified":true,"hd":"example.com"}`, "", "hd"},
		{"no email at all", conn(okta, ""), `{"name":"Pat"}`, "", "no email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := map[string]any{}
			if err := json.Unmarshal([]byte(tt.claims), &raw); err != nil {
				t.Fatal(err)
			}
			id, err := oidcIdentity(acme, tt.conn, "subject-1", raw, jsonClaims(raw))
			switch {
			case tt.refuse == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refuse == "" && id.Email != tt.email:
				t.Errorf("email %q, want %q", id.Email, tt.email)
			case tt.refuse != "" && err == nil:
				t.Fatalf("accepted %q, want a refusal with %q", id.Email, tt.refuse)
			case tt.refuse != "" && !strings.Contains(err.Error(), tt.refuse):
				t.Errorf("refusal %q, want it to mention %q", err, tt.refuse)
			}
		})
	}
}

func TestJSONClaims(t *testing.T) {
	t.Parallel()
	raw := map[string]any{}
	_ = json.Unmarshal([]byte(`{"email":"a@b.c","email_verified":true,"groups":["x","y",3,{"no":1}],"iat":1700000000,"address":{"street":"1"}}`), &raw)
	got := jsonClaims(raw)
	want := map[string][]string{"email": {"a@b.c"}, "email_verified": {"true"}, "groups": {"x", "y", "3"}, "iat": {"1700000000"}}
	if len(got) != len(want) {
		t.Errorf("claims %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
}

func TestCheckIssuer(t *testing.T) {
	t.Parallel()
	if err := directory.CheckIssuer("http://keycloak:8080/realms/acme", true); err != nil {
		t.Errorf("an http issuer with allowHTTP: %v", err)
	}
	if err := directory.CheckIssuer("https://login.microsoftonline.com/common/v2.0", true); err == nil {
		t.Error("allowHTTP let a multi-tenant Entra issuer in")
	}
	for issuer, ok := range map[string]bool{
		"https://acme.okta.com":                                true,
		"https://login.microsoftonline.com/0b3d-tenant/v2.0":   true,
		"https://accounts.google.com":                          true,
		"http://127.0.0.1:8080":                                true,
		"http://localhost:9000/realms/acme":                    true,
		"http://keycloak.example.com/realms/acme":              false,
		"https://login.microsoftonline.com/common/v2.0":        false,
		"https://login.microsoftonline.com/organizations/v2.0": false,
		"https://login.microsoftonline.com/consumers/v2.0":     false,
		"https://login.microsoftonline.com/":                   false,
		"https://acme.okta.com?x=1":                            false,
		"https://user@acme.okta.com":                           false,
		"acme.okta.com":                                        false,
		"":                                                     false,
		"https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0": false,
	} {
		if err := directory.CheckIssuer(issuer, false); (err == nil) != ok {
			t.Errorf("CheckIssuer(%q) = %v, want ok=%v", issuer, err, ok)
		}
	}
}

func TestNeedsUserInfo(t *testing.T) {
	t.Parallel()
	full := map[string]any{"email": "a@b.c", "name": "A B"}
	for _, tt := range []struct {
		claims map[string]any
		m      directory.AttributeMapping
		want   bool
	}{
		{full, directory.AttributeMapping{}, false},
		{map[string]any{"email": "a@b.c", "given_name": "A"}, directory.AttributeMapping{}, false},
		{map[string]any{"sub": "1"}, directory.AttributeMapping{}, true},
		{map[string]any{"email": "a@b.c"}, directory.AttributeMapping{}, true},
		{full, directory.AttributeMapping{Groups: "roles"}, true},
		{full, directory.AttributeMapping{Email: directory.NameIDClaim}, false},
		{map[string]any{"email": "a@b.c", "name": "A B", "roles": []any{"x"}}, directory.AttributeMapping{Groups: "roles"}, false},
	} {
		if got := needsUserInfo(tt.claims, tt.m); got != tt.want {
			t.Errorf("needsUserInfo(%v, %+v) = %v, want %v", tt.claims, tt.m, got, tt.want)
		}
	}
}

// FuzzOIDCClaims feeds arbitrary claims (as a provider's ID token or
// userinfo could hold them) to the mapping and email trust: never a
// panic, and with the default trust nothing is accepted unless the email
// claim itself is the address and email_verified says true.
func FuzzOIDCClaims(f *testing.F) {
	for _, seed := range []string{
		`{"email":"pat@example.com","email_verified":true,"name":"Pat Q"}`,
		`{"email":"pat@example.com","email_verified":"true","groups":["a","b"]}`,
		`{"email":["pat@example.com","x@y.z"],"email_verified":[true]}`,
		`{"upn":"pat@example.com","email_verified":true}`,
		`{"email":"pat@example.com<!---->.evil","email_verified":true}`,
		`{"email":" PAT@Example.COM ","email_verified":1}`,
		`{"email":null,"email_verified":{"x":true},"hd":7}`,
		`[]`, `null`, `{"email":"\u0000@example.com","email_verified":true}`,
	} {
		f.Add([]byte(seed))
	}
	acme := directory.Account{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}}
	conn := directory.Connection{Name: "oidc", Protocol: directory.ProtocolOIDC,
		Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: "https://idp.example", ClientID: "c"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := map[string]any{}
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		claims := jsonClaims(raw)
		id, err := oidcIdentity(acme, conn, "subject", raw, claims)
		if err != nil {
			return
		}
		if v, ok := boolClaim(raw["email_verified"]); !ok || !v {
			t.Fatalf("accepted %q without email_verified true: %s", id.Email, data)
		}
		if !strings.EqualFold(id.From["email"], "email") || !slices.ContainsFunc(claims[id.From["email"]], func(v string) bool {
			e, err := directory.NormalizeEmail(v)
			return err == nil && e == id.Email
		}) {
			t.Fatalf("accepted %q, which is not the email claim %v", id.Email, claims["email"])
		}
	})
}
