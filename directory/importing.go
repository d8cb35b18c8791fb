package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// An import is a bulk upload job: the rows of a spreadsheet, kept in the
// database with the job, and added to the account in batches that each
// commit their people, their audit events, their outbox messages and
// their outcomes together. A process killed mid-way leaves the rows it had
// not committed pending, and whoever claims the job next resumes there:
// no row is added twice. Reading the file and mapping its columns is
// package bulk's; the rules of each row are manual add's, and live here.

// ImportMode is how the people of an import will sign in.
type ImportMode string

const (
	// ImportPassword gives every new person the one initial password of
	// the upload, which they must change at first sign-in.
	ImportPassword ImportMode = "password"
	// ImportInvite sends each person an invitation.
	ImportInvite ImportMode = "invite"
	// ImportNoPassword adds people who sign in through single sign-on.
	ImportNoPassword ImportMode = "none"
)

// ImportStatus is where an import job is.
type ImportStatus string

const (
	ImportQueued    ImportStatus = "queued"
	ImportRunning   ImportStatus = "running"
	ImportFinished  ImportStatus = "finished"
	ImportCancelled ImportStatus = "cancelled"
)

// Open reports whether the job still has work to do.
func (s ImportStatus) Open() bool { return s == ImportQueued || s == ImportRunning }

// ImportOutcome is what became (or, in a dry run, would become) of a row.
type ImportOutcome string

const (
	OutcomePending       ImportOutcome = ""
	OutcomeCreated       ImportOutcome = "created"        // a new person, and their membership
	OutcomeJoined        ImportOutcome = "joined"         // a person admit knew, who gained a membership (rule 4)
	OutcomeAlreadyMember ImportOutcome = "already_member" // nothing to do
	OutcomeDuplicate     ImportOutcome = "duplicate"      // the address is on an earlier row of the file
	OutcomeError         ImportOutcome = "error"          // refused, with the reason
)

// ImportRow is one row of an import with its outcome.
type ImportRow struct {
	Line      int
	Email     string
	FirstName string
	LastName  string
	Role      Role // empty: the import's role
	Outcome   ImportOutcome
	Reason    string
}

// ImportCounts counts the outcomes of an import's rows.
type ImportCounts struct {
	Created       int `json:"created"`
	Joined        int `json:"joined"`
	AlreadyMember int `json:"already_member"`
	Duplicate     int `json:"duplicate"`
	Failed        int `json:"failed"`
}

func (c *ImportCounts) add(o ImportOutcome) {
	switch o {
	case OutcomeCreated:
		c.Created++
	case OutcomeJoined:
		c.Joined++
	case OutcomeAlreadyMember:
		c.AlreadyMember++
	case OutcomeDuplicate:
		c.Duplicate++
	case OutcomeError:
		c.Failed++
	}
}

// Done is how many rows have an outcome.
func (c ImportCounts) Done() int {
	return c.Created + c.Joined + c.AlreadyMember + c.Duplicate + c.Failed
}

// Import is one bulk upload job.
type Import struct {
	ID        string
	AccountID string
	Mode      ImportMode
	Role      Role // of rows that name none
	FileName  string
	Status    ImportStatus
	Total     int
	Counts    ImportCounts
	Actor     Actor
	// PasswordHash is the upload's one initial password, hashed once; it
	// is kept only while the job is open.
	PasswordHash string
	// LockedUntil is when the runner's claim lapses: a runner that died
	// leaves the job to the next claimer after it.
	LockedUntil *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  *time.Time
}

