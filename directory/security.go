package directory

import (
	"context"
	"fmt"
	"strings"
)

// Security is an account's password and sign-in policy, as its Security
// page sets them together.
type Security struct {
	Password PasswordPolicy
	SignIn   SignInPolicy
}

// SetSecurity replaces the account's password and sign-in policy as the
// admin, under the rules of SetPasswordPolicy and SetSignInPolicy, in one
// transaction: a refused sign-in policy leaves the password policy as it
// was too. Each policy that changed is audited.
func (s *Service) SetSecurity(ctx context.Context, adm Admin, in Security) (Account, error) {
	if err := adm.ready(ManageSecurity); err != nil {
		return Account{}, err
	}
	if err := in.Password.Validate(); err != nil {
		return Account{}, err
	}
	var a Account
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = tx.FindAccount(ctx, adm.Account.ID); err != nil {
			return err
		}
		if in.SignIn.SSORequired {
			domains, err := ssoDomains(ctx, tx, a)
			if err != nil {
				return err
			}
			if len(domains) == 0 {
				return InvalidError("single sign-on cannot be required yet: the account has no single sign-on connection serving one of its verified domains")
			}
		}
		old := a
		a.PasswordPolicy, a.SignIn, a.UpdatedAt = in.Password, in.SignIn, s.clock()
		if old.PasswordPolicy == a.PasswordPolicy && old.SignIn == a.SignIn {
			return nil
		}
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		if old.PasswordPolicy != a.PasswordPolicy {
			if err := s.record(ctx, tx, change{
				accountID: a.ID, actor: adm.Actor(), action: "account.password_policy_changed", targetType: "account", targetID: a.ID,
				data: map[string]any{"old": old.PasswordPolicy, "new": a.PasswordPolicy},
			}); err != nil {
				return err
			}
		}
		if old.SignIn != a.SignIn {
			return s.record(ctx, tx, change{
				accountID: a.ID, actor: adm.Actor(), action: "account.sign_in_policy_changed", targetType: "account", targetID: a.ID,
				data: map[string]any{"old": old.SignIn, "new": a.SignIn},
			})
		}
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("set security: %w", err)
	}
	return a, nil
}

// Explain says in plain words what a password policy asks of people.
func (p PasswordPolicy) Explain() string {
	var classes []string
	for _, c := range p.classes() {
		article := "a "
		if strings.ContainsRune("aeiou", rune(c.name[0])) {
			article = "an "
		}
		classes = append(classes, article+c.name)
	}
	text := fmt.Sprintf("People choose passwords of at least %d characters", p.MinLength)
	switch len(classes) {
	case 0:
	case 1:
		text += ", with " + classes[0]
	default:
		text += ", with " + strings.Join(classes[:len(classes)-1], ", ") + " and " + classes[len(classes)-1]
	}
	return text + ". A commonly used password, or one containing the person's email address, is always refused: that, and length, is what stops guessing."
}

// Rebrand changes the account's display name, logo URL, colour and sender
// name as the admin (SetBranding's rules); the rest of its branding stays.
func (s *Service) Rebrand(ctx context.Context, adm Admin, displayName, logoURL, color, senderName string) (Account, error) {
	if err := adm.ready(ManageBranding); err != nil {
		return Account{}, err
	}
	a, err := s.store.FindAccount(ctx, adm.Account.ID)
	if err != nil {
		return Account{}, err
	}
	b := a.Branding
	b.DisplayName, b.LogoURL, b.PrimaryColor, b.SenderName = displayName, strings.TrimSpace(logoURL), strings.TrimSpace(color), senderName
	return s.SetBranding(ctx, adm.Account.ID, adm.Actor(), b)
}
