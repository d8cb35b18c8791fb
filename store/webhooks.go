package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type webhookRow struct {
	ID             string         `db:"id"`
	AccountID      sql.NullString `db:"account_id"`
	URL            string         `db:"url"`
	EventTypes     string         `db:"event_types"`
	Secret         string         `db:"secret"`
	PreviousSecret string         `db:"previous_secret"`
	PreviousUntil  sql.NullTime   `db:"previous_until"`
	OlderSecrets   string         `db:"older_secrets"`
	DisabledAt     sql.NullTime   `db:"disabled_at"`
	DisabledReason string         `db:"disabled_reason"`
	FailingSince   sql.NullTime   `db:"failing_since"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
	PublicOnly     bool           `db:"public_only"`
	PausedUntil    sql.NullTime   `db:"paused_until"`
}

const webhookColumns = `id, account_id, url, event_types, secret, previous_secret, previous_until, older_secrets, disabled_at, disabled_reason, failing_since, created_at, updated_at, public_only, paused_until`

// webhook is the row's webhook; garbage where the older secrets are kept
// is logged, and those secrets no longer sign.
func (s *Store) webhook(r webhookRow) directory.Webhook {
	w := directory.Webhook{
		ID: r.ID, AccountID: r.AccountID.String, URL: r.URL, Secret: r.Secret,
		DisabledAt: optionalTime(r.DisabledAt), DisabledReason: r.DisabledReason,
		FailingSince: optionalTime(r.FailingSince), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), PublicOnly: r.PublicOnly,
		PausedUntil: optionalTime(r.PausedUntil),
	}
	if r.EventTypes != "" {
		w.EventTypes = strings.Split(r.EventTypes, ",")
	}
	// The last secret rotated out has columns of its own (it had before
	// there were more); the older ones are JSON that only admit writes.
	// A release before migration 00042, still running beside this one in
	// a rolling upgrade, rotates without knowing of the JSON: it clears
	// the columns (a rotation with no overlap) or moves the current
	// secret into them, and leaves the JSON as it was. So the JSON counts
	// only beside a last secret, and never past its time: the rule each
	// rotation keeps (see directory.Webhook.Older).
	if r.PreviousSecret == "" || !r.PreviousUntil.Valid {
		return w
	}
	last := r.PreviousUntil.Time.UTC()
	w.Older = append(w.Older, directory.OlderSecret{Sealed: r.PreviousSecret, Until: last})
	if r.OlderSecrets == "" {
		return w
	}
	var older []directory.OlderSecret
	if err := json.Unmarshal([]byte(r.OlderSecrets), &older); err != nil {
		s.log.Error("a webhook's older secrets are unreadable; they no longer sign", "webhook", r.ID, "err", err)
		return w
	}
	for _, o := range older {
		if o.Sealed == "" || o.Sealed == r.PreviousSecret || o.Sealed == r.Secret {
			continue
		}
		o.Until = o.Until.UTC()
		if o.Until.After(last) {
			o.Until = last
		}
		w.Older = append(w.Older, o)
	}
	return w
}

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}

// CreateWebhook stores a webhook.
func (s *Store) CreateWebhook(ctx context.Context, w directory.Webhook) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhooks (id, account_id, url, event_types, secret, created_at, updated_at, public_only)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), w.ID, nullString(w.AccountID), w.URL, strings.Join(w.EventTypes, ","), w.Secret, w.CreatedAt, w.UpdatedAt, w.PublicOnly)
	return s.dialect.wrap(err, "insert webhook")
}

// FindWebhook returns one webhook.
func (s *Store) FindWebhook(ctx context.Context, id string) (directory.Webhook, error) {
	return s.findWebhook(ctx, id, "")
}

// LockWebhook returns a webhook and, in a transaction on PostgreSQL,
// holds its row until the end (SQLite's writers take turns anyway): a
// change made from what was read then waits for another's.
func (s *Store) LockWebhook(ctx context.Context, id string) (directory.Webhook, error) {
	return s.findWebhook(ctx, id, s.dialect.lockRows("w"))
}

func (s *Store) findWebhook(ctx context.Context, id, lock string) (directory.Webhook, error) {
	var r webhookRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+webhookColumns+` FROM webhooks w WHERE id = ?`+lock), id); err != nil {
		err = s.dialect.wrap(err, "find webhook")
		if directory.KindOf(err) == directory.NotFound {
			return directory.Webhook{}, directory.NotFoundError(fmt.Sprintf("no webhook %s", id))
		}
		return directory.Webhook{}, err
	}
	return s.webhook(r), nil
}

// FindWebhooks returns the account's webhooks (every webhook when
// accountID is empty), oldest first.
func (s *Store) FindWebhooks(ctx context.Context, accountID string) ([]directory.Webhook, error) {
	var rows []webhookRow
	q, args := `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, id`, []any{}
	if accountID != "" {
		q, args = `SELECT `+webhookColumns+` FROM webhooks WHERE account_id = ? ORDER BY created_at, id`, []any{accountID}
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
		return nil, s.dialect.wrap(err, "find webhooks")
	}
	out := make([]directory.Webhook, len(rows))
	for i, r := range rows {
		out[i] = s.webhook(r)
	}
	return out, nil
}

// CountWebhooks counts webhooks by who added them; see
// directory.WebhookStore.
func (s *Store) CountWebhooks(ctx context.Context) (operators, owners int, err error) {
	var rows []struct {
		PublicOnly bool `db:"public_only"`
		N          int  `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT public_only, COUNT(*) AS n FROM webhooks GROUP BY public_only`); err != nil {
		return 0, 0, s.dialect.wrap(err, "count webhooks")
	}
	for _, r := range rows {
		if r.PublicOnly {
			owners = r.N
		} else {
			operators = r.N
		}
	}
	return operators, owners, nil
}

// FindUnhealthyWebhooks returns the webhooks failing or disabled; see
// directory.WebhookStore.
// Only what says where they stand is read: a scrape has no use for their
// URLs and sealed secrets.
func (s *Store) FindUnhealthyWebhooks(ctx context.Context) ([]directory.Webhook, error) {
	var rows []struct {
		ID           string       `db:"id"`
		DisabledAt   sql.NullTime `db:"disabled_at"`
		FailingSince sql.NullTime `db:"failing_since"`
		PublicOnly   bool         `db:"public_only"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT id, disabled_at, failing_since, public_only FROM webhooks WHERE disabled_at IS NOT NULL OR failing_since IS NOT NULL`); err != nil {
		return nil, s.dialect.wrap(err, "find unhealthy webhooks")
	}
	out := make([]directory.Webhook, len(rows))
	for i, r := range rows {
		out[i] = directory.Webhook{ID: r.ID, DisabledAt: optionalTime(r.DisabledAt), FailingSince: optionalTime(r.FailingSince), PublicOnly: r.PublicOnly}
	}
	return out, nil
}

// CountAccountWebhooks counts the webhooks the account's owners added; see
// directory.WebhookStore. On PostgreSQL the account's row is locked first
// (SQLite's transactions take turns already).
func (s *Store) CountAccountWebhooks(ctx context.Context, accountID string) (int, error) {
	if s.dialect.lockRows != nil {
		var id string
		if err := sqlx.GetContext(ctx, s.q, &id, s.rebind(`SELECT a.id FROM accounts a WHERE a.id = ?`+s.dialect.lockRows("a")), accountID); err != nil {
			return 0, s.dialect.wrap(err, "lock account")
		}
	}
	var n int
	if err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT count(*) FROM webhooks WHERE account_id = ? AND public_only`), accountID); err != nil {
		return 0, s.dialect.wrap(err, "count webhooks")
	}
	return n, nil
}