// ImportStore is the persistence of import jobs and of the batch writes
// they make.
type ImportStore interface {
	// CreateImport stores a job; Conflict when the account has an open one.
	CreateImport(ctx context.Context, im Import) error
	// AddImportChunk stores rows of a job, in line order, as one chunk: the
	// unit a batch adds. A chunk whose rows all have an outcome is done.
	AddImportChunk(ctx context.Context, importID string, rows []ImportRow) error
	FindImport(ctx context.Context, accountID, id string) (Import, error)
	FindImportByID(ctx context.Context, id string) (Import, error)
	FindImports(ctx context.Context, accountID string, limit int) ([]Import, error) // newest first
	// LockImport is FindImport for a transaction that changes the job.
	LockImport(ctx context.Context, accountID, id string) (Import, error)
	// ClaimImport takes the oldest open job (the one with id, when id is
	// not empty) whose claim has lapsed (or that has none) until
	// lockedUntil; NotFound when there is none. Two claimers never get the
	// same job.
	ClaimImport(ctx context.Context, id string, now, lockedUntil time.Time) (Import, error)
	UpdateImport(ctx context.Context, im Import) error
	// AddImportProgress adds a batch's counts to an open job, marks it
	// running and extends its claim to lockedUntil, and returns it;
	// NotFound when the job is no longer open.
	// ImportLanes is how many batches of one job can usefully run at once:
	// one where writers take turns.
	ImportLanes() int
	AddImportProgress(ctx context.Context, accountID, id string, counts ImportCounts, lockedUntil, now time.Time) (Import, error)
	// ClaimImportChunk returns the rows of the job's first chunk that is
	// not done and that no other transaction holds, holding it until the
	// transaction ends; NotFound when there is none.
	ClaimImportChunk(ctx context.Context, importID string) ([]ImportRow, error)
	// SaveImportChunk saves a claimed chunk's rows with their outcomes.
	SaveImportChunk(ctx context.Context, importID string, rows []ImportRow) error
	// ImportChunksLeft counts the job's chunks not done.
	ImportChunksLeft(ctx context.Context, importID string) (int, error)
	// FindImportRows returns up to limit rows of the job after line, in
	// line order, with their outcomes.
	FindImportRows(ctx context.Context, importID string, afterLine, limit int) ([]ImportRow, error)

	// SaveImportUpload keeps the account's uploaded file, replacing the
	// one it had; FindImportUpload returns it (NotFound when it has none
	// or another id; when discarded, with Discarded set and no Data);
	// DeleteImportUpload removes it if it has that id, is not discarded
	// and was made after after, saying whether it did (with no id,
	// whichever it has, after ignored). On PostgreSQL the
	// delete holds the row until the transaction ends, so an erasure's
	// DiscardImportUploads waits for the import that took it.
	SaveImportUpload(ctx context.Context, u ImportUpload) error
	FindImportUpload(ctx context.Context, accountID, id string) (ImportUpload, error)
	DeleteImportUpload(ctx context.Context, accountID, id string, after time.Time) (bool, error)
	// DiscardImportUploads empties every account's uploads made before
	// before (all when it is zero), noting reason in their Discarded;
	// DeleteImportUploadsBefore deletes those made before before.
	DiscardImportUploads(ctx context.Context, reason string, before time.Time) (int64, error)
	DeleteImportUploadsBefore(ctx context.Context, before time.Time) (int64, error)

	// FindUsersByEmailKeys returns the users with these EmailKeys.
	FindUsersByEmailKeys(ctx context.Context, keys []string) ([]User, error)
	// FindMembershipsOfUsers returns the account's memberships of these users.
	FindMembershipsOfUsers(ctx context.Context, accountID string, userIDs []string) ([]Membership, error)
	// CreateUsers stores new users, many to a statement; Conflict when an
	// email is taken (by a transaction that committed meanwhile).
	CreateUsers(ctx context.Context, users []User) error
	// CreateMemberships is CreateMembership for many.
	CreateMemberships(ctx context.Context, members []Member) error
	AddAuditEvents(ctx context.Context, events []AuditEvent) error
	AddOutboxMessages(ctx context.Context, msgs []OutboxMessage) error
}

// ImportSpec is what an admin chooses for an upload.
type ImportSpec struct {
	Mode     ImportMode
	Role     Role // of rows that name none; default member
	FileName string
	// Password is the one initial password, in ImportPassword mode.
	Password string

	// ownersRefused marks rows that make someone an owner as errors: the
	// admin importing may not give that role.
	ownersRefused bool
}

// MaxImportFileName bounds the file name kept with a job.
const MaxImportFileName = 255

func (s *Service) checkImportSpec(ctx context.Context, accountID string, spec ImportSpec, preview bool) (ImportSpec, []Role, string, error) {
	var problems []string
	switch spec.Mode {
	case ImportPassword:
		if spec.Password == "" && !preview {
			problems = append(problems, "the initial password is required in password mode")
		}
	case ImportInvite, ImportNoPassword:
		if spec.Password != "" {
			problems = append(problems, "only password mode takes an initial password")
		}
	default:
		problems = append(problems, fmt.Sprintf("there is no import mode %q (modes: password, invite, none)", spec.Mode))
	}
	if spec.Role == "" {
		spec.Role = RoleMember
	}
	roles, err := s.Roles(ctx, accountID)
	if err != nil {
		return spec, nil, "", err
	}
	if !slices.Contains(roles, spec.Role) {
		problems = append(problems, fmt.Sprintf("role %q does not exist in this account (roles: %s)", spec.Role, joinRoles(roles)))
	}
	spec.FileName = strings.ToValidUTF8(strings.TrimSpace(spec.FileName), "")
	if len(spec.FileName) > MaxImportFileName || hasControl(spec.FileName) {
		spec.FileName = "upload"
	}
	if len(problems) > 0 {
		return spec, nil, "", InvalidError(problems...)
	}
	if spec.ownersRefused && spec.Role == RoleOwner {
		return spec, nil, "", ForbiddenError("Only an owner can make someone an owner.")
	}
	var hash string
	if spec.Mode == ImportPassword && spec.Password != "" {
		a, err := s.store.FindAccount(ctx, accountID)
		if err != nil {
			return spec, nil, "", err
		}
		// Only new people get the password, and a new person belongs to
		// this account alone: its policy is the strictest that applies.
		if p := a.PasswordPolicy.Check(spec.Password, ""); len(p) > 0 {
			for i := range p {
				p[i] = "initial password: " + p[i]
			}
			return spec, nil, "", InvalidError(p...)
		}
		// One hash for the whole upload: argon2id per row would cost
		// 100,000 times tens of milliseconds for one secret anyway.
		if !preview {
			if hash, err = s.hasher.Hash(ctx, spec.Password); err != nil {
				return spec, nil, "", fmt.Errorf("hash password: %w", err)
			}
		}
	}
	return spec, roles, hash, nil
}

