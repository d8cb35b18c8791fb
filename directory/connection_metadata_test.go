package directory_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// fp is a made-up SHA-256 fingerprint.
func fp(c byte) string { return strings.Repeat(string(c), 64) }

// TestSetConnectionMetadataAuditsNewSigningCertificates: new metadata that
// changes the set of signing certificates is audited with the sets before
// and after and dated on the connection; the same set in another order or
// spelling is no change; bad input and other protocols write nothing; a
// failed fetch keeps the metadata and certificates.
func TestSetConnectionMetadataAuditsNewSigningCertificates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme", "example.com")
		refresher := directory.Actor{Source: directory.SourceSystem, Name: "metadata refresh"}
		c, err := svc.CreateConnection(ctx, a.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "okta",
			Metadata: "<v1/>", MetadataURL: "https://idp.example.com/md", SigningCertificates: []string{fp('b'), fp('a')}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{fp('a'), fp('b')}, c.SigningCertificates); diff != "" {
			t.Errorf("created with (-want +got):\n%s", diff)
		}
		changes := func() []directory.AuditEvent {
			t.Helper()
			all, err := svc.AuditEvents(ctx, a.ID, 100)
			if err != nil {
				t.Fatal(err)
			}
			var out []directory.AuditEvent
			for _, e := range all {
				if e.Action == "connection.signing_certificates_changed" {
					out = append(out, e)
				}
			}
			return out
		}

		same, changed, err := svc.SetConnectionMetadata(ctx, a.ID, refresher, c.ID, directory.ConnectionMetadata{Metadata: "<v2/>", SigningCertificates: []string{strings.ToUpper(fp('b')), fp('a')}})
		if err != nil || changed || same.Metadata != "<v2/>" || same.SigningCertificatesChangedAt != nil || len(changes()) != 0 {
			t.Fatalf("same certificates: %+v, %v, %d events", same, err, len(changes()))
		}

		rolled, changed, err := svc.SetConnectionMetadata(ctx, a.ID, refresher, c.ID, directory.ConnectionMetadata{Metadata: "<v3/>", SigningCertificates: []string{fp('b'), fp('c')}})
		events := changes()
		if err != nil || !changed || rolled.SigningCertificatesChangedAt == nil || len(events) != 1 {
			t.Fatalf("rollover: %+v, %v, %d events", rolled, err, len(events))
		}
		var data map[string]any
		if err := json.Unmarshal(events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"name": "okta", "metadata_url": "https://idp.example.com/md", "previous": []any{fp('a'), fp('b')},
			"current": []any{fp('b'), fp('c')}, "added": []any{fp('c')}, "removed": []any{fp('a')}}
		if diff := cmp.Diff(want, data); diff != "" || events[0].Actor != refresher || events[0].TargetID != c.ID {
			t.Errorf("audit event by %+v on %s (-want +got):\n%s", events[0].Actor, events[0].TargetID, diff)
		}

		for _, tc := range []struct {
			name string
			md   directory.ConnectionMetadata
			want string
		}{
			{"not a fingerprint", directory.ConnectionMetadata{Metadata: "<x/>", SigningCertificates: []string{"abc"}}, "want SHA-256 in hex"},
			{"no certificates", directory.ConnectionMetadata{Metadata: "<x/>"}, "must be given"},
			{"no metadata", directory.ConnectionMetadata{SigningCertificates: []string{fp('d')}}, "must be given"},
		} {
			_, _, err := svc.SetConnectionMetadata(ctx, a.ID, refresher, c.ID, tc.md)
			if directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v; want Invalid saying %q", tc.name, err, tc.want)
			}
		}
		if err := svc.RecordMetadataFailure(ctx, a.ID, c.ID, errorString("the IdP answered 500")); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Connection(ctx, a.ID, c.ID)
		if err != nil || got.Metadata != "<v3/>" || got.MetadataError != "the IdP answered 500" || len(got.SigningCertificates) != 2 || len(changes()) != 1 {
			t.Errorf("after refused input and a failed fetch: %+v, %v", got, err)
		}
		oidc, err := svc.CreateConnection(ctx, a.ID, operator, directory.NewConnection{Protocol: directory.ProtocolOIDC, Name: "corp", SealedSecret: "sealed",
			Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: "https://login.example.com", ClientID: "admit"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.SetConnectionMetadata(ctx, a.ID, refresher, oidc.ID, directory.ConnectionMetadata{Metadata: "<x/>", SigningCertificates: []string{fp('e')}}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("an OIDC connection: %v; want Invalid", err)
		}
		if _, _, err := svc.SetConnectionMetadata(ctx, "another account", refresher, c.ID, directory.ConnectionMetadata{Metadata: "<x/>", SigningCertificates: []string{fp('e')}}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("through another account: %v; want NotFound", err)
		}
	})
}

type errorString string

func (e errorString) Error() string { return string(e) }
