package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

// The API's resources as JSON. Field names are part of the API's contract
// (openapi.json): snake_case, times in RFC 3339, absent optional values
// null.

type accountJSON struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Domains   []string  `json:"domains"`
	CreatedAt time.Time `json:"created_at"`
}

func toAccount(a directory.Account) accountJSON {
	d := a.Domains
	if d == nil {
		d = []string{}
	}
	return accountJSON{ID: a.ID, Slug: a.Slug, Name: a.Name, Domains: d, CreatedAt: a.CreatedAt}
}

type memberJSON struct {
	ID           string     `json:"id"` // the membership's id (SCIM's id of the person in the account)
	UserID       string     `json:"user_id"`
	Email        string     `json:"email"`
	FirstName    string     `json:"first_name"`
	LastName     string     `json:"last_name"`
	Role         string     `json:"role"`
	Status       string     `json:"status"`
	Source       string     `json:"source"`
	LastSignInAt *time.Time `json:"last_sign_in_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

func toMember(m directory.Member) memberJSON {
	return memberJSON{
		ID: m.Membership.ID, UserID: m.User.ID, Email: m.User.Email, FirstName: m.User.FirstName, LastName: m.User.LastName,
		Role: string(m.Membership.Role), Status: string(m.Membership.Status), Source: string(m.Membership.Source),
		LastSignInAt: m.Membership.LastSignInAt, CreatedAt: m.Membership.CreatedAt, UpdatedAt: m.Membership.UpdatedAt,
	}
}

type invitationJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Status    string    `json:"status"`
	Sends     int       `json:"sends"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toInvitation(i directory.Invitation) invitationJSON {
	return invitationJSON{ID: i.ID, Email: i.Email, Role: string(i.Role), Status: string(i.Status), Sends: i.Sends,
		ExpiresAt: i.ExpiresAt, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

type scimTokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"` // only in the answer that creates it
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func toSCIMToken(t directory.SCIMToken) scimTokenJSON {
	return scimTokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

type domainJSON struct {
	Name       string     `json:"name"`
	Verified   bool       `json:"verified"`
	VerifiedAt *time.Time `json:"verified_at"`
	// RecordName and RecordValue are the TXT record that proves the
	// account controls the domain.
	RecordName  string    `json:"record_name"`
	RecordValue string    `json:"record_value"`
	CreatedAt   time.Time `json:"created_at"`
}

func toDomain(d directory.Domain) domainJSON {
	return domainJSON{Name: d.Name, Verified: d.Verified(), VerifiedAt: d.VerifiedAt, RecordName: d.ChallengeName(), RecordValue: d.ChallengeValue(), CreatedAt: d.CreatedAt}
}

type auditEventJSON struct {
	ID         string          `json:"id"`
	Action     string          `json:"action"`
	Actor      directory.Actor `json:"actor"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	Data       any             `json:"data"`
	CreatedAt  time.Time       `json:"created_at"`
}

// list is every listing's shape: a page of data, and the cursor of the
// next page (null on the last).
type list[T any] struct {
	Data []T     `json:"data"`
	Next *string `json:"next"`
}

func page[T any](data []T, next string) list[T] {
	if data == nil {
		data = []T{}
	}
	l := list[T]{Data: data}
	if next != "" {
		l.Next = &next
	}
	return l
}

// pageSize reads ?limit=, between 1 and max (def when absent).
func pageSize(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, directory.InvalidError("limit must be a number from 1 to " + strconv.Itoa(max))
	}
	return n, nil
}

// admin opens the account of the path for the key.
func (a *API) admin(r *http.Request, key directory.APIKey) (directory.Admin, error) {
	return a.dir.KeyAdmin(r.Context(), key, r.PathValue("account"))
}

// Accounts.

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var accounts []directory.Account
	if key.Operator() {
		all, err := a.dir.Accounts(r.Context())
		if err != nil {
			return err
		}
		accounts = all
	} else {
		acc, err := a.dir.AccountByID(r.Context(), key.AccountID)
		if err != nil {
			return err
		}
		accounts = []directory.Account{acc}
	}
	owners, err := a.dir.OwnerCounts(r.Context())
	if err != nil {
		return err
	}
	type listed struct {
		accountJSON
		Owners int `json:"owners"` // active owners: 0 after SCIM removed the last
	}
	out := make([]listed, len(accounts))
	for i, acc := range accounts {
		out[i] = listed{toAccount(acc), owners[acc.ID]}
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in struct {
		Slug    string   `json:"slug"`
		Name    string   `json:"name"`
		Domains []string `json:"domains"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if !key.Operator() {
		return directory.ForbiddenError("Only an operator key creates accounts.")
	}
	acc, err := a.dir.CreateAccount(r.Context(), key.Actor(), directory.NewAccount{Slug: in.Slug, Name: in.Name, Domains: in.Domains})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/accounts/"+acc.Slug)
	return writeJSON(w, http.StatusCreated, toAccount(acc))
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAccount(adm.Account))
}

// Members.

func (a *API) listMembers(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	limit, err := pageSize(r, directory.DefaultPageSize, directory.MaxPageSize)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := directory.MemberFilter{Search: q.Get("search"), Status: directory.Status(q.Get("status")), Source: directory.MembershipSource(q.Get("source"))}
	var problems []string
	for _, p := range []struct {
		name string
		to   *bool
	}{{"never_signed_in", &f.NeverSignedIn}, {"bounced", &f.Bounced}} {
		switch q.Get(p.name) {
		case "", "false":
		case "true":
			*p.to = true
		default:
			problems = append(problems, p.name+" must be true or false")
		}
	}
	if len(problems) > 0 {
		return directory.InvalidError(problems...)
	}
	p, err := a.dir.ListMembersBy(r.Context(), adm.Account.ID, f, q.Get("after"), limit)
	if err != nil {
		return err
	}
	out := make([]memberJSON, len(p.Members))
	for i, m := range p.Members {
		out[i] = toMember(m)
	}
	return writeJSON(w, http.StatusOK, page(out, p.Next))
}

// newMemberJSON is the body that adds a person: with a password they must
// change at their first sign-in, with an invitation, or with neither (they
// sign in through SSO).
type newMemberJSON struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
	Password  string `json:"password"`
	Invite    bool   `json:"invite"`
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in newMemberJSON
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if in.Invite && in.Password != "" {
		return directory.InvalidError("give a password or invite: true, not both")
	}
	var m directory.Member
	if in.Invite {
		inv, err := a.dir.InviteMember(r.Context(), adm, directory.NewInvitation{Email: in.Email, Role: directory.Role(in.Role), FirstName: in.FirstName, LastName: in.LastName})
		if err != nil {
			return err
		}
		if m, err = a.dir.Member(r.Context(), adm.Account.ID, inv.Email); err != nil {
			return err
		}
	} else {
		added, err := a.dir.AddMember(r.Context(), adm, directory.NewUser{Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Role: directory.Role(in.Role), Password: in.Password})
		if err != nil {
			return err
		}
		m = added.Member
	}
	w.Header().Set("Location", "/api/v1/accounts/"+adm.Account.Slug+"/members/"+m.Membership.ID)
	return writeJSON(w, http.StatusCreated, toMember(m))
}

func (a *API) getMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	d, err := a.dir.AdminMember(r.Context(), adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toMember(d.Member))
}

func (a *API) changeMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in struct {
		Role      *string `json:"role"`
		FirstName *string `json:"first_name"`
		LastName  *string `json:"last_name"`
		Email     *string `json:"email"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	change := directory.MemberChange{Person: directory.PersonChange{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email}}
	if in.Role != nil {
		role := directory.Role(*in.Role)
		change.Role = &role
	}
	m, err := a.dir.ChangeMember(r.Context(), adm, r.PathValue("id"), change)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toMember(m))
}

// onMember is the member actions that take no body and answer the member.
func (a *API) onMember(w http.ResponseWriter, r *http.Request, key directory.APIKey, act func(directory.Admin, string) (directory.Member, error)) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	m, err := act(adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toMember(m))
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if _, err := a.dir.RemoveMember(r.Context(), adm, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deactivateMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	return a.onMember(w, r, key, func(adm directory.Admin, id string) (directory.Member, error) {
		return a.dir.DeactivateMember(r.Context(), adm, id)
	})
}

func (a *API) reactivateMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	return a.onMember(w, r, key, func(adm directory.Admin, id string) (directory.Member, error) {
		return a.dir.ReactivateMember(r.Context(), adm, id)
	})
}

// signOutMember ends the member's sessions in the account; the member,
// still active, is the answer.
func (a *API) signOutMember(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	return a.onMember(w, r, key, func(adm directory.Admin, id string) (directory.Member, error) {
		return a.dir.EndMemberSessions(r.Context(), adm, id)
	})
}

func (a *API) sendResetLink(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if _, err := a.dir.SendResetLink(r.Context(), adm, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) resendMemberInvitation(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	inv, err := a.dir.ResendInvitation(r.Context(), adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toInvitation(inv))
}

// Invitations.

func (a *API) listInvitations(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	invs, err := a.dir.Invitations(r.Context(), adm.Account.ID)
	if err != nil {
		return err
	}
	status := r.URL.Query().Get("status")
	out := make([]invitationJSON, 0, len(invs))
	for _, inv := range invs {
		if status == "" || string(inv.Status) == status {
			out = append(out, toInvitation(inv))
		}
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) createInvitation(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in struct {
		Email     string `json:"email"`
		Role      string `json:"role"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	inv, err := a.dir.InviteMember(r.Context(), adm, directory.NewInvitation{Email: in.Email, Role: directory.Role(in.Role), FirstName: in.FirstName, LastName: in.LastName})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/accounts/"+adm.Account.Slug+"/invitations/"+inv.ID)
	return writeJSON(w, http.StatusCreated, toInvitation(inv))
}

// invitation finds the account's invitation named in the path.
func (a *API) invitation(r *http.Request, key directory.APIKey) (directory.Admin, directory.Invitation, error) {
	adm, err := a.admin(r, key)
	if err != nil {
		return directory.Admin{}, directory.Invitation{}, err
	}
	inv, err := a.dir.FindInvitationOf(r.Context(), adm.Account.ID, r.PathValue("id"))
	return adm, inv, err
}

func (a *API) resendInvitation(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, inv, err := a.invitation(r, key)
	if err != nil {
		return err
	}
	if err := adm.Allowed(directory.AddMembers); err != nil {
		return err
	}
	inv, err = a.dir.Resend(r.Context(), adm.Account.ID, adm.Actor(), inv.Email, 0)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toInvitation(inv))
}

