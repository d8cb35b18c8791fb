package directory

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMapClaimsDefaults feeds MapClaims what each identity provider sends
// out of the box (or as its setup guide, and ours, tells the admin to
// configure it), with no mapping set on the connection.
func TestMapClaimsDefaults(t *testing.T) {
	t.Parallel()
	const (
		ws  = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
		ms  = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
		oid = "urn:oid:"
	)
	cases := []struct {
		name    string
		subject string
		claims  Claims
		mapping AttributeMapping
		want    Identity
	}{
		{name: "Okta (attribute statements email, firstName, lastName, groups)", subject: "00u1abcd",
			claims: Claims{"email": {"ann@example.com"}, "firstName": {"Ann"}, "lastName": {"Lee"}, "groups": {"Admins", "Everyone"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Groups: []string{"Admins", "Everyone"}}},
		{name: "Entra ID (WS-Fed claim URIs, group object ids)", subject: "ann@example.com",
			claims: Claims{ws + "emailaddress": {"Ann@Example.com"}, ws + "givenname": {"Ann"}, ws + "surname": {"Lee"},
				ws + "name": {"ann@example.com"}, "http://schemas.microsoft.com/identity/claims/displayname": {"Ann Lee"},
				ms + "groups": {"3f2c1a9e-0000-4000-8000-000000000001"}},
			want: Identity{Email: "Ann@example.com", FirstName: "Ann", LastName: "Lee", DisplayName: "Ann Lee", Groups: []string{"3f2c1a9e-0000-4000-8000-000000000001"}}},
		{name: "Entra ID user without a mailbox: the UPN claim", subject: "x",
			claims: Claims{ws + "name": {"ann@example.com"}, ws + "givenname": {"Ann"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann"}},
		{name: "Google Workspace (primary email as NameID, mapped first and last name)", subject: "ann@example.com",
			claims: Claims{"firstName": {"Ann"}, "lastName": {"Lee"}, "groups": {"eng@example.com"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Groups: []string{"eng@example.com"}}},
		{name: "OneLogin (User.* parameters, memberOf)", subject: "ann@example.com",
			claims: Claims{"User.email": {"ann@example.com"}, "User.FirstName": {"Ann"}, "User.LastName": {"Lee"}, "memberOf": {"Sales"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Groups: []string{"Sales"}}},
		{name: "JumpCloud (email, firstname, lastname, memberOf)", subject: "ann",
			claims: Claims{"email": {"ann@example.com"}, "firstname": {"Ann"}, "lastname": {"Lee"}, "memberOf": {"cn=ops,ou=groups,dc=example,dc=com"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Groups: []string{"cn=ops,ou=groups,dc=example,dc=com"}}},
		{name: "ADFS (claim URIs, upn, Group)", subject: "EXAMPLE\\ann",
			claims: Claims{ws + "upn": {"ann@example.com"}, ws + "givenname": {"Ann"}, ws + "surname": {"Lee"}, "http://schemas.xmlsoap.org/claims/Group": {"Domain Users"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Groups: []string{"Domain Users"}}},
		{name: "Keycloak (default mappers; Role list)", subject: "G-1234",
			claims: Claims{"email": {"ann@example.com"}, "firstName": {"Ann"}, "lastName": {"Lee"}, "Role": {"admin", "offline_access"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee", Groups: []string{"admin", "offline_access"}}},
		{name: "Keycloak and Shibboleth X.500 names", subject: "x",
			claims: Claims{oid + "0.9.2342.19200300.100.1.3": {"ann@example.com"}, oid + "2.5.4.42": {"Ann"}, oid + "2.5.4.4": {"Lee"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann", LastName: "Lee"}},
		{name: "only a full name", subject: "ann@example.com",
			claims: Claims{"displayName": {"Ann Marie Lee"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann Marie", LastName: "Lee", DisplayName: "Ann Marie Lee"}},
		{name: "names compared without case", subject: "x",
			claims: Claims{"EMAIL": {"ann@example.com"}, "FIRSTNAME": {"Ann"}},
			want:   Identity{Email: "ann@example.com", FirstName: "Ann"}},
		{name: "a connection's own mapping wins", subject: "ann@example.com",
			claims:  Claims{"email": {"other@example.com"}, "mailPrimary": {"ann.lee@example.com"}, "team": {"Blue"}, "groups": {"Ignored"}},
			mapping: AttributeMapping{Email: "mailPrimary", Groups: "team"},
			want:    Identity{Email: "ann.lee@example.com", Groups: []string{"Blue"}}},
		{name: "mapping the email to the NameID", subject: "ann@example.com",
			claims:  Claims{"email": {"old@example.com"}},
			mapping: AttributeMapping{Email: NameIDClaim},
			want:    Identity{Email: "ann@example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MapClaims(tc.subject, tc.claims, tc.mapping)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Subject = tc.subject
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Identity{}, "From"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestMapClaimsRefusesWithoutEmail(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		subject string
		claims  Claims
	}{
		"nothing":         {"00u1abcd", Claims{"firstName": {"Ann"}}},
		"not an address":  {"00u1abcd", Claims{"email": {"ann"}}},
		"display name in": {"x", Claims{"email": {"Ann <ann@example.com>"}}},
	} {
		if _, err := MapClaims(c.subject, c.claims, AttributeMapping{}); KindOf(err) != Invalid {
			t.Errorf("%s: err = %v, want Invalid", name, err)
		}
	}
}

// TestAttributeNames: what a connection reads each field from, as printed
// for the identity provider's admin, is what MapClaims looks for: the
// connection's own name alone, else the defaults in order; the list is the
// caller's to keep.
func TestAttributeNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mapping AttributeMapping
		claims  Claims
		first   string // the first email name printed
	}{
		{"defaults", AttributeMapping{}, Claims{"email": {"ann@example.com"}}, "email"},
		{"own name", AttributeMapping{Email: "mail"}, Claims{"mail": {"ann@example.com"}}, "mail"},
		{"nameid", AttributeMapping{Email: NameIDClaim}, Claims{}, NameIDClaim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := tc.mapping.Names()
			if names.Email[0] != tc.first || (tc.mapping.Email != "" && len(names.Email) != 1) {
				t.Errorf("email from %v", names.Email)
			}
			id, err := MapClaims("ann@example.com", tc.claims, tc.mapping)
			if err != nil || id.From["email"] != tc.first {
				t.Errorf("MapClaims read the email from %q (%v); Names says %q", id.From["email"], err, tc.first)
			}
			names.Email[0] = "changed"
			if again := tc.mapping.Names(); again.Email[0] != tc.first {
				t.Errorf("changing the returned names changed the defaults: %v", again.Email)
			}
		})
	}
}

// TestSubjectAttribute: where a SAML login's lasting subject comes from.
// Entra ID's object id is taken unasked, scoped by its tenant; a subject
// attribute the connection names must be there, once; "nameid" leaves the
// NameID's rule as it was. A refusal is Invalid, with its reason.
func TestSubjectAttribute(t *testing.T) {
	t.Parallel()
	const (
		oid    = EntraObjectIDClaim
		tenant = EntraTenantIDClaim
		scoped = tenant + " " + oid
	)
	for _, tc := range []struct {
		name      string
		claims    Claims
		set       string
		attribute string
		value     string
		refused   string // in the Invalid error's message
	}{
		{name: "no attribute, nothing named: the NameID's rule",
			claims: Claims{"email": {"ann@example.com"}}},
		{name: "Entra ID: object id scoped by tenant id",
			claims:    Claims{oid: {" 0a6b2c1e-0000-4000-8000-00000000a11c "}, tenant: {"72f988bf-86f1-41af-91ab-2d7cd011db47"}},
			attribute: scoped, value: "72f988bf-86f1-41af-91ab-2d7cd011db47/0a6b2c1e-0000-4000-8000-00000000a11c"},
		{name: "Entra ID without a tenant id: the object id alone, under another name",
			claims:    Claims{oid: {"0a6b2c1e"}},
			attribute: oid, value: "0a6b2c1e"},
		{name: "Entra ID's claim names in another case",
			claims:    Claims{"HTTP://schemas.microsoft.com/identity/claims/ObjectIdentifier": {"o"}, "http://schemas.microsoft.com/identity/claims/TenantId": {"t"}},
			attribute: scoped, value: "t/o"},
		{name: "the same value twice (Name and FriendlyName) is one value",
			claims: Claims{"employeeNumber": {"1001"}, "EmployeeNumber": {"1001"}},
			set:    "employeeNumber", attribute: "employeeNumber", value: "1001"},
		{name: "a named attribute", set: "user.id",
			claims:    Claims{"user.id": {"00u1abcd"}, oid: {"ignored"}},
			attribute: "user.id", value: "00u1abcd"},
		{name: "the object id named: scoped as by default", set: oid,
			claims:    Claims{oid: {"o"}, tenant: {"t"}},
			attribute: scoped, value: "t/o"},
		{name: "nameid: Entra ID's object id is not read", set: NameIDClaim,
			claims: Claims{oid: {"a", "b"}}},
		{name: "a named attribute missing", set: "user.id",
			claims: Claims{"email": {"ann@example.com"}}, refused: "sent no user.id attribute"},
		{name: "a named attribute blank", set: "user.id",
			claims: Claims{"user.id": {"", "  "}}, refused: "sent no user.id attribute"},
		{name: "a named attribute with two values", set: "user.id",
			claims: Claims{"user.id": {"00u1", "00u2"}}, refused: "2 values of the user.id attribute"},
		{name: "two values under names differing in case", set: "user.id",
			claims: Claims{"user.id": {"00u1"}, "USER.ID": {"00u2"}}, refused: "2 values of the user.id attribute"},
		{name: "Entra ID's object id twice",
			claims: Claims{oid: {"a", "b"}}, refused: "2 values of the " + oid},
		{name: "Entra ID's object id blank",
			claims: Claims{oid: {""}}, refused: "sent no " + oid},
		{name: "Entra ID's tenant id twice",
			claims: Claims{oid: {"o"}, tenant: {"t1", "t2"}}, refused: "2 values of the " + tenant},
		{name: "Entra ID's tenant id blank",
			claims: Claims{oid: {"o"}, tenant: {" "}}, refused: "sent no " + tenant},
		{name: "a tenant id with a slash would be ambiguous",
			claims: Claims{oid: {"o"}, tenant: {"t/x"}}, refused: "is no tenant id"},
		{name: "a subject with a control character", set: "user.id",
			claims: Claims{"user.id": {"a\x00b"}}, refused: "control characters"},
		{name: "a subject too long", set: "user.id",
			claims: Claims{"user.id": {strings.Repeat("x", maxLinkedSubject+1)}}, refused: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attribute, value, err := SubjectAttribute(tc.claims, AttributeMapping{Subject: tc.set})
			if tc.refused != "" {
				if KindOf(err) != Invalid || !strings.Contains(Message(err), tc.refused) || attribute != "" || value != "" {
					t.Errorf("got %q %q %v; want Invalid saying %q", attribute, value, err, tc.refused)
				}
				return
			}
			if err != nil || attribute != tc.attribute || value != tc.value {
				t.Errorf("got %q %q %v; want %q %q", attribute, value, err, tc.attribute, tc.value)
			}
		})
	}
}

// TestLinkKey: what a login is linked to its person by. An attribute's
// subject, when there is one, and never the NameID beside it; else a
// lasting NameID or sub; else nothing.
func TestLinkKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		id                 Identity
		attribute, subject string
		ok                 bool
	}{
		{"a persistent NameID", Identity{Subject: "pid", Lasting: true}, "", "pid", true},
		{"an email NameID", Identity{Subject: "ann@example.com"}, "", "ann@example.com", false},
		{"an attribute beside an email NameID", Identity{Subject: "ann@example.com", Attribute: "a", AttributeSubject: "v"}, "a", "v", true},
		{"an attribute beside a persistent NameID", Identity{Subject: "pid", Lasting: true, Attribute: "a", AttributeSubject: "v"}, "a", "v", true},
		{"an attribute without a value", Identity{Subject: "pid", Lasting: true, Attribute: "a"}, "a", "", false},
		{"a NameID too long", Identity{Subject: strings.Repeat("x", maxLinkedSubject+1), Lasting: true}, "", strings.Repeat("x", maxLinkedSubject+1), false},
		// PostgreSQL's text holds neither: an OIDC sub (JSON) may carry a NUL.
		{"a sub with a NUL", Identity{Subject: "a\x00b", Lasting: true}, "", "a\x00b", false},
		{"a sub of invalid UTF-8", Identity{Subject: "a\xffb", Lasting: true}, "", "a\xffb", false},
		{"an attribute's value with a NUL", Identity{Attribute: "a", AttributeSubject: "v\x00"}, "a", "v\x00", false},
		{"a sub with a tab, as before", Identity{Subject: "a\tb", Lasting: true}, "", "a\tb", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attribute, subject, ok := linkKey(tc.id)
			if attribute != tc.attribute || subject != tc.subject || ok != tc.ok {
				t.Errorf("linkKey = %q %q %v; want %q %q %v", attribute, subject, ok, tc.attribute, tc.subject, tc.ok)
			}
		})
	}
}

// FuzzSubjectAttribute: whatever attributes arrive, SubjectAttribute
// never takes one of several values, never answers a subject the linking
// refuses (blank, too long), and answers the same however the claims map
// happens to be ordered.
func FuzzSubjectAttribute(f *testing.F) {
	f.Add("", "o", "", "t", "", false)
	f.Add("user.id", "00u1", "00u2", "", "user.id", true)
	f.Add(NameIDClaim, "a", "b", "t/x", "", false)
	f.Add("", " ", "o", "", "EMPLOYEENUMBER", true)
	f.Fuzz(func(t *testing.T, set, v1, v2, tenant, alias string, twice bool) {
		name := set
		if name == "" || name == NameIDClaim {
			name = EntraObjectIDClaim
		}
		claims := Claims{name: {v1}}
		if twice {
			claims[name] = append(claims[name], v2)
		}
		if alias != "" {
			claims.Add(alias, v2)
		}
		if tenant != "" {
			claims.Add(EntraTenantIDClaim, tenant)
		}
		m := AttributeMapping{Subject: set}
		attribute, value, err := SubjectAttribute(claims, m)
		for range 3 {
			a2, v2, err2 := SubjectAttribute(claims, m)
			if a2 != attribute || v2 != value || (err == nil) != (err2 == nil) {
				t.Fatalf("answers differ: %q %q %v, then %q %q %v", attribute, value, err, a2, v2, err2)
			}
		}
		if err != nil {
			if KindOf(err) != Invalid || attribute != "" || value != "" {
				t.Fatalf("refusal %q %q %v: want Invalid and nothing else", attribute, value, err)
			}
			return
		}
		if attribute == "" {
			if value != "" || (set != NameIDClaim && set != "") {
				t.Fatalf("no attribute, but value %q (set %q)", value, set)
			}
			return
		}
		if values, _ := claims.all(name); len(values) != 1 {
			t.Fatalf("%q taken from %q", value, values)
		}
		if id := (Identity{Attribute: attribute, AttributeSubject: value}); value == "" || func() bool { _, _, ok := linkKey(id); return !ok }() {
			t.Fatalf("subject %q from %q cannot link", value, attribute)
		}
	})
}

// TestSubjectAttributeCheck: a connection may name as its lasting subject
// only an attribute that is no one else's: never Entra ID's tenant id, nor
// one admit reads an address, a name or groups from (its defaults, or the
// connection's own names for them), whatever the case.
func TestSubjectAttributeCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		m       AttributeMapping
		refused string // in the problem; "" when accepted
	}{
		{name: "none", m: AttributeMapping{}},
		{name: "nameid", m: AttributeMapping{Subject: NameIDClaim}},
		{name: "Entra ID's object id", m: AttributeMapping{Subject: EntraObjectIDClaim}},
		{name: "an employee number", m: AttributeMapping{Subject: "employeeNumber"}},
		{name: "SAML's subject-id", m: AttributeMapping{Subject: "urn:oasis:names:tc:SAML:attribute:subject-id"}},
		{name: "Entra ID's tenant id", m: AttributeMapping{Subject: EntraTenantIDClaim}, refused: "Entra ID's tenant id"},
		{name: "Entra ID's tenant id in another case", m: AttributeMapping{Subject: "HTTP://schemas.microsoft.com/identity/claims/TENANTID"}, refused: "tenant id"},
		{name: "a default email claim", m: AttributeMapping{Subject: "mail"}, refused: "email address"},
		{name: "Entra ID's name claim (the UPN)", m: AttributeMapping{Subject: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"}, refused: "email address"},
		{name: "a default email claim the connection overrides", m: AttributeMapping{Email: "work_mail", Subject: "email"}, refused: "email address"},
		{name: "the connection's own email attribute", m: AttributeMapping{Email: "work_mail", Subject: "WORK_MAIL"}, refused: "email address"},
		{name: "a first name", m: AttributeMapping{Subject: "givenName"}, refused: "first name"},
		{name: "a last name", m: AttributeMapping{Subject: "sn"}, refused: "last name"},
		{name: "a display name", m: AttributeMapping{Subject: "displayname"}, refused: "full name"},
		{name: "the connection's own display name", m: AttributeMapping{DisplayName: "nick", Subject: "nick"}, refused: "full name"},
		{name: "groups", m: AttributeMapping{Subject: "memberOf"}, refused: "groups"},
		{name: "Entra ID's groups", m: AttributeMapping{Subject: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"}, refused: "groups"},
		{name: "the connection's own groups", m: AttributeMapping{Groups: "teams", Subject: "teams"}, refused: "groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := strings.Join(tc.m.check(), "; ")
			switch {
			case tc.refused == "" && problems != "":
				t.Errorf("refused: %s", problems)
			case tc.refused != "" && (!strings.Contains(problems, tc.refused) || !strings.Contains(problems, "subject attribute")):
				t.Errorf("problems %q; want one saying %q", problems, tc.refused)
			}
		})
	}
}
