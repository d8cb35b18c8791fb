package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// MailKind says which email a mail message is; package mail renders each.
type MailKind string

const (
	// MailInvitation invites Recipient; Data.InvitationID names the invitation.
	MailInvitation MailKind = "invitation"
	// MailInvitationUndeliverable tells the inviter that the invitation
	// named by Data.InvitationID could not be delivered.
	MailInvitationUndeliverable MailKind = "invitation_undeliverable"
	// MailPasswordReset sends Data.ResetID's reset link to Recipient.
	MailPasswordReset MailKind = "password_reset"
	// MailSSOSignIn answers a reset request of a person who signs in
	// through their organisation's single sign-on: there is no password to
	// reset; Data.SSOLogin says whether the account's SSO link applies.
	MailSSOSignIn MailKind = "sso_sign_in"
	// MailWebhookDisabled tells an admin that the webhook Data.WebhookID
	// was disabled, and why; an operator, when the webhook is platform-wide.
	MailWebhookDisabled MailKind = "webhook_disabled"
)

// MailStatus is where a mail message stands.
type MailStatus string

const (
	MailQueued MailStatus = "queued"
	MailSent   MailStatus = "sent"
	// MailKept: no SMTP server is configured, so the message stays in the
	// database, where the dev mailbox shows it.
	MailKept   MailStatus = "kept"
	MailFailed MailStatus = "failed" // given up: refused for good, or retried too long
)

// MailData is what a mail message refers to. Nothing secret is kept in it:
// the invitation link is rebuilt at delivery (see invitationToken).
type MailData struct {
	InvitationID string `json:"invitation_id,omitempty"`
	ResetID      string `json:"reset_id,omitempty"`
	SSOLogin     bool   `json:"sso_login,omitempty"`
	WebhookID    string `json:"webhook_id,omitempty"`
	// OperatorsTold: the operators were mailed too (of an endpoint they
	// added), so an account's people may be told they were.
	OperatorsTold bool `json:"operators_told,omitempty"`
}

// MailMessage is one email in the mail outbox.
type MailMessage struct {
	ID string
	// AccountID is the account the mail is from, in its branding; empty
	// for installation mail (to operators), in admit's own.
	AccountID     string
	Kind          MailKind
	Recipient     string
	Data          MailData
	Status        MailStatus
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        *time.Time
}

// Mail delivery timing.
const (
	// MailLease is how long a worker owns a message it claimed. A worker
	// that dies mid-send loses it after this, and another sends it again
	// (with the same Message-ID).
	MailLease = 2 * time.Minute
	// Retries back off from mailRetryBase, doubling up to mailRetryCap,
	// and stop after MailGiveUpAfter.
	mailRetryBase   = 30 * time.Second
	mailRetryCap    = time.Hour
	MailGiveUpAfter = 72 * time.Hour
)

func (s *Service) queueMail(ctx context.Context, tx Store, accountID string, kind MailKind, to, invitationID string) error {
	now := s.clock()
	return tx.AddMailMessage(ctx, MailMessage{
		ID: newID(), AccountID: accountID, Kind: kind, Recipient: to, Data: MailData{InvitationID: invitationID},
		Status: MailQueued, NextAttemptAt: now, CreatedAt: now,
	})
}

// ClaimMail takes up to limit due messages for this worker for MailLease.
// Workers on several replicas may claim at once; none gets another's.
func (s *Service) ClaimMail(ctx context.Context, limit int) ([]MailMessage, error) {
	now := s.clock()
	return s.store.ClaimMailMessages(ctx, now, now.Add(MailLease), limit)
}

// MailDelivered records that a message was handed to the SMTP server, or
// kept for the dev mailbox when kept is true.
func (s *Service) MailDelivered(ctx context.Context, id string, kept bool) error {
	status := MailSent
	if kept {
		status = MailKept
	}
	return s.store.FinishMailMessage(ctx, id, status, "", s.clock())
}

// MailDropped records that a message was not sent because it no longer
// has anything to say (its invitation was withdrawn before delivery).
func (s *Service) MailDropped(ctx context.Context, id, reason string) error {
	return s.store.FinishMailMessage(ctx, id, MailFailed, reason, s.clock())
}

