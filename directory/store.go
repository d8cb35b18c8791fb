package directory

import (
	"context"
	"time"
)

// Store is the persistence the directory needs. Package store implements it
// on PostgreSQL and SQLite. Lookups that find nothing return a NotFound
// *Error; writes that break a uniqueness rule return a Conflict *Error.
// Account-scoped methods take the account ID first and never reach another
// account's rows.
type Store interface {
	// Tx runs fn in one transaction: committed when fn returns nil, rolled
	// back otherwise. Transient conflicts (serialization failures, a busy
	// SQLite) rerun fn, so fn must not have effects outside tx.
	Tx(ctx context.Context, fn func(tx Store) error) error
	Ping(ctx context.Context) error
	OperatorStore
	SecretKeyStore
	OffboardStore
	OwnerStore

	CreateAccount(ctx context.Context, a Account) error
	FindAccount(ctx context.Context, id string) (Account, error)
	FindAccountBySlug(ctx context.Context, slug string) (Account, error)
	// FindAccountByDomain returns the account that verified an email
	// domain; NotFound when none did.
	FindAccountByDomain(ctx context.Context, domain string) (Account, error)
	FindAccounts(ctx context.Context) ([]Account, error)
	// HoldAccount answers NotFound when the account is being deleted or
	// gone; otherwise no deletion of it starts until the transaction
	// ends (its mark waits), so what the transaction writes into it is
	// deleted with it rather than written behind the deletion's back.
	HoldAccount(ctx context.Context, accountID string) error
	UpdateAccount(ctx context.Context, a Account) error
	// PutLogo stores the account's uploaded logo, replacing any other.
	PutLogo(ctx context.Context, l Logo) error
	FindLogo(ctx context.Context, accountID string) (Logo, error)
	DeleteLogo(ctx context.Context, accountID string) error

	CreateRole(ctx context.Context, accountID string, role Role, at time.Time) error
	FindRoles(ctx context.Context, accountID string) ([]Role, error) // the account's own roles, not the built-in ones

	// FindOrCreateUser stores u unless a user with the same email (compared
	// by EmailKey) exists; either way it returns the stored user, and created
	// says which. It must not fail when another transaction creates the same
	// email at the same moment.
	FindOrCreateUser(ctx context.Context, u User) (stored User, created bool, err error)
	FindUser(ctx context.Context, id string) (User, error)
	// LockUser is FindUser, holding the user's row until the transaction
	// ends, so that what is read is what a change made in it replaces.
	LockUser(ctx context.Context, id string) (User, error)
	FindUserByEmail(ctx context.Context, email string) (User, error)
	UpdatePassword(ctx context.Context, userID, hash string, mustChange bool, at time.Time) error
	// SetPasswordOrigin records who vouches for the user's password.
	SetPasswordOrigin(ctx context.Context, userID string, proven bool, setBy string) error
	// ReplacePassword is UpdatePassword if the stored hash is still old;
	// NotFound when the password changed in the meantime.
	ReplacePassword(ctx context.Context, userID, old, hash string, mustChange bool, at time.Time) error

	CreateMembership(ctx context.Context, u User, m Membership) error
	FindMembership(ctx context.Context, accountID, userID string) (Membership, error)
	// LockMembership is FindMembership for a transaction that decides on
	// it: no other transaction changes it until this one ends.
	LockMembership(ctx context.Context, accountID, userID string) (Membership, error)
	FindMembershipsOfUser(ctx context.Context, userID string) ([]Membership, error)
	FindMembers(ctx context.Context, accountID string, q MemberQuery) ([]Member, error)
	// CountMembers counts the members q selects, up to q.Limit when it is
	// not zero.
	CountMembers(ctx context.Context, accountID string, q MemberQuery) (int, error)
	// FindMember returns the account's member with that membership id.
	FindMember(ctx context.Context, accountID, membershipID string) (Member, error)
	SetMembershipRole(ctx context.Context, accountID, userID string, role Role, at time.Time) (Membership, error)
	// RecordSignIn notes on the membership that the person signed in to
	// the account through connectionID (empty: a password).
	RecordSignIn(ctx context.Context, accountID, userID, connectionID string, at time.Time) error

	// SetProfileAndPassword gives a user without a password their name and
	// first password; Conflict when the user has a password by now.
	SetProfileAndPassword(ctx context.Context, userID, firstName, lastName, hash string, at time.Time) error
	ActivateMembership(ctx context.Context, accountID, userID string, at time.Time) (Membership, error)
	DeleteInvitedMembership(ctx context.Context, accountID, userID string) error

	CreateInvitation(ctx context.Context, inv Invitation) error
	UpdateInvitation(ctx context.Context, inv Invitation) error
	FindInvitation(ctx context.Context, id string) (Invitation, error)
	FindInvitationByTokenHash(ctx context.Context, hash string) (Invitation, error)
	FindOpenInvitation(ctx context.Context, accountID, userID string) (Invitation, error)
	// FindOpenInvitationsOfUser returns the person's open invitations to
	// every account.
	FindOpenInvitationsOfUser(ctx context.Context, userID string) ([]Invitation, error)
	// FindUndeliverableInvitations returns the open invitations to the
	// account of those of userIDs whose email bounced.
	FindUndeliverableInvitations(ctx context.Context, accountID string, userIDs []string) ([]Invitation, error)
	FindInvitations(ctx context.Context, accountID string) ([]Invitation, error) // newest first
	// FindInvitationIDs returns the ids of the person's invitations to
	// the account, newest first, at most limit.
	FindInvitationIDs(ctx context.Context, accountID, userID string, limit int) ([]string, error)
	// AcceptInvitation marks the open invitation with that id and token
	// hash accepted; NotFound when no open one matches (used, replaced).
	AcceptInvitation(ctx context.Context, id, tokenHash string, at time.Time) error

	AddMailMessage(ctx context.Context, m MailMessage) error
	// ClaimMailMessages locks up to limit queued messages due at now until
	// lockedUntil, counting an attempt on each; no two callers get the same.
	ClaimMailMessages(ctx context.Context, now, lockedUntil time.Time, limit int) ([]MailMessage, error)
	FinishMailMessage(ctx context.Context, id string, status MailStatus, lastError string, at time.Time) error
	RetryMailMessage(ctx context.Context, id, lastError string, next time.Time) error
	FindMailMessage(ctx context.Context, id string) (MailMessage, error)
	FindMailMessages(ctx context.Context, accountID string, limit int) ([]MailMessage, error) // newest first

	SetLastAccount(ctx context.Context, userID, accountID string) error
	UpdateUserName(ctx context.Context, userID, firstName, lastName string, at time.Time) error
	// UpdateUserEmail changes the address a person signs in with; another
	// person's address is a Conflict.
	UpdateUserEmail(ctx context.Context, userID, email string, at time.Time) error
	// FindSSOLink returns the user a connection's subject, read from
	// attribute ("" for the NameID or OIDC sub), signed in as last
	// (NotFound: never); LinkSSOSubject records it.
	FindSSOLink(ctx context.Context, connectionID, attribute, subject string) (User, error)
	LinkSSOSubject(ctx context.Context, connectionID, attribute, subject, userID string, at time.Time) error
	SetMembershipStatus(ctx context.Context, accountID, userID string, status Status, at time.Time) (Membership, error)

	CreateSession(ctx context.Context, s Session) error
	FindSession(ctx context.Context, idHash string) (Session, error)
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	UpdateSessionAccount(ctx context.Context, idHash, accountID string) error
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteSessionFamily deletes a session and the sessions whose
	// FamilyHash is its hash.
	DeleteSessionFamily(ctx context.Context, rootHash string) error
	// DeleteSessionsOfUser ends every session of the user but the one
	// with hash except (none when except is empty).
	DeleteSessionsOfUser(ctx context.Context, userID, except string) error
	// EndDevicesOfUser stops honouring the user's device tokens issued
	// before at.
	EndDevicesOfUser(ctx context.Context, userID string, at time.Time) error
	DeleteSessionsOfMembership(ctx context.Context, accountID, userID string) error
	// EndMembershipSessions is DeleteSessionsOfMembership that also sets
	// the membership's SessionsEndedAt to at.
	EndMembershipSessions(ctx context.Context, accountID, userID string, at time.Time) error

	// AddSignInFailure counts one failure, or one attempt whose outcome
	// is not known yet (attempt names it; "" for neither), against key.
	AddSignInFailure(ctx context.Context, key, attempt string, at time.Time) error
	DeleteSignInAttempt(ctx context.Context, key, attempt string) error
	// CountSignInFailures counts the failures of key after a time, and
	// gives the oldest of them.
	CountSignInFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error)
	ClearSignInFailures(ctx context.Context, key string) error

	CreatePasswordReset(ctx context.Context, r PasswordReset) error
	FindPasswordReset(ctx context.Context, id string) (PasswordReset, error)
	FindPasswordResetByTokenHash(ctx context.Context, hash string) (PasswordReset, error)
	// UsePasswordReset marks an unused reset with that id and token hash
	// used; NotFound when it already was.
	UsePasswordReset(ctx context.Context, id, tokenHash string, at time.Time) error
	// CountPasswordResets counts the user's reset links made after since.
	CountPasswordResets(ctx context.Context, userID string, since time.Time) (int, error)

	CreateSCIMToken(ctx context.Context, t SCIMToken) error
	FindSCIMToken(ctx context.Context, id string) (SCIMToken, error)
	FindSCIMTokenByHash(ctx context.Context, hash string) (SCIMToken, error)
	FindSCIMTokens(ctx context.Context, accountID string) ([]SCIMToken, error) // oldest first
	TouchSCIMToken(ctx context.Context, id string, at time.Time) error
	RevokeSCIMToken(ctx context.Context, id string, at time.Time) error

	// DeleteExpired deletes sessions that ended (expires_at before now, or
	// last seen before idleBefore), sign-in failures before failuresBefore
	// and password resets that expired before resetsBefore; it returns how
	// many rows went.
	DeleteExpired(ctx context.Context, now, idleBefore, failuresBefore, resetsBefore time.Time) (int64, error)

	FindSCIMUser(ctx context.Context, accountID, id string) (SCIMUser, error)
	// LockSCIMUser is FindSCIMUser for a transaction that changes the
	// member: no other transaction changes them until it ends.
	LockSCIMUser(ctx context.Context, accountID, id string) (SCIMUser, error)
	// UpdateSCIMProfile saves a member's SCIM profile and returns the new
	// version. A userName another member of the account has is a Conflict.
	UpdateSCIMProfile(ctx context.Context, accountID, id string, p SCIMProfile, at time.Time) (int, error)
	FindSCIMUsers(ctx context.Context, accountID string, f *Filter, pos Position, limit int) ([]SCIMUser, error)
	CountSCIMUsers(ctx context.Context, accountID string, f *Filter) (int, error)
	// DeleteMembership removes the user from the account with the
	// membership's sessions and group memberships; NotFound when the
	// membership is gone (another deletion took it).
	DeleteMembership(ctx context.Context, accountID, userID string) error
	// RecordSCIMDeletion remembers that SCIM deleted the user from the
	// account, until CreateMembership adds them again.
	RecordSCIMDeletion(ctx context.Context, accountID, userID string, at time.Time) error
	SCIMDeleted(ctx context.Context, accountID, userID string) (bool, error)

	CreateGroup(ctx context.Context, g Group) error
	// UpdateGroup saves the name and external id, and counts a version.
	UpdateGroup(ctx context.Context, g Group) error
	DeleteGroup(ctx context.Context, accountID, id string) error
	FindSCIMGroup(ctx context.Context, accountID, id string, members bool) (SCIMGroup, error)
	// LockSCIMGroup is FindSCIMGroup, without members, for a transaction
	// that changes the group: no other transaction changes it until it ends.
	LockSCIMGroup(ctx context.Context, accountID, id string) (SCIMGroup, error)
	// FindSCIMGroups returns a page of groups, without their members.
	FindSCIMGroups(ctx context.Context, accountID string, f *Filter, pos Position, limit int) ([]SCIMGroup, error)
	// FindGroupMembers returns up to limit (all when 0) of the group's
	// members, in SCIM id order.
	FindGroupMembers(ctx context.Context, accountID, groupID string, limit int) ([]GroupMember, error)
	CountSCIMGroups(ctx context.Context, accountID string, f *Filter) (int, error)
	// AddGroupMembers adds the account's users with these SCIM ids and
	// returns the user ids of those it added (not those already in);
	// Invalid when one is not a user of the account. Adding a member twice
	// is not an error.
	AddGroupMembers(ctx context.Context, accountID, groupID string, members []string, at time.Time) ([]string, error)
	// RemoveGroupMembers removes members by SCIM id and returns the user
	// ids of those that were in the group.
	RemoveGroupMembers(ctx context.Context, accountID, groupID string, members []string) ([]string, error)
	// RemoveAllGroupMembers empties a group and returns the user ids it held.
	RemoveAllGroupMembers(ctx context.Context, groupID string) ([]string, error)

	// SaveRoleMapping adds or replaces the mapping of the group with key.
	SaveRoleMapping(ctx context.Context, m RoleMapping, key string) error
	DeleteRoleMapping(ctx context.Context, accountID, key string) error
	FindRoleMappings(ctx context.Context, accountID string) ([]RoleMapping, error)
	// FindGroupSummaries returns the account's SCIM groups ordered by
	// display name, then its SSO groups ordered by key, with members counted.
	FindGroupSummaries(ctx context.Context, accountID string) ([]GroupSummary, error)
	// IsGroupMapped reports whether a mapping names a group with this
	// display name or externalId key.
	IsGroupMapped(ctx context.Context, accountID, displayKey, externalKey string) (bool, error)
	// ApplyRoleMappings sets the role of the non-owner members in scope to
	// what their mapped groups give, or member, and returns those that
	// changed.
	ApplyRoleMappings(ctx context.Context, accountID string, scope RoleScope) ([]RoleChange, error)
	// FindGroupKeysOfMember returns the lowercased display names and
	// externalIds of the SCIM groups the person is in, in the account.
	FindGroupKeysOfMember(ctx context.Context, accountID, userID string) ([]string, error)

	FindSCIMCursor(ctx context.Context, accountID, listKey string, startIndex int, now time.Time) (string, error)
	SaveSCIMCursor(ctx context.Context, c SCIMCursor) error

	// AddDomain stores an account's claim of a domain (verified when
	// d.VerifiedAt is set); Conflict when the account has claimed it, or
	// when it is verified and another account holds it verified.
	AddDomain(ctx context.Context, d Domain) error
	FindDomain(ctx context.Context, accountID, name string) (Domain, error)
	FindDomains(ctx context.Context, accountID string) ([]Domain, error) // by name
	// VerifyDomain marks the account's claim verified; Conflict when
	// another account holds the domain verified.
	VerifyDomain(ctx context.Context, accountID, name string, proof DomainProof, at time.Time) error
	DeleteDomain(ctx context.Context, accountID, name string) error
	// FindMembersWithPlantedPasswords returns the account's members with an
	// address in the domain whose password is unproven and was set by
	// another account.
	FindMembersWithPlantedPasswords(ctx context.Context, accountID, domain string) ([]User, error)

	// CreateConnection stores a connection; Conflict when the account has
	// one with that name.
	CreateConnection(ctx context.Context, c Connection) error
	FindConnection(ctx context.Context, accountID, id string) (Connection, error)
	FindConnections(ctx context.Context, accountID string) ([]Connection, error) // oldest first
	FindAllConnections(ctx context.Context) ([]Connection, error)
	// UpdateConnectionMetadata saves a connection's metadata and what goes
	// with it: its URL, fetch time and error, signing certificates and when they
	// changed, UpdatedAt.
	UpdateConnectionMetadata(ctx context.Context, c Connection) error
	// UpdateConnection saves a connection's domains, mode and settings.
	UpdateConnection(ctx context.Context, c Connection) error
	// UpdateConnectionSecret replaces an OIDC client secret (sealed).
	UpdateConnectionSecret(ctx context.Context, accountID, id, sealed string, at time.Time) error
	DeleteConnection(ctx context.Context, accountID, id string) error
	// UpdateSSOMembership saves the role and the groups a login asserted;
	// it reports whether anything changed. The role changes only from the
	// role the login read (from): none when the two are the same, nor when
	// someone changed it since.
	UpdateSSOMembership(ctx context.Context, accountID, userID string, from, role Role, groups []string, at time.Time) (bool, error)

	// AddSSOReplay remembers an assertion id (or an answered request)
	// until it expires; Conflict when it is remembered already.
	AddSSOReplay(ctx context.Context, connectionID, assertionID string, expiresAt time.Time) error
	// AddLoginAttempt adds to the login log and keeps only the newest keep
	// attempts of its class (verified or not) for the connection.
	AddLoginAttempt(ctx context.Context, a LoginAttempt, keep int) error
	// FindLoginAttempts returns up to limit attempts of each class, newest
	// first.
	FindLoginAttempts(ctx context.Context, connectionID string, limit int) ([]LoginAttempt, error)
	// DeleteExpiredSSO deletes expired replay records, and login attempts
	// beyond the newest keep of each connection and class.
	DeleteExpiredSSO(ctx context.Context, now time.Time, keep int) (int64, error)

	CreateCertificate(ctx context.Context, c Certificate) error
	FindCertificates(ctx context.Context) ([]Certificate, error) // newest first
	SetCertificateState(ctx context.Context, id string, state CertificateState, at time.Time) error
	DeleteCertificate(ctx context.Context, id string) error

	// FindGroupNamesOfMember returns the names of the groups the person is
	// in, in the account: the SCIM groups and the groups their last SSO
	// login sent, each once, sorted.
	FindGroupNamesOfMember(ctx context.Context, accountID, userID string) ([]string, error)

	AppStore
	AppAuthStore
	AppLogoutStore
	SAMLLogoutStore
	HandoffStore

	FindAuditEvents(ctx context.Context, accountID string, limit int) ([]AuditEvent, error)      // newest first
	FindAuditEventsBy(ctx context.Context, accountID string, q AuditQuery) ([]AuditEvent, error) // newest first
	// FindAuditActions returns the distinct actions of the trail's newest
	// scan events, and whether those were all of the trail's events.
	FindAuditActions(ctx context.Context, accountID string, scan int) (actions []string, complete bool, err error)
	// RecordChange stores a change's audit event and the outbox messages
	// that announce it, in order, in as few statements as it can: every
	// change writes both, and a group of 10,000 members announces 10,000
	// events.
	RecordChange(ctx context.Context, e AuditEvent, ms []OutboxMessage) error

	WebhookStore
	APIKeyStore
	ImportStore
}

// MemberQuery selects one page of an account's members, ordered by email.
type MemberQuery struct {
	// Search, when set, keeps the members whose email, first name or last
	// name starts with it, compared case-insensitively.
	Search string
	// AfterEmailKey and AfterUserID continue a listing after the member with
	// that email key and user ID (keyset pagination: the cost of a page does
	// not grow with how far into the listing it is).
	AfterEmailKey string
	AfterUserID   string
	Limit         int
	// Status, Source and NeverSignedIn, when set, keep only the members
	// in that status, from that source, or who never signed in.
	Status        Status
	Source        MembershipSource
	NeverSignedIn bool
	// Bounced keeps the invited members whose open invitation is
	// undeliverable (its email bounced).
	Bounced bool
	// Sort and Desc order the listing (SortEmail when empty). For the
	// other orders the listing continues after AfterKey (the member's
	// sort key: a name key or an RFC 3339 time) and AfterUserID; by
	// sign-in, AfterNever says the cursor is among those who never
	// signed in, who come last, in email order, and AfterKey is an email key.
	Sort       MemberSort
	Desc       bool
	AfterKey   string
	AfterNever bool
}