// markRows reports, before anything is written, rows whose address is on
// an earlier row, and rows that make someone an owner when the admin may
// not.
func markRows(rows []ImportRow, spec ImportSpec) {
	seen := make(map[string]int, len(rows))
	for i := range rows {
		if spec.ownersRefused && Role(strings.TrimSpace(string(rows[i].Role))) == RoleOwner {
			rows[i].Outcome, rows[i].Reason = OutcomeError, "only an owner can make someone an owner"
			continue
		}
		email, err := NormalizeEmail(rows[i].Email)
		if err != nil {
			continue
		}
		key := EmailKey(email)
		if first, ok := seen[key]; ok {
			rows[i].Outcome, rows[i].Reason = OutcomeDuplicate, fmt.Sprintf("%s is also on line %d", email, first)
			continue
		}
		seen[key] = rows[i].Line
	}
}

// importBatch is the work of one batch, shared by the dry run and the job.
type importBatch struct {
	account Account
	spec    ImportSpec
	roles   []Role
	hash    string
	actor   Actor
	now     time.Time
	// homes caches, per domain, whether the account may shape the
	// identity of its people (rule 10).
	homes map[string]bool
}

// classify decides the outcome of each pending row against what tx holds;
// it writes nothing. It returns, for rows to create or join, the user
// that exists (nil for new people).
func (s *Service) classify(ctx context.Context, tx Store, b *importBatch, rows []ImportRow) (map[int]*User, error) {
	keys := make([]string, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.Outcome != OutcomePending {
			continue
		}
		var problems []string
		email, err := NormalizeEmail(r.Email)
		if err != nil {
			problems = append(problems, Message(err))
		} else {
			r.Email = email
			keys = append(keys, EmailKey(email))
		}
		r.FirstName, r.LastName = strings.TrimSpace(r.FirstName), strings.TrimSpace(r.LastName)
		if r.Role == "" {
			r.Role = b.spec.Role
		}
		if !slices.Contains(b.roles, r.Role) {
			problems = append(problems, fmt.Sprintf("role %q does not exist in this account (roles: %s)", r.Role, joinRoles(b.roles)))
		}
		for _, n := range []struct{ field, v string }{{"first name", r.FirstName}, {"last name", r.LastName}} {
			if n.v != "" {
				problems = appendProblem(problems, validateName(n.field, n.v))
			}
		}
		if len(problems) > 0 {
			r.Outcome, r.Reason = OutcomeError, strings.Join(problems, "; ")
		}
	}
	users, err := tx.FindUsersByEmailKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*User, len(users))
	ids := make([]string, len(users))
	for i := range users {
		byKey[EmailKey(users[i].Email)] = &users[i]
		ids[i] = users[i].ID
	}
	ms, err := tx.FindMembershipsOfUsers(ctx, b.account.ID, ids)
	if err != nil {
		return nil, err
	}
	member := make(map[string]Membership, len(ms))
	for _, m := range ms {
		member[m.UserID] = m
	}
	existing := map[int]*User{}
	for i := range rows {
		r := &rows[i]
		if r.Outcome != OutcomePending {
			continue
		}
		if u := byKey[EmailKey(r.Email)]; u != nil {
			if m, ok := member[u.ID]; ok {
				r.Outcome, r.Reason = OutcomeAlreadyMember, alreadyMemberReason(r.Email, m.Status)
				continue
			}
			r.Outcome, existing[r.Line] = OutcomeJoined, u
			if b.spec.Mode == ImportPassword {
				r.Reason = "already has a user: only a membership was added, and their password was left as it is"
			}
			continue
		}
		shape, err := b.mayShape(ctx, tx, r.Email)
		if err != nil {
			return nil, err
		}
		switch {
		case b.spec.Mode == ImportPassword && !shape:
			r.Outcome, r.Reason = OutcomeError, fmt.Sprintf("%s is in a domain another organisation has verified: its people's passwords are theirs to set; invite them instead", r.Email)
		case shape && b.spec.Mode != ImportInvite && (r.FirstName == "" || r.LastName == ""):
			r.Outcome, r.Reason = OutcomeError, "first and last name are required for a new person"
		default:
			r.Outcome = OutcomeCreated
		}
	}
	return existing, nil
}

func alreadyMemberReason(email string, st Status) string {
	switch st {
	case StatusInvited:
		return fmt.Sprintf("%s is already invited to this account", email)
	case StatusDeactivated:
		return fmt.Sprintf("%s is a deactivated member of this account; reactivate them instead", email)
	}
	return fmt.Sprintf("%s is already a member of this account", email)
}