// DeleteWebhook deletes a webhook; its deliveries and attempts go with it.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM webhooks WHERE id = ?`), id)
	if err != nil {
		return s.dialect.wrap(err, "delete webhook")
	}
	return expectOne(res, "webhook")
}

// UpdateWebhookSecrets saves the secrets of a rotation.
func (s *Store) UpdateWebhookSecrets(ctx context.Context, w directory.Webhook) error {
	previous, until, older := "", sql.NullTime{}, ""
	if len(w.Older) > 0 {
		previous, until = w.Older[0].Sealed, sql.NullTime{Time: w.Older[0].Until, Valid: true}
	}
	if len(w.Older) > 1 {
		b, err := json.Marshal(w.Older[1:])
		if err != nil {
			return fmt.Errorf("encode older webhook secrets: %w", err)
		}
		older = string(b)
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET secret = ?, previous_secret = ?, previous_until = ?, older_secrets = ?, updated_at = ? WHERE id = ?`),
		w.Secret, previous, until, older, w.UpdatedAt, w.ID)
	if err != nil {
		return s.dialect.wrap(err, "update webhook secrets")
	}
	return expectOne(res, "webhook")
}

// MarkWebhookFailing records when the webhook's failures began, unless
// it is recorded, and returns it.
func (s *Store) MarkWebhookFailing(ctx context.Context, id string, since time.Time) (time.Time, error) {
	var t time.Time
	err := sqlx.GetContext(ctx, s.q, &t, s.rebind(`UPDATE webhooks SET failing_since = COALESCE(failing_since, ?) WHERE id = ? RETURNING failing_since`), since, id)
	return t.UTC(), s.dialect.wrap(err, "mark webhook failing")
}

// FailingWebhooks returns those of the webhooks ids that are failing, in
// id order.
func (s *Store) FailingWebhooks(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for chunk := range slices.Chunk(ids, 500) {
		q, args, err := sqlx.In(`SELECT id FROM webhooks WHERE id IN (?) AND failing_since IS NOT NULL ORDER BY id`, chunk)
		if err != nil {
			return nil, fmt.Errorf("find failing webhooks: %w", err)
		}
		var part []string
		if err := sqlx.SelectContext(ctx, s.q, &part, s.rebind(q), args...); err != nil {
			return nil, s.dialect.wrap(err, "find failing webhooks")
		}
		out = append(out, part...)
	}
	return out, nil
}

// MarkWebhookHealthy clears the webhook's failures.
func (s *Store) MarkWebhookHealthy(ctx context.Context, id string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET failing_since = NULL WHERE id = ?`), id)
	return s.dialect.wrap(err, "mark webhook healthy")
}

// DisableWebhook disables the webhook unless it is disabled. On
// PostgreSQL a second transaction disabling it waits for the first and
// then finds nothing to update: one of them reports true.
func (s *Store) DisableWebhook(ctx context.Context, id, reason string, at time.Time) (bool, error) {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL`), at, reason, id)
	if err != nil {
		return false, s.dialect.wrap(err, "disable webhook")
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PauseWebhook leaves the webhook alone until until, unless it is left
// alone longer already.
func (s *Store) PauseWebhook(ctx context.Context, id string, until time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET paused_until = ? WHERE id = ? AND (paused_until IS NULL OR paused_until < ?)`), until, id, until)
	return s.dialect.wrap(err, "pause webhook")
}

