package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Service is every use case of the directory. Entry points call it; it
// decides, and it writes through its Store.
type Service struct {
	dummyState
	store    Store
	hasher   *Hasher
	tokenKey []byte
	resolver TXTResolver
	// deviceKey signs device tokens (see throttle.go).
	deviceKey []byte
	// acceptedTokenKeys and acceptedDeviceKeys are the other keys of a
	// rotation of the server key (the previous and the next): they make
	// nothing, and only verify what they made.
	acceptedTokenKeys, acceptedDeviceKeys [][]byte
	// maxListedMembers bounds the members of a page of groups.
	maxListedMembers int
	refusedAddress   func(netip.Addr) string
	now              func() time.Time
	log              *slog.Logger
}

// Config holds what a Service is built from. Hasher, Now and Logger have
// defaults.
type Config struct {
	Store  Store
	Hasher *Hasher
	// TokenKey (32 bytes or more, derived from the server key) makes
	// invitation link tokens. Every process serving one database must have
	// the same key, or links made by one will not open in another.
	TokenKey []byte
	// Resolver looks up domain verification records.
	Resolver TXTResolver
	// DeviceKey (32 bytes or more, derived from the server key) signs the
	// device tokens that exempt a person's own browsers from the lockout
	// strangers cause. Like TokenKey, every process must have the same.
	DeviceKey []byte
	// AcceptedTokenKeys and AcceptedDeviceKeys are set while the server
	// key is rotated (ADMIT_SECRET_KEY_PREVIOUS, ADMIT_SECRET_KEY_NEXT):
	// invitation and reset links made with one of them are emailed as they
	// were made, and device tokens they signed count; nothing is made or
	// signed with them.
	AcceptedTokenKeys, AcceptedDeviceKeys [][]byte
	// MaxListedMembers bounds the members one page of a SCIM group listing
	// carries; default DefaultMaxListedMembers. Tests make it small.
	MaxListedMembers int
	// RefusedAddress says why an account's owners' webhooks may not reach
	// addr ("" when they may): the outbound client's own rule, which the
	// wiring passes in, so that an owner cannot add an endpoint written as
	// such an address (see AddWebhook). Nil refuses none by address.
	RefusedAddress func(addr netip.Addr) string
	Now            func() time.Time
	Logger         *slog.Logger
}

// NewService returns a Service over cfg.Store.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, hasher: cfg.Hasher, tokenKey: cfg.TokenKey, resolver: cfg.Resolver, deviceKey: cfg.DeviceKey, acceptedTokenKeys: cfg.AcceptedTokenKeys, acceptedDeviceKeys: cfg.AcceptedDeviceKeys, maxListedMembers: cfg.MaxListedMembers, refusedAddress: cfg.RefusedAddress, now: cfg.Now, log: cfg.Logger}
	if s.maxListedMembers <= 0 {
		s.maxListedMembers = DefaultMaxListedMembers
	}
	if s.hasher == nil {
		s.hasher = NewHasher(DefaultArgon2Params())
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.tokenKey) == 0 {
		// Tokens then open only in this process: right for tests and
		// one-shot tools, never for a server (cmd/admit always sets it).
		s.tokenKey = make([]byte, 32)
		_, _ = rand.Read(s.tokenKey)
	}
	if len(s.deviceKey) == 0 {
		s.deviceKey = make([]byte, 32)
		_, _ = rand.Read(s.deviceKey)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// clock returns the current time as the databases keep it: UTC, to the
// microsecond (PostgreSQL's precision), so a value reads back as written.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Ping checks that the store can be reached.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// CreateAccount creates an account with the default password policy.
func (s *Service) CreateAccount(ctx context.Context, actor Actor, in NewAccount) (Account, error) {
	in.Slug = strings.TrimSpace(in.Slug)
	in.Name = strings.TrimSpace(in.Name)
	var problems []string
	problems = appendProblem(problems, validateSlug(in.Slug))
	problems = appendProblem(problems, validateAccountName(in.Name))
	domains, bad := normalizeDomains(in.Domains)
	problems = append(problems, bad...)
	if len(problems) > 0 {
		return Account{}, InvalidError(problems...)
	}
	now := s.clock()
	a := Account{
		ID: newID(), Slug: in.Slug, Name: in.Name, Domains: domains,
		PasswordPolicy: DefaultPasswordPolicy(), CreatedAt: now, UpdatedAt: now,
	}
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.CreateAccount(ctx, a); KindOf(err) == Conflict {
			// The store's "already exists" would not say what does.
			return ConflictError(fmt.Sprintf("account %s already exists", a.Slug))
		} else if err != nil {
			return err
		}
		if err := s.record(ctx, tx, change{
			accountID: a.ID, actor: actor, action: "account.created",
			targetType: "account", targetID: a.ID,
			data: map[string]any{"slug": a.Slug, "name": a.Name, "domains": a.Domains},
		}); err != nil {
			return err
		}
		// Creating accounts is the operator's work, and the domains given
		// with it are the operator's word (audited as vouched).
		for _, name := range a.Domains {
			if err := tx.AddDomain(ctx, Domain{AccountID: a.ID, Name: name, Challenge: newChallenge(), CreatedAt: now}); err != nil {
				return err
			}
			d := Domain{AccountID: a.ID, Name: name}
			if err := s.markVerified(ctx, tx, &d, actor, ProofOperator); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("create account %q: %w", in.Slug, err)
	}
	return a, nil
}

// Account returns the account with the given slug.
func (s *Service) Account(ctx context.Context, slug string) (Account, error) {
	return s.store.FindAccountBySlug(ctx, strings.TrimSpace(slug))
}

// AccountByID returns the account with this id.
func (s *Service) AccountByID(ctx context.Context, id string) (Account, error) {
	return s.store.FindAccount(ctx, id)
}

// Accounts returns every account, ordered by slug.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	return s.store.FindAccounts(ctx)
}