func (b *importBatch) mayShape(ctx context.Context, tx Store, email string) (bool, error) {
	d := emailDomain(email)
	if v, ok := b.homes[d]; ok {
		return v, nil
	}
	v, err := mayShapeIdentity(ctx, tx, b.account, email)
	if err != nil {
		return false, err
	}
	b.homes[d] = v
	return v, nil
}

// write adds the people of classified rows inside tx: users and
// memberships many to a statement, with their audit events and outbox
// messages.
func (s *Service) write(ctx context.Context, tx Store, b *importBatch, rows []ImportRow, existing map[int]*User) error {
	var (
		users   []User
		members []Member
		changes []change
		takeIn  []User
	)
	for i := range rows {
		r := &rows[i]
		if r.Outcome != OutcomeCreated && r.Outcome != OutcomeJoined {
			continue
		}
		if b.spec.Mode == ImportInvite {
			in := NewInvitation{Email: r.Email, Role: r.Role, FirstName: r.FirstName, LastName: r.LastName}
			if _, err := s.inviteIn(ctx, tx, b.account.ID, b.actor, r.Email, in, "", DefaultInvitationTTL, b.now); err != nil {
				return err
			}
			continue
		}
		u := existing[r.Line]
		created := u == nil
		if created {
			shape, err := b.mayShape(ctx, tx, r.Email)
			if err != nil {
				return err
			}
			nu := User{ID: newID(), Email: r.Email, CreatedAt: b.now, UpdatedAt: b.now}
			if shape {
				nu.FirstName, nu.LastName = r.FirstName, r.LastName
			}
			if b.hash != "" {
				// Unproven, like manual add's: it opens this account only.
				now := b.now
				nu.PasswordHash, nu.PasswordMustChange, nu.PasswordChangedAt, nu.PasswordSetBy = b.hash, true, &now, b.account.ID
			}
			users = append(users, nu)
			u = &users[len(users)-1]
			changes = append(changes, change{
				accountID: b.account.ID, actor: b.actor, action: "user.created", targetType: "user", targetID: nu.ID,
				data:   map[string]any{"email": nu.Email, "first_name": nu.FirstName, "last_name": nu.LastName, "password_set": b.hash != "", "source": "import"},
				events: []publication{userEvent(EventUserCreated, nu)},
			})
		} else if isHome(b.account, u.Email) && u.HasPassword() && !u.PasswordProven && u.PasswordSetBy != b.account.ID {
			takeIn = append(takeIn, *u)
		}
		m := Membership{ID: newID(), AccountID: b.account.ID, UserID: u.ID, Role: r.Role, Status: StatusActive, Source: SourceOfImport, CreatedAt: b.now, UpdatedAt: b.now}
		members = append(members, Member{User: *u, Membership: m})
		changes = append(changes, change{
			accountID: b.account.ID, actor: b.actor, action: "membership.created", targetType: "membership", targetID: u.ID,
			data:   map[string]any{"email": u.Email, "role": m.Role, "status": m.Status, "source": "import"},
			events: []publication{membershipEvent(EventMembershipCreated, u.Email, m)},
		})
	}
	if len(users) > 0 {
		if err := tx.CreateUsers(ctx, users); err != nil {
			return err
		}
	}
	if len(members) > 0 {
		if err := tx.CreateMemberships(ctx, members); err != nil {
			return err
		}
	}
	for _, u := range takeIn {
		if _, err := s.takeIn(ctx, tx, b.account, u, b.actor); err != nil {
			return err
		}
	}
	return s.recordMany(ctx, tx, changes)
}

// recordMany is record for many changes: their audit events and outbox
// messages each in one write.
func (s *Service) recordMany(ctx context.Context, tx Store, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	now := s.clock()
	audit := make([]AuditEvent, 0, len(changes))
	var msgs []OutboxMessage
	held := map[string]bool{}
	for _, c := range changes {
		if !held[c.accountID] {
			if err := holdAccountOf(ctx, tx, c); err != nil {
				return err
			}
			held[c.accountID] = true
		}
		data, err := json.Marshal(c.data)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", c.action, err)
		}
		audit = append(audit, AuditEvent{
			ID: newID(), AccountID: c.accountID, Actor: c.actor, Action: c.action,
			TargetType: c.targetType, TargetID: c.targetID, Data: data, CreatedAt: now,
		})
		for _, p := range c.events {
			data, err := json.Marshal(p.data)
			if err != nil {
				return fmt.Errorf("encode %s event: %w", p.typ, err)
			}
			ev := Event{ID: newID(), Type: p.typ, Version: EventVersion, Account: c.accountID, OccurredAt: now, Actor: eventActor(c.actor), Data: data}
			payload, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("encode %s event: %w", p.typ, err)
			}
			msgs = append(msgs, OutboxMessage{ID: ev.ID, AccountID: c.accountID, Topic: p.typ, Subject: p.subject, Payload: payload, CreatedAt: now})
		}
	}
	if err := tx.AddAuditEvents(ctx, audit); err != nil {
		return fmt.Errorf("record import: %w", err)
	}
	if len(msgs) > 0 {
		if err := tx.AddOutboxMessages(ctx, msgs); err != nil {
			return fmt.Errorf("announce import: %w", err)
		}
	}
	return nil
}