// EnableWebhook clears the webhook's disabling, failures and pause.
func (s *Store) EnableWebhook(ctx context.Context, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET disabled_at = NULL, disabled_reason = '', failing_since = NULL, paused_until = NULL WHERE id = ?`), id)
	if err != nil {
		return s.dialect.wrap(err, "enable webhook")
	}
	return expectOne(res, "webhook")
}

// PublishEvents numbers new outbox messages and fans them out to the
// webhooks. The update of the one event_sequence row comes first: on
// PostgreSQL it holds the row's lock until commit, so publishers take
// turns and a number is visible only after every smaller one (a feed
// reader resuming after a cursor skips nothing); SQLite has one writer at
// a time anyway. Numbering is one statement, and deliveries are inserted
// many rows a statement: a burst of events costs few round trips. A
// delivery ready to send that fits in lease is inserted leased (see
// directory.DeliveryLease) and returned with what to send.
func (s *Store) PublishEvents(ctx context.Context, now time.Time, limit int, newID func() string, lease *directory.DeliveryLease) (int, []directory.WebhookDelivery, error) {
	// Workers ask often; most times there is nothing new, and a look is
	// cheaper than a write transaction (a commit, and the lock others
	// would wait on).
	var waiting bool
	if err := sqlx.GetContext(ctx, s.q, &waiting, `SELECT EXISTS (SELECT 1 FROM outbox_messages WHERE delivered_at IS NULL)`); err != nil {
		return 0, nil, s.dialect.wrap(err, "look for new events")
	}
	if !waiting {
		return 0, nil, nil
	}
	n := 0
	var leased []directory.WebhookDelivery
	err := s.within(ctx, func(s *Store) error {
		n, leased = 0, nil
		lease := lease.Clone() // a transaction tried again starts afresh
		var last int64
		if err := sqlx.GetContext(ctx, s.q, &last, `UPDATE event_sequence SET last = last WHERE id = 1 RETURNING last`); err != nil {
			return s.dialect.wrap(err, "lock event sequence")
		}
		var msgs []publishedRow
		// Events are numbered in the order they were written (see
		// migration 00043): on SQLite by rowid, along the index of the
		// unpublished, which holds them in that order (the table itself
		// would be read from its oldest row, the other index of the
		// unpublished read whole and sorted); on PostgreSQL by their
		// written number.
		from, order := `outbox_messages INDEXED BY outbox_messages_unpublished`, `rowid`
		if s.Dialect() == "postgres" {
			from, order = `outbox_messages`, `written`
		}
		// RETURNING names the updated table's columns unqualified (SQLite
		// knows no alias there), so the batch's own are named apart.
		err := sqlx.SelectContext(ctx, s.q, &msgs, s.rebind(`WITH batch AS (
				SELECT id AS batch_id, ROW_NUMBER() OVER (ORDER BY `+order+`) AS n FROM `+from+`
				WHERE delivered_at IS NULL ORDER BY `+order+` LIMIT ?)
			UPDATE outbox_messages SET seq = ? + batch.n, delivered_at = ? FROM batch WHERE outbox_messages.id = batch.batch_id
			RETURNING id, account_id, topic, subject, seq, payload, created_at`), limit, last, now)
		if err != nil {
			return s.dialect.wrap(err, "publish events")
		}
		if len(msgs) == 0 {
			return nil
		}
		hooks, err := s.FindWebhooks(ctx, "")
		if err != nil {
			return err
		}
		slices.SortFunc(msgs, func(a, b publishedRow) int { return cmp.Compare(a.Seq, b.Seq) })
		// A new delivery is ready (claimable) when nothing about its
		// subject is pending for its webhook: not before this batch, not
		// earlier in it. The recorders that make the next one ready take
		// event_sequence FOR SHARE, so none of them runs between this
		// look and the commit.
		subjects := map[string]bool{}
		for _, m := range msgs {
			subjects[m.Subject] = true
		}
		pending, err := s.pendingSubjects(ctx, slices.Collect(maps.Keys(subjects)))
		if err != nil {
			return err
		}
		const cols = 10
		var rows []any
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			marks := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?), ", len(rows)/cols), ", ")
			_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhook_deliveries (id, webhook_id, event_id, seq, subject, ready, status, next_attempt_at, created_at, locked_until, attempts) VALUES `+marks), rows...)
			rows = rows[:0]
			return s.dialect.wrap(err, "queue webhook deliveries")
		}
		for _, m := range msgs {
			last = max(last, m.Seq)
			for _, w := range hooks {
				if w.AccountID != "" && w.AccountID != m.AccountID || !w.Wants(m.Topic) {
					continue
				}
				key := [2]string{w.ID, m.Subject}
				ready := !pending[key]
				pending[key] = true
				d := directory.WebhookDelivery{ID: newID(), WebhookID: w.ID, EventID: m.ID, Seq: m.Seq, Subject: m.Subject,
					Status: directory.DeliveryPending, NextAttemptAt: now, CreatedAt: now}
				var lockedUntil sql.NullTime
				if ready && lease.Take(w) {
					lockedUntil = sql.NullTime{Time: lease.Until, Valid: true}
					d.Attempts, d.Payload, d.Webhook, d.LeasedUntil, d.EventAt = 1, m.Payload, w, lease.Until, m.CreatedAt.UTC()
					leased = append(leased, d)
				}
				rows = append(rows, d.ID, d.WebhookID, d.EventID, d.Seq, d.Subject, ready, now, now, lockedUntil, d.Attempts)
				if len(rows) >= 200*cols {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE event_sequence SET last = ? WHERE id = 1`), last); err != nil {
			return s.dialect.wrap(err, "advance event sequence")
		}
		n = len(msgs)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return n, leased, nil
}

// publishedRow is an outbox message as PublishEvents numbers it.
type publishedRow struct {
	ID        string    `db:"id"`
	AccountID string    `db:"account_id"`
	Topic     string    `db:"topic"`
	Subject   string    `db:"subject"`
	Seq       int64     `db:"seq"`
	Payload   []byte    `db:"payload"`
	CreatedAt time.Time `db:"created_at"`
}

// inOrder holds for a delivery that is among its person's in order: all but
// a redelivery (detached), which goes on its own. A detached delivery not
// ready is one a release before detached made pending again (a recovery
// by an older replica during an upgrade): it counts as in order, and is
// made so when made ready.
const inOrder = `NOT (detached AND ready)`

// pendingSubjects returns the (webhook, subject) pairs among subjects that
// have a pending delivery in order (a redelivery, detached, is not).
func (s *Store) pendingSubjects(ctx context.Context, subjects []string) (map[[2]string]bool, error) {
	out := map[[2]string]bool{}
	for len(subjects) > 0 {
		n := min(len(subjects), 500)
		q, args, err := sqlx.In(`SELECT DISTINCT webhook_id, subject FROM webhook_deliveries WHERE status = 'pending' AND `+inOrder+` AND subject IN (?)`, subjects[:n])
		if err != nil {
			return nil, fmt.Errorf("find pending deliveries: %w", err)
		}
		var rows []struct {
			WebhookID string `db:"webhook_id"`
			Subject   string `db:"subject"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
			return nil, s.dialect.wrap(err, "find pending deliveries")
		}
		for _, r := range rows {
			out[[2]string{r.WebhookID, r.Subject}] = true
		}
		subjects = subjects[n:]
	}
	return out, nil
}

