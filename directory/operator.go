package directory

import (
	"context"
	"fmt"
	"time"
)

// SourceOperator is a platform operator acting in an account's console:
// not a member of it, or not as one.
const SourceOperator Source = "operator"

// Operator is a person who runs the platform: they create accounts and
// can enter any account's console. Being one is not a membership: an
// operator signs in through an account they belong to, like anyone.
type Operator struct {
	UserID  string
	Email   string
	AddedAt time.Time
	AddedBy string // who made them one, as audited
}

// OperatorStore is the persistence of operators.
type OperatorStore interface {
	// AddOperator makes the user an operator; Conflict when they are one.
	AddOperator(ctx context.Context, o Operator) error
	// DeleteOperator ends the user's operator rights; NotFound when they
	// had none.
	DeleteOperator(ctx context.Context, userID string) error
	FindOperator(ctx context.Context, userID string) (Operator, error)
	FindOperators(ctx context.Context) ([]Operator, error) // by email
}

// AddOperator makes the person with the email an operator. They must be a
// user already (a member of some account), since that is how they sign in.
// The change is audited on the installation (no account).
func (s *Service) AddOperator(ctx context.Context, actor Actor, email string) (Operator, error) {
	u, err := s.operatorUser(ctx, email)
	if err != nil {
		return Operator{}, err
	}
	o := Operator{UserID: u.ID, Email: u.Email, AddedAt: s.clock(), AddedBy: actor.Name}
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.AddOperator(ctx, o); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			actor: actor, action: "operator.added", targetType: "user", targetID: u.ID,
			data: map[string]any{"email": u.Email},
		})
	})
	if KindOf(err) == Conflict {
		return Operator{}, ConflictError(fmt.Sprintf("%s is an operator already", u.Email))
	}
	if err != nil {
		return Operator{}, fmt.Errorf("add operator: %w", err)
	}
	return o, nil
}

// RemoveOperator ends the operator rights of the person with the email; a
// console page they have open stops working at its next request.
func (s *Service) RemoveOperator(ctx context.Context, actor Actor, email string) error {
	u, err := s.operatorUser(ctx, email)
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.DeleteOperator(ctx, u.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			actor: actor, action: "operator.removed", targetType: "user", targetID: u.ID,
			data: map[string]any{"email": u.Email},
		})
	})
	if KindOf(err) == NotFound {
		return NotFoundError(fmt.Sprintf("%s is not an operator", u.Email))
	}
	if err != nil {
		return fmt.Errorf("remove operator: %w", err)
	}
	return nil
}

// Operators lists the operators, by email.
func (s *Service) Operators(ctx context.Context) ([]Operator, error) {
	return s.store.FindOperators(ctx)
}

// IsOperator reports whether the user is an operator.
func (s *Service) IsOperator(ctx context.Context, userID string) (bool, error) {
	return isOperator(ctx, s.store, userID)
}

func isOperator(ctx context.Context, tx Store, userID string) (bool, error) {
	_, err := tx.FindOperator(ctx, userID)
	if KindOf(err) == NotFound {
		return false, nil
	}
	return err == nil, err
}

func (s *Service) operatorUser(ctx context.Context, email string) (User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, err := s.store.FindUserByEmail(ctx, e)
	if KindOf(err) == NotFound {
		return User{}, NotFoundError(fmt.Sprintf("there is no user %s: add them to an account first (an operator signs in through an account they belong to)", e))
	}
	return u, err
}

// CreateAccountAsOperator creates an account from the console of an
// operator, who is audited as its creator.
func (s *Service) CreateAccountAsOperator(ctx context.Context, v Visit, in NewAccount) (Account, error) {
	ok, err := s.IsOperator(ctx, v.User.ID)
	if err != nil {
		return Account{}, err
	}
	if !ok {
		return Account{}, ForbiddenError("Only operators create accounts.")
	}
	return s.CreateAccount(ctx, Actor{Source: SourceOperator, ID: v.User.ID, Name: v.User.Email}, in)
}