// ImportBatchSize is how many rows one transaction of a job adds: large
// enough that a batch's fixed cost (a few queries) is small beside its
// rows, small enough that SQLite's one writer is not held for long (other
// requests wait for it up to the busy timeout).
const ImportBatchSize = 1000

// PreviewImport is the dry run: the outcome each row would have, without
// writing anything. Rows come back in their order, with outcomes.
func (s *Service) PreviewImport(ctx context.Context, accountID string, spec ImportSpec, rows []ImportRow) ([]ImportRow, ImportCounts, error) {
	spec, roles, _, err := s.checkImportSpec(ctx, accountID, spec, true)
	if err != nil {
		return nil, ImportCounts{}, err
	}
	a, err := s.store.FindAccount(ctx, accountID)
	if err != nil {
		return nil, ImportCounts{}, err
	}
	out := slices.Clone(rows)
	for i := range out {
		out[i].Outcome, out[i].Reason = OutcomePending, ""
	}
	markRows(out, spec)
	b := &importBatch{account: a, spec: spec, roles: roles, now: s.clock(), homes: map[string]bool{}}
	var counts ImportCounts
	for chunk := range slices.Chunk(out, ImportBatchSize) {
		if _, err := s.classify(ctx, s.store, b, chunk); err != nil {
			return nil, ImportCounts{}, fmt.Errorf("preview import: %w", err)
		}
		for _, r := range chunk {
			counts.add(r.Outcome)
		}
	}
	return out, counts, nil
}

// CreateImport stores an import job with its rows, queued for a runner
// (admit serve's workers, or the CLI that made it). An account has one open
// job at a time.
func (s *Service) CreateImport(ctx context.Context, accountID string, actor Actor, spec ImportSpec, rows []ImportRow) (Import, error) {
	return s.createImport(ctx, accountID, actor, spec, rows, nil)
}

// createImport is CreateImport; take, when not nil, runs first in its
// transaction (it takes the account's waiting upload).
func (s *Service) createImport(ctx context.Context, accountID string, actor Actor, spec ImportSpec, rows []ImportRow, take func(tx Store) error) (Import, error) {
	spec, _, hash, err := s.checkImportSpec(ctx, accountID, spec, false)
	if err != nil {
		return Import{}, err
	}
	if len(rows) == 0 {
		return Import{}, InvalidError("the file has no rows below its header")
	}
	rows = slices.Clone(rows)
	for i := range rows {
		rows[i].Outcome, rows[i].Reason = OutcomePending, ""
	}
	markRows(rows, spec)
	now := s.clock()
	im := Import{
		ID: newID(), AccountID: accountID, Mode: spec.Mode, Role: spec.Role, FileName: spec.FileName,
		Status: ImportQueued, Total: len(rows), Actor: actor, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	for _, r := range rows {
		im.Counts.add(r.Outcome)
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		if take != nil {
			if err := take(tx); err != nil {
				return err
			}
		}
		if err := tx.CreateImport(ctx, im); err != nil {
			if KindOf(err) == Conflict {
				return ConflictError("an import is already under way in this account: wait for it to finish, or cancel it")
			}
			return err
		}
		for chunk := range slices.Chunk(rows, ImportBatchSize) {
			if err := tx.AddImportChunk(ctx, im.ID, chunk); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "import.created", targetType: "import", targetID: im.ID,
			data: map[string]any{"mode": im.Mode, "role": im.Role, "file_name": im.FileName, "rows": im.Total},
		})
	})
	if err != nil {
		return Import{}, fmt.Errorf("create import: %w", err)
	}
	im.PasswordHash = ""
	return im, nil
}

// ClaimImport takes the next open job whose runner is gone (or that never
// had one) for lease, or the job id when id is not empty; NotFound when
// there is none.
func (s *Service) ClaimImport(ctx context.Context, id string, lease time.Duration) (Import, error) {
	now := s.clock()
	im, err := s.store.ClaimImport(ctx, id, now, now.Add(lease))
	im.PasswordHash = ""
	return im, err
}

// ErrImportHeld is RunImportBatch's answer when the job's rows left are
// all being added by other runners at that moment: this one has nothing
// to do, and the job is not finished yet.
var ErrImportHeld = errors.New("every chunk of the import left is held by another runner")

// errImportClosed ends a batch whose job was cancelled while it ran: the
// batch's people are not added.
var errImportClosed = errors.New("the import is no longer open")

