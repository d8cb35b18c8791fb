package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
)

// TestSCIMEmailFacetsMigration: 00045 fills in, for every membership, the
// type, primary and display of the email its SCIM filters match, from the
// emails its identity provider sent: the one of that address (the primary
// one first, then the work one, then the first); work and primary for a
// member it sent no emails for (as GET shows them); none of them when it
// sent emails that hold no such address, or cleared them.
func TestSCIMEmailFacetsMigration(t *testing.T) {
	eachSchemaAt(t, 44, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		exec := func(q string, args ...any) { t.Helper(); mustExec(t, s.DB(), q, args...) }
		exec(`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`, now, now)
		rows := []struct{ user, attrs, want string }{
			{"okta", `{"emails":[{"value":"Okta@acme.example","type":"work","primary":true}]}`, "work true "},
			{"entra", `{"emails":[{"value":"entra@acme.example","type":"Work"}]}`, "work false "},
			{"home", `{"emails":[{"value":"x@other.example","type":"work"},{"value":"home@acme.example","type":"Home","display":"At Home","primary":true}]}`, "home true at home"},
			{"twice", `{"emails":[{"value":"twice@acme.example","type":"home"},{"value":"twice@acme.example","type":"work"}]}`, "work false "},
			{"untyped", `{"emails":[{"value":"untyped@acme.example"}]}`, " false "},
			{"none", `{}`, "work true "},
			{"cleared", `{"emails":null}`, " false "},
			{"other", `{"emails":[{"value":"x@other.example","type":"home"}]}`, " false "},
			{"odd", `{"emails":"untyped@acme.example"}`, " false "},
		}
		for _, r := range rows {
			email := r.user + "@acme.example"
			exec(`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES (?, ?, ?, 'F', 'L', ?, ?)`, r.user, email, email, now, now)
			exec(`INSERT INTO memberships (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, user_name, user_name_key, scim_email, scim_email_key, scim_attributes)
				VALUES ('a', ?, 'member', 'active', ?, 'f l', 'l', ?, ?, ?, ?, ?, ?, ?, ?)`, r.user, email, now, now, "s-"+r.user, email, email, email, email, r.attrs)
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			var got struct {
				Type    string `db:"scim_email_type_key"`
				Primary bool   `db:"scim_email_primary"`
				Display string `db:"scim_email_display_key"`
			}
			if err := s.DB().GetContext(ctx, &got, s.DB().Rebind(`SELECT scim_email_type_key, scim_email_primary, scim_email_display_key FROM memberships WHERE user_id = ?`), r.user); err != nil {
				t.Fatal(err)
			}
			if g := fmt.Sprintf("%s %v %s", got.Type, got.Primary, got.Display); g != r.want {
				t.Errorf("%s: %q; want %q", r.user, g, r.want)
			}
		}
	})
}