// makeReady makes ready the first pending delivery of each (webhook,
// subject) pair given that has no ready one, of those in order (a
// redelivery is detached from them): what follows a finished delivery.
// Those that fit in lease are leased as they are made ready, and returned
// with what to send.
//
// It reads the pairs' pending deliveries and picks here, then updates by
// id: two plain statements. One UPDATE with a NOT EXISTS was planned, on a table just filled by a
// burst and not yet analyzed, as an anti-join that rescanned the
// webhook's every pending delivery for each pair, and a recording
// transaction of 200 results took a third of a second; a list of 200
// (webhook, subject) row values before that took longer to plan than the
// rest of the transaction to run. The pairs' pending rows cannot change
// meanwhile but by another recorder: publishers wait for the
// event_sequence lock the recorder holds, and a person's deliveries in
// order have one in flight at a time. Their redeliveries, sent on their
// own, can be recorded by two recorders at once, each picking the same
// next delivery: the updates take only rows still not ready, so it is
// made ready, and leased, once.
func (s *Store) makeReady(ctx context.Context, pairs [][2]string, lease *directory.DeliveryLease) ([]directory.WebhookDelivery, error) {
	type first struct {
		id    string
		seq   int64
		due   time.Time
		ready bool
	}
	want := map[[2]string]*first{}
	hooks, subjects := map[string]bool{}, map[string]bool{}
	for _, p := range pairs {
		want[p] = &first{}
		hooks[p[0]], subjects[p[1]] = true, true
	}
	hookIDs := slices.Sorted(maps.Keys(hooks))
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(subjects)), 500) {
		q, args, err := sqlx.In(`SELECT id, webhook_id, subject, seq, ready, next_attempt_at FROM webhook_deliveries
			WHERE status = 'pending' AND `+inOrder+` AND webhook_id IN (?) AND subject IN (?)`, hookIDs, chunk)
		if err != nil {
			return nil, fmt.Errorf("find pending deliveries: %w", err)
		}
		var rows []struct {
			ID            string    `db:"id"`
			WebhookID     string    `db:"webhook_id"`
			Subject       string    `db:"subject"`
			Seq           int64     `db:"seq"`
			Ready         bool      `db:"ready"`
			NextAttemptAt time.Time `db:"next_attempt_at"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
			return nil, s.dialect.wrap(err, "find pending deliveries")
		}
		for _, r := range rows {
			f := want[[2]string{r.WebhookID, r.Subject}]
			switch {
			case f == nil: // a pair not asked about (webhook and subject each were)
			case r.Ready:
				f.ready = true
			case f.id == "" || r.Seq < f.seq:
				f.id, f.seq, f.due = r.ID, r.Seq, r.NextAttemptAt
			}
		}
	}
	// Which to lease: in the order of the feed, while the lease has room.
	var firsts []*first
	webhookOf := map[string]string{}
	for p, f := range want {
		if !f.ready && f.id != "" {
			firsts = append(firsts, f)
			webhookOf[f.id] = p[0]
		}
	}
	slices.SortFunc(firsts, func(a, b *first) int { return cmp.Compare(a.seq, b.seq) })
	webhooks := map[string]directory.Webhook{}
	var ready, take []string
	for _, f := range firsts {
		if lease != nil && lease.Room > 0 && !f.due.After(lease.Now) {
			id := webhookOf[f.id]
			w, ok := webhooks[id]
			if !ok {
				var err error
				w, err = s.FindWebhook(ctx, id)
				if directory.KindOf(err) == directory.NotFound {
					// Removed meanwhile: its deliveries go with it.
					w.DisabledAt = &lease.Now
				} else if err != nil {
					return nil, err
				}
				webhooks[id] = w
			}
			if lease.Take(w) {
				take = append(take, f.id)
				continue
			}
		}
		ready = append(ready, f.id)
	}
	// Concurrent recorders lock rows in the same order.
	slices.Sort(ready)
	slices.Sort(take)
	for chunk := range slices.Chunk(ready, 500) {
		q, args, err := sqlx.In(`UPDATE webhook_deliveries SET ready = TRUE, detached = FALSE WHERE status = 'pending' AND NOT ready AND id IN (?)`, chunk)
		if err != nil {
			return nil, fmt.Errorf("make deliveries ready: %w", err)
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(q), args...); err != nil {
			return nil, s.dialect.wrap(err, "make deliveries ready")
		}
	}
	var leased []deliveryRow
	for chunk := range slices.Chunk(take, 500) {
		q, args, err := sqlx.In(`UPDATE webhook_deliveries SET ready = TRUE, detached = FALSE, locked_until = ?, attempts = attempts + 1
			WHERE status = 'pending' AND NOT ready AND id IN (?) RETURNING `+deliveryColumns, lease.Until, chunk)
		if err != nil {
			return nil, fmt.Errorf("lease deliveries: %w", err)
		}
		var rows []deliveryRow
		if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
			return nil, s.dialect.wrap(err, "lease deliveries")
		}
		leased = append(leased, rows...)
	}
	if len(leased) == 0 {
		return nil, nil // lease may be nil
	}
	return s.toSend(ctx, leased, webhooks, lease.Until)
}

// toSend returns deliveries leased until until with what to send: their
// events and webhooks (found here unless in webhooks).
func (s *Store) toSend(ctx context.Context, rows []deliveryRow, webhooks map[string]directory.Webhook, until time.Time) ([]directory.WebhookDelivery, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	slices.SortFunc(rows, func(a, b deliveryRow) int { return cmp.Compare(a.Seq, b.Seq) })
	events := make([]string, len(rows))
	for i, r := range rows {
		events[i] = r.EventID
	}
	type event struct {
		ID        string    `db:"id"`
		Payload   []byte    `db:"payload"`
		CreatedAt time.Time `db:"created_at"`
	}
	byID := make(map[string]event, len(rows))
	for chunk := range slices.Chunk(events, 500) {
		q, args, err := sqlx.In(`SELECT id, payload, created_at FROM outbox_messages WHERE id IN (?)`, chunk)
		if err != nil {
			return nil, fmt.Errorf("find event payloads: %w", err)
		}
		var found []event
		if err := sqlx.SelectContext(ctx, s.q, &found, s.rebind(q), args...); err != nil {
			return nil, s.dialect.wrap(err, "find event payloads")
		}
		for _, e := range found {
			byID[e.ID] = e
		}
	}
	out := make([]directory.WebhookDelivery, 0, len(rows))
	for _, r := range rows {
		d := r.delivery()
		e := byID[r.EventID] // none when swept: the attempt says so
		d.Payload, d.EventAt = e.Payload, e.CreatedAt.UTC()
		w, ok := webhooks[r.WebhookID]
		if !ok {
			var err error
			if w, err = s.FindWebhook(ctx, r.WebhookID); err != nil {
				return nil, err
			}
			webhooks[r.WebhookID] = w
		}
		d.Webhook, d.LeasedUntil = w, until
		out = append(out, d)
	}
	return out, nil
}

type deliveryRow struct {
	ID               string       `db:"id"`
	WebhookID        string       `db:"webhook_id"`
	EventID          string       `db:"event_id"`
	Seq              int64        `db:"seq"`
	Subject          string       `db:"subject"`
	Status           string       `db:"status"`
	Attempts         int          `db:"attempts"`
	NextAttemptAt    time.Time    `db:"next_attempt_at"`
	LastStatus       int          `db:"last_status"`
	LastError        string       `db:"last_error"`
	CreatedAt        time.Time    `db:"created_at"`
	FinishedAt       sql.NullTime `db:"finished_at"`
	RedeliveredAt    sql.NullTime `db:"redelivered_at"`
	RedeliveredAfter int          `db:"redelivered_after"`
	// EventType and Ready are read only where deliveries are listed (the
	// outbox's topic; the ready flag): the worker has no use for them.
	EventType string `db:"event_type"`
	Ready     bool   `db:"ready"`
}

const deliveryColumns = `id, webhook_id, event_id, seq, subject, status, attempts, next_attempt_at, last_status, last_error, created_at, finished_at, redelivered_at, redelivered_after`

func (r deliveryRow) delivery() directory.WebhookDelivery {
	return directory.WebhookDelivery{
		ID: r.ID, WebhookID: r.WebhookID, EventID: r.EventID, Seq: r.Seq, Subject: r.Subject, Status: directory.DeliveryStatus(r.Status),
		Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.UTC(), LastStatus: r.LastStatus, LastError: r.LastError,
		CreatedAt: r.CreatedAt.UTC(), FinishedAt: optionalTime(r.FinishedAt), RedeliveredAt: optionalTime(r.RedeliveredAt),
		RedeliveredAfter: r.RedeliveredAfter, EventType: r.EventType, Ready: r.Ready,
	}
}

// ClaimWebhookDeliveries leases due deliveries; see directory.WebhookStore.
// On PostgreSQL, FOR UPDATE SKIP LOCKED lets the workers of several
// replicas claim at once without taking each other's rows, as the mail
// workers do; SQLite's single writer keeps claims apart. Only ready
// deliveries are claimed, the first pending one of each webhook and
// subject: that is what keeps a person's events in order. (Testing "no
// earlier one is pending" here instead made every claim cost a probe per
// pending delivery, and a quadratic anti-join on PostgreSQL before its
// statistics caught up with a burst.) Disabled webhooks are a NOT IN
// subquery and those the lease passes over a list, rather than a join, so
// the walk stays on the ready index. Which of the due deliveries fit in the lease
// is decided here, in the order of the feed: one webhook's backlog must
// not fill a worker (the lease bounds each webhook's share), and the due
// rows it locks and leaves are free again at commit.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, limit int, lease *directory.DeliveryLease) ([]directory.WebhookDelivery, error) {
	var out []directory.WebhookDelivery
	err := s.within(ctx, func(s *Store) error {
		out = nil
		lease := lease.Clone() // a transaction tried again starts afresh
		var skip []string
		for id := range lease.Skip {
			skip = append(skip, id)
		}
		for id, n := range lease.Held {
			if n >= lease.PerWebhook {
				skip = append(skip, id)
			}
		}
		// A look at the first limit due deliveries; when the lease's
		// share of a webhook fills up in it, the webhook is passed over
		// and the look goes on past it (a few times at most), so that one
		// endpoint's backlog does not hide the others' due deliveries.
		var take []string
		seen, accountOf := map[string]bool{}, map[string]string{}
		for look := 0; look < 4 && lease.Room > 0; look++ {
			args := []any{lease.Now, lease.Now, lease.Now}
			// Disabled and paused webhooks are a subquery, which
			// PostgreSQL runs once as a hashed filter: a list of them grew
			// with every endpoint an account left disabled, to past the
			// parameters a statement may carry.
			skipping := ` AND webhook_id NOT IN (SELECT id FROM webhooks WHERE disabled_at IS NOT NULL OR paused_until > ?)`
			if len(skip) > 0 {
				skipping += ` AND webhook_id NOT IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(skip)), ", ") + `)`
				for _, id := range skip {
					args = append(args, id)
				}
			}
			args = append(args, limit)
			var due []dueRow
			err := sqlx.SelectContext(ctx, s.q, &due, s.rebind(`SELECT id, webhook_id FROM webhook_deliveries
				WHERE status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)`+skipping+`
				AND ready
				ORDER BY seq LIMIT ?`+s.dialect.skipLocked), args...)
			if err != nil {
				return s.dialect.wrap(err, "find due webhook deliveries")
			}
			if err := s.accountsOf(ctx, due, accountOf); err != nil {
				return err
			}
			full := map[string]bool{}
			for _, d := range due {
				if seen[d.ID] {
					continue // this transaction's own lock: an earlier look took it
				}
				seen[d.ID] = true
				w := directory.Webhook{ID: d.WebhookID, AccountID: accountOf[d.WebhookID]}
				if lease.Take(w) {
					take = append(take, d.ID)
				} else if lease.Room > 0 && lease.Full(w) {
					full[d.WebhookID] = true
				}
			}
			if len(due) < limit || len(full) == 0 {
				break // everything due was seen, or nothing passed over
			}
			for id := range full {
				skip = append(skip, id)
			}
		}
		slices.Sort(take) // concurrent writers lock rows in the same order
		var rows []deliveryRow
		for chunk := range slices.Chunk(take, 500) {
			q, args, err := sqlx.In(`UPDATE webhook_deliveries SET locked_until = ?, attempts = attempts + 1
				WHERE id IN (?) RETURNING `+deliveryColumns, lease.Until, chunk)
			if err != nil {
				return fmt.Errorf("claim webhook deliveries: %w", err)
			}
			var part []deliveryRow
			if err := sqlx.SelectContext(ctx, s.q, &part, s.rebind(q), args...); err != nil {
				return s.dialect.wrap(err, "claim webhook deliveries")
			}
			rows = append(rows, part...)
		}
		var err error
		out, err = s.toSend(ctx, rows, map[string]directory.Webhook{}, lease.Until)
		return err
	})
	return out, err
}