// SetPasswordPolicy replaces the account's password policy. Existing
// passwords stay valid; the policy applies whenever a password is next set.
func (s *Service) SetPasswordPolicy(ctx context.Context, accountID string, actor Actor, p PasswordPolicy) (Account, error) {
	if err := p.Validate(); err != nil {
		return Account{}, err
	}
	var a Account
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = tx.FindAccount(ctx, accountID); err != nil {
			return err
		}
		old := a.PasswordPolicy
		a.PasswordPolicy = p
		a.UpdatedAt = s.clock()
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.ID, actor: actor, action: "account.password_policy_changed",
			targetType: "account", targetID: a.ID,
			data: map[string]any{"old": old, "new": p},
		})
	})
	if err != nil {
		return Account{}, fmt.Errorf("set password policy: %w", err)
	}
	return a, nil
}

// SetBranding replaces how the account's pages and emails look.
func (s *Service) SetBranding(ctx context.Context, accountID string, actor Actor, b Branding) (Account, error) {
	b.DisplayName, b.SenderName = strings.TrimSpace(b.DisplayName), strings.TrimSpace(b.SenderName)
	b.ReplyTo = strings.TrimSpace(b.ReplyTo)
	if problems := b.Validate(); len(problems) > 0 {
		return Account{}, InvalidError(problems...)
	}
	var a Account
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = tx.FindAccount(ctx, accountID); err != nil {
			return err
		}
		b.Logo = a.Branding.Logo // only UploadLogo and RemoveLogo change it
		a.Branding, a.UpdatedAt = b, s.clock()
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.ID, actor: actor, action: "account.branding_changed", targetType: "account", targetID: a.ID, data: b,
		})
	})
	if err != nil {
		return Account{}, fmt.Errorf("set branding: %w", err)
	}
	return a, nil
}

// CreateRole adds a role of the account's own beside owner, admin and member.
func (s *Service) CreateRole(ctx context.Context, accountID string, actor Actor, role Role) error {
	if msg := validateRoleName(role); msg != "" {
		return InvalidError(msg)
	}
	if slices.Contains(BuiltinRoles(), role) {
		return ConflictError(fmt.Sprintf("role %q already exists", role))
	}
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.CreateRole(ctx, accountID, role, s.clock()); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "role.created",
			targetType: "role", targetID: string(role), data: map[string]any{"role": role},
		})
	})
	if KindOf(err) == Conflict {
		return ConflictError(fmt.Sprintf("role %q already exists", role))
	}
	if err != nil {
		return fmt.Errorf("create role %q: %w", role, err)
	}
	return nil
}

