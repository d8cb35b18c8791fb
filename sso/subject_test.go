package sso_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// subjects makes the IdP's assertions for each of its users (by uid) carry
// a NameID of the given format and value and extra attributes, as Entra ID
// adds its object and tenant ids to every token: crewjam's samlidp still
// makes and signs each assertion.
type subjects struct {
	mu    sync.Mutex
	users map[string]idpSubject
}

type idpSubject struct {
	format, nameID string
	attributes     map[string][]string
}

func (w *world) subjects() *subjects {
	s := &subjects{users: map[string]idpSubject{}}
	w.tamper.set(func(a *saml.Assertion) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sub, ok := s.users[uidOf(a)]
		if !ok {
			return
		}
		if sub.format != "" {
			a.Subject.NameID.Format, a.Subject.NameID.Value = sub.format, sub.nameID
		}
		for name, values := range sub.attributes {
			attr := saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}
			for _, v := range values {
				attr.Values = append(attr.Values, saml.AttributeValue{Type: "xs:string", Value: v})
			}
			a.AttributeStatements[0].Attributes = append(a.AttributeStatements[0].Attributes, attr)
		}
	})
	return s
}

func (s *subjects) set(user string, sub idpSubject) {
	s.mu.Lock()
	s.users[user] = sub
	s.mu.Unlock()
}

// uidOf is the samlidp user an assertion is for.
func uidOf(a *saml.Assertion) string {
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			if attr.FriendlyName == "uid" && len(attr.Values) > 0 {
				return attr.Values[0].Value
			}
		}
	}
	return ""
}

// entra is what Entra ID sends: the address as an email-format NameID, and
// the object and tenant ids.
func entra(email, objectID string) idpSubject {
	return idpSubject{format: string(saml.EmailAddressNameIDFormat), nameID: email, attributes: map[string][]string{
		directory.EntraObjectIDClaim: {objectID},
		directory.EntraTenantIDClaim: {"72f988bf-86f1-41af-91ab-2d7cd011db47"},
	}}
}

// login signs user in through connection okta and returns admit's answer.
func (w *world) login(user string) page {
	w.t.Helper()
	b := w.browser()
	acs, form := b.idpInitiated("okta", user, "")
	return b.post(acs, form)
}

func (w *world) mustLogin(user string) {
	w.t.Helper()
	if pg := w.login(user); pg.status != http.StatusFound && pg.status != http.StatusSeeOther {
		w.t.Fatalf("%s's login: %d %s", user, pg.status, pg.body)
	}
}

func (w *world) setSubjectAttribute(name string) {
	w.t.Helper()
	st := w.okta.Settings
	st.Mapping.Subject = name
	c, err := w.svc.UpdateConnection(context.Background(), w.acme.ID, operator, w.okta.ID, directory.ConnectionChange{Settings: &st})
	if err != nil {
		w.t.Fatal(err)
	}
	w.okta = c
}

