package directory

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Domain is an email domain an account claims. A claim counts only once it
// is verified: by a DNS TXT record the account's people publish (proof that
// they control the domain), or by the platform's operator vouching for it.
// Only verified domains decide whose person someone is (DESIGN rule 10),
// which identity provider may assert their address (rule 2), and home realm
// discovery. Several accounts may claim a domain; at most one holds it
// verified.
type Domain struct {
	AccountID string
	Name      string
	// Challenge is the token the TXT record must carry. It is public by
	// design (it sits in DNS), so it is kept as it is.
	Challenge  string
	VerifiedAt *time.Time
	VerifiedBy DomainProof // empty while pending
	CreatedAt  time.Time
}

// DomainProof says how a domain was verified.
type DomainProof string

const (
	ProofDNS      DomainProof = "dns"
	ProofOperator DomainProof = "operator"
)

// Verified reports whether the domain counts for the account.
func (d Domain) Verified() bool { return d.VerifiedAt != nil }

// ChallengeName is the DNS name whose TXT record proves control of the
// domain: a name of its own, so the record sits beside the domain's other
// TXT records (SPF, other vendors' proofs) without touching them.
func (d Domain) ChallengeName() string { return "_admit-challenge." + d.Name }

// ChallengeValue is the TXT record's value.
func (d Domain) ChallengeValue() string { return "admit-verify=" + d.Challenge }

// TXTResolver looks up DNS TXT records. *net.Resolver is one; cmd/admit
// points it at ADMIT_DNS_RESOLVER when that is set.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// dnsTimeout bounds one verification's lookup: an operator waits for it.
const dnsTimeout = 10 * time.Second

// newChallenge returns 160 random bits in lowercase base32: it survives
// every DNS control panel (no case, no padding, no symbols).
func newChallenge() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// AddDomain claims a domain for the account. The claim is pending until
// VerifyDomain finds its TXT record, unless vouched: the operator states
// that the account controls the domain (audited as such). Only the
// platform's operator can vouch.
func (s *Service) AddDomain(ctx context.Context, accountID string, actor Actor, name string, vouched bool) (Domain, error) {
	name, err := NormalizeDomain(name)
	if err != nil {
		return Domain{}, err
	}
	if vouched && actor.Source != SourceCLI {
		return Domain{}, ForbiddenError("only the platform's operator can vouch for a domain; publish the DNS record and verify it instead")
	}
	now := s.clock()
	d := Domain{AccountID: accountID, Name: name, Challenge: newChallenge(), CreatedAt: now}
	err = s.store.Tx(ctx, func(tx Store) error {
		cur, err := tx.FindDomain(ctx, accountID, name)
		switch {
		case err == nil && (cur.Verified() || !vouched):
			return ConflictError(fmt.Sprintf("the account already has the domain %s (%s)", name, domainState(cur)))
		case err == nil:
			d = cur
		case KindOf(err) != NotFound:
			return err
		default:
			if err := tx.AddDomain(ctx, d); err != nil {
				return err
			}
			if err := s.record(ctx, tx, change{
				accountID: accountID, actor: actor, action: "domain.added", targetType: "domain", targetID: name,
				data: map[string]any{"domain": name, "vouched": vouched},
			}); err != nil {
				return err
			}
		}
		if vouched {
			return s.markVerified(ctx, tx, &d, actor, ProofOperator)
		}
		return nil
	})
	if err != nil {
		return Domain{}, fmt.Errorf("add domain: %w", err)
	}
	return d, nil
}

func domainState(d Domain) string {
	if d.Verified() {
		return "verified"
	}
	return "pending verification"
}

// markVerified verifies d inside tx. A domain another account holds
// verified is a Conflict: ownership moves only when the operator removes it
// there first, so that one DNS change cannot silently hand a company's
// people to another account.
func (s *Service) markVerified(ctx context.Context, tx Store, d *Domain, actor Actor, proof DomainProof) error {
	now := s.clock()
	if err := tx.VerifyDomain(ctx, d.AccountID, d.Name, proof, now); err != nil {
		if KindOf(err) == Conflict {
			return ConflictError(fmt.Sprintf("the domain %s is verified by another account; the operator must remove it there first (admit domain remove)", d.Name))
		}
		return err
	}
	d.VerifiedAt, d.VerifiedBy = &now, proof
	if err := s.record(ctx, tx, change{
		accountID: d.AccountID, actor: actor, action: "domain.verified", targetType: "domain", targetID: d.Name,
		data: map[string]any{"domain": d.Name, "proof": proof},
	}); err != nil {
		return err
	}
	// The account is now the home of the domain's people it already has:
	// it takes them in, and passwords other accounts planted end (rule 10).
	planted, err := tx.FindMembersWithPlantedPasswords(ctx, d.AccountID, d.Name)
	if err != nil {
		return err
	}
	for _, u := range planted {
		if _, err := s.revokeUnproven(ctx, tx, d.AccountID, u, actor, "the account verified the address's domain"); err != nil {
			return err
		}
	}
	return nil
}