// dueRow is a due delivery a claim looks at.
type dueRow struct {
	ID        string `db:"id"`
	WebhookID string `db:"webhook_id"`
}

// accountsOf adds the accounts of the webhooks of due that accountOf
// lacks ("" for a platform-wide one): what a lease's share of an account
// counts.
func (s *Store) accountsOf(ctx context.Context, due []dueRow, accountOf map[string]string) error {
	var ids []string
	for _, d := range due {
		if _, ok := accountOf[d.WebhookID]; !ok && !slices.Contains(ids, d.WebhookID) {
			ids = append(ids, d.WebhookID)
		}
	}
	for chunk := range slices.Chunk(ids, 500) {
		q, args, err := sqlx.In(`SELECT id, account_id FROM webhooks WHERE id IN (?)`, chunk)
		if err != nil {
			return fmt.Errorf("find the accounts of webhooks: %w", err)
		}
		var rows []struct {
			ID        string         `db:"id"`
			AccountID sql.NullString `db:"account_id"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
			return s.dialect.wrap(err, "find the accounts of webhooks")
		}
		for _, r := range rows {
			accountOf[r.ID] = r.AccountID.String
		}
	}
	return nil
}

// FindStoppedWebhooks returns those of ids that are disabled or no longer
// exist, and until when the others asked to be left alone (those that
// did); see directory.WebhookStore.
func (s *Store) FindStoppedWebhooks(ctx context.Context, ids []string) ([]string, map[string]time.Time, error) {
	enabled, paused := map[string]bool{}, map[string]time.Time{}
	for chunk := range slices.Chunk(ids, 500) {
		q, args, err := sqlx.In(`SELECT id, paused_until FROM webhooks WHERE disabled_at IS NULL AND id IN (?)`, chunk)
		if err != nil {
			return nil, nil, fmt.Errorf("find enabled webhooks: %w", err)
		}
		var found []struct {
			ID          string       `db:"id"`
			PausedUntil sql.NullTime `db:"paused_until"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &found, s.rebind(q), args...); err != nil {
			return nil, nil, s.dialect.wrap(err, "find enabled webhooks")
		}
		for _, f := range found {
			enabled[f.ID] = true
			if f.PausedUntil.Valid {
				paused[f.ID] = f.PausedUntil.Time
			}
		}
	}
	var stopped []string
	for _, id := range ids {
		if !enabled[id] {
			stopped = append(stopped, id)
		}
	}
	return stopped, paused, nil
}