// people is how many people the account has, and the ids of those at each
// address (absent: no one).
func (w *world) personAt(email string) string {
	w.t.Helper()
	m, err := w.svc.Member(context.Background(), w.acme.ID, email)
	if directory.KindOf(err) == directory.NotFound {
		return ""
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return m.User.ID
}

// TestSubjectAttributeFollowsRename: Entra ID sends the address as the
// NameID (emailAddress format, which renames with the person) and its
// object id in every token. A rename at the provider (alice@ to
// alice.smith@) must find the same person, in every account they belong
// to, not make a second one at the new address.
func TestSubjectAttributeFollowsRename(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		w := newWorld(t, s)
		subs := w.subjects()
		subs.set("alice", entra("alice@example.com", "0a6b2c1e-0000-4000-8000-00000000a11c"))
		w.mustLogin("alice")
		alice := w.personAt("alice@example.com")
		if alice == "" {
			t.Fatal("alice's first login made no person")
		}
		if at := w.lastAttempt(w.okta); at.Outcome != "signed in" {
			t.Fatalf("login log: %+v", at)
		}
		// Alice also belongs to another account, which her company's
		// account is home to (example.com is acme's).
		beta, err := w.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "beta", Name: "Beta", Domains: []string{"beta.test"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.AddUser(ctx, beta.ID, operator, directory.NewUser{Email: "alice@example.com", FirstName: "Alice", LastName: "Smith"}); err != nil {
			t.Fatal(err)
		}

		w.addUser("alice", "alice.smith@example.com", "Alice", "Smith", "Engineering")
		subs.set("alice", entra("alice.smith@example.com", "0a6b2c1e-0000-4000-8000-00000000a11c"))
		w.mustLogin("alice")
		if got := w.personAt("alice.smith@example.com"); got != alice {
			t.Errorf("alice.smith@example.com is person %q; want alice's %q, renamed", got, alice)
		}
		if got := w.personAt("alice@example.com"); got != "" {
			t.Errorf("alice@example.com is still person %q", got)
		}
		m, err := w.svc.Member(ctx, beta.ID, "alice.smith@example.com")
		if err != nil || m.User.ID != alice {
			t.Errorf("in beta, alice.smith@example.com is %+v, %v; want alice's person", m.User, err)
		}
		var detail struct{ Identity directory.Identity }
		if err := json.Unmarshal(w.lastAttempt(w.okta).Detail, &detail); err != nil || detail.Identity.From["subject"] != directory.EntraTenantIDClaim+" "+directory.EntraObjectIDClaim {
			t.Errorf("login log identity: %+v, %v; want the subject's attributes named", detail.Identity, err)
		}

		// Another person whose (persistent) NameID is alice's subject,
		// stored or sent, is not alice: a NameID is never looked up among
		// the attribute's links.
		w.addUser("mallory", "mallory@example.com", "Mallory", "Jones")
		for _, nameID := range []string{"0a6b2c1e-0000-4000-8000-00000000a11c", "72f988bf-86f1-41af-91ab-2d7cd011db47/0a6b2c1e-0000-4000-8000-00000000a11c"} {
			subs.set("mallory", idpSubject{format: string(saml.PersistentNameIDFormat), nameID: nameID})
			w.mustLogin("mallory")
			if got := w.personAt("mallory@example.com"); got == "" || got == alice {
				t.Errorf("NameID %q: mallory@example.com is person %q (alice is %q); want a person of her own", nameID, got, alice)
			}
			if got := w.personAt("alice.smith@example.com"); got != alice {
				t.Errorf("NameID %q: alice.smith@example.com is person %q; want alice's %q", nameID, got, alice)
			}
		}
	})
}

// TestSubjectAttributeRefusals: an attribute the connection names as the
// lasting subject that a login lacks, or sends more than one value of, is
// a refusal with a clear page and the reason in the login log: not a login
// linked by the NameID or the address instead, nor by whichever value came
// first.
func TestSubjectAttributeRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		subs := w.subjects()
		for _, tc := range []struct {
			name, attribute string
			sub             idpSubject
			reason          string
		}{
			{"the named attribute is missing", "employeeNumber",
				idpSubject{format: string(saml.PersistentNameIDFormat), nameID: "alice-nameid"},
				"sent no employeeNumber attribute"},
			{"the named attribute is blank", "employeeNumber",
				idpSubject{attributes: map[string][]string{"employeeNumber": {" "}}},
				"sent no employeeNumber attribute"},
			{"the named attribute has two values", "employeeNumber",
				idpSubject{attributes: map[string][]string{"employeeNumber": {"1001", "1002"}}},
				"2 values of the employeeNumber attribute"},
			{"Entra ID's object id has two values", "",
				idpSubject{attributes: map[string][]string{directory.EntraObjectIDClaim: {"a", "b"}}},
				"2 values of the " + directory.EntraObjectIDClaim},
			{"Entra ID's tenant id has two values", "",
				idpSubject{attributes: map[string][]string{directory.EntraObjectIDClaim: {"a"}, directory.EntraTenantIDClaim: {"t1", "t2"}}},
				"2 values of the " + directory.EntraTenantIDClaim},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w.setSubjectAttribute(tc.attribute)
				subs.set("alice", tc.sub)
				pg := w.login("alice")
				if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "did not send what identifies you for good") {
					t.Errorf("login: %d %.300s; want 403 and the page saying why", pg.status, pg.body)
				}
				if got := w.personAt("alice@example.com"); got != "" {
					t.Errorf("alice@example.com is person %q; want no one", got)
				}
				at := w.lastAttempt(w.okta)
				if at.Outcome == "signed in" || !strings.Contains(at.Reason, tc.reason) {
					t.Errorf("login log: %s %q; want a refusal saying %q", at.Outcome, at.Reason, tc.reason)
				}
			})
		}
		t.Run("nameid ignores Entra ID's object id", func(t *testing.T) {
			w.setSubjectAttribute(directory.NameIDClaim)
			subs.set("alice", idpSubject{attributes: map[string][]string{directory.EntraObjectIDClaim: {"a", "b"}}})
			w.mustLogin("alice")
		})
	})
}