// VerifyDomain looks for the domain's TXT record and, when it carries the
// challenge, makes the domain the account's.
func (s *Service) VerifyDomain(ctx context.Context, accountID string, actor Actor, name string) (Domain, error) {
	name, err := NormalizeDomain(name)
	if err != nil {
		return Domain{}, err
	}
	d, err := s.store.FindDomain(ctx, accountID, name)
	if KindOf(err) == NotFound {
		return Domain{}, NotFoundError(fmt.Sprintf("the account has not claimed %s; add it first (admit domain add)", name))
	}
	if err != nil {
		return Domain{}, err
	}
	if d.Verified() {
		return d, nil
	}
	if err := s.lookupChallenge(ctx, d); err != nil {
		return Domain{}, err
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		return s.markVerified(ctx, tx, &d, actor, ProofDNS)
	})
	if err != nil {
		return Domain{}, fmt.Errorf("verify domain: %w", err)
	}
	return d, nil
}

// lookupChallenge succeeds when a TXT record at the challenge name carries
// the challenge value. Each failure says what the person should check.
func (s *Service) lookupChallenge(ctx context.Context, d Domain) error {
	if s.resolver == nil {
		return errors.New("no DNS resolver is configured")
	}
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	records, err := s.resolver.LookupTXT(ctx, d.ChallengeName())
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return InvalidError(fmt.Sprintf("no TXT record at %s yet: publish %s there (DNS changes can take a while to appear)", d.ChallengeName(), d.ChallengeValue()))
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout, errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: Invalid, Message: fmt.Sprintf("the DNS resolver did not answer for %s; try again", d.ChallengeName()), Err: err}
	case err != nil:
		return &Error{Kind: Invalid, Message: fmt.Sprintf("looking up %s failed; try again", d.ChallengeName()), Err: err}
	}
	// Records are compared whole and exactly: a prefix or a record for
	// another challenge proves nothing.
	if slices.Contains(records, d.ChallengeValue()) {
		return nil
	}
	return InvalidError(fmt.Sprintf("the TXT records at %s do not include %s", d.ChallengeName(), d.ChallengeValue()))
}

// Domains returns the account's domains, verified and pending, by name.
func (s *Service) Domains(ctx context.Context, accountID string) ([]Domain, error) {
	return s.store.FindDomains(ctx, accountID)
}

// RemoveDomain withdraws the account's claim. When it was verified, the
// domain's people no longer answer to the account, and its identity
// providers can no longer assert addresses in it.
func (s *Service) RemoveDomain(ctx context.Context, accountID string, actor Actor, name string) error {
	name, err := NormalizeDomain(name)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		d, err := tx.FindDomain(ctx, accountID, name)
		if KindOf(err) == NotFound {
			return NotFoundError(fmt.Sprintf("the account has no domain %s", name))
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteDomain(ctx, accountID, name); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "domain.removed", targetType: "domain", targetID: name,
			data: map[string]any{"domain": name, "was_verified": d.Verified()},
		})
	})
	if err != nil {
		return fmt.Errorf("remove domain: %w", err)
	}
	return nil
}

// HomeAccount returns the account that verified the email's domain: the
// account the person answers to (DESIGN rule 10). NotFound when no account
// verified it.
func (s *Service) HomeAccount(ctx context.Context, email string) (Account, error) {
	return homeAccount(ctx, s.store, email)
}

func homeAccount(ctx context.Context, st Store, email string) (Account, error) {
	_, domain, ok := strings.Cut(EmailKey(strings.TrimSpace(email)), "@")
	if !ok || domain == "" || !lookupable(domain) {
		return Account{}, NotFoundError("not an email address")
	}
	return st.FindAccountByDomain(ctx, domain)
}