// FinishWebhookDeliveries records attempts and where their deliveries
// stand. Only the holder of a delivery's latest claim sets its status (each
// claim counts an attempt): an attempt that outlived its lease, while
// another worker claimed the delivery again, is logged but must not undo
// what the newer attempt recorded. Successes, the common case, are
// finished many to a statement and the attempts inserted many to a
// statement: a batch costs a few round trips, not a few per delivery.
func (s *Store) FinishWebhookDeliveries(ctx context.Context, ds []directory.WebhookDelivery, as []directory.WebhookAttempt, lease *directory.DeliveryLease) ([]directory.WebhookDelivery, error) {
	const chunk = 200
	var leased []directory.WebhookDelivery
	err := s.within(ctx, func(s *Store) error {
		leased = nil
		// Held until commit: a publisher deciding whether a new delivery
		// is ready waits for this transaction's makeReady (see
		// PublishEvents), and this one for its inserts.
		if s.dialect.forShare != "" {
			if _, err := s.q.ExecContext(ctx, `SELECT last FROM event_sequence WHERE id = 1`+s.dialect.forShare); err != nil {
				return s.dialect.wrap(err, "lock event sequence")
			}
		}
		// Successes are grouped by what they set and by the attempt
		// (almost always the first): one IN list of ids a statement,
		// which PostgreSQL plans in no time, where (id, attempts) row
		// values took it milliseconds a statement.
		type group struct {
			status, attempts int
			at               time.Time
		}
		delivered := map[group][]string{}
		for _, d := range ds {
			if d.Status == directory.DeliveryDelivered && d.FinishedAt != nil {
				g := group{d.LastStatus, d.Attempts, *d.FinishedAt}
				delivered[g] = append(delivered[g], d.ID)
				continue
			}
			_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status = ?, last_error = ?, finished_at = ?, locked_until = NULL
				WHERE id = ? AND attempts = ? AND status = 'pending'`),
				string(d.Status), d.NextAttemptAt, d.LastStatus, d.LastError, nullTime(d.FinishedAt), d.ID, d.Attempts)
			if err != nil {
				return s.dialect.wrap(err, "finish webhook delivery")
			}
		}
		for g, ids := range delivered {
			for part := range slices.Chunk(ids, chunk) {
				q, args, err := sqlx.In(`UPDATE webhook_deliveries SET status = 'delivered', last_status = ?, last_error = '', finished_at = ?, locked_until = NULL
					WHERE status = 'pending' AND attempts = ? AND id IN (?)`, g.status, g.at, g.attempts, part)
				if err != nil {
					return fmt.Errorf("finish webhook deliveries: %w", err)
				}
				if _, err := s.q.ExecContext(ctx, s.rebind(q), args...); err != nil {
					return s.dialect.wrap(err, "finish webhook deliveries")
				}
			}
		}
		// A delivery removed with its webhook while in flight has nothing
		// to log the attempt on.
		left := map[string]bool{}
		for i := 0; i < len(ds); i += chunk {
			ids := make([]string, 0, chunk)
			for _, d := range ds[i:min(i+chunk, len(ds))] {
				ids = append(ids, d.ID)
			}
			q, args, err := sqlx.In(`SELECT id FROM webhook_deliveries WHERE id IN (?)`, ids)
			if err != nil {
				return fmt.Errorf("find webhook deliveries: %w", err)
			}
			var found []string
			if err := sqlx.SelectContext(ctx, s.q, &found, s.rebind(q), args...); err != nil {
				return s.dialect.wrap(err, "find webhook deliveries")
			}
			for _, id := range found {
				left[id] = true
			}
		}
		var rows []any
		for _, a := range as {
			if left[a.DeliveryID] {
				rows = append(rows, a.ID, a.DeliveryID, a.At, a.Status, a.Error, a.Duration.Milliseconds())
			}
		}
		for len(rows) > 0 {
			n := min(len(rows), 6*chunk)
			marks := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?), ", n/6), ", ")
			if _, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhook_attempts (id, delivery_id, at, status, error, duration_ms) VALUES `+marks), rows[:n]...); err != nil {
				return s.dialect.wrap(err, "record webhook attempts")
			}
			rows = rows[n:]
		}
		var done [][2]string
		for _, d := range ds {
			if d.Status != directory.DeliveryPending {
				done = append(done, [2]string{d.WebhookID, d.Subject})
			}
		}
		if len(done) == 0 {
			return nil
		}
		var err error
		leased, err = s.makeReady(ctx, done, lease.Clone())
		return err
	})
	return leased, err
}

// ReleaseWebhookDeliveries ends the leases of deliveries given back
// unsent; see directory.WebhookStore.
func (s *Store) ReleaseWebhookDeliveries(ctx context.Context, ds []directory.WebhookDelivery) error {
	byAttempts := map[int][]string{}
	for _, d := range ds {
		byAttempts[d.Attempts] = append(byAttempts[d.Attempts], d.ID)
	}
	for attempts, ids := range byAttempts {
		for chunk := range slices.Chunk(ids, 500) {
			// A delivery claimed again since its lease ran out is the
			// newer claim's: its count is what that claim's result is
			// recorded against.
			q, args, err := sqlx.In(`UPDATE webhook_deliveries SET locked_until = NULL, attempts = attempts - 1
				WHERE status = 'pending' AND attempts = ? AND id IN (?)`, attempts, chunk)
			if err != nil {
				return fmt.Errorf("release webhook deliveries: %w", err)
			}
			if _, err := s.q.ExecContext(ctx, s.rebind(q), args...); err != nil {
				return s.dialect.wrap(err, "release webhook deliveries")
			}
		}
	}
	return nil
}

// RedeliverWebhookDelivery makes a delivery pending and due at once. It
// keeps its created_at, which the sweep goes by, and notes when it was
// sent again, which its retries run from. One whose event was swept (its
// own sweep is moments behind) has nothing to send, and is refused.
func (s *Store) RedeliverWebhookDelivery(ctx context.Context, id string, now time.Time) (directory.WebhookDelivery, error) {
	var r deliveryRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`UPDATE webhook_deliveries SET status = 'pending', ready = TRUE, detached = TRUE, next_attempt_at = ?, redelivered_at = ?, redelivered_after = attempts, finished_at = NULL, locked_until = NULL
		WHERE id = ? AND status <> 'pending' AND EXISTS (SELECT 1 FROM outbox_messages o WHERE o.id = webhook_deliveries.event_id)
		RETURNING `+deliveryColumns), now, now, id)
	if err = s.dialect.wrap(err, "redeliver"); directory.KindOf(err) == directory.NotFound {
		d, err := s.FindWebhookDelivery(ctx, id)
		if err != nil {
			return directory.WebhookDelivery{}, err
		}
		// Which of the two it was, asked of the event rather than of the
		// status: a pending delivery may have been sent since the UPDATE.
		var kept bool
		if err := sqlx.GetContext(ctx, s.q, &kept, s.rebind(`SELECT EXISTS (SELECT 1 FROM outbox_messages WHERE id = ?)`), d.EventID); err != nil {
			return directory.WebhookDelivery{}, s.dialect.wrap(err, "find the delivery's event")
		}
		if !kept {
			return directory.WebhookDelivery{}, directory.ConflictError(fmt.Sprintf("webhook delivery %s cannot be sent again: its event is older than the retention and no longer kept", id))
		}
		return directory.WebhookDelivery{}, directory.ConflictError(fmt.Sprintf("webhook delivery %s is still to be sent: it goes out on its own, after the earlier events about its person", id))
	}
	if err != nil {
		return directory.WebhookDelivery{}, err
	}
	return r.delivery(), nil
}

// RecoverWebhookDeliveries makes the webhook's deliveries given up since
// since pending again, none of them ready; see directory.WebhookStore.
// It is one statement, whatever their number, and takes no lock but
// their rows: what else runs goes on meanwhile.
func (s *Store) RecoverWebhookDeliveries(ctx context.Context, webhookID string, since, now time.Time) ([]string, error) {
	var subjects []string
	err := sqlx.SelectContext(ctx, s.q, &subjects, s.rebind(`UPDATE webhook_deliveries
		SET status = 'pending', ready = FALSE, detached = FALSE, next_attempt_at = ?, redelivered_at = ?, redelivered_after = attempts, finished_at = NULL, locked_until = NULL
		WHERE webhook_id = ? AND status = 'failed' AND finished_at >= ?
		AND EXISTS (SELECT 1 FROM outbox_messages o WHERE o.id = webhook_deliveries.event_id)
		RETURNING subject`), now, now, webhookID, since.UTC())
	return subjects, s.dialect.wrap(err, "recover webhook deliveries")
}