// MailRetry records a transient failure; the message is tried again after
// a backoff, or given up when it has been failing for MailGiveUpAfter.
func (s *Service) MailRetry(ctx context.Context, m MailMessage, cause error) error {
	now := s.clock()
	if now.Sub(m.CreatedAt) >= MailGiveUpAfter {
		s.log.ErrorContext(ctx, "giving up on mail", "mail_id", m.ID, "kind", m.Kind, "attempts", m.Attempts, "err", cause)
		return s.store.FinishMailMessage(ctx, m.ID, MailFailed, cause.Error(), now)
	}
	delay := mailRetryBase << min(max(m.Attempts-1, 0), 10)
	delay = min(delay, mailRetryCap)
	delay += rand.N(delay / 5) // spread retries of messages that failed together
	return s.store.RetryMailMessage(ctx, m.ID, cause.Error(), now.Add(delay))
}

// MailRefused records that the mail server refused the recipient for good
// (a 5xx reply, or a bounce reported later). The message is not retried; an
// invitation to that address is marked undeliverable and its inviter told.
func (s *Service) MailRefused(ctx context.Context, id, reason string) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		m, err := tx.FindMailMessage(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.FinishMailMessage(ctx, id, MailFailed, reason, s.clock()); err != nil {
			return err
		}
		if m.Kind != MailInvitation {
			return nil // a bounced notice to an inviter bounces no further
		}
		return s.invitationUndeliverable(ctx, tx, m, reason)
	})
	if err != nil {
		return fmt.Errorf("record refused mail %s: %w", id, err)
	}
	return nil
}

// invitationUndeliverable marks the invitation that m carried
// undeliverable, unless m is of an earlier send: resent since (the one
// change to a pending invitation; its UpdatedAt is the resend's), the
// invitation is pending on a new email, and a late report about the old
// one (the mailbox was full then) is no news about it.
func (s *Service) invitationUndeliverable(ctx context.Context, tx Store, m MailMessage, reason string) error {
	inv, err := tx.FindInvitation(ctx, m.Data.InvitationID)
	if err != nil {
		return err
	}
	if inv.Status != InvitationPending {
		return nil // already known, accepted or withdrawn: nothing to tell
	}
	if m.CreatedAt.Before(inv.UpdatedAt) {
		return nil
	}
	inv.Status, inv.BounceReason, inv.UpdatedAt = InvitationUndeliverable, truncate(reason, 500), s.clock()
	if err := tx.UpdateInvitation(ctx, inv); err != nil {
		return err
	}
	inviter, told, err := activeInviter(ctx, tx, inv)
	if err != nil {
		return err
	}
	if told {
		if err := s.queueMail(ctx, tx, inv.AccountID, MailInvitationUndeliverable, inviter.Email, inv.ID); err != nil {
			return err
		}
	}
	return s.record(ctx, tx, change{
		accountID: inv.AccountID, actor: Actor{Source: SourceSystem}, action: "invitation.bounced",
		targetType: "invitation", targetID: inv.ID,
		data:   map[string]any{"email": inv.Email, "reason": inv.BounceReason, "inviter_notified": told},
		events: []publication{invitationEvent(EventInvitationBounced, inv)},
	})
}

