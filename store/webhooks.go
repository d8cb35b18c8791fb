package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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
	DisabledAt     sql.NullTime   `db:"disabled_at"`
	DisabledReason string         `db:"disabled_reason"`
	FailingSince   sql.NullTime   `db:"failing_since"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

const webhookColumns = `id, account_id, url, event_types, secret, previous_secret, previous_until, disabled_at, disabled_reason, failing_since, created_at, updated_at`

func (r webhookRow) webhook() directory.Webhook {
	w := directory.Webhook{
		ID: r.ID, AccountID: r.AccountID.String, URL: r.URL, Secret: r.Secret, PreviousSecret: r.PreviousSecret,
		PreviousUntil: optionalTime(r.PreviousUntil), DisabledAt: optionalTime(r.DisabledAt), DisabledReason: r.DisabledReason,
		FailingSince: optionalTime(r.FailingSince), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.EventTypes != "" {
		w.EventTypes = strings.Split(r.EventTypes, ",")
	}
	return w
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}

// CreateWebhook stores a webhook.
func (s *Store) CreateWebhook(ctx context.Context, w directory.Webhook) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhooks (id, account_id, url, event_types, secret, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), w.ID, nullString(w.AccountID), w.URL, strings.Join(w.EventTypes, ","), w.Secret, w.CreatedAt, w.UpdatedAt)
	return s.dialect.wrap(err, "insert webhook")
}

// FindWebhook returns one webhook.
func (s *Store) FindWebhook(ctx context.Context, id string) (directory.Webhook, error) {
	var r webhookRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`), id); err != nil {
		err = s.dialect.wrap(err, "find webhook")
		if directory.KindOf(err) == directory.NotFound {
			return directory.Webhook{}, directory.NotFoundError(fmt.Sprintf("no webhook %s", id))
		}
		return directory.Webhook{}, err
	}
	return r.webhook(), nil
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
		out[i] = r.webhook()
	}
	return out, nil
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
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET secret = ?, previous_secret = ?, previous_until = ?, updated_at = ? WHERE id = ?`),
		w.Secret, w.PreviousSecret, nullTime(w.PreviousUntil), w.UpdatedAt, w.ID)
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

// EnableWebhook clears the webhook's disabling and failures.
func (s *Store) EnableWebhook(ctx context.Context, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhooks SET disabled_at = NULL, disabled_reason = '', failing_since = NULL WHERE id = ?`), id)
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
// a time anyway.
func (s *Store) PublishEvents(ctx context.Context, now time.Time, limit int, newID func() string) (int, error) {
	n := 0
	err := s.within(ctx, func(s *Store) error {
		var last int64
		if err := sqlx.GetContext(ctx, s.q, &last, `UPDATE event_sequence SET last = last WHERE id = 1 RETURNING last`); err != nil {
			return s.dialect.wrap(err, "lock event sequence")
		}
		var msgs []struct {
			ID        string `db:"id"`
			AccountID string `db:"account_id"`
			Topic     string `db:"topic"`
			Subject   string `db:"subject"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &msgs, s.rebind(`SELECT id, account_id, topic, subject FROM outbox_messages
			WHERE delivered_at IS NULL ORDER BY available_at, id LIMIT ?`), limit); err != nil {
			return s.dialect.wrap(err, "find new events")
		}
		if len(msgs) == 0 {
			return nil
		}
		hooks, err := s.FindWebhooks(ctx, "")
		if err != nil {
			return err
		}
		for _, m := range msgs {
			last++
			if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE outbox_messages SET seq = ?, delivered_at = ? WHERE id = ?`), last, now, m.ID); err != nil {
				return s.dialect.wrap(err, "publish event")
			}
			for _, w := range hooks {
				if w.AccountID != "" && w.AccountID != m.AccountID || !w.Wants(m.Topic) {
					continue
				}
				if _, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhook_deliveries (id, webhook_id, event_id, seq, subject, status, next_attempt_at, created_at)
					VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`), newID(), w.ID, m.ID, last, m.Subject, now, now); err != nil {
					return s.dialect.wrap(err, "queue webhook delivery")
				}
			}
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE event_sequence SET last = ? WHERE id = 1`), last); err != nil {
			return s.dialect.wrap(err, "advance event sequence")
		}
		n = len(msgs)
		return nil
	})
	return n, err
}