// RunImportBatch adds the people of one chunk of the job's rows (up to
// ImportBatchSize) in one transaction, and extends the runner's claim by
// lease. On PostgreSQL several runners of one job (lanes) each take a
// different chunk. It returns the job as it is afterwards: open while
// rows remain; finished (with its import.finished event) when none do;
// cancelled if it was. ErrImportHeld when the chunks left are all held by
// other lanes.
func (s *Service) RunImportBatch(ctx context.Context, im Import, lease time.Duration) (Import, error) {
	var out Import
	err := s.store.Tx(ctx, func(tx Store) error {
		cur, err := tx.FindImport(ctx, im.AccountID, im.ID)
		if err != nil {
			return err
		}
		if !cur.Status.Open() {
			out = cur
			return nil
		}
		rows, err := tx.ClaimImportChunk(ctx, cur.ID)
		if KindOf(err) == NotFound {
			out, err = s.finishIfDone(ctx, tx, cur)
			return err
		}
		if err != nil {
			return err
		}
		now := s.clock()
		a, err := tx.FindAccount(ctx, cur.AccountID)
		if err != nil {
			return err
		}
		roles, err := rolesOf(ctx, tx, cur.AccountID)
		if err != nil {
			return err
		}
		// Rows with an outcome already (found before anything was added,
		// or by a batch of an older admit) are counted already.
		pending := make([]bool, len(rows))
		for i, r := range rows {
			pending[i] = r.Outcome == OutcomePending
		}
		b := &importBatch{account: a, spec: ImportSpec{Mode: cur.Mode, Role: cur.Role}, roles: roles, hash: cur.PasswordHash, actor: cur.Actor, now: now, homes: map[string]bool{}}
		existing, err := s.classify(ctx, tx, b, rows)
		if err != nil {
			return err
		}
		if err := s.write(ctx, tx, b, rows, existing); err != nil {
			return err
		}
		if err := tx.SaveImportChunk(ctx, cur.ID, rows); err != nil {
			return err
		}
		var counts ImportCounts
		for i, r := range rows {
			if pending[i] {
				counts.add(r.Outcome)
			}
		}
		out, err = tx.AddImportProgress(ctx, cur.AccountID, cur.ID, counts, now.Add(lease), now)
		if KindOf(err) == NotFound {
			return errImportClosed
		}
		return err
	})
	if errors.Is(err, errImportClosed) {
		// Cancelled while this batch ran: its people were not added.
		out, err = s.store.FindImport(ctx, im.AccountID, im.ID)
	}
	if err != nil {
		if errors.Is(err, ErrImportHeld) {
			return im, err
		}
		return Import{}, fmt.Errorf("run import: %w", err)
	}
	out.PasswordHash = ""
	return out, nil
}

// ImportLanes is how many batches of one job a runner runs at once.
func (s *Service) ImportLanes() int { return max(s.store.ImportLanes(), 1) }

// finishIfDone finishes a job none of whose chunks is left; ErrImportHeld
// when some are, held by other lanes.
func (s *Service) finishIfDone(ctx context.Context, tx Store, im Import) (Import, error) {
	left, err := tx.ImportChunksLeft(ctx, im.ID)
	if err != nil {
		return im, err
	}
	if left > 0 {
		return im, ErrImportHeld
	}
	// Lanes that find the job done together take turns here; the first
	// finishes it, the others find it finished.
	im, err = tx.LockImport(ctx, im.AccountID, im.ID)
	if err != nil || !im.Status.Open() {
		return im, err
	}
	return s.finishImport(ctx, tx, im, ImportFinished, im.Actor, s.clock())
}

// finishImport closes the job: its password hash goes, and the account
// is told.
func (s *Service) finishImport(ctx context.Context, tx Store, im Import, st ImportStatus, actor Actor, now time.Time) (Import, error) {
	im.Status, im.PasswordHash, im.LockedUntil, im.FinishedAt, im.UpdatedAt = st, "", nil, &now, now
	if err := tx.UpdateImport(ctx, im); err != nil {
		return im, err
	}
	data := map[string]any{
		"import_id": im.ID, "status": im.Status, "mode": im.Mode, "file_name": im.FileName, "rows": im.Total,
		"created": im.Counts.Created, "joined": im.Counts.Joined, "already_member": im.Counts.AlreadyMember,
		"duplicate": im.Counts.Duplicate, "failed": im.Counts.Failed,
	}
	return im, s.record(ctx, tx, change{
		accountID: im.AccountID, actor: actor, action: "import.finished", targetType: "import", targetID: im.ID, data: data,
		events: []publication{{typ: EventImportFinished, subject: im.ID, data: data}},
	})
}

// CancelImport stops an open job: the rows it added stay, the others are
// left undone.
func (s *Service) CancelImport(ctx context.Context, accountID string, actor Actor, id string) (Import, error) {
	var out Import
	err := s.store.Tx(ctx, func(tx Store) error {
		im, err := tx.LockImport(ctx, accountID, id)
		if err != nil {
			return err
		}
		if !im.Status.Open() {
			return ConflictError(fmt.Sprintf("the import is %s already", im.Status))
		}
		out, err = s.finishImport(ctx, tx, im, ImportCancelled, actor, s.clock())
		return err
	})
	if err != nil {
		return Import{}, fmt.Errorf("cancel import: %w", err)
	}
	return out, nil
}