// activeInviter returns the member who made inv while they are still an
// active member of its account: the one to tell when it bounces, and the
// name it is sent in. An inviter who was erased (no user any more: the
// invitation keeps their id, not a key), or who left the account or was
// deactivated there, is neither: a former admin is not told whom the
// account invites, and a bounce is recorded all the same.
func activeInviter(ctx context.Context, tx Store, inv Invitation) (User, bool, error) {
	if inv.InviterID == "" {
		return User{}, false, nil
	}
	m, err := tx.FindMembership(ctx, inv.AccountID, inv.InviterID)
	if KindOf(err) == NotFound || (err == nil && m.Status != StatusActive) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	u, err := tx.FindUser(ctx, inv.InviterID)
	if KindOf(err) == NotFound {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

// MailBody is what the mail templates need for one message.
type MailBody struct {
	Message MailMessage
	Account Account // zero for installation mail
	// Installation: the mail is to operators, of no account, and is
	// rendered in admit's own branding.
	Installation bool
	Invitation   Invitation
	Inviter      *User // nil when an operator invited
	// Token is the invitation's link token, rebuilt for this delivery.
	Token string
	// InviteeHasPassword: the invited person already has an admit
	// password and accepts by signing in with it.
	InviteeHasPassword bool
	// ExpiresAt is when a password reset link stops working.
	ExpiresAt time.Time
	// Webhook is the disabled webhook a MailWebhookDisabled is about,
	// and WebhookAccount the account whose events it received (none for
	// a platform-wide one): for the operators' own, the mail is theirs,
	// of no account.
	Webhook        Webhook
	WebhookAccount Account
}

// Mail returns the account's newest mail messages first: what the dev
// mailbox lists. An empty accountID lists installation mail (to operators).
func (s *Service) Mail(ctx context.Context, accountID string, limit int) ([]MailMessage, error) {
	return s.store.FindMailMessages(ctx, accountID, min(max(limit, 1), 500))
}

// FindMailMessage returns one mail message.
func (s *Service) FindMailMessage(ctx context.Context, id string) (MailMessage, error) {
	return s.store.FindMailMessage(ctx, id)
}

// MailBodyOf gathers what message m needs to be rendered. It reports Gone
// when the message no longer has anything to say (its invitation was
// withdrawn or replaced before delivery): the worker then drops it.
func (s *Service) MailBodyOf(ctx context.Context, m MailMessage) (MailBody, error) {
	var (
		a   Account // installation mail: no account, admit's own branding
		err error
	)
	if m.AccountID != "" {
		a, err = s.store.FindAccount(ctx, m.AccountID)
		if KindOf(err) == NotFound {
			return MailBody{}, GoneError("the account is being deleted")
		}
		if err != nil {
			return MailBody{}, err
		}
	}
	body := MailBody{Message: m, Account: a, Installation: m.AccountID == ""}
	if m.Data.ResetID != "" {
		r, err := s.store.FindPasswordReset(ctx, m.Data.ResetID)
		if err != nil {
			return MailBody{}, err
		}
		if r.UsedAt != nil || !s.now().Before(r.ExpiresAt) {
			return MailBody{}, GoneError("the password reset link was used or expired before it could be sent")
		}
		token, ok := s.resetToken(r)
		if !ok {
			return MailBody{}, errLinkKey
		}
		body.Token, body.ExpiresAt = token, r.ExpiresAt
		return body, nil
	}
	if m.Data.WebhookID != "" {
		if body.Webhook, err = s.store.FindWebhook(ctx, m.Data.WebhookID); KindOf(err) == NotFound {
			return MailBody{}, GoneError("the webhook was removed before the notice could be sent")
		} else if err != nil {
			return MailBody{}, err
		}
		body.WebhookAccount = a
		if id := body.Webhook.AccountID; id != "" && id != a.ID {
			if body.WebhookAccount, err = s.store.FindAccount(ctx, id); err != nil {
				return MailBody{}, err
			}
		}
		return body, nil
	}
	if m.Data.InvitationID == "" {
		return body, nil
	}
	if body.Invitation, err = s.store.FindInvitation(ctx, m.Data.InvitationID); err != nil {
		return MailBody{}, err
	}
	inviter, active, err := activeInviter(ctx, s.store, body.Invitation)
	if err != nil {
		return MailBody{}, err
	}
	if active {
		body.Inviter = &inviter
	} else if m.Kind == MailInvitationUndeliverable {
		return MailBody{}, GoneError("the inviter is no longer an active member of the account")
	}
	if m.Kind == MailInvitation {
		if !body.Invitation.Open() {
			return MailBody{}, GoneError("the invitation is no longer open")
		}
		// The person's address changed after the mail was queued: the
		// old address may be someone else's now (rule 10's renames).
		if EmailKey(m.Recipient) != EmailKey(body.Invitation.Email) {
			return MailBody{}, GoneError("the person's address changed before the invitation could be sent; resend it to reach the new one")
		}
		token, ok := s.invitationToken(body.Invitation)
		if !ok {
			return MailBody{}, errLinkKey
		}
		body.Token = token
		invitee, err := s.store.FindUser(ctx, body.Invitation.UserID)
		if err != nil {
			return MailBody{}, err
		}
		body.InviteeHasPassword = invitee.HasPassword()
	}
	return body, nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