type deliveryRow struct {
	ID            string       `db:"id"`
	WebhookID     string       `db:"webhook_id"`
	EventID       string       `db:"event_id"`
	Seq           int64        `db:"seq"`
	Subject       string       `db:"subject"`
	Status        string       `db:"status"`
	Attempts      int          `db:"attempts"`
	NextAttemptAt time.Time    `db:"next_attempt_at"`
	LastStatus    int          `db:"last_status"`
	LastError     string       `db:"last_error"`
	CreatedAt     time.Time    `db:"created_at"`
	FinishedAt    sql.NullTime `db:"finished_at"`
}

const deliveryColumns = `id, webhook_id, event_id, seq, subject, status, attempts, next_attempt_at, last_status, last_error, created_at, finished_at`

func (r deliveryRow) delivery() directory.WebhookDelivery {
	return directory.WebhookDelivery{
		ID: r.ID, WebhookID: r.WebhookID, EventID: r.EventID, Seq: r.Seq, Subject: r.Subject, Status: directory.DeliveryStatus(r.Status),
		Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.UTC(), LastStatus: r.LastStatus, LastError: r.LastError,
		CreatedAt: r.CreatedAt.UTC(), FinishedAt: optionalTime(r.FinishedAt),
	}
}

// ClaimWebhookDeliveries leases due deliveries; see directory.WebhookStore.
// On PostgreSQL, FOR UPDATE SKIP LOCKED lets the workers of several
// replicas claim at once without taking each other's rows, as the mail
// workers do; SQLite's single writer keeps claims apart. A delivery whose
// webhook has an earlier pending one about the same subject waits, leased
// or not: that is what keeps a person's events in order.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now, lockedUntil time.Time, limit int, skip []string) ([]directory.WebhookDelivery, error) {
	var out []directory.WebhookDelivery
	err := s.within(ctx, func(s *Store) error {
		args := []any{lockedUntil, now, now}
		skipping := ""
		if len(skip) > 0 {
			skipping = ` AND d.webhook_id NOT IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(skip)), ", ") + `)`
			for _, id := range skip {
				args = append(args, id)
			}
		}
		args = append(args, limit)
		var rows []deliveryRow
		err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`UPDATE webhook_deliveries SET locked_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT d.id FROM webhook_deliveries d
				WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.locked_until IS NULL OR d.locked_until <= ?)
				AND d.webhook_id IN (SELECT id FROM webhooks WHERE disabled_at IS NULL)`+skipping+`
				AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
					WHERE e.webhook_id = d.webhook_id AND e.subject = d.subject AND e.status = 'pending' AND e.seq < d.seq)
				ORDER BY d.seq LIMIT ?`+s.dialect.skipLocked+`)
			RETURNING `+deliveryColumns), args...)
		if err != nil {
			return s.dialect.wrap(err, "claim webhook deliveries")
		}
		if len(rows) == 0 {
			return nil
		}
		events := make([]string, len(rows))
		for i, r := range rows {
			events[i] = r.EventID
		}
		q, qargs, err := sqlx.In(`SELECT id, payload FROM outbox_messages WHERE id IN (?)`, events)
		if err != nil {
			return fmt.Errorf("find event payloads: %w", err)
		}
		var payloads []struct {
			ID      string `db:"id"`
			Payload []byte `db:"payload"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &payloads, s.rebind(q), qargs...); err != nil {
			return s.dialect.wrap(err, "find event payloads")
		}
		byID := make(map[string][]byte, len(payloads))
		for _, p := range payloads {
			byID[p.ID] = p.Payload
		}
		hooks := map[string]directory.Webhook{}
		for _, r := range rows {
			d := r.delivery()
			d.Payload = byID[r.EventID]
			w, ok := hooks[r.WebhookID]
			if !ok {
				if w, err = s.FindWebhook(ctx, r.WebhookID); err != nil {
					return err
				}
				hooks[r.WebhookID] = w
			}
			d.Webhook = w
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// FinishWebhookDelivery records an attempt and where the delivery stands.
// Only the holder of the latest claim sets the status (each claim counts
// an attempt): an attempt that outlived its lease, while another worker
// claimed the delivery again, is logged but must not undo what the newer
// attempt recorded.
func (s *Store) FinishWebhookDelivery(ctx context.Context, d directory.WebhookDelivery, a directory.WebhookAttempt) error {
	return s.within(ctx, func(s *Store) error {
		_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status = ?, last_error = ?, finished_at = ?, locked_until = NULL
			WHERE id = ? AND attempts = ? AND status = 'pending'`),
			string(d.Status), d.NextAttemptAt, d.LastStatus, d.LastError, nullTime(d.FinishedAt), d.ID, d.Attempts)
		if err != nil {
			return s.dialect.wrap(err, "finish webhook delivery")
		}
		// The webhook may have been removed, with its deliveries, while
		// the attempt was in flight: then there is nothing to log it on.
		var n int
		if err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM webhook_deliveries WHERE id = ?`), d.ID); err != nil || n == 0 {
			return s.dialect.wrap(err, "find webhook delivery")
		}
		_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO webhook_attempts (id, delivery_id, at, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)`),
			a.ID, a.DeliveryID, a.At, a.Status, a.Error, a.Duration.Milliseconds())
		return s.dialect.wrap(err, "record webhook attempt")
	})
}

// RedeliverWebhookDelivery makes a delivery pending and due at once, with
// a fresh time to live.
func (s *Store) RedeliverWebhookDelivery(ctx context.Context, id string, now time.Time) (directory.WebhookDelivery, error) {
	var r deliveryRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, created_at = ?, finished_at = NULL, locked_until = NULL
		WHERE id = ? RETURNING `+deliveryColumns), now, now, id)
	if err != nil {
		err = s.dialect.wrap(err, "redeliver")
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
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?`), webhookID, limit); err != nil {
		return nil, s.dialect.wrap(err, "find webhook deliveries")
	}
	out := make([]directory.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery()
	}
	return out, nil
}

// FindWebhookAttempts returns a delivery's attempts, oldest first.
func (s *Store) FindWebhookAttempts(ctx context.Context, deliveryID string) ([]directory.WebhookAttempt, error) {
	var rows []struct {
		ID         string    `db:"id"`
		DeliveryID string    `db:"delivery_id"`
		At         time.Time `db:"at"`
		Status     int       `db:"status"`
		Error      string    `db:"error"`
		DurationMS int64     `db:"duration_ms"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT id, delivery_id, at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ? ORDER BY at, id`), deliveryID); err != nil {
		return nil, s.dialect.wrap(err, "find webhook attempts")
	}
	out := make([]directory.WebhookAttempt, len(rows))
	for i, r := range rows {
		out[i] = directory.WebhookAttempt{ID: r.ID, DeliveryID: r.DeliveryID, At: r.At.UTC(), Status: r.Status, Error: r.Error, Duration: time.Duration(r.DurationMS) * time.Millisecond}
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
// published events made before t.
func (s *Store) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	for _, q := range []string{
		`DELETE FROM webhook_deliveries WHERE created_at < ?`,
		`DELETE FROM outbox_messages WHERE created_at < ? AND seq IS NOT NULL`,
	} {
		res, err := s.q.ExecContext(ctx, s.rebind(q), t)
		if err != nil {
			return n, s.dialect.wrap(err, "delete old events")
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return n, nil
}