// ImportJob returns one of the account's import jobs.
func (s *Service) ImportJob(ctx context.Context, accountID, id string) (Import, error) {
	im, err := s.store.FindImport(ctx, accountID, id)
	im.PasswordHash = ""
	return im, err
}

// ImportJobs returns the account's newest import jobs.
func (s *Service) ImportJobs(ctx context.Context, accountID string, limit int) ([]Import, error) {
	ims, err := s.store.FindImports(ctx, accountID, min(max(limit, 1), 100))
	for i := range ims {
		ims[i].PasswordHash = ""
	}
	return ims, err
}

// MaxImportReportPage is the most rows a page of a report holds; a
// caller may ask for one more, to tell whether another page follows.
const MaxImportReportPage = 10000

// ImportReport returns up to limit rows of the job after line afterLine,
// with their outcomes (pending rows have none yet).
func (s *Service) ImportReport(ctx context.Context, accountID, id string, afterLine, limit int) ([]ImportRow, error) {
	if _, err := s.store.FindImport(ctx, accountID, id); err != nil {
		return nil, err
	}
	return s.store.FindImportRows(ctx, id, afterLine, min(max(limit, 1), MaxImportReportPage+1))
}

// ImportReportPages is the job's whole report, a page at a time in line
// order, for writing it out (the console's download, the API's CSV, the
// CLI); an error ends it.
func (s *Service) ImportReportPages(ctx context.Context, accountID, id string) iter.Seq2[[]ImportRow, error] {
	return func(yield func([]ImportRow, error) bool) {
		after := 0
		for {
			rows, err := s.ImportReport(ctx, accountID, id, after, 5000)
			if err != nil {
				yield(nil, err)
				return
			}
			if len(rows) == 0 || !yield(rows, nil) {
				return
			}
			after = rows[len(rows)-1].Line
		}
	}
}

// ImportJobByID returns a job by id alone, for runners (which work every
// account's jobs).
func (s *Service) ImportJobByID(ctx context.Context, id string) (Import, error) {
	im, err := s.store.FindImportByID(ctx, id)
	im.PasswordHash = ""
	return im, err
}

// ImportUpload is a file an admin uploaded in the console, kept until they
// start the import (or upload another), for ImportUploadLifetime at most.
type ImportUpload struct {
	ID        string
	AccountID string
	FileName  string
	Data      []byte
	CreatedAt time.Time
	// Discarded says why the file was let go before its import started
	// (UploadExpired, UploadErasure); its FileName and Data are empty.
	Discarded string
}

// ImportUploadLifetime is how long an uploaded file waits for its import.
// An upload is the preview step of an import (check the columns, start
// it): minutes of an admin's attention, not a place to keep a file. The
// file holds every person in it (addresses, names) outside any record of
// who was added, and an erasure cannot read it (see ErasePerson), so it
// is kept no longer than an hour: long enough to fix a mapping, read a
// long preview and ask a colleague; past it, uploading the file again
// costs the admin a few seconds.
const ImportUploadLifetime = time.Hour

// importUploadTombstone is how long a discarded upload's empty row stays,
// so that an admin who comes back to an old preview is told why the file
// went (expired, or discarded by an erasure) rather than only that it
// is no longer kept. It holds no file name and no data.
const importUploadTombstone = 7 * 24 * time.Hour

// Why an upload was discarded (ImportUpload.Discarded).
const (
	UploadExpired = "expired" // past ImportUploadLifetime
	// UploadErasure: an operator erased a person meanwhile. The admin is
	// told only that the operator discarded it: that someone, perhaps of
	// another account, was erased is not theirs to know.
	UploadErasure = "erasure"
)

// SweepImportUploads empties the uploads past ImportUploadLifetime and
// deletes the rows of those past importUploadTombstone as well; it
// returns how many it emptied or deleted.
func (s *Service) SweepImportUploads(ctx context.Context) (int64, error) {
	now := s.clock()
	n, err := s.store.DiscardImportUploads(ctx, UploadExpired, now.Add(-ImportUploadLifetime))
	if err != nil {
		return 0, err
	}
	m, err := s.store.DeleteImportUploadsBefore(ctx, now.Add(-ImportUploadLifetime-importUploadTombstone))
	return n + m, err
}

// SaveImportUpload keeps the admin's uploaded file for the import they are
// preparing, in place of the account's last one.
func (s *Service) SaveImportUpload(ctx context.Context, adm Admin, fileName string, data []byte) (ImportUpload, error) {
	if err := adm.ready(AddMembers); err != nil {
		return ImportUpload{}, err
	}
	u := ImportUpload{ID: newID(), AccountID: adm.Account.ID, FileName: fileName, Data: data, CreatedAt: s.clock()}
	// An upload records no change (the import that uses it will), so it
	// holds the account itself: refused, as any change is, once the
	// account is being deleted (see record).
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.HoldAccount(ctx, u.AccountID); err != nil {
			return err
		}
		return tx.SaveImportUpload(ctx, u)
	})
	if err != nil {
		return ImportUpload{}, fmt.Errorf("keep upload: %w", err)
	}
	return u, nil
}