// TestSubjectSourceSwitch: a connection whose people were linked by a
// persistent NameID and that now links by an attribute (Entra ID's
// object id, sent since, or one set with --subject-attribute) neither
// loses nor duplicates them: the first login by the attribute follows the
// NameID's link (a rename at that very moment included) and links the
// person by the attribute from then on. Switching back links by the
// NameID again. A value of one source never finds a link of another.
func TestSubjectSourceSwitch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		subs := w.subjects()
		const oid = "5c1d3e2a-0000-4000-8000-0000000b0b00"
		persistent := func(email string, attributes map[string][]string) idpSubject {
			return idpSubject{format: string(saml.PersistentNameIDFormat), nameID: "pid-bob", attributes: attributes}
		}
		w.addUser("bob", "bob@example.com", "Bob", "Jones")
		subs.set("bob", persistent("bob@example.com", nil))
		w.mustLogin("bob")
		bob := w.personAt("bob@example.com")

		// Entra ID's object id arrives with a rename: the NameID's link
		// finds bob.
		w.addUser("bob", "robert@example.com", "Robert", "Jones")
		subs.set("bob", persistent("robert@example.com", map[string][]string{directory.EntraObjectIDClaim: {oid}}))
		w.mustLogin("bob")
		if got := w.personAt("robert@example.com"); got != bob {
			t.Fatalf("robert@example.com is person %q; want bob's %q", got, bob)
		}
		// From now on the object id links him, whatever the NameID.
		w.addUser("bob", "rob@example.com", "Rob", "Jones")
		subs.set("bob", idpSubject{format: string(saml.EmailAddressNameIDFormat), nameID: "rob@example.com",
			attributes: map[string][]string{directory.EntraObjectIDClaim: {oid}}})
		w.mustLogin("bob")
		if got := w.personAt("rob@example.com"); got != bob {
			t.Fatalf("rob@example.com is person %q; want bob's %q", got, bob)
		}

		// The persistent NameID bob had no longer finds him: carol's
		// login with it is carol's own person.
		w.addUser("carol", "carol@example.com", "Carol", "White")
		subs.set("carol", persistent("carol@example.com", nil))
		w.mustLogin("carol")
		if got := w.personAt("carol@example.com"); got == "" || got == bob {
			t.Errorf("carol@example.com is person %q (bob is %q); want her own", got, bob)
		}
		if got := w.personAt("rob@example.com"); got != bob {
			t.Errorf("rob@example.com is person %q; want bob's %q", got, bob)
		}

		// A subject attribute named since: nobody is linked by it yet, so
		// bob's login links by his address, as any first login does, and
		// the object id's link is found no more: dave, sending bob's
		// object id as that attribute, is dave.
		w.setSubjectAttribute("employeeNumber")
		subs.set("bob", idpSubject{format: string(saml.EmailAddressNameIDFormat), nameID: "rob@example.com",
			attributes: map[string][]string{"employeeNumber": {"1001"}, directory.EntraObjectIDClaim: {oid}}})
		w.mustLogin("bob")
		if got := w.personAt("rob@example.com"); got != bob {
			t.Fatalf("rob@example.com is person %q; want bob's %q", got, bob)
		}
		w.addUser("dave", "dave@example.com", "Dave", "Brown")
		subs.set("dave", idpSubject{attributes: map[string][]string{"employeeNumber": {oid}}})
		w.mustLogin("dave")
		if got := w.personAt("dave@example.com"); got == "" || got == bob {
			t.Errorf("dave@example.com is person %q (bob is %q); want his own", got, bob)
		}
		// And a rename now follows employeeNumber.
		w.addUser("bob", "bobby@example.com", "Bobby", "Jones")
		subs.set("bob", idpSubject{attributes: map[string][]string{"employeeNumber": {"1001"}}})
		w.mustLogin("bob")
		if got := w.personAt("bobby@example.com"); got != bob {
			t.Errorf("bobby@example.com is person %q; want bob's %q", got, bob)
		}
	})
}