// Roles returns the roles members of the account can have.
func (s *Service) Roles(ctx context.Context, accountID string) ([]Role, error) {
	return rolesOf(ctx, s.store, accountID)
}

// rolesOf is Roles read through st: a transaction reads them through its
// own connection. (On SQLite a transaction that holds the write lock and
// waits for a second connection of the pool, which writers waiting for
// that lock hold, waits out their busy timeout.)
func rolesOf(ctx context.Context, st Store, accountID string) ([]Role, error) {
	own, err := st.FindRoles(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("find roles: %w", err)
	}
	return append(BuiltinRoles(), own...), nil
}

func validateRoleName(r Role) string {
	if !slugPattern.MatchString(string(r)) {
		return fmt.Sprintf("role %q must be lowercase letters, digits or hyphens", r)
	}
	return ""
}

// NewUser is what an admin gives to add a person to an account by hand.
type NewUser struct {
	Email     string
	FirstName string
	LastName  string
	Role      Role // empty means member
	// Password is the initial password, which the person must change at
	// their first sign-in. Empty adds the person without one (they sign in
	// through SSO, or are invited to set their own).
	Password string
}

// Added is the outcome of AddUser.
type Added struct {
	Member Member
	// NewUser is false when the person already had a user (through another
	// account): only a membership was added, and their name and password
	// were left as they were (rule 4: an admin of one account never sets the
	// password of someone who also belongs to another).
	NewUser bool
	// PasswordSet says whether the given initial password was stored.
	PasswordSet bool
}

// AddUser adds a person to the account: it creates the user if no user has
// that email yet, and a membership. Adding someone who is already a member is
// a Conflict.
func (s *Service) AddUser(ctx context.Context, accountID string, actor Actor, in NewUser) (Added, error) {
	in, err := s.checkNewUser(ctx, accountID, in)
	if err != nil {
		return Added{}, err
	}
	// Hash before the transaction: argon2id takes tens of milliseconds that
	// no database lock should wait for. If the person turns out to exist,
	// the hash is simply not used.
	var hash string
	if in.Password != "" {
		if hash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			return Added{}, fmt.Errorf("hash password: %w", err)
		}
	}
	now := s.clock()
	var out Added
	err = s.store.Tx(ctx, func(tx Store) error {
		out = Added{}
		a, candidate, shape, err := newUserFor(ctx, tx, accountID, in.Email, in.FirstName, in.LastName, now)
		if err != nil {
			return err
		}
		if hash != "" {
			// The admin knows this password: it is unproven, and opens
			// only this account until its holder proves the address.
			candidate.PasswordHash, candidate.PasswordMustChange, candidate.PasswordChangedAt = hash, true, &now
			candidate.PasswordSetBy = accountID
		}
		u, created, err := tx.FindOrCreateUser(ctx, candidate)
		if err != nil {
			return err
		}
		if created && hash != "" && !shape {
			return ForbiddenError(fmt.Sprintf("%s is in a domain another organisation has verified: its people's passwords are theirs to set. Invite them instead (admit invite create), and they choose their own.", u.Email))
		}
		m := Membership{ID: newID(), AccountID: accountID, UserID: u.ID, Role: in.Role, Status: StatusActive, Source: SourceOfAdmin, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateMembership(ctx, u, m); err != nil {
			return err
		}
		if u, err = s.takeIn(ctx, tx, a, u, actor); err != nil {
			return err
		}
		if created {
			if err := s.record(ctx, tx, change{
				accountID: accountID, actor: actor, action: "user.created", targetType: "user", targetID: u.ID,
				data:   map[string]any{"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName, "password_set": hash != ""},
				events: []publication{userEvent(EventUserCreated, u)},
			}); err != nil {
				return err
			}
		}
		if err := s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "membership.created", targetType: "membership", targetID: u.ID,
			data:   map[string]any{"email": u.Email, "role": m.Role, "status": m.Status},
			events: []publication{membershipEvent(EventMembershipCreated, u.Email, m)},
		}); err != nil {
			return err
		}
		out = Added{Member: Member{User: u, Membership: m}, NewUser: created, PasswordSet: created && hash != ""}
		return nil
	})
	if KindOf(err) == Conflict {
		return Added{}, s.alreadyMember(ctx, accountID, in.Email)
	}
	if err != nil {
		return Added{}, fmt.Errorf("add user: %w", err)
	}
	s.log.InfoContext(ctx, "user added", "account_id", accountID, "user_id", out.Member.User.ID, "new_user", out.NewUser, "source", actor.Source)
	return out, nil
}

