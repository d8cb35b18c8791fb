package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	outbound "github.com/admit-dev/admit/fetch"
)

type webhookJSON struct {
	ID             string   `json:"id"`
	Account        string   `json:"account"` // slug; "" for platform-wide
	URL            string   `json:"url"`
	Events         []string `json:"events"` // empty: every type
	State          string   `json:"state"`  // enabled, failing, disabled
	DisabledReason string   `json:"disabled_reason,omitempty"`
	FailingSince   string   `json:"failing_since,omitempty"`
	PausedUntil    string   `json:"paused_until,omitempty"` // the endpoint asked to be left alone until then
	RotationEnds   string   `json:"previous_secret_until,omitempty"`
	CreatedAt      string   `json:"created_at"`
	Secret         string   `json:"secret,omitempty"` // printed once, by add and rotate-secret
}

func toWebhookJSON(w directory.Webhook, slug string) webhookJSON {
	out := webhookJSON{ID: w.ID, Account: slug, URL: w.URL, Events: w.EventTypes, State: w.State(), DisabledReason: w.DisabledReason, CreatedAt: w.CreatedAt.Format(time.RFC3339)}
	if out.Events == nil {
		out.Events = []string{}
	}
	if w.FailingSince != nil {
		out.FailingSince = w.FailingSince.Format(time.RFC3339)
	}
	if w.Paused(time.Now()) {
		out.PausedUntil = w.PausedUntil.Format(time.RFC3339)
	}
	if until := w.OlderSecretsUntil(time.Now()); until != nil {
		out.RotationEnds = until.Format(time.RFC3339)
	}
	return out
}

// webhookService opens the store for a webhook command; with a slug it
// finds the account too.
func (c *cli) webhookService(ctx context.Context, slug string) (*directory.Service, directory.Account, func(), error) {
	if slug != "" {
		return c.account(ctx, slug)
	}
	svc, done, err := c.service(ctx)
	return svc, directory.Account{}, done, err
}

// slugOf names a webhook's account for printing.
func slugOf(ctx context.Context, svc *directory.Service, accountID string) string {
	if accountID == "" {
		return ""
	}
	if a, err := svc.AccountByID(ctx, accountID); err == nil {
		return a.Slug
	}
	return accountID
}