// AnalyzeDeliveries has PostgreSQL read its statistics of deliveries and
// events again (SQLite keeps none): after a burst, until autovacuum
// analyzes them (which on a large table waits for a tenth of it to
// change: hours or days, or never with autovacuum off), statistics read
// before it say no delivery is pending, and every statement looking for
// pending ones walks them all (BenchmarkRecordAfterBurst: recording 200
// results among 100,000 pending took 165 ms instead of 28).
func (s *Store) AnalyzeDeliveries(ctx context.Context) error {
	if s.Dialect() != "postgres" {
		return nil
	}
	_, err := s.q.ExecContext(ctx, `ANALYZE webhook_deliveries, outbox_messages`)
	return s.dialect.wrap(err, "analyze deliveries")
}

// MakeDeliveriesReady makes ready the first pending delivery of the
// webhook about each of subjects that has no ready one, 500 subjects a
// transaction (which holds publishers up for tens of milliseconds). Each takes the event sequence's lock as a
// publisher does, so that no recorder finishing a delivery about one of
// them commits meanwhile: it would look for the next pending one without
// seeing what this makes ready, this without seeing that it finished,
// and neither would make the next one ready.
func (s *Store) MakeDeliveriesReady(ctx context.Context, webhookID string, subjects []string) error {
	// Deliveries of a thousand people or more made pending at once leave
	// PostgreSQL's statistics saying there are none: it then looked
	// through every pending delivery of the webhook for each chunk (a
	// tenth of a second each, with publishers waiting, for 100,000
	// recovered), where with them counted it finds a chunk's in a
	// millisecond.
	if len(subjects) >= 1000 {
		if err := s.AnalyzeDeliveries(ctx); err != nil {
			return err
		}
	}
	for chunk := range slices.Chunk(subjects, 500) {
		err := s.within(ctx, func(s *Store) error {
			if _, err := s.q.ExecContext(ctx, `UPDATE event_sequence SET last = last WHERE id = 1`); err != nil {
				return s.dialect.wrap(err, "lock event sequence")
			}
			pairs := make([][2]string, len(chunk))
			for i, subject := range chunk {
				pairs[i] = [2]string{webhookID, subject}
			}
			_, err := s.makeReady(ctx, pairs, nil)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// FindStrandedSubjects returns, by webhook, the subjects with pending
// deliveries in order none of which is ready: deliveries nothing will
// ever send, as no delivery before them is left to finish. A recovery cut
// short between its two steps leaves them; see directory.WebhookStore. It
// reads every pending delivery once, along the index that orders them,
// with no lock: what a publisher or recorder is committing meanwhile
// waits for the next look (those a sweep frees are made ready under the
// lock, see DeleteEventsBefore).
func (s *Store) FindStrandedSubjects(ctx context.Context) (map[string][]string, error) {
	var rows []struct {
		WebhookID string `db:"webhook_id"`
		Subject   string `db:"subject"`
	}
	err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT webhook_id, subject FROM webhook_deliveries WHERE status = 'pending' AND `+inOrder+`
		GROUP BY webhook_id, subject HAVING MAX(CASE WHEN ready THEN 1 ELSE 0 END) = 0`)
	if err != nil {
		return nil, s.dialect.wrap(err, "find stranded deliveries")
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.WebhookID] = append(out[r.WebhookID], r.Subject)
	}
	return out, nil
}

// FindWebhookDelivery returns one delivery.
func (s *Store) FindWebhookDelivery(ctx context.Context, id string) (directory.WebhookDelivery, error) {
	var r deliveryRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = ?`), id); err != nil {
		err = s.dialect.wrap(err, "find webhook delivery")
		if directory.KindOf(err) == directory.NotFound {
			return directory.WebhookDelivery{}, directory.NotFoundError(fmt.Sprintf("no webhook delivery %s", id))
		}
		return directory.WebhookDelivery{}, err
	}
	return r.delivery(), nil
}

// FindWebhookDeliveries returns the webhook's newest deliveries first.
func (s *Store) FindWebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]directory.WebhookDelivery, error) {
	var rows []deliveryRow
	// With each its event's type: swept with its event, a delivery has one
	// (the LEFT JOIN only spares a listing racing the sweep). Newest first
	// by the event's id, which is time-ordered (UUIDv7): the walk is then
	// the (webhook_id, event_id) index's, backwards. By seq, PostgreSQL
	// read and sorted every delivery of the webhook: 365 ms for a page of
	// 50 of 400,000, a month of a busy account's.
	q := `SELECT d.` + strings.ReplaceAll(deliveryColumns, ", ", ", d.") + `, d.ready, COALESCE(o.topic, '') AS event_type
		FROM webhook_deliveries d LEFT JOIN outbox_messages o ON o.id = d.event_id
		WHERE d.webhook_id = ? ORDER BY d.event_id DESC LIMIT ?`
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), webhookID, limit); err != nil {
		return nil, s.dialect.wrap(err, "find webhook deliveries")
	}
	out := make([]directory.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// FindWebhookAttempts returns a delivery's attempts, oldest first: the
// newest limit of them, or all when limit is 0.
func (s *Store) FindWebhookAttempts(ctx context.Context, deliveryID string, limit int) ([]directory.WebhookAttempt, error) {
	var rows []struct {
		ID         string    `db:"id"`
		DeliveryID string    `db:"delivery_id"`
		At         time.Time `db:"at"`
		Status     int       `db:"status"`
		Error      string    `db:"error"`
		DurationMS int64     `db:"duration_ms"`
	}
	if limit <= 0 {
		limit = math.MaxInt32 // all: the dialects spell "no limit" differently
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT id, delivery_id, at, status, error, duration_ms FROM (
			SELECT id, delivery_id, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY at DESC, id DESC LIMIT ?) newest
		ORDER BY at, id`), deliveryID, limit); err != nil {
		return nil, s.dialect.wrap(err, "find webhook attempts")
	}
	out := make([]directory.WebhookAttempt, len(rows))
	for i, r := range rows {
		out[i] = directory.WebhookAttempt{ID: r.ID, DeliveryID: r.DeliveryID, At: r.At.UTC(), Status: r.Status, Error: r.Error, Duration: time.Duration(r.DurationMS) * time.Millisecond}
	}
	return out, nil
}

// CreateWebhookTest keeps a test event sent to a webhook, and forgets the
// webhook's older ones beyond the newest keep; see directory.WebhookStore.
func (s *Store) CreateWebhookTest(ctx context.Context, t directory.WebhookTestRecord, keep int) error {
	return s.within(ctx, func(s *Store) error {
		if _, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhook_tests (event_id, webhook_id, sent_at, sent_by) VALUES (?, ?, ?, ?)`),
			t.EventID, t.WebhookID, t.SentAt, t.SentBy); err != nil {
			return s.dialect.wrap(err, "keep test event")
		}
		_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM webhook_tests WHERE webhook_id = ? AND event_id NOT IN (
				SELECT event_id FROM webhook_tests WHERE webhook_id = ? ORDER BY sent_at DESC, event_id DESC LIMIT ?)`), t.WebhookID, t.WebhookID, keep)
		return s.dialect.wrap(err, "forget old test events")
	})
}

// FinishWebhookTest records how a kept test event went.
func (s *Store) FinishWebhookTest(ctx context.Context, t directory.WebhookTestRecord) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhook_tests SET finished = TRUE, status = ?, error = ?, duration_ms = ? WHERE event_id = ?`),
		t.Status, t.Error, t.Duration.Milliseconds(), t.EventID)
	return s.dialect.wrap(err, "record how a test event went")
}