// alreadyMember says how the person already belongs to the account, and
// what the admin can do instead.
func (s *Service) alreadyMember(ctx context.Context, accountID, email string) error {
	if m, err := s.Member(ctx, accountID, email); err == nil {
		switch m.Membership.Status {
		case StatusInvited:
			return ConflictError(fmt.Sprintf("%s is already invited to this account; resend the invitation instead", email))
		case StatusDeactivated:
			return ConflictError(fmt.Sprintf("%s is a deactivated member of this account; reactivate them instead", email))
		}
	}
	return ConflictError(fmt.Sprintf("%s is already a member of this account", email))
}

// checkNewUser validates and normalizes in against the account: every
// problem is reported at once.
func (s *Service) checkNewUser(ctx context.Context, accountID string, in NewUser) (NewUser, error) {
	var problems []string
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		problems = append(problems, Message(err))
	}
	in.Email = email
	in.FirstName = strings.TrimSpace(in.FirstName)
	in.LastName = strings.TrimSpace(in.LastName)
	problems = appendProblem(problems, validateName("first name", in.FirstName))
	problems = appendProblem(problems, validateName("last name", in.LastName))
	if in.Role == "" {
		in.Role = RoleMember
	}
	a, err := s.store.FindAccount(ctx, accountID)
	if err != nil {
		return in, fmt.Errorf("find account: %w", err)
	}
	roles, err := s.Roles(ctx, accountID)
	if err != nil {
		return in, err
	}
	if !slices.Contains(roles, in.Role) {
		problems = append(problems, fmt.Sprintf("role %q does not exist in this account (roles: %s)", in.Role, joinRoles(roles)))
	}
	if in.Password != "" {
		// The admin or operator adding the person sets it (an initial password).
		for _, p := range a.PasswordPolicy.CheckForAnother(in.Password, in.Email) {
			problems = append(problems, "password: "+p)
		}
	}
	if len(problems) > 0 {
		return in, InvalidError(problems...)
	}
	return in, nil
}