// ImportUploadOf returns the admin's uploaded file with that id: Gone when
// it expired or was discarded, saying so, and NotFound when it is no
// longer kept at all.
func (s *Service) ImportUploadOf(ctx context.Context, adm Admin, id string) (ImportUpload, error) {
	if err := adm.ready(AddMembers); err != nil {
		return ImportUpload{}, err
	}
	return s.liveImportUpload(s.store.FindImportUpload(ctx, adm.Account.ID, id))
}

// takeImportUpload deletes the account's upload id for the import being
// created in tx: refused as ImportUploadOf refuses it when it expired, was
// discarded or replaced since the rows were read from it. Checked here,
// not only when the file was read (it takes seconds to read a large
// one): an erasure or the hour passing in between would otherwise let
// the file's rows, the erased person's among them, into an import.
func (s *Service) takeImportUpload(ctx context.Context, tx Store, accountID, id string) error {
	if id == "" {
		_, err := s.liveImportUpload(ImportUpload{}, NotFoundError("no upload"))
		return err
	}
	ok, err := tx.DeleteImportUpload(ctx, accountID, id, s.clock().Add(-ImportUploadLifetime))
	if err != nil || ok {
		return err
	}
	if _, err := s.liveImportUpload(tx.FindImportUpload(ctx, accountID, id)); err != nil {
		return err
	}
	return GoneError(fmt.Sprintf("This upload expired: an uploaded file is kept for %s until its import starts. Upload the file again.", lifetimeText(ImportUploadLifetime)))
}

// liveImportUpload refuses an upload found that expired or was discarded.
func (s *Service) liveImportUpload(u ImportUpload, err error) (ImportUpload, error) {
	if KindOf(err) == NotFound {
		return u, NotFoundError("That upload is no longer kept (another file was uploaded, the import started, or it expired): upload the file again.")
	}
	if err != nil {
		return u, err
	}
	switch {
	case u.Discarded == UploadErasure:
		return ImportUpload{}, GoneError("This upload was discarded by the installation's operator before its import started. Upload the file again.")
	case u.Discarded != "" || !s.clock().Before(u.CreatedAt.Add(ImportUploadLifetime)):
		// The sweep empties an expired upload within minutes; until it
		// has, the file is refused all the same.
		return ImportUpload{}, GoneError(fmt.Sprintf("This upload expired: an uploaded file is kept for %s until its import starts. Upload the file again.", lifetimeText(ImportUploadLifetime)))
	}
	return u, nil
}

// ImportUploadKept says ImportUploadLifetime in words, for pages.
func ImportUploadKept() string { return lifetimeText(ImportUploadLifetime) }

// lifetimeText says d in words: "an hour", "3 hours", "30 minutes".
func lifetimeText(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "an hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	default:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
}

// PreviewMemberImport is PreviewImport as the admin.
func (s *Service) PreviewMemberImport(ctx context.Context, adm Admin, spec ImportSpec, rows []ImportRow) ([]ImportRow, ImportCounts, error) {
	if err := adm.ready(AddMembers); err != nil {
		return nil, ImportCounts{}, err
	}
	spec.ownersRefused = !adm.Can(ManageOwners)
	return s.PreviewImport(ctx, adm.Account.ID, spec, rows)
}

// StartMemberImport is CreateImport as the admin, for rows sent with the
// request (the API); the account's waiting upload is no longer kept.
func (s *Service) StartMemberImport(ctx context.Context, adm Admin, spec ImportSpec, rows []ImportRow) (Import, error) {
	return s.startMemberImport(ctx, adm, spec, rows, func(tx Store) error {
		_, err := tx.DeleteImportUpload(ctx, adm.Account.ID, "", time.Time{})
		return err
	})
}

// StartUploadedImport is StartMemberImport for rows read from the upload
// uploadID (ImportUploadOf), which is no longer kept once the import is
// created: in the same transaction, refused (Gone, NotFound) if it
// expired, was discarded or replaced since it was read.
func (s *Service) StartUploadedImport(ctx context.Context, adm Admin, uploadID string, spec ImportSpec, rows []ImportRow) (Import, error) {
	return s.startMemberImport(ctx, adm, spec, rows, func(tx Store) error {
		return s.takeImportUpload(ctx, tx, adm.Account.ID, uploadID)
	})
}

func (s *Service) startMemberImport(ctx context.Context, adm Admin, spec ImportSpec, rows []ImportRow, take func(tx Store) error) (Import, error) {
	if err := adm.ready(AddMembers); err != nil {
		return Import{}, err
	}
	spec.ownersRefused = !adm.Can(ManageOwners)
	return s.createImport(ctx, adm.Account.ID, adm.Actor(), spec, rows, take)
}

// CancelMemberImport is CancelImport as the admin.
func (s *Service) CancelMemberImport(ctx context.Context, adm Admin, id string) (Import, error) {
	if err := adm.ready(AddMembers); err != nil {
		return Import{}, err
	}
	return s.CancelImport(ctx, adm.Account.ID, adm.Actor(), id)
}
