package store_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestSealedColumnsAreResealed guards admit secret-key rotate: a column
// that holds something sealed with the server key and that
// directory.ResealSecrets does not seal anew becomes unreadable once the
// rotation's overlap ends. Every column whose name says it may hold a
// secret is either one ResealSecrets covers or one known not to be
// sealed; a migration adding another fails here until it is classified
// (and, if sealed, resealed: extend ResealSecrets and
// TestSecretKeyRotation).
func TestSealedColumnsAreResealed(t *testing.T) {
	t.Parallel()
	// Sealed and resealed by directory.ResealSecrets.
	resealed := []string{
		"certificates.sealed_key",
		"connections.sealed_secret",
		"webhooks.older_secrets", // JSON of sealed secrets
		"webhooks.previous_secret",
		"webhooks.secret",
	}
	// Not sealed: hashes, keyed lookups, and what is kept in the clear.
	notSealed := []string{
		"apps.secret_hash",
		"idempotency_keys.api_key_id",
		"idempotency_keys.key",
		"instance_settings.value", // the key's fingerprints
		"sign_in_failures.key",    // what a lockout counts by
	}
	secretish := regexp.MustCompile(`seal|secret|cipher|encrypt|private|^key$|_key_id$|^value$`)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		query := `SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema()`
		if s.Dialect() == "sqlite" {
			query = `SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
		}
		var columns []string
		if err := s.DB().SelectContext(context.Background(), &columns, query); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range columns {
			if _, name, _ := strings.Cut(c, "."); secretish.MatchString(name) && !slices.Contains(notSealed, c) {
				got = append(got, c)
			}
		}
		slices.Sort(got)
		if diff := cmp.Diff(resealed, got); diff != "" {
			t.Errorf("columns that may hold sealed secrets, against those admit secret-key rotate reseals (-resealed +found):\n%s", diff)
		}
	})
}