// SetPassword sets the person's own new password (self-service: reset,
// forced change). It must meet the strictest policy of all the accounts the
// person belongs to, since the one password opens all of them.
func (s *Service) SetPassword(ctx context.Context, userID string, actor Actor, password string) error {
	u, err := s.store.FindUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	policy, accounts, err := s.PolicyForUser(ctx, userID)
	if err != nil {
		return err
	}
	if problems := policy.Check(password, u.Email); len(problems) > 0 {
		return InvalidError(problems...)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.ReplacePassword(ctx, userID, u.PasswordHash, hash, false, s.clock()); KindOf(err) == NotFound {
			return ConflictError("your password was changed in the meantime; sign in again with the new one")
		} else if err != nil {
			return err
		}
		// One event per account: each account's audit log shows it, and
		// none learns of the others.
		for _, accountID := range accounts {
			if err := s.record(ctx, tx, change{
				accountID: accountID, actor: actor, action: "user.password_changed",
				targetType: "user", targetID: userID, data: map[string]any{},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// PolicyForUser returns the strictest password policy of the accounts the
// person belongs to, and those accounts' IDs.
func (s *Service) PolicyForUser(ctx context.Context, userID string) (PasswordPolicy, []string, error) {
	ms, err := s.store.FindMembershipsOfUser(ctx, userID)
	if err != nil {
		return PasswordPolicy{}, nil, fmt.Errorf("find memberships: %w", err)
	}
	policies := make([]PasswordPolicy, 0, len(ms))
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		a, err := s.store.FindAccount(ctx, m.AccountID)
		if err != nil {
			return PasswordPolicy{}, nil, fmt.Errorf("find account of membership: %w", err)
		}
		policies = append(policies, a.PasswordPolicy)
		ids = append(ids, a.ID)
	}
	return StrictestPolicy(policies...), ids, nil
}

// Member returns one member of the account.
func (s *Service) Member(ctx context.Context, accountID, email string) (Member, error) {
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil {
		return Member{}, err
	}
	m, err := s.store.FindMembership(ctx, accountID, u.ID)
	if err != nil {
		// Someone else's user is not this account's business: same answer
		// as for an email no one has.
		return Member{}, err
	}
	return Member{User: u, Membership: m}, nil
}

// MemberPage is one page of a member listing. Next continues the listing;
// it is empty on the last page.
type MemberPage struct {
	Members []Member
	Next    string
}

// Page sizes of listings: the size when none is asked for, and the most.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// MemberFilter narrows a member listing. Zero fields select everyone.
type MemberFilter struct {
	// Search keeps the members whose email, first name or last name starts
	// with it, compared case-insensitively.
	Search string
	// Status keeps one status: active, invited or deactivated.
	Status Status
	// Source keeps the members who came one way: admin, invitation, scim,
	// sso or import.
	Source MembershipSource
	// NeverSignedIn keeps the members who never signed in to the account.
	NeverSignedIn bool
	// Bounced keeps the invited members whose invitation email bounced
	// (and was not sent again since): those Service.Bounced marks.
	Bounced bool
	// Sort orders the listing (email when empty), descending with Desc.
	// By sign-in, those who never signed in come last either way.
	Sort MemberSort
	Desc bool
}

// query checks f and turns it into the store's query.
func (f MemberFilter) query() (MemberQuery, error) {
	q := MemberQuery{Search: strings.ToLower(strings.TrimSpace(f.Search)), Status: f.Status, Source: f.Source, NeverSignedIn: f.NeverSignedIn, Bounced: f.Bounced, Sort: f.Sort, Desc: f.Desc}
	if q.Sort == "" {
		q.Sort = SortEmail
	}
	problems := appendProblem(nil, checkSort(f.Sort))
	if q.Status != "" && !slices.Contains(Statuses(), q.Status) {
		problems = append(problems, fmt.Sprintf("there is no status %q (statuses: active, invited, deactivated)", q.Status))
	}
	if q.Source != "" && !slices.Contains(MembershipSources(), q.Source) {
		problems = append(problems, fmt.Sprintf("there is no source %q (sources: admin, invitation, scim, sso, import)", q.Source))
	}
	if !lookupable(f.Search) {
		problems = append(problems, "the search has characters no name or address has")
	}
	if len(problems) > 0 {
		return MemberQuery{}, InvalidError(problems...)
	}
	return q, nil
}

// ListMembers returns one page of the account's members ordered by email.
// after is the Next of the previous page, empty for the first.
func (s *Service) ListMembers(ctx context.Context, accountID, search, after string, limit int) (MemberPage, error) {
	return s.ListMembersBy(ctx, accountID, MemberFilter{Search: search}, after, limit)
}

// ListMembersBy returns one page of the account's members that f selects,
// ordered by email. after is the Next of the previous page, empty for the
// first; a page costs the same however far into the listing it is.
func (s *Service) ListMembersBy(ctx context.Context, accountID string, f MemberFilter, after string, limit int) (MemberPage, error) {
	q, err := f.query()
	if err != nil {
		return MemberPage{}, err
	}
	q.Limit = limit
	switch {
	case q.Limit <= 0:
		q.Limit = DefaultPageSize
	case q.Limit > MaxPageSize:
		q.Limit = MaxPageSize
	}
	if after != "" {
		if err := readCursor(&q, after); err != nil {
			return MemberPage{}, err
		}
	}
	// One more than asked tells whether another page follows.
	q.Limit++
	members, err := s.store.FindMembers(ctx, accountID, q)
	if err != nil {
		return MemberPage{}, fmt.Errorf("list members: %w", err)
	}
	page := MemberPage{Members: members}
	if len(members) == q.Limit {
		page.Members = members[:q.Limit-1]
		page.Next = pageCursor(q, page.Members[len(page.Members)-1])
	}
	return page, nil
}

// CountMembers returns how many members match search (all when empty).
func (s *Service) CountMembers(ctx context.Context, accountID, search string) (int, error) {
	return s.CountMembersBy(ctx, accountID, MemberFilter{Search: search})
}

// CountMembersBy returns how many members f selects.
func (s *Service) CountMembersBy(ctx context.Context, accountID string, f MemberFilter) (int, error) {
	return s.CountMembersUpTo(ctx, accountID, f, 0)
}

// CountMembersUpTo returns how many members f selects, counting no
// further than limit (no limit when zero): a page can say "more than
// 10,000" at a bounded cost where an exact count of a large account would
// read all of it.
func (s *Service) CountMembersUpTo(ctx context.Context, accountID string, f MemberFilter, limit int) (int, error) {
	q, err := f.query()
	if err != nil {
		return 0, err
	}
	q.Limit = max(limit, 0)
	return s.store.CountMembers(ctx, accountID, q)
}

// AuditEvents returns the account's newest audit events.
func (s *Service) AuditEvents(ctx context.Context, accountID string, limit int) ([]AuditEvent, error) {
	return s.store.FindAuditEvents(ctx, accountID, min(max(limit, 1), 1000))
}

// AuditQuery narrows an account's audit trail. Zero fields select all.
type AuditQuery struct {
	Action string
	// People are the ids a person goes by in the account's events
	// (PersonIDs): their user id, their membership (SCIM) id and their
	// invitations' ids. Events they made or that were made about them
	// match.
	People []string
	Since  time.Time
	Limit  int
	// Until keeps events before it; Actor keeps events whose actor's name
	// (an email, a token's name) is it. BeforeAt and BeforeID continue a
	// listing after the event with that time and id (keyset pagination,
	// newest first).
	Until       time.Time
	Actor       string
	ActorSource Source
	BeforeAt    time.Time
	BeforeID    string
}

// AuditTrail returns the account's newest audit events that match: by
// action, by person (their email, as a member of the account), since a
// time. At most 1000 events; 100 when no limit is given.
func (s *Service) AuditTrail(ctx context.Context, accountID, email, action string, since time.Time, limit int) ([]AuditEvent, error) {
	// Times are kept to the microsecond (clock); a since with nanoseconds
	// must not pass over an event of its own microsecond.
	q := AuditQuery{Action: strings.TrimSpace(action), Limit: limit}
	if err := checkAuditFilter(q); err != nil {
		return nil, err
	}
	if !since.IsZero() {
		q.Since = since.UTC().Truncate(time.Microsecond)
	}
	switch {
	case q.Limit <= 0:
		q.Limit = 100
	case q.Limit > 1000:
		q.Limit = 1000
	}
	if email = strings.TrimSpace(email); email != "" {
		// Whether the address is anybody's elsewhere is not this account's
		// business: an address it never dealt with simply has no events.
		ids, err := s.PersonIDs(ctx, accountID, email)
		if err != nil || len(ids) == 0 {
			return nil, err
		}
		q.People = ids
	}
	events, err := s.store.FindAuditEventsBy(ctx, accountID, q)
	if err != nil {
		return nil, fmt.Errorf("find audit events: %w", err)
	}
	if len(events) == 0 && q.Action != "" {
		if err := s.checkAuditAction(ctx, accountID, q); err != nil {
			return nil, err
		}
	}
	return events, nil
}

func encodeCursor(emailKey, userID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(emailKey + "\x00" + userID))
}

func decodeCursor(c string) (string, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if key, id, ok := strings.Cut(string(b), "\x00"); ok {
			return key, id, nil
		}
	}
	return "", "", InvalidError("the page cursor is not valid; start the listing again")
}

func appendProblem(problems []string, p string) []string {
	if p != "" {
		return append(problems, p)
	}
	return problems
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
