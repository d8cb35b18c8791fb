package directory

import (
	"context"
	"fmt"
)

// Provisioning is what the console's SCIM page shows: the account's tokens
// and the recent changes SCIM made.
type Provisioning struct {
	Tokens   []SCIMToken
	Activity []AuditEvent // newest first
}

// provisioningActivity is how many of SCIM's recent changes the page shows.
const provisioningActivity = 25

// Provisioning returns the account's SCIM tokens and SCIM's recent changes.
func (s *Service) Provisioning(ctx context.Context, adm Admin) (Provisioning, error) {
	if err := adm.ready(ViewMembers); err != nil {
		return Provisioning{}, err
	}
	tokens, err := s.store.FindSCIMTokens(ctx, adm.Account.ID)
	if err != nil {
		return Provisioning{}, fmt.Errorf("find SCIM tokens: %w", err)
	}
	events, err := s.store.FindAuditEventsBy(ctx, adm.Account.ID, AuditQuery{ActorSource: SourceSCIM, Limit: provisioningActivity})
	if err != nil {
		return Provisioning{}, fmt.Errorf("find SCIM activity: %w", err)
	}
	return Provisioning{Tokens: tokens, Activity: events}, nil
}

// AddSCIMToken makes a SCIM token for the account as the admin; the token
// is returned once and kept only as a hash.
func (s *Service) AddSCIMToken(ctx context.Context, adm Admin, name string) (string, SCIMToken, error) {
	if err := adm.ready(ManageProvisioning); err != nil {
		return "", SCIMToken{}, err
	}
	return s.CreateSCIMToken(ctx, adm.Account.ID, adm.Actor(), name)
}

// EndSCIMToken revokes one of the account's SCIM tokens as the admin.
func (s *Service) EndSCIMToken(ctx context.Context, adm Admin, id string) (SCIMToken, error) {
	if err := adm.ready(ManageProvisioning); err != nil {
		return SCIMToken{}, err
	}
	if !lookupable(id) {
		return SCIMToken{}, NotFoundError("no such SCIM token in this account")
	}
	return s.RevokeSCIMToken(ctx, adm.Account.ID, adm.Actor(), id)
}

// AccountDomains lists the account's domains for the console.
func (s *Service) AccountDomains(ctx context.Context, adm Admin) ([]Domain, error) {
	if err := adm.ready(ViewMembers); err != nil {
		return nil, err
	}
	return s.Domains(ctx, adm.Account.ID)
}

// ClaimDomain claims an email domain for the account as the admin; it is
// pending until its DNS record proves it (AddDomain, never vouched).
func (s *Service) ClaimDomain(ctx context.Context, adm Admin, name string) (Domain, error) {
	if err := adm.ready(ManageDomains); err != nil {
		return Domain{}, err
	}
	return s.AddDomain(ctx, adm.Account.ID, adm.Actor(), name, false)
}

// ProveDomain looks up a claimed domain's DNS record as the admin
// (VerifyDomain).
func (s *Service) ProveDomain(ctx context.Context, adm Admin, name string) (Domain, error) {
	if err := adm.ready(ManageDomains); err != nil {
		return Domain{}, err
	}
	return s.VerifyDomain(ctx, adm.Account.ID, adm.Actor(), name)
}

// WithdrawDomain withdraws the account's claim of a domain as the admin
// (RemoveDomain).
func (s *Service) WithdrawDomain(ctx context.Context, adm Admin, name string) error {
	if err := adm.ready(ManageDomains); err != nil {
		return err
	}
	return s.RemoveDomain(ctx, adm.Account.ID, adm.Actor(), name)
}

// AccountMail lists the account's newest mail and how each delivery
// stands, for the console: what was sent, kept in the dev mailbox (no
// SMTP), is waiting, or failed (a bounce or a refusal, with the reason).
// Only the state: a message's text holds links (an invitation, a reset)
// that are its recipient's alone.
func (s *Service) AccountMail(ctx context.Context, adm Admin, limit int) ([]MailMessage, error) {
	if err := adm.ready(ViewMembers); err != nil {
		return nil, err
	}
	return s.Mail(ctx, adm.Account.ID, limit)
}
