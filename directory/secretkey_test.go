package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestLinksAcrossKeyRotation: invitation and reset mail queued before a
// rotation of the server key is sent during the overlap with a link that
// opens, and that keeps opening after it (only the token's hash is
// kept); mail still queued when the old key is gone is not sent with a
// link that opens nothing, nor is mail a new replica queued sent by one
// with the old key alone. Links made during the overlap use the new key.
func TestLinksAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		oldKey, newKey := oldTokenKey, newTokenKey
		service := func(key []byte, accepted ...[]byte) *directory.Service { return tokenKeyService(s, key, accepted...) }
		old, overlap, after := service(oldKey), service(newKey, oldKey), service(newKey)
		// ahead has the new key as ADMIT_SECRET_KEY_NEXT: it makes links
		// with the old key and sends those a new replica made.
		ahead := service(oldKey, newKey)
		a := mustAccount(t, old, "acme")
		for _, email := range []string{"sent@example.com", "late@example.com"} {
			if _, err := old.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: email}); err != nil {
				t.Fatal(err)
			}
		}
		for _, email := range []string{"p@example.com", "q@example.com"} {
			addWithPassword(t, old, a.ID, email, "initial password given")
			if err := old.RequestPasswordReset(ctx, email); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := overlap.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "new@example.com"}); err != nil {
			t.Fatal(err)
		}
		queued, err := old.ClaimMail(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		mail := map[string]directory.MailMessage{}
		for _, m := range queued {
			mail[m.Recipient] = m
		}
		// token renders the message to email as svc's mail worker would.
		token := func(svc *directory.Service, email string) (string, error) {
			t.Helper()
			m, ok := mail[email]
			if !ok {
				t.Fatalf("no mail queued for %s", email)
			}
			body, err := svc.MailBodyOf(ctx, m)
			return body.Token, err
		}
		opens := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v; want it to open", what, err)
			}
		}
		sent, err := token(overlap, "sent@example.com")
		opens("rendering the old key's invitation during the overlap", err)
		opens("the old key's invitation link during the overlap", open(ctx, overlap, sent))
		reset, err := token(overlap, "p@example.com")
		opens("rendering the old key's reset during the overlap", err)
		made, err := token(after, "new@example.com")
		opens("rendering the overlap's invitation after it", err)
		opens("the overlap's invitation link after it", open(ctx, after, made))

		// After the overlap what was emailed keeps working; what is still
		// queued is not sent with a dead link, and is kept to retry.
		opens("the old key's emailed invitation link after the overlap", open(ctx, after, sent))
		if _, err := after.CompletePasswordReset(ctx, reset, "a brand new passphrase"); err != nil {
			t.Errorf("the old key's emailed reset link after the overlap: %v", err)
		}
		for _, email := range []string{"late@example.com", "q@example.com"} {
			if tok, err := token(after, email); err == nil || directory.KindOf(err) == directory.Gone {
				t.Errorf("mail to %s queued under the old key, rendered after the overlap: token %q, err %v; want an error to retry on", email, tok, err)
			}
		}
		// The roll's other side: a replica with the old key alone does not
		// send a new replica's mail with a link that opens nothing; one with
		// the new key as its next sends it, with the link that opens.
		if tok, err := token(old, "new@example.com"); err == nil || directory.KindOf(err) == directory.Gone {
			t.Errorf("the overlap's invitation rendered with the old key alone: token %q, err %v; want an error to retry on", tok, err)
		}
		if tok, err := token(ahead, "new@example.com"); err != nil || tok != made {
			t.Errorf("the overlap's invitation rendered with the new key as next: token %q, err %v; want %q", tok, err, made)
		}
	})
}

func open(ctx context.Context, svc *directory.Service, token string) error {
	_, err := svc.OpenInvitationLink(ctx, token)
	return err
}

// TestRotationNeverGoesBack: a rotation to any key an earlier rotation
// replaced is refused in the rotation's transaction, not only to the last
// one: a key retired after a leak must not seal again two rotations
// later, nor the key the database belongs to be named as the one it
// replaced. A new key goes through.
func TestRotationNeverGoesBack(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s, Hasher: fastHasher()})
		if err := s.RecordKeyFingerprints(ctx, "aaaa", ""); err != nil {
			t.Fatal(err)
		}
		unchanged := func(sealed, _ string) (string, bool, error) { return sealed, false, nil }
		rotate := func(from, to string) error {
			_, err := svc.ResealSecrets(ctx, directory.KeyRotation{Actor: operator, Fingerprint: to, PreviousFingerprint: from}, unchanged)
			return err
		}
		for _, r := range [][2]string{{"aaaa", "bbbb"}, {"bbbb", "cccc"}} {
			if err := rotate(r[0], r[1]); err != nil {
				t.Fatalf("rotate %s to %s: %v", r[0], r[1], err)
			}
		}
		for _, back := range []string{"aaaa", "bbbb"} {
			if err := rotate("cccc", back); directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), "never goes back") {
				t.Errorf("rotate cccc back to %s: %v; want it refused as going back", back, err)
			}
		}
		if current, _, err := s.LockKeyFingerprints(ctx); err != nil || current != "cccc" {
			t.Errorf("after the refusals the database belongs to %q (%v); want cccc", current, err)
		}
		if err := rotate("cccc", "dddd"); err != nil {
			t.Errorf("rotate cccc to a new key: %v", err)
		}
	})
}

// The token keys of a server key rotation, before and after.
var oldTokenKey, newTokenKey = []byte("the old token key of 32 bytes..."), []byte("the new token key of 32 bytes...")

// tokenKeyService is a service on s that makes tokens and links with key
// and also opens those of accepted (a replica during a rotation).
func tokenKeyService(s *store.Store, key []byte, accepted ...[]byte) *directory.Service {
	return directory.NewService(directory.Config{Store: s, Hasher: fastHasher(), TokenKey: key, AcceptedTokenKeys: accepted})
}