func (c *cli) webhookAdd(ctx context.Context, args []string) error {
	fs := c.flags("webhook add")
	rawURL := fs.String("url", "", "where events are posted (https://; http:// only to hosts in ADMIT_OUTBOUND_ALLOW)")
	slug := fs.String("account", "", "the account whose events it receives (none: every account's)")
	types := fs.String("events", "", "comma-separated event types it receives (none: all)")
	if err := c.parse(fs, args, "url"); err != nil {
		return err
	}
	eventTypes, err := directory.ParseEventTypes(*types)
	if err != nil {
		return err
	}
	svc, a, done, err := c.webhookService(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	sealer, err := c.sealer()
	if err != nil {
		return err
	}
	secret, seal := events.Secrets{Sealer: sealer}.New()
	w, err := svc.AddWebhook(ctx, c.actor(), directory.NewWebhook{AccountID: a.ID, URL: *rawURL, EventTypes: eventTypes}, seal)
	if err != nil {
		return err
	}
	// Added all the same: the server's allow list and network may differ
	// from this shell's, but an operator who forgot the list hears of it
	// now rather than from failed deliveries a day later.
	if err := c.cfg.Fetch(c.logger(0)).Check(ctx, w.URL); err != nil {
		fmt.Fprintf(c.stderr, "admit: warning: from here, admit would not deliver to %s: %v\n", w.URL, events.Detail(w, err))
	}
	out := toWebhookJSON(w, a.Slug)
	out.Secret = secret
	whose := "every account's events"
	if a.ID != "" {
		whose = a.Slug + "'s events"
	}
	c.output(out, fmt.Sprintf("added webhook %s: %s receives %s, signed as Standard Webhooks\nSigning secret (shown only now; give it to the receiver): %s", w.ID, w.URL, whose, secret))
	return nil
}

func (c *cli) webhookList(ctx context.Context, args []string) error {
	fs := c.flags("webhook list")
	slug := fs.String("account", "", "only this account's webhooks (none: every webhook)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	svc, a, done, err := c.webhookService(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	hooks, err := svc.Webhooks(ctx, a.ID)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(hooks))
	t := newTable("ID", "FOR", "URL", "EVENTS", "STATE")
	for i, w := range hooks {
		out[i] = toWebhookJSON(w, slugOf(ctx, svc, w.AccountID))
		whose, types := out[i].Account, "all events"
		if whose == "" {
			whose = "(platform)"
		}
		if len(w.EventTypes) > 0 {
			types = strings.Join(w.EventTypes, ",")
		}
		state := out[i].State
		if w.DisabledAt != nil {
			state += ": " + w.DisabledReason
		}
		if out[i].PausedUntil != "" {
			state += ", paused until " + out[i].PausedUntil + " (Retry-After)"
		}
		t.add(w.ID, whose, w.URL, types, state)
	}
	if t.len() == 0 {
		c.output(out, "no webhooks")
		return nil
	}
	c.output(out, t.String())
	return nil
}

// withWebhook parses a command that takes --id of a webhook and runs fn.
func (c *cli) withWebhook(ctx context.Context, fs *flag.FlagSet, args []string, fn func(svc *directory.Service, id string) error) error {
	id := fs.String("id", "", "the webhook's id (from webhook list)")
	return c.inService(ctx, fs, args, []string{"id"}, func(svc *directory.Service) error {
		return fn(svc, *id)
	})
}

func (c *cli) webhookRemove(ctx context.Context, args []string) error {
	return c.withWebhook(ctx, c.flags("webhook remove"), args, func(svc *directory.Service, id string) error {
		if err := svc.RemoveWebhook(ctx, c.actor(), id); err != nil {
			return err
		}
		c.output(map[string]string{"id": id}, fmt.Sprintf("removed webhook %s and its deliveries", id))
		return nil
	})
}

func (c *cli) webhookRotateSecret(ctx context.Context, args []string) error {
	fs := c.flags("webhook rotate-secret")
	overlap := fs.Duration("overlap", 24*time.Hour, "how long the old secret keeps signing beside the new one (0 to 168h; older ones keep their own time, never past this; 0 stops them all now)")
	return c.withWebhook(ctx, fs, args, func(svc *directory.Service, id string) error {
		sealer, err := c.sealer()
		if err != nil {
			return err
		}
		secret, seal := events.Secrets{Sealer: sealer}.New()
		w, err := svc.RotateWebhookSecret(ctx, c.actor(), id, *overlap, seal)
		if err != nil {
			return err
		}
		out := toWebhookJSON(w, slugOf(ctx, svc, w.AccountID))
		out.Secret = secret
		text := fmt.Sprintf("new signing secret of webhook %s (shown only now): %s\n", w.ID, secret)
		if out.RotationEnds == "" {
			text += "The old secrets stopped signing now."
		} else {
			text += fmt.Sprintf("Until %s deliveries carry signatures by the new secret and the old ones (each old one until its own overlap ends); give the receiver the new one before then.", out.RotationEnds)
		}
		c.output(out, text)
		return nil
	})
}

func (c *cli) webhookEnable(ctx context.Context, args []string) error {
	return c.withWebhook(ctx, c.flags("webhook enable"), args, func(svc *directory.Service, id string) error {
		w, err := svc.EnableWebhook(ctx, c.actor(), id)
		if err != nil {
			return err
		}
		c.output(toWebhookJSON(w, slugOf(ctx, svc, w.AccountID)), fmt.Sprintf("enabled webhook %s: what waited for it is delivered, in order", w.ID))
		return nil
	})
}

// webhookTest sends a test event as the server's workers send
// deliveries: through the operators' client (ADMIT_OUTBOUND_ALLOW), or,
// to an endpoint an account's owners added, to public addresses only.
func (c *cli) webhookTest(ctx context.Context, args []string) error {
	return c.withWebhook(ctx, c.flags("webhook test"), args, func(svc *directory.Service, id string) error {
		sealer, err := c.sealer()
		if err != nil {
			return err
		}
		// The worker's own log line of a failed attempt would say again
		// what the refusal below says.
		log := c.logger(0)
		sender := events.NewWorker(events.Config{Directory: svc, Client: c.cfg.Fetch(log), PublicClient: outbound.New(outbound.Config{Logger: log}), Secrets: sealer})
		t, err := svc.TestWebhook(ctx, c.actor(), id, sender)
		if err != nil {
			return err
		}
		r := t.Result
		out := webhookTestJSON{EventID: t.Event.ID, SentAt: t.Record.SentAt.Format(time.RFC3339), SentBy: t.Record.SentBy, Finished: true,
			Delivered: r.Err == nil, Status: r.Status, DurationMS: r.Took.Milliseconds()}
		if r.Err != nil {
			out.Error = events.Detail(t.Delivery.Webhook, r.Err).Error() // the operators' words: the cause too
			if c.json {
				c.output(out, "")
			}
			return fmt.Errorf("test event %s to %s was not delivered: %s", t.Event.ID, t.Delivery.Webhook.URL, out.Error)
		}
		c.output(out, fmt.Sprintf("test event %s to %s: delivered, the endpoint answered %d in %d ms", t.Event.ID, t.Delivery.Webhook.URL, r.Status, out.DurationMS))
		return nil
	})
}

type webhookTestJSON struct {
	EventID    string `json:"event_id"`
	SentAt     string `json:"sent_at,omitempty"`
	SentBy     string `json:"sent_by,omitempty"`
	Finished   bool   `json:"finished"`
	Delivered  bool   `json:"delivered"`
	Status     int    `json:"status"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// webhookTests lists the test events kept with a webhook, as sent from
// any door.
func (c *cli) webhookTests(ctx context.Context, args []string) error {
	return c.withWebhook(ctx, c.flags("webhook tests"), args, func(svc *directory.Service, id string) error {
		if _, err := svc.Webhook(ctx, id); err != nil {
			return err
		}
		ts, err := svc.WebhookTests(ctx, id, directory.KeptWebhookTests)
		if err != nil {
			return err
		}
		now := time.Now()
		out := make([]webhookTestJSON, len(ts))
		table := newTable("SENT", "EVENT", "BY", "RESULT")
		for i, t := range ts {
			out[i] = webhookTestJSON{EventID: t.EventID, SentAt: t.SentAt.Format(time.RFC3339), SentBy: t.SentBy, Finished: t.Finished,
				Delivered: t.Delivered(), Status: t.Status, Error: t.Reason(now), DurationMS: t.Duration.Milliseconds()}
			result := fmt.Sprintf("delivered: %d in %d ms", t.Status, out[i].DurationMS)
			if !out[i].Delivered {
				result = "not delivered: " + oneLine(out[i].Error)
			}
			table.add(out[i].SentAt, t.EventID, t.SentBy, result)
		}
		if table.len() == 0 {
			c.output(out, "no test events yet")
			return nil
		}
		c.output(out, table.String())
		return nil
	})
}

type webhookDeliveryJSON struct {
	ID        string               `json:"id"`
	EventID   string               `json:"event_id"`
	EventType string               `json:"event_type"`
	Status    string               `json:"status"`
	Attempts  []webhookAttemptJSON `json:"attempts"`
	NextTry   string               `json:"next_attempt_at,omitempty"`
	Waiting   string               `json:"waiting,omitempty"`
	CreatedAt string               `json:"created_at"`
	// RedeliveredAt: when it was last sent again by hand or recovered.
	RedeliveredAt string `json:"redelivered_at,omitempty"`
	LastStatus    int    `json:"last_status"`
	LastError     string `json:"last_error,omitempty"`
}

type webhookAttemptJSON struct {
	At         string `json:"at"`
	Status     int    `json:"status"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

func (c *cli) webhookDeliveries(ctx context.Context, args []string) error {
	fs := c.flags("webhook deliveries")
	limit := limitFlag(fs, 20, 1, 1000, "at most this many deliveries, newest first (1 to 1000)")
	return c.withWebhook(ctx, fs, args, func(svc *directory.Service, id string) error {
		w, err := svc.Webhook(ctx, id)
		if err != nil {
			return err
		}
		ds, err := svc.WebhookDeliveries(ctx, id, *limit)
		if err != nil {
			return err
		}
		out := make([]webhookDeliveryJSON, len(ds))
		var text strings.Builder
		for i, d := range ds {
			attempts, err := svc.WebhookAttempts(ctx, d.ID)
			if err != nil {
				return err
			}
			out[i] = webhookDeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: string(d.Status), Attempts: []webhookAttemptJSON{},
				LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt.Format(time.RFC3339), Waiting: d.Waiting(w, time.Now())}
			if d.Status == directory.DeliveryPending {
				out[i].NextTry = d.NextAttemptAt.Format(time.RFC3339)
			}
			if d.RedeliveredAt != nil {
				out[i].RedeliveredAt = d.RedeliveredAt.Format(time.RFC3339)
			}
			if i == 0 {
				text.WriteString(deliveryColumns("DELIVERY", "EVENT TYPE", "EVENT", "STATUS", "ATTEMPTS", "NEXT") + "\n")
			}
			next := "-"
			switch {
			case out[i].Waiting != "":
				next = out[i].Waiting
			case out[i].NextTry != "":
				next = "at " + out[i].NextTry
			}
			text.WriteString(deliveryColumns(d.ID, d.EventType, d.EventID, string(d.Status), strconv.Itoa(len(attempts)), next) + "\n")
			for _, a := range attempts {
				out[i].Attempts = append(out[i].Attempts, webhookAttemptJSON{a.At.Format(time.RFC3339), a.Status, a.Error, a.Duration.Milliseconds()})
				status := "no answer"
				if a.Status != 0 {
					status = strconv.Itoa(a.Status)
				}
				took := "" // no answer: how long it waited says nothing
				if a.Status != 0 {
					took = fmt.Sprintf("%dms", a.Duration.Milliseconds())
				}
				fmt.Fprintf(&text, "    %s  %-9s %7s  %s\n", a.At.Format(time.RFC3339), status, took, oneLine(a.Error))
			}
		}
		if len(ds) == 0 {
			text.WriteString("no deliveries yet\n")
		}
		c.output(out, strings.TrimSuffix(text.String(), "\n"))
		return nil
	})
}

// deliveryColumns is one line of webhook deliveries, or its header: fixed
// widths (ids are UUIDs), since each delivery's attempts are listed,
// indented, under it.
func deliveryColumns(id, eventType, eventID, status, attempts, next string) string {
	return fmt.Sprintf("%-36s  %-24s %-36s  %-9s  %8s  %s", id, eventType, eventID, status, attempts, next)
}

func (c *cli) webhookRedeliver(ctx context.Context, args []string) error {
	fs := c.flags("webhook redeliver")
	id := fs.String("id", "", "the delivery's id (from webhook deliveries)")
	return c.inService(ctx, fs, args, []string{"id"}, func(svc *directory.Service) error {
		d, err := svc.Redeliver(ctx, *id)
		if err != nil {
			return err
		}
		c.output(map[string]string{"id": d.ID, "event_id": d.EventID, "status": string(d.Status)},
			fmt.Sprintf("delivery %s (event %s) is queued again; the server's workers send it with the same webhook-id", d.ID, d.EventID))
		return nil
	})
}

func (c *cli) webhookRecover(ctx context.Context, args []string) error {
	fs := c.flags("webhook recover")
	sinceFlag := fs.String("since", "", "only deliveries given up since a date, a time or a duration back from now (72h); none: every one whose event is still kept")
	return c.withWebhook(ctx, fs, args, func(svc *directory.Service, id string) error {
		since, err := parseSince(*sinceFlag, time.Now())
		if err != nil {
			return err
		}
		n, err := svc.RecoverWebhook(ctx, c.actor(), id, since)
		if err != nil {
			return err
		}
		word := "deliveries"
		if n == 1 {
			word = "delivery"
		}
		text := fmt.Sprintf("%d given-up %s of webhook %s queued again; the server's workers send them, each person's in order, with their webhook-ids", n, word, id)
		if n == 0 {
			text = fmt.Sprintf("webhook %s has no given-up delivery to send again", id)
			if !since.IsZero() {
				text += " since " + since.Format(time.RFC3339)
			}
		}
		c.output(map[string]any{"id": id, "recovered": n}, text)
		return nil
	})
}

// tailPoll is how often events tail --follow looks for new events.
const tailPoll = time.Second

func (c *cli) eventsTail(ctx context.Context, args []string) error {
	fs := c.flags("events tail")
	slug := fs.String("account", "", "only this account's events (none: every account's)")
	afterFlag := fs.String("after", "", "print the events after this cursor (the cursor of the last event read; none: from the oldest kept); refused when events after it were swept, or it is past the end of the feed")
	follow := fs.Bool("follow", false, "keep printing new events as they come, until interrupted")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	after, err := directory.ParseEventCursor(*afterFlag)
	if err != nil {
		return err
	}
	svc, a, done, err := c.webhookService(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	// Every account's events say whose each is (by slug, looked up once).
	slugs := map[string]string{}
	whose := func(ev directory.Event) string {
		if a.ID != "" {
			return ""
		}
		if _, ok := slugs[ev.Account]; !ok {
			slugs[ev.Account] = slugOf(ctx, svc, ev.Account)
		}
		return slugs[ev.Account]
	}
	printed := false // an event, or the header of those to come
	for {
		// Publishing is safe from any process, so the feed is current
		// even where no server runs.
		if _, err := svc.PublishEvents(ctx, 1000); err != nil {
			return err
		}
		evs, err := svc.Events(ctx, a.ID, after, 1000)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if !c.json && !printed {
				c.printEventHeader(a.ID == "")
			}
			c.printEvent(ev, whose(ev))
			after, printed = ev.Seq, true
		}
		if len(evs) == 1000 {
			continue
		}
		if !*follow {
			if !printed && !c.json {
				fmt.Fprintln(c.stdout, noEvents(a, *afterFlag))
			}
			return nil
		}
		if !c.json && !printed {
			c.printEventHeader(a.ID == "")
			printed = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tailPoll):
		}
	}
}

// printEvent prints one event a line: with --json the event with its
// cursor (JSON lines, for a program to read), else the cursor, time, the
// account's slug (when the events are every account's), type, id (what a
// reader deduplicates on) and data, in columns.
func (c *cli) printEvent(ev directory.Event, account string) {
	cursor := strconv.FormatInt(ev.Seq, 10)
	if c.json {
		b, _ := json.Marshal(struct {
			Cursor string `json:"cursor"`
			directory.Event
		}{cursor, ev})
		fmt.Fprintln(c.stdout, string(b))
		return
	}
	fmt.Fprintln(c.stdout, eventColumns(cursor, ev.OccurredAt.UTC().Format(time.RFC3339), account, ev.Type, ev.ID, oneLine(string(ev.Data))))
}

// printEventHeader prints the header row of events tail's columns, with
// ACCOUNT when the events are every account's.
func (c *cli) printEventHeader(everyAccount bool) {
	account := ""
	if everyAccount {
		account = "ACCOUNT"
	}
	fmt.Fprintln(c.stdout, eventColumns("CURSOR", "TIME", account, "TYPE", "ID", "DATA"))
}

// eventColumns lays out one line of events tail, or its header: fixed
// widths, since the feed is printed as it comes (ids are UUIDs, times
// UTC), so every line lines up with a header printed before the rest.
func eventColumns(cursor, at, account, typ, id, data string) string {
	if account != "" {
		account = fmt.Sprintf("%-16s ", account)
	}
	return fmt.Sprintf("%8s  %-20s  %s%-24s %-36s  %s", cursor, at, account, typ, id, data)
}

// noEvents is what events tail says when there is nothing to print.
func noEvents(a directory.Account, after string) string {
	where := "no events"
	if a.ID != "" {
		where += " of " + a.Slug
	}
	if after != "" {
		return where + " after cursor " + after
	}
	return where + " yet"
}