// TestSubjectAttributeNeverShared: an attribute that many people hold the
// same value of (Entra ID's tenant id, next to the object id in its claim
// list; a display name; a group) is no lasting subject. Were it one, the
// first person's link would catch the second's login as a rename: bob,
// new to admit, would get alice's person, her role and her accounts, at
// his address. The connection refuses to name such an attribute, so
// bob's login is his own.
func TestSubjectAttributeNeverShared(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		subs := w.subjects()
		w.addUser("bob", "bob@example.com", "Bob", "Jones")
		const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		for i, tc := range []struct {
			attribute string
			alice     map[string][]string
			bob       map[string][]string
		}{
			{directory.EntraTenantIDClaim,
				map[string][]string{directory.EntraTenantIDClaim: {tenant}},
				map[string][]string{directory.EntraTenantIDClaim: {tenant}}},
			{"http://schemas.microsoft.com/identity/claims/displayname",
				map[string][]string{"http://schemas.microsoft.com/identity/claims/displayname": {"J. Doe"}},
				map[string][]string{"http://schemas.microsoft.com/identity/claims/displayname": {"J. Doe"}}},
			{"displayName", // in another case than the default's
				map[string][]string{"DisplayName": {"J. Doe"}},
				map[string][]string{"DisplayName": {"J. Doe"}}},
			{"groups", map[string][]string{"groups": {"Engineering"}}, map[string][]string{"groups": {"Engineering"}}},
		} {
			t.Run(tc.attribute, func(t *testing.T) {
				st := w.okta.Settings
				st.Mapping.Subject = tc.attribute
				_, err := w.svc.UpdateConnection(context.Background(), w.acme.ID, operator, w.okta.ID, directory.ConnectionChange{Settings: &st})
				if err == nil {
					t.Errorf("a subject attribute %q was accepted", tc.attribute)
				} else if directory.KindOf(err) != directory.Invalid || !strings.Contains(directory.Message(err), "subject") {
					t.Errorf("setting it: %v; want Invalid, saying why", err)
				}
				// Whatever was accepted, two people's logins stay two.
				w.okta, err = w.svc.Connection(context.Background(), w.acme.ID, w.okta.ID)
				if err != nil {
					t.Fatal(err)
				}
				alice := fmt.Sprintf("alice%d@example.com", i)
				w.addUser("alice", alice, "Alice", "Smith")
				w.addUser("bob", fmt.Sprintf("bob%d@example.com", i), "Bob", "Jones")
				subs.set("alice", idpSubject{attributes: tc.alice})
				subs.set("bob", idpSubject{attributes: tc.bob})
				w.mustLogin("alice")
				a := w.personAt(alice)
				if a == "" {
					t.Fatalf("alice's login made no person at %s", alice)
				}
				w.login("bob")
				if got := w.personAt(alice); got != a {
					t.Errorf("after bob's login, %s is person %q; want alice's %q", alice, got, a)
				}
				if got := w.personAt(fmt.Sprintf("bob%d@example.com", i)); got == a {
					t.Errorf("bob signed in as alice's person %q", a)
				}
			})
		}
	})
}

// TestSubjectAttributeCaseOnlyChange: attribute names are matched without
// regard to case, so a connection whose subject attribute is respelled
// only in case (employeeNumber to EmployeeNumber) reads the same values
// and finds the same people: a rename at the provider right after still
// follows the person instead of making a second.
func TestSubjectAttributeCaseOnlyChange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		subs := w.subjects()
		w.setSubjectAttribute("employeeNumber")
		subs.set("alice", idpSubject{attributes: map[string][]string{"employeeNumber": {"1001"}}})
		w.mustLogin("alice")
		alice := w.personAt("alice@example.com")
		if alice == "" {
			t.Fatal("alice's first login made no person")
		}
		w.setSubjectAttribute("EmployeeNumber")
		w.addUser("alice", "alice.smith@example.com", "Alice", "Smith", "Engineering")
		w.mustLogin("alice")
		if got := w.personAt("alice.smith@example.com"); got != alice {
			t.Errorf("alice.smith@example.com is person %q; want alice's %q, renamed", got, alice)
		}
	})
}
