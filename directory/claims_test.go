package directory

import (
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