// FindWebhookTests returns the webhook's newest kept test events, newest
// first.
func (s *Store) FindWebhookTests(ctx context.Context, webhookID string, limit int) ([]directory.WebhookTestRecord, error) {
	var rows []struct {
		EventID    string    `db:"event_id"`
		WebhookID  string    `db:"webhook_id"`
		SentAt     time.Time `db:"sent_at"`
		SentBy     string    `db:"sent_by"`
		Finished   bool      `db:"finished"`
		Status     int       `db:"status"`
		Error      string    `db:"error"`
		DurationMS int64     `db:"duration_ms"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT event_id, webhook_id, sent_at, sent_by, finished, status, error, duration_ms
		FROM webhook_tests WHERE webhook_id = ? ORDER BY sent_at DESC, event_id DESC LIMIT ?`), webhookID, limit); err != nil {
		return nil, s.dialect.wrap(err, "find test events")
	}
	out := make([]directory.WebhookTestRecord, len(rows))
	for i, r := range rows {
		out[i] = directory.WebhookTestRecord{EventID: r.EventID, WebhookID: r.WebhookID, SentAt: r.SentAt.UTC(), SentBy: r.SentBy, Finished: r.Finished,
			Status: r.Status, Error: r.Error, Duration: time.Duration(r.DurationMS) * time.Millisecond}
	}
	return out, nil
}

// FindAdminEmails returns the addresses of the account's active owners and
// admins.
func (s *Store) FindAdminEmails(ctx context.Context, accountID string) ([]string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, s.q, &out, s.rebind(`SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.account_id = ? AND m.role IN ('owner', 'admin') AND m.status = 'active' ORDER BY u.email`), accountID)
	return out, s.dialect.wrap(err, "find admin emails")
}

// FindEventBounds returns the last number the feed gave and how far
// accountID's events (every account's, when empty) have been swept; see
// directory.WebhookStore.
func (s *Store) FindEventBounds(ctx context.Context, accountID string) (last, sweptThrough int64, err error) {
	var b struct {
		Last  int64 `db:"last"`
		Swept int64 `db:"swept"`
	}
	q, args := `SELECT last, COALESCE((SELECT MAX(swept_through) FROM event_sweeps), 0) AS swept FROM event_sequence WHERE id = 1`, []any{}
	if accountID != "" {
		q, args = `SELECT last, COALESCE((SELECT swept_through FROM event_sweeps WHERE account_id = ?), 0) AS swept FROM event_sequence WHERE id = 1`, []any{accountID}
	}
	if err := sqlx.GetContext(ctx, s.q, &b, s.rebind(q), args...); err != nil {
		return 0, 0, s.dialect.wrap(err, "find the bounds of the events feed")
	}
	return b.Last, b.Swept, nil
}

// FindOldestUnpublishedEvent returns when the oldest unpublished event
// was made; see directory.WebhookStore. The partial index on available_at
// (which an event is made with) answers it from its first entry.
func (s *Store) FindOldestUnpublishedEvent(ctx context.Context) (*time.Time, error) {
	// Not MIN(available_at): SQLite gives an aggregate no column type,
	// and its answer back as text.
	var oldest time.Time
	err := sqlx.GetContext(ctx, s.q, &oldest, `SELECT available_at FROM outbox_messages WHERE delivered_at IS NULL ORDER BY available_at LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.dialect.wrap(err, "find the oldest unpublished event")
	}
	oldest = oldest.UTC()
	return &oldest, nil
}

// FindEvents returns published events after seq, in order.
func (s *Store) FindEvents(ctx context.Context, accountID string, after int64, limit int) ([]directory.Event, error) {
	var rows []struct {
		Seq     int64  `db:"seq"`
		Subject string `db:"subject"`
		Payload []byte `db:"payload"`
	}
	q, args := `SELECT seq, subject, payload FROM outbox_messages WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, limit}
	if accountID != "" {
		q, args = `SELECT seq, subject, payload FROM outbox_messages WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{accountID, after, limit}
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
		return nil, s.dialect.wrap(err, "find events")
	}
	out := make([]directory.Event, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Payload, &out[i]); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", r.Seq, err)
		}
		out[i].Seq, out[i].Subject = r.Seq, r.Subject
	}
	return out, nil
}

// DeleteEventsBefore deletes deliveries (with their attempts) and
// published events made before t. It returns how many rows went and, by
// webhook, the subjects whose pending deliveries in order it deleted: the
// first of a person's may have gone, and the next must be made ready.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, map[string][]string, error) {
	var n int64
	var freed map[string][]string
	err := s.within(ctx, func(s *Store) error {
		n = 0
		var pairs []struct {
			WebhookID string `db:"webhook_id"`
			Subject   string `db:"subject"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &pairs, s.rebind(`SELECT DISTINCT webhook_id, subject FROM webhook_deliveries
			WHERE created_at < ? AND status = 'pending' AND `+inOrder), t); err != nil {
			return s.dialect.wrap(err, "find old pending deliveries")
		}
		freed = map[string][]string{}
		for _, p := range pairs {
			freed[p.WebhookID] = append(freed[p.WebhookID], p.Subject)
		}
		res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM webhook_deliveries WHERE created_at < ?`), t)
		if err != nil {
			return s.dialect.wrap(err, "delete old deliveries")
		}
		m, _ := res.RowsAffected()
		n += m
		// How far each account's events are swept, from the very rows
		// deleted: on PostgreSQL in the statement that deletes them (an
		// event published between two statements would go uncounted);
		// SQLite's writer holds its lock from the first statement to the
		// commit.
		const upsert = ` ON CONFLICT (account_id) DO UPDATE SET swept_through =
			CASE WHEN excluded.swept_through > event_sweeps.swept_through THEN excluded.swept_through ELSE event_sweeps.swept_through END`
		if s.Dialect() == "postgres" {
			if err := sqlx.GetContext(ctx, s.q, &m, s.rebind(`WITH gone AS (DELETE FROM outbox_messages WHERE created_at < ? AND seq IS NOT NULL RETURNING account_id, seq),
				noted AS (INSERT INTO event_sweeps (account_id, swept_through) SELECT account_id, MAX(seq) FROM gone GROUP BY account_id`+upsert+`)
				SELECT COUNT(*) FROM gone`), t); err != nil {
				return s.dialect.wrap(err, "delete old events")
			}
		} else {
			if _, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO event_sweeps (account_id, swept_through)
				SELECT account_id, MAX(seq) FROM outbox_messages WHERE created_at < ? AND seq IS NOT NULL GROUP BY account_id`+upsert), t); err != nil {
				return s.dialect.wrap(err, "note how far events are swept")
			}
			if res, err = s.q.ExecContext(ctx, s.rebind(`DELETE FROM outbox_messages WHERE created_at < ? AND seq IS NOT NULL`), t); err != nil {
				return s.dialect.wrap(err, "delete old events")
			}
			m, _ = res.RowsAffected()
		}
		n += m
		return nil
	})
	return n, freed, err
}
