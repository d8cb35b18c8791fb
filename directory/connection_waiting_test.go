package directory_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestConnectionWaitingForItsIdentityProvider: a SAML connection made
// before its identity provider's metadata (the order the provider's admin
// needs) signs nobody in, is not offered by home realm discovery, cannot be
// what SSO-required rests on, and requires nothing of the people in its
// domains while an account's other, finished connection does; the metadata
// finishes it (audited, its URL kept for refreshes), and from then on it is
// an ordinary connection.
func TestConnectionWaitingForItsIdentityProvider(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		bee := mustAccount(t, svc, "bee", "b.example", "labs.example")
		cee := mustAccount(t, svc, "cee", "c.example")

		if _, err := svc.CreateConnection(ctx, bee.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "half", MetadataURL: "https://idp.example.com/md"}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("a metadata URL without its metadata: %v; want Invalid", err)
		}
		waiting := func(a directory.Account, name, domain string) directory.Connection {
			t.Helper()
			c, err := svc.CreateConnection(ctx, a.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: name, Domains: []string{domain},
				Settings: directory.ConnectionSettings{Mapping: directory.AttributeMapping{Email: "mail"}}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		entra := waiting(bee, "entra", "labs.example")
		if entra.State() != directory.ConnectionWaiting || entra.Ready() {
			t.Fatalf("made without metadata: state %q", entra.State())
		}
		stored, err := svc.Connection(ctx, bee.ID, entra.ID)
		if err != nil || stored.State() != directory.ConnectionWaiting || stored.Settings.Mapping.Email != "mail" {
			t.Fatalf("stored: %+v, %v", stored, err)
		}

		// Only a waiting connection: SSO cannot be required, and nobody
		// is sent to it.
		waiting(cee, "okta", "c.example")
		if _, err := svc.SetSignInPolicy(ctx, cee.ID, operator, directory.SignInPolicy{SSORequired: true}); directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), "set-metadata") {
			t.Errorf("SSO required over a waiting connection: %v; want Invalid naming set-metadata", err)
		}
		if _, _, err := svc.ConnectionForDomainOf(ctx, "ann@c.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("home realm discovery to a waiting connection: %v; want NotFound", err)
		}
		if _, err := svc.ConnectionForEmail(ctx, cee.ID, "ann@c.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the intranet link's pick of a waiting connection: %v; want NotFound", err)
		}

		// bee requires SSO through its finished connection for b.example;
		// labs.example's people keep their password while entra waits.
		okta := connection(t, svc, bee.ID, "okta", directory.JITCreate, "b.example")
		if _, err := svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true}); err != nil {
			t.Fatal(err)
		}
		addWithPassword(t, svc, bee.ID, "lab@labs.example", "a lab passphrase 1")
		proveAddress(t, svc, "lab@labs.example", "a proven lab passphrase")
		if in, err := svc.SignIn(ctx, "lab@labs.example", "a proven lab passphrase", directory.Client{Addr: "192.0.2.1"}); err != nil || len(in.Accounts) != 1 || in.Accounts[0].ID != bee.ID {
			t.Errorf("password sign-in in a waiting connection's domain: %v, %v; want bee", in.Accounts, err)
		}
		if _, c, err := svc.ConnectionForDomainOf(ctx, "lab@labs.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("home realm discovery offers %s: %v; want NotFound", c.Name, err)
		}
		if c, err := svc.ConnectionForEmail(ctx, bee.ID, "lab@labs.example"); err != nil || c.ID != okta.ID {
			t.Errorf("the intranet link picks %s, %v; want the only finished one, okta", c.Name, err)
		}
		_, err = svc.SignInWithSSO(ctx, entra, directory.Identity{Subject: "new@labs.example", Email: "new@labs.example"})
		if directory.KindOf(err) != directory.Forbidden {
			t.Errorf("a login through the waiting connection: %v; want Forbidden", err)
		}
		if _, err := svc.Member(ctx, bee.ID, "new@labs.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the refused login created a member: %v", err)
		}

		// The metadata finishes it: audited, with where it came from.
		md := directory.ConnectionMetadata{Metadata: "<md/>", SigningCertificates: []string{fp('a')}, URL: "https://login.example.com/federationmetadata.xml"}
		done, changed, err := svc.SetConnectionMetadata(ctx, bee.ID, operator, entra.ID, md)
		if err != nil || changed || !done.Ready() || done.MetadataURL != md.URL {
			t.Fatalf("finish: %+v, changed %v, %v", done, changed, err)
		}
		stored, err = svc.Connection(ctx, bee.ID, entra.ID)
		if err != nil || !stored.Ready() || stored.MetadataURL != md.URL || stored.MetadataFetchedAt == nil || !slices.Equal(stored.SigningCertificates, []string{fp('a')}) {
			t.Errorf("stored after finishing: %+v, %v", stored, err)
		}
		events := auditOf(t, svc, bee.ID, "connection.finished")
		if len(events) != 1 || events[0].Actor != operator || events[0].TargetID != entra.ID {
			t.Fatalf("connection.finished events: %+v", events)
		}
		var data map[string]any
		if err := json.Unmarshal(events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"name": "entra", "metadata_url": md.URL, "previous_metadata_url": "", "signing_certificates": []any{fp('a')}}
		if diff := cmp.Diff(want, data); diff != "" {
			t.Errorf("connection.finished data (-want +got):\n%s", diff)
		}
		if _, c, err := svc.ConnectionForDomainOf(ctx, "lab@labs.example"); err != nil || c.ID != entra.ID {
			t.Errorf("home realm discovery after finishing: %s, %v; want entra", c.Name, err)
		}
		if _, err := svc.SignIn(ctx, "lab@labs.example", "a proven lab passphrase", directory.Client{Addr: "192.0.2.1"}); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("password sign-in once entra is finished and SSO required: %v; want Forbidden", err)
		}

		// A finished connection's metadata is replaced as before: a file
		// keeps the URL; a new URL is audited as a new source.
		if c, _, err := svc.SetConnectionMetadata(ctx, bee.ID, operator, entra.ID, directory.ConnectionMetadata{Metadata: "<md2/>", SigningCertificates: []string{fp('a')}}); err != nil || c.MetadataURL != md.URL {
			t.Errorf("from a file: %+v, %v; want the URL kept", c, err)
		}
		other := "https://login.example.com/other.xml"
		if c, _, err := svc.SetConnectionMetadata(ctx, bee.ID, operator, entra.ID, directory.ConnectionMetadata{Metadata: "<md3/>", SigningCertificates: []string{fp('a')}, URL: other}); err != nil || c.MetadataURL != other {
			t.Errorf("from a new URL: %+v, %v", c, err)
		}
		if n, m := len(auditOf(t, svc, bee.ID, "connection.finished")), len(auditOf(t, svc, bee.ID, "connection.metadata_source_changed")); n != 1 || m != 1 {
			t.Errorf("finished %d times, source changed %d times; want 1 and 1", n, m)
		}
	})
}

// auditOf returns the account's audit events of one action.
func auditOf(t *testing.T, svc *directory.Service, accountID, action string) []directory.AuditEvent {
	t.Helper()
	all, err := svc.AuditEvents(context.Background(), accountID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(e directory.AuditEvent) bool { return e.Action != action })
}