func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, inv, err := a.invitation(r, key)
	if err != nil {
		return err
	}
	if err := adm.Allowed(directory.AddMembers); err != nil {
		return err
	}
	inv, err = a.dir.Revoke(r.Context(), adm.Account.ID, adm.Actor(), inv.Email)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toInvitation(inv))
}

// Roles and the audit trail.

func (a *API) listRoles(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	roles, err := a.dir.Roles(r.Context(), adm.Account.ID)
	if err != nil {
		return err
	}
	type roleJSON struct {
		Name    string `json:"name"`
		Builtin bool   `json:"builtin"`
	}
	out := make([]roleJSON, len(roles))
	for i, role := range roles {
		out[i] = roleJSON{Name: string(role), Builtin: i < len(directory.BuiltinRoles())}
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) listAuditEvents(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	limit, err := pageSize(r, 100, 1000)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	q := directory.AuditQuery{Action: strings.TrimSpace(qs.Get("action")), Limit: limit}
	if v := qs.Get("since"); v != "" {
		if q.Since, err = time.Parse(time.RFC3339, v); err != nil {
			return directory.InvalidError("since must be a time in RFC 3339 form: 2026-12-01T09:00:00Z")
		}
	}
	if person := qs.Get("person"); person != "" {
		if q.People, err = a.dir.PersonIDs(r.Context(), adm.Account.ID, person); err != nil {
			return err
		}
		if len(q.People) == 0 {
			// An address the account never dealt with has no events.
			return writeJSON(w, http.StatusOK, page([]auditEventJSON{}, ""))
		}
	}
	p, err := a.dir.AuditTrailPage(r.Context(), adm.Account.ID, q, qs.Get("after"))
	if err != nil {
		return err
	}
	out := make([]auditEventJSON, len(p.Events))
	for i, e := range p.Events {
		out[i] = auditEventJSON{ID: e.ID, Action: e.Action, Actor: e.Actor, TargetType: e.TargetType, TargetID: e.TargetID, Data: e.Data, CreatedAt: e.CreatedAt}
		if len(e.Data) == 0 {
			out[i].Data = map[string]any{}
		}
	}
	return writeJSON(w, http.StatusOK, page(out, p.Next))
}

// SCIM tokens.

func (a *API) listSCIMTokens(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	p, err := a.dir.Provisioning(r.Context(), adm)
	if err != nil {
		return err
	}
	out := make([]scimTokenJSON, len(p.Tokens))
	for i, t := range p.Tokens {
		out[i] = toSCIMToken(t)
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) createSCIMToken(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	token, t, err := a.dir.AddSCIMToken(r.Context(), adm, in.Name)
	if err != nil {
		return err
	}
	out := toSCIMToken(t)
	out.Token = token
	shownOnce(w, fmt.Sprintf("The token was made: it is %s, named %q. Revoke it (DELETE .../scim-tokens/%s) and make another if the first answer was lost.", t.ID, t.Name, t.ID))
	return writeJSON(w, http.StatusCreated, out)
}

func (a *API) revokeSCIMToken(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	t, err := a.dir.EndSCIMToken(r.Context(), adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toSCIMToken(t))
}

// Domains.

func (a *API) listDomains(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	ds, err := a.dir.AccountDomains(r.Context(), adm)
	if err != nil {
		return err
	}
	out := make([]domainJSON, len(ds))
	for i, d := range ds {
		out[i] = toDomain(d)
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) addDomain(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	// Vouching (a domain verified without DNS) stays the operator's at
	// the command line: a program proves a domain by its TXT record. Like
	// SCIM tokens, domains are the owners' (the console's rules): an
	// account's key, an admin, may read them but not change them.
	d, err := a.dir.ClaimDomain(r.Context(), adm, in.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toDomain(d))
}

func (a *API) verifyDomain(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	d, err := a.dir.ProveDomain(r.Context(), adm, r.PathValue("domain"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toDomain(d))
}

func (a *API) removeDomain(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if err := a.dir.WithdrawDomain(r.Context(), adm, r.PathValue("domain")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// The events feed.

// eventJSON is an event of the feed with its cursor: the value of after
// that resumes the feed behind it (as admit events tail --json prints).
type eventJSON struct {
	Cursor string `json:"cursor"`
	directory.Event
}

// listEvents is issue 19's feed: the events after a cursor, in order. An
// account's key reads its account's events, an operator key every
// account's (or one's, with ?account=).
func (a *API) listEvents(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	q := r.URL.Query()
	after, err := directory.ParseEventCursor(q.Get("after"))
	if err != nil {
		return err
	}
	limit, err := pageSize(r, 100, 1000)
	if err != nil {
		return err
	}
	accountID := key.AccountID
	if slug := q.Get("account"); slug != "" {
		adm, err := a.dir.KeyAdmin(r.Context(), key, slug)
		if err != nil {
			return err
		}
		accountID = adm.Account.ID
	}
	// Publishing is what numbers events; doing it here keeps the feed
	// current between the workers' rounds (it costs one query when
	// nothing is new).
	if _, err := a.dir.PublishEvents(r.Context(), 1000); err != nil {
		return err
	}
	evs, err := a.dir.Events(r.Context(), accountID, after, limit)
	if err != nil {
		return err
	}
	out := make([]eventJSON, len(evs))
	for i, ev := range evs {
		out[i] = eventJSON{Cursor: strconv.FormatInt(ev.Seq, 10), Event: ev}
	}
	// next is where to resume: after the last event read, or where the
	// caller already was. It is never null, since a feed has no end.
	next := strconv.FormatInt(after, 10)
	if len(evs) > 0 {
		next = out[len(out)-1].Cursor
	}
	return writeJSON(w, http.StatusOK, list[eventJSON]{Data: out, Next: &next})
}
