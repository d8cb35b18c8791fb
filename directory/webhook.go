package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Webhook is an endpoint the platform receives events at: an account's
// (its events only) or, with AccountID empty, the platform's (every
// account's events).
type Webhook struct {
	ID         string
	AccountID  string // "" for a platform-wide webhook
	URL        string
	EventTypes []string // the types it receives; empty for all
	// Secret signs deliveries, sealed with the server key (purpose
	// WebhookSecretPurpose). During a rotation's overlap the secrets
	// rotated out sign too, each until its Until, so receivers can switch
	// without losing events: Older, newest first, at most
	// MaxOlderSecrets.
	Secret         string
	Older          []OlderSecret
	DisabledAt     *time.Time
	DisabledReason string
	// FailingSince is when the endpoint's current run of failures began;
	// nil while it answers.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// PublicOnly: its account's owners chose it (AddAccountWebhook), so
	// it reaches public addresses only, whatever the operators' outbound
	// allow list lets their own endpoints reach.
	PublicOnly bool
	// PausedUntil is until when the endpoint asked to be left alone (a
	// 429 or 503 with Retry-After; see PauseFor): nothing is sent to it
	// before then.
	PausedUntil *time.Time
}

// Paused reports whether the endpoint asked to be left alone at now.
func (w Webhook) Paused(now time.Time) bool {
	return w.PausedUntil != nil && now.Before(*w.PausedUntil)
}

// PauseFor is how long an endpoint that asked to be left alone for asked
// (Retry-After) is: no longer than retries back off at most, so that an
// endpoint cannot put its deliveries past the day it may fail for.
func PauseFor(asked time.Duration) time.Duration { return min(max(asked, 0), webhookRetryCap) }

// OlderSecret is a secret rotated out, sealed as Webhook.Secret is; it
// signs until Until.
type OlderSecret struct {
	Sealed string    `json:"sealed"`
	Until  time.Time `json:"until"`
}

// MaxOlderSecrets bounds the secrets rotated out that still sign: a
// rotation beyond it stops the oldest at once.
const MaxOlderSecrets = 3

// OlderSecretsUntil is when the last of the secrets rotated out stops
// signing, nil when none signs at now.
func (w Webhook) OlderSecretsUntil(now time.Time) *time.Time {
	var last *time.Time
	for _, o := range w.Older {
		if now.Before(o.Until) && (last == nil || o.Until.After(*last)) {
			last = &o.Until
		}
	}
	return last
}

// Wants reports whether the webhook receives events of type t.
func (w Webhook) Wants(t string) bool {
	return len(w.EventTypes) == 0 || slices.Contains(w.EventTypes, t)
}

// WebhookSecretPurpose binds a sealed secret to its webhook (see
// certs.Sealer): a sealed secret copied to another row does not open.
func WebhookSecretPurpose(webhookID string) string { return "webhook secret " + webhookID }

// Where a webhook stands, as the console, the API and the metrics word it.
const (
	WebhookEnabled  = "enabled"
	WebhookFailing  = "failing"  // attempts fail; disabled after WebhookDisableAfter of it
	WebhookDisabled = "disabled" // nothing is sent until it is enabled
)

// State words where the webhook stands.
func (w Webhook) State() string {
	switch {
	case w.DisabledAt != nil:
		return WebhookDisabled
	case w.FailingSince != nil:
		return WebhookFailing
	}
	return WebhookEnabled
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed" // given up after WebhookGiveUpAfter
)

// WebhookDelivery is one event for one webhook.
type WebhookDelivery struct {
	ID        string
	WebhookID string
	EventID   string // the webhook-id header: the same on every attempt
	EventType string // only where deliveries are listed (WebhookDeliveries)
	// Ready: the first pending delivery of its webhook about its subject,
	// the one that may be sent; only where deliveries are listed.
	Ready         bool
	Seq           int64
	Subject       string
	Status        DeliveryStatus
	Attempts      int
	NextAttemptAt time.Time
	LastStatus    int // the receiver's last HTTP status; 0 when none came
	LastError     string
	CreatedAt     time.Time
	FinishedAt    *time.Time
	// RedeliveredAt is when it was last sent again by hand (Redeliver),
	// and RedeliveredAfter how many attempts it had then: its retries run
	// WebhookGiveUpAfter from there, and back off afresh from the attempt
	// after those (Attempts keeps counting: a worker's record names the
	// attempt it made). It keeps its CreatedAt, so it is swept with its
	// event, however often it is sent again.
	RedeliveredAt    *time.Time
	RedeliveredAfter int

	// Filled in by a claim: what to send, where, and until when the
	// worker holds the delivery (after that another claim may take it);
	// EventAt is when its event happened, which the worker's metrics time
	// deliveries from.
	Payload     json.RawMessage
	Webhook     Webhook
	LeasedUntil time.Time
	EventAt     time.Time
}

// Waiting says what a pending delivery of w waits for, when it is not its
// next attempt's time: "" when it is sent at NextAttemptAt (or is being
// sent, or is not pending). A delivery held back is not sent at that
// time, which has then often passed.
func (d WebhookDelivery) Waiting(w Webhook, now time.Time) string {
	switch {
	case d.Status != DeliveryPending:
		return ""
	case w.DisabledAt != nil:
		return "waits for the webhook to be enabled"
	case w.Paused(now):
		return "waits until " + w.PausedUntil.UTC().Format(time.RFC3339) + ", as the endpoint asked (Retry-After)"
	case !d.Ready:
		return "waits for an earlier event about the same person"
	}
	return ""
}

// WebhookAttempt is one try of a delivery.
type WebhookAttempt struct {
	ID         string
	DeliveryID string
	At         time.Time
	Status     int // HTTP status; 0 when no answer came
	Error      string
	Duration   time.Duration
}

// Webhook delivery timing.
const (
	// WebhookLease is how long a worker owns a delivery it claimed; a
	// worker that dies mid-send loses it after this, and another sends it
	// again (with the same webhook-id).
	WebhookLease = 2 * time.Minute
	// Retries back off from webhookRetryBase, doubling up to
	// webhookRetryCap, with jitter, and stop WebhookGiveUpAfter after the
	// event was published, or the delivery last sent again by hand.
	webhookRetryBase   = 5 * time.Second
	webhookRetryCap    = 6 * time.Hour
	WebhookGiveUpAfter = 72 * time.Hour
	// WebhookDisableAfter is how long an endpoint may fail without a
	// success before it is disabled and the account's admins told.
	WebhookDisableAfter = 24 * time.Hour
	// WebhookNoticeEvery bounds how often people are told that one
	// endpoint was disabled: an owner may enable it as often as they like.
	WebhookNoticeEvery = 24 * time.Hour
	// EventRetention is how long the outbox keeps events by default (the
	// feed's reach, and how long a delivery can wait).
	EventRetention = 30 * 24 * time.Hour
)

// DeliveryLease is what a worker can take while events are published or
// attempts recorded: a delivery that becomes ready to send then (the
// first pending one about its subject, for an enabled webhook) is leased
// to the worker at once, until Until, counting an attempt, rather than
// left for a claim. That spares a claim's write of every delivery, and a
// transaction. Room bounds how many it takes in all; PerWebhook how many
// of one webhook, counting the Held it holds already; PerAccount (when
// set) how many of one account's webhooks together, counting
// HeldByAccount, so that an account's few slow endpoints cannot fill a
// worker that every account's events wait for (a platform-wide webhook
// counts for no account); webhooks in Skip are passed over. Now is when
// the lease is taken: a delivery due later is not taken.
type DeliveryLease struct {
	Now, Until    time.Time
	Room          int
	PerWebhook    int
	Held          map[string]int
	PerAccount    int
	HeldByAccount map[string]int
	Skip          map[string]bool
}

// Clone returns a copy of l that Take can count on without changing l
// (a transaction tried again starts from l).
func (l *DeliveryLease) Clone() *DeliveryLease {
	if l == nil {
		return nil
	}
	c := *l
	c.Held = maps.Clone(l.Held)
	if c.Held == nil {
		c.Held = map[string]int{}
	}
	c.HeldByAccount = maps.Clone(l.HeldByAccount)
	if c.HeldByAccount == nil {
		c.HeldByAccount = map[string]int{}
	}
	return &c
}

// Take reports whether a ready delivery for w fits in the lease, and
// counts it if so.
func (l *DeliveryLease) Take(w Webhook) bool {
	if l == nil || l.Room <= 0 || w.DisabledAt != nil || w.Paused(l.Now) || l.Skip[w.ID] || l.Held[w.ID] >= l.PerWebhook || l.accountFull(w.AccountID) {
		return false
	}
	l.Room--
	l.Held[w.ID]++
	if w.AccountID != "" {
		l.HeldByAccount[w.AccountID]++
	}
	return true
}

// Full reports whether the lease has no more room for w's deliveries,
// though it may have for others'.
func (l *DeliveryLease) Full(w Webhook) bool {
	return l.Held[w.ID] >= l.PerWebhook || l.accountFull(w.AccountID)
}

func (l *DeliveryLease) accountFull(accountID string) bool {
	return l.PerAccount > 0 && accountID != "" && l.HeldByAccount[accountID] >= l.PerAccount
}

// WebhookStore is what webhooks and the event feed need of the store.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w Webhook) error
	FindWebhook(ctx context.Context, id string) (Webhook, error)
	LockWebhook(ctx context.Context, id string) (Webhook, error)
	// FindWebhooks returns the account's webhooks, or with accountID
	// empty every webhook, oldest first.
	FindWebhooks(ctx context.Context, accountID string) ([]Webhook, error)
	// CountAccountWebhooks counts the webhooks the account's owners added
	// (PublicOnly), holding the account's row until the transaction ends,
	// so that adds to one account count one after another.
	CountAccountWebhooks(ctx context.Context, accountID string) (int, error)
	DeleteWebhook(ctx context.Context, id string) error
	UpdateWebhookSecrets(ctx context.Context, w Webhook) error
	// Each of these changes one thing of a webhook's health in one
	// statement, so that concurrent attempts cannot undo each other's.
	// MarkWebhookFailing sets FailingSince unless it is set, and returns
	// it; MarkWebhookHealthy clears it; DisableWebhook disables an enabled
	// webhook and reports whether it did; EnableWebhook clears all three.
	MarkWebhookFailing(ctx context.Context, id string, since time.Time) (time.Time, error)
	MarkWebhookHealthy(ctx context.Context, id string) error
	// FailingWebhooks returns those of the webhooks ids that are failing.
	FailingWebhooks(ctx context.Context, ids []string) ([]string, error)
	DisableWebhook(ctx context.Context, id, reason string, at time.Time) (bool, error)
	// PauseWebhook leaves the webhook alone until until (see
	// Webhook.PausedUntil), unless it is left alone longer already.
	PauseWebhook(ctx context.Context, id string, until time.Time) error
	EnableWebhook(ctx context.Context, id string) error

	// PublishEvents gives up to limit unpublished outbox messages, oldest
	// first, the next numbers of the feed and a delivery for each
	// webhook that wants them (due at now); it returns how many it
	// published, and the new deliveries it leased (see DeliveryLease; none
	// when lease is nil). Concurrent callers are serialized, so numbers
	// are committed in order.
	PublishEvents(ctx context.Context, now time.Time, limit int, newID func() string, lease *DeliveryLease) (int, []WebhookDelivery, error)
	// ClaimWebhookDeliveries leases due deliveries of enabled webhooks
	// that fit in lease (see DeliveryLease), counting an attempt on each,
	// and looks at no more than limit of them. A delivery is due only when
	// no earlier one of its webhook about the same subject is pending. No
	// two callers get the same.
	ClaimWebhookDeliveries(ctx context.Context, limit int, lease *DeliveryLease) ([]WebhookDelivery, error)
	// FindStoppedWebhooks returns those of ids that are disabled or no
	// longer exist, and until when those of the others that asked to be
	// left alone asked it (Webhook.PausedUntil).
	FindStoppedWebhooks(ctx context.Context, ids []string) ([]string, map[string]time.Time, error)
	// FinishWebhookDeliveries records attempts (as[i] of ds[i]) and where
	// the deliveries stand (DeliveryPending: tried again at
	// NextAttemptAt). Only the latest claim of a delivery sets its status.
	// A finished delivery makes the next one about its subject ready; it
	// returns those it leased (see DeliveryLease).
	FinishWebhookDeliveries(ctx context.Context, ds []WebhookDelivery, as []WebhookAttempt, lease *DeliveryLease) ([]WebhookDelivery, error)
	// ReleaseWebhookDeliveries ends the leases of deliveries given back
	// unsent and uncounts the attempt each lease counted; a delivery
	// claimed again since (another attempt counted) is left alone.
	ReleaseWebhookDeliveries(ctx context.Context, ds []WebhookDelivery) error
	// RedeliverWebhookDelivery makes a delivery pending, ready and due at
	// now, noting now as its RedeliveredAt; a pending one, or one whose
	// event is no longer kept, is a Conflict.
	RedeliverWebhookDelivery(ctx context.Context, id string, now time.Time) (WebhookDelivery, error)
	// RecoverWebhookDeliveries makes the webhook's failed deliveries given
	// up at or after since, whose events are still kept, pending and due at
	// now, none of them ready, noting now as their RedeliveredAt; it
	// returns the subject of each.
	RecoverWebhookDeliveries(ctx context.Context, webhookID string, since, now time.Time) ([]string, error)
	// MakeDeliveriesReady makes ready the first pending delivery of the
	// webhook about each of subjects that has none ready, as a finished
	// delivery makes the next one ready.
	MakeDeliveriesReady(ctx context.Context, webhookID string, subjects []string) error
	// AnalyzeDeliveries refreshes the database's statistics of deliveries
	// and events, where it plans from them.
	AnalyzeDeliveries(ctx context.Context) error
	// FindStrandedSubjects returns, by webhook, the subjects with pending
	// deliveries none of which is ready.
	FindStrandedSubjects(ctx context.Context) (map[string][]string, error)
	FindWebhookDelivery(ctx context.Context, id string) (WebhookDelivery, error)
	FindWebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]WebhookDelivery, error) // newest first
	FindWebhookAttempts(ctx context.Context, deliveryID string, limit int) ([]WebhookAttempt, error)   // the newest limit (0: all), oldest first
	// CreateWebhookTest keeps a test event sent to a webhook, and forgets
	// the webhook's older ones beyond the newest keep.
	CreateWebhookTest(ctx context.Context, t WebhookTestRecord, keep int) error
	// FinishWebhookTest records how a kept test event went; one forgotten
	// meanwhile is no error.
	FinishWebhookTest(ctx context.Context, t WebhookTestRecord) error
	FindWebhookTests(ctx context.Context, webhookID string, limit int) ([]WebhookTestRecord, error) // newest first
	// FindAdminEmails returns the addresses of the account's active
	// owners and admins.
	FindAdminEmails(ctx context.Context, accountID string) ([]string, error)

	// FindEventBounds returns the last number the feed gave (0 when none
	// was), and the highest number of accountID's events swept as older
	// than the retention (of every account's, when accountID is empty; 0
	// when none was). DeleteEventsBefore keeps the second.
	FindEventBounds(ctx context.Context, accountID string) (last, sweptThrough int64, err error)
	// CountWebhooks counts the webhooks operators added and those
	// accounts' owners added (PublicOnly); FindUnhealthyWebhooks returns
	// those failing or disabled, with only their ID, DisabledAt,
	// FailingSince and PublicOnly.
	CountWebhooks(ctx context.Context) (operators, owners int, err error)
	FindUnhealthyWebhooks(ctx context.Context) ([]Webhook, error)
	// FindOldestUnpublishedEvent returns when the oldest event not yet
	// published was made, or nil when every event is.
	FindOldestUnpublishedEvent(ctx context.Context) (*time.Time, error)
	// FindEvents returns published events after seq, in order; of one
	// account when accountID is not empty.
	FindEvents(ctx context.Context, accountID string, after int64, limit int) ([]Event, error)
	// DeleteEventsBefore deletes published outbox messages, and
	// deliveries, made before t; it returns how many rows went, and by
	// webhook the subjects whose pending deliveries in order it deleted.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, map[string][]string, error)
}

// NewWebhook is a webhook to add.
type NewWebhook struct {
	AccountID  string // "" for platform-wide
	URL        string
	EventTypes []string
	PublicOnly bool // see Webhook
}

// maxWebhookURL bounds what is stored and sent on every delivery.
const maxWebhookURL = 2048

// CleanWebhookURL returns a webhook URL as it is kept, or what is wrong
// with it. Its scheme and host are in lower case and a default port is
// dropped, so that one endpoint written two ways is kept as one URL, and
// the duplicate check and the once-a-day notice compare URLs as they are
// (its path and query are the receiver's, and kept as given). Where it may
// point (https, no private address) is checked on every delivery by the
// guarded client, where the answer, not the text, decides. The scheme's
// rule is the operators' (https, or http to a host they allow); see
// AddWebhook for the one of an account's owners.
func CleanWebhookURL(raw string) (string, error) { return cleanWebhookURL(raw, false) }

// cleanWebhookURL is CleanWebhookURL for an endpoint the operators add,
// or, publicOnly, one an account's owners add: https only, since plain
// http goes only to hosts in the operators' allow list, which such an
// endpoint never reaches (every attempt would fail, and the endpoint be
// disabled a day later). A refusal states the rule of the one asking.
func cleanWebhookURL(raw string, publicOnly bool) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxWebhookURL:
		return "", InvalidError(fmt.Sprintf("the webhook URL is longer than %d characters", maxWebhookURL))
	case err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "" || strings.ContainsFunc(raw, unicode.IsSpace):
		// Spaces parse in a path, and the URL is shown in the notices
		// admins are mailed: a sentence of an owner's choosing there
		// would read as admit's own words.
		return "", InvalidError(fmt.Sprintf("%q is not a URL like https://platform.example.com/webhooks/admit", truncate(raw, 100)))
	case publicOnly && u.Scheme != "https":
		return "", InvalidError("a webhook URL is https://, like https://platform.example.com/webhooks/admit")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", InvalidError("a webhook URL is https:// (or http:// to a host in ADMIT_OUTBOUND_ALLOW)")
	case u.User != nil:
		return "", InvalidError("a webhook URL carries no user name or password: deliveries are signed instead")
	case u.Fragment != "":
		return "", InvalidError("a webhook URL has no #fragment")
	}
	// url.Parse lowers the scheme already; the port is digits.
	port := u.Port()
	host, err := dialedHost(u.Hostname())
	if err != nil {
		return "", err
	}
	u.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", InvalidError(fmt.Sprintf("the webhook URL's port %.10s is not a port (1 to 65535)", port))
		}
		if !(u.Scheme == "https" && n == 443 || u.Scheme == "http" && n == 80) {
			u.Host += ":" + strconv.Itoa(n) // without leading zeros
		}
	}
	// The query is kept as given, but for other than ASCII, encoded as
	// the path and host are: the URL is shown in the notices admins are
	// mailed, where blanks of other scripts (U+2800, U+3164) or a
	// right-to-left mark would set an owner's sentence apart as admit's.
	u.RawQuery = encodeNonASCII(u.RawQuery)
	// Checked again: encoded, a URL is up to three times as long.
	clean := u.String()
	if len(clean) > maxWebhookURL {
		return "", InvalidError(fmt.Sprintf("the webhook URL is longer than %d characters (with its non-ASCII characters encoded)", maxWebhookURL))
	}
	return clean, nil
}

// encodeNonASCII percent-encodes the bytes of s outside ASCII.
func encodeNonASCII(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if c := s[i]; c >= 0x80 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// dialedHost returns a URL's host name as a client dials it, so that one
// endpoint is kept as one URL however its host is written: an IP address
// in its shortest form ([2001:0db8:0::1] is [2001:db8::1]; an IPv6 zone is
// an interface name, kept as written); a name in ASCII and lower case,
// converted as net/http converts it (IDNA's lookup profile), which maps
// full-width letters, soft hyphens and the ideographic full stop. Lowering
// a name's other letters before that conversion could name another domain
// (İ, ẞ); after it, the name is what is dialed. A final dot is refused:
// hooks.example. is hooks.example to a client but another URL to the
// duplicate check, and it is not dropped, since without it a resolver may
// look the name up under its search domains.
func dialedHost(host string) (string, error) {
	if strings.Contains(host, ":") {
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return "", InvalidError(fmt.Sprintf("the webhook URL's host [%.60s] is not an IPv6 address", host))
		}
		return "[" + addr.String() + "]", nil
	}
	name := host
	if strings.ContainsFunc(host, func(r rune) bool { return r >= utf8.RuneSelf }) {
		ascii, err := idna.Lookup.ToASCII(host)
		// A name of characters IDNA drops (soft hyphens, zero-width
		// spaces) converts to none at all.
		if err != nil || !utf8.ValidString(host) || ascii == "" {
			return "", InvalidError(fmt.Sprintf("the webhook URL's host %.60q is not a domain name", host))
		}
		name = ascii
	}
	name = strings.ToLower(name)
	if strings.HasSuffix(name, ".") {
		return "", InvalidError("a webhook URL's host is written without a final dot")
	}
	return name, nil
}

// cleanEventTypes returns types once each, in their order, or an error
// naming those that are no event type: a webhook's list is read for every
// event published, so it holds at most every type once.
func cleanEventTypes(types []string) ([]string, error) {
	var out, bad []string
	for _, t := range types {
		switch {
		case !IsEventType(t):
			if len(bad) < 5 { // a form can carry thousands: name a few
				bad = append(bad, t)
			}
		case !slices.Contains(out, t): // at most len(EventTypes) long
			out = append(out, t)
		}
	}
	if len(bad) > 0 {
		return nil, checkEventTypes(bad)
	}
	return out, nil
}

func checkEventTypes(types []string) error {
	var bad []string
	for _, t := range types {
		if !IsEventType(t) {
			bad = append(bad, fmt.Sprintf("%q", truncate(t, 60)))
		}
	}
	if len(bad) > 0 {
		return InvalidError(fmt.Sprintf("unknown event type %s (types: %s)", strings.Join(bad, ", "), strings.Join(EventTypes, ", ")))
	}
	return nil
}

// publicHost refuses a URL whose host can only be one the public client
// never sends to (Webhook.PublicOnly), whatever the operators allow: an
// address that is not public (by the rule Config.RefusedAddress passes
// in), an address with an interface zone, one in a form a resolver reads
// as an address (127.1, 0x7f000001: no public name ends in a numeric
// label), or localhost (RFC 6761). Every attempt would fail, after the
// owner was told nothing was wrong. Other names are judged when they are
// resolved, at each attempt.
func (s *Service) publicHost(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return InvalidError("the webhook URL is not a URL")
	}
	host := strings.ToLower(u.Hostname())
	refuse := func(what string) error {
		return InvalidError(fmt.Sprintf("admit sends an account's events to public addresses only, and %s is %s: use your endpoint's public name or address", host, what))
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return refuse("this machine")
	}
	if strings.Contains(host, "%") {
		return refuse("an address on one of this machine's interfaces")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if s.refusedAddress != nil {
			if reason := s.refusedAddress(addr); reason != "" {
				return refuse(reason)
			}
		}
		return nil
	}
	labels := strings.Split(host, ".")
	if last := labels[len(labels)-1]; numericLabel(last) {
		return refuse("an address in a form admit does not send to (write a public address as four decimal numbers)")
	}
	return nil
}

// numericLabel reports whether a host name's label is a number (decimal,
// octal or 0x hex), as resolvers read 127.1 or 2130706433: an address.
func numericLabel(label string) bool {
	if hex, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// AddWebhook adds an endpoint. seal seals its secret for the purpose it is
// given (the secret itself is the caller's: it prints it once).
func (s *Service) AddWebhook(ctx context.Context, actor Actor, in NewWebhook, seal func(purpose string) string) (Webhook, error) {
	var err error
	if in.URL, err = cleanWebhookURL(strings.TrimSpace(in.URL), in.PublicOnly); err != nil {
		return Webhook{}, err
	}
	if in.PublicOnly {
		if err := s.publicHost(in.URL); err != nil {
			return Webhook{}, err
		}
	}
	types, err := cleanEventTypes(in.EventTypes)
	if err != nil {
		return Webhook{}, err
	}
	now := s.clock()
	w := Webhook{ID: newID(), AccountID: in.AccountID, URL: in.URL, EventTypes: types, CreatedAt: now, UpdatedAt: now, PublicOnly: in.PublicOnly}
	w.Secret = seal(WebhookSecretPurpose(w.ID))
	err = s.store.Tx(ctx, func(tx Store) error {
		if w.PublicOnly {
			n, err := tx.CountAccountWebhooks(ctx, w.AccountID)
			if err != nil {
				return err
			}
			if n >= MaxAccountWebhooks {
				return InvalidError(fmt.Sprintf("an account has at most %d webhooks; remove one first", MaxAccountWebhooks))
			}
		}
		// A second endpoint at the same URL would get every event twice;
		// it is most often a form sent again (a page reloaded).
		hooks, err := tx.FindWebhooks(ctx, w.AccountID)
		if err != nil {
			return err
		}
		for _, h := range hooks {
			if h.AccountID == w.AccountID && h.URL == w.URL && h.PublicOnly == w.PublicOnly {
				return ConflictError(fmt.Sprintf("there is a webhook to %s already; rotate its secret for a new one", truncate(w.URL, 200)))
			}
		}
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return s.recordWebhook(ctx, tx, actor, w, "webhook.created", map[string]any{"url": w.URL, "events": w.EventTypes})
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("add webhook: %w", err)
	}
	return w, nil
}

// recordWebhook audits a change to a webhook in its account; a
// platform-wide webhook belongs to no account's trail and is logged.
func (s *Service) recordWebhook(ctx context.Context, tx Store, actor Actor, w Webhook, action string, data map[string]any) error {
	if w.AccountID == "" {
		s.log.InfoContext(ctx, action, "webhook_id", w.ID, "actor", actor.Name, "data", data)
		return nil
	}
	return s.record(ctx, tx, change{accountID: w.AccountID, actor: actor, action: action, targetType: "webhook", targetID: w.ID, data: forAccount(w, data)})
}

// forAccount leaves the URL of an endpoint the operators added for an
// account out of what the account's trail keeps (its admins read it): it
// may lead into the operators' network. The log keeps it.
func forAccount(w Webhook, data map[string]any) map[string]any {
	if w.AccountID != "" && !w.ownersOwn() {
		delete(data, "url")
	}
	return data
}

// Webhooks lists the account's webhooks, or every webhook when accountID
// is empty.
func (s *Service) Webhooks(ctx context.Context, accountID string) ([]Webhook, error) {
	return s.store.FindWebhooks(ctx, accountID)
}

// Webhook returns one webhook.
func (s *Service) Webhook(ctx context.Context, id string) (Webhook, error) {
	return s.store.FindWebhook(ctx, id)
}

// RemoveWebhook deletes a webhook with its deliveries.
func (s *Service) RemoveWebhook(ctx context.Context, actor Actor, id string) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		w, err := tx.FindWebhook(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebhook(ctx, id); err != nil {
			return err
		}
		return s.recordWebhook(ctx, tx, actor, w, "webhook.removed", map[string]any{"url": w.URL})
	})
	if err != nil {
		return fmt.Errorf("remove webhook: %w", err)
	}
	return nil
}

// RotateWebhookSecret gives the webhook a new secret; the current one keeps
// signing beside it for overlap, so receivers can take the new one without
// refusing a delivery.
func (s *Service) RotateWebhookSecret(ctx context.Context, actor Actor, id string, overlap time.Duration, seal func(purpose string) string) (Webhook, error) {
	return s.rotateWebhookSecret(ctx, actor, id, overlap, seal, time.Time{})
}

func (s *Service) rotateWebhookSecret(ctx context.Context, actor Actor, id string, overlap time.Duration, seal func(purpose string) string, shown time.Time) (Webhook, error) {
	if overlap < 0 || overlap > 7*24*time.Hour {
		return Webhook{}, InvalidError("the overlap is between 0 and 7 days (168h)")
	}
	var w Webhook
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		// Locked: two rotations at once take turns, and the second makes
		// the first's new secret the previous one. Both reading the same
		// secret, the first's would be replaced at once, never valid.
		if w, err = tx.LockWebhook(ctx, id); err != nil {
			return err
		}
		if !shown.IsZero() && !w.UpdatedAt.Equal(shown) {
			return ConflictError("the webhook changed since it was shown (a reload sends the form again); rotate its secret again if you need another")
		}
		// The secret rotated out signs for the overlap; the older ones
		// until their own time, but no longer: a rotation with no
		// overlap (a leaked secret) stops every one of them now.
		now := s.clock()
		until := now.Add(overlap)
		older := []OlderSecret{}
		for _, o := range append([]OlderSecret{{Sealed: w.Secret, Until: until}}, w.Older...) {
			if until.Before(o.Until) {
				o.Until = until
			}
			if o.Until.After(now) && len(older) < MaxOlderSecrets {
				older = append(older, o)
			}
		}
		w.Older = older
		w.Secret, w.UpdatedAt = seal(WebhookSecretPurpose(w.ID)), now
		if err := tx.UpdateWebhookSecrets(ctx, w); err != nil {
			return err
		}
		return s.recordWebhook(ctx, tx, actor, w, "webhook.secret_rotated", map[string]any{"previous_until": until})
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	return w, nil
}

// EnableWebhook lets a disabled webhook receive again: what waited for it
// is delivered, in order.
func (s *Service) EnableWebhook(ctx context.Context, actor Actor, id string) (Webhook, error) {
	var w Webhook
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if w, err = tx.FindWebhook(ctx, id); err != nil {
			return err
		}
		// Enabling clears the failures: one failing but not disabled
		// would then never be, however long it failed.
		if w.DisabledAt == nil {
			return ConflictError("the webhook is not disabled")
		}
		w.DisabledAt, w.DisabledReason, w.FailingSince, w.PausedUntil = nil, "", nil, nil
		if err := tx.EnableWebhook(ctx, id); err != nil {
			return err
		}
		return s.recordWebhook(ctx, tx, actor, w, "webhook.enabled", map[string]any{"url": w.URL})
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("enable webhook: %w", err)
	}
	return w, nil
}

// Redeliver sends a delivered or failed delivery again, at once: an
// operator's resend of an old event does not wait for the person's later
// events, nor they for it. A pending one is refused: it is sent on its
// own, in its person's order, and may be in flight (sent again now, it
// could overtake an earlier event, or go twice at once).
func (s *Service) Redeliver(ctx context.Context, deliveryID string) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := s.store.Tx(ctx, func(tx Store) error {
		found, err := tx.FindWebhookDelivery(ctx, deliveryID)
		if err != nil {
			return err
		}
		d, err = s.redeliverIn(ctx, tx, found.WebhookID, deliveryID)
		return err
	})
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("redeliver: %w", err)
	}
	return d, nil
}

// recoverReadyWithin bounds a recovery's second step once its caller has
// gone: 100,000 people's deliveries are made ready in about a second.
const recoverReadyWithin = 5 * time.Minute

// RecoverWebhook sends again the webhook's deliveries that were given up
// (failed for WebhookGiveUpAfter) since since, whose events are still
// kept: after an endpoint's long outage, or a fix of what made it refuse
// some events. Each goes with its webhook-id and is retried as a
// redelivery is, for WebhookGiveUpAfter from now. Each person's go in the
// order of the feed, one at a time, as new ones do: beside that person's
// deliveries still pending, after the one being sent. It returns how
// many; none is no error. The trail records who asked, when there were
// any.
//
// They are made pending in one transaction, with the audit, and ready in
// others, a few hundred people at a time, each holding up publishing
// for a moment only, however many there are. Should the second step fail
// (the database went away between the two), a person's recovered
// deliveries wait until another delivery about them is recorded, or the
// worker's next sweep finds them (readyStrandedDeliveries); the error
// says so.
func (s *Service) RecoverWebhook(ctx context.Context, actor Actor, webhookID string, since time.Time) (int, error) {
	var subjects []string
	err := s.store.Tx(ctx, func(tx Store) error {
		w, err := tx.FindWebhook(ctx, webhookID)
		if err != nil {
			return err
		}
		if err := sendable(w); err != nil {
			return err
		}
		if subjects, err = tx.RecoverWebhookDeliveries(ctx, w.ID, since.UTC(), s.clock()); err != nil || len(subjects) == 0 {
			return err
		}
		data := map[string]any{"deliveries": len(subjects)}
		if !since.IsZero() {
			data["since"] = since.UTC()
		}
		return s.recordWebhook(ctx, tx, actor, w, "webhook.recovered", data)
	})
	if err != nil {
		return 0, fmt.Errorf("send given-up deliveries again: %w", err)
	}
	// The second step goes on if the caller leaves (a console request
	// closed, Ctrl-C on the command line): cut short, it would leave the
	// deliveries waiting for the next sweep.
	ready, cancel := context.WithTimeout(context.WithoutCancel(ctx), recoverReadyWithin)
	defer cancel()
	if err := s.store.MakeDeliveriesReady(ready, webhookID, slices.Compact(slices.Sorted(slices.Values(subjects)))); err != nil {
		return len(subjects), fmt.Errorf("%d given-up deliveries are to be sent again, but could not be queued yet (the delivery worker queues them at its next sweep, within the hour): %w", len(subjects), err)
	}
	return len(subjects), nil
}

// redeliverIn sends one of the webhook's deliveries again, in tx, unless
// the webhook is disabled (read here: it may have been disabled since the
// caller looked).
func (s *Service) redeliverIn(ctx context.Context, tx Store, webhookID, deliveryID string) (WebhookDelivery, error) {
	w, err := tx.FindWebhook(ctx, webhookID)
	if err != nil {
		return WebhookDelivery{}, err
	}
	if err := sendable(w); err != nil {
		return WebhookDelivery{}, err
	}
	return tx.RedeliverWebhookDelivery(ctx, deliveryID, s.clock())
}

// sendable refuses to send again by hand to a disabled webhook: nothing
// goes to it until it is enabled, and a delivery queued meanwhile would
// seem sent.
func sendable(w Webhook) error {
	if w.DisabledAt != nil {
		return ConflictError("the webhook is disabled: enable it first (what waited for it is then delivered, in order), then send this again if it is still needed")
	}
	return nil
}

// WebhookDeliveries returns the webhook's newest deliveries first.
func (s *Service) WebhookDeliveries(ctx context.Context, webhookID string, limit int) ([]WebhookDelivery, error) {
	return s.store.FindWebhookDeliveries(ctx, webhookID, min(max(limit, 1), 1000))
}

// WebhookAttempts returns a delivery's attempts, oldest first.
func (s *Service) WebhookAttempts(ctx context.Context, deliveryID string) ([]WebhookAttempt, error) {
	return s.store.FindWebhookAttempts(ctx, deliveryID, 0)
}

// PublishEvents moves up to limit new events from the outbox to the feed
// and to the webhooks that want them.
func (s *Service) PublishEvents(ctx context.Context, limit int) (int, error) {
	n, _, err := s.store.PublishEvents(ctx, s.clock(), limit, newID, nil)
	return n, err
}

// PublishAndLeaseEvents publishes as PublishEvents does, and leases the
// new deliveries that are ready to send, within lease, for WebhookLease.
func (s *Service) PublishAndLeaseEvents(ctx context.Context, limit int, lease DeliveryLease) (int, []WebhookDelivery, error) {
	now := s.clock()
	lease.Now, lease.Until = now, now.Add(WebhookLease)
	return s.store.PublishEvents(ctx, now, limit, newID, &lease)
}

// ClaimWebhookDeliveries takes due deliveries that fit in lease (retries,
// and what other workers left) for WebhookLease, looking at no more than
// limit of them.
func (s *Service) ClaimWebhookDeliveries(ctx context.Context, limit int, lease DeliveryLease) ([]WebhookDelivery, error) {
	now := s.clock()
	lease.Now, lease.Until = now, now.Add(WebhookLease)
	return s.store.ClaimWebhookDeliveries(ctx, limit, &lease)
}

// StoppedWebhooks returns those of ids that are disabled or removed, and
// until when others asked to be left alone (Webhook.PausedUntil), perhaps
// of an attempt by another replica: a worker holding their deliveries
// sends them no more, or none before then.
func (s *Service) StoppedWebhooks(ctx context.Context, ids []string) (stopped map[string]bool, paused map[string]time.Time, err error) {
	ss, paused, err := s.store.FindStoppedWebhooks(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("find stopped webhooks: %w", err)
	}
	stopped = make(map[string]bool, len(ss))
	for _, id := range ss {
		stopped[id] = true
	}
	return stopped, paused, nil
}

// WebhookResult is the outcome of one attempt of a delivery.
type WebhookResult struct {
	Delivery WebhookDelivery
	// Status is the receiver's answer; 0 when none came. Err is nil when
	// the receiver acknowledged the event (2xx).
	Status int
	Err    error
	Took   time.Duration
	// RetryAfter is how long the receiver asked to be left alone, with
	// a 429 or 503 and Retry-After; 0 when it did not.
	RetryAfter time.Duration
	// NotAttempted gives the delivery back unsent (the worker stopped,
	// the endpoint is gone, or it waited too long for its turn): its
	// lease ends and its attempt is uncounted, so the next claim takes
	// it at once.
	NotAttempted bool
}

// RecordWebhookResults records the outcomes of attempts, in one
// transaction (a worker gathers what its deliveries did meanwhile: a
// commit per delivery would bound throughput by the database's commit
// rate). A success clears the endpoint's failing state. A failure is
// tried again after a backoff, or given up WebhookGiveUpAfter after the
// delivery was made or last sent again by hand; an endpoint failing for
// WebhookDisableAfter, or answering 410 Gone, is disabled and the
// account's admins are told.
// The deliveries that a finished one made ready (the next about the same
// person) are leased within lease, for WebhookLease, and returned; none
// of an endpoint that failed in rs.
func (s *Service) RecordWebhookResults(ctx context.Context, rs []WebhookResult, lease DeliveryLease) ([]WebhookDelivery, error) {
	now := s.clock()
	var ds, back []WebhookDelivery
	var as []WebhookAttempt
	for _, r := range rs {
		if r.NotAttempted {
			back = append(back, r.Delivery)
			continue
		}
		d, a := s.outcome(ctx, now, r)
		ds, as = append(ds, d), append(as, a)
	}
	// One row per webhook whose health changes, in id order: concurrent
	// recorders then take the webhooks' row locks in the same order. An
	// endpoint that asked to be left alone is, for the longest it asked.
	failing, healthy, pauses := map[string]WebhookResult{}, map[string]bool{}, map[string]time.Time{}
	for _, r := range rs {
		if !r.NotAttempted && r.Err != nil && r.RetryAfter > 0 {
			until := now.Add(PauseFor(r.RetryAfter)).Truncate(time.Microsecond)
			if until.After(pauses[r.Delivery.WebhookID]) {
				pauses[r.Delivery.WebhookID] = until
			}
		}
		switch {
		case r.NotAttempted:
		case r.Err != nil:
			if f, seen := failing[r.Delivery.WebhookID]; !seen || r.Status == 410 && f.Status != 410 {
				failing[r.Delivery.WebhookID] = r
			}
		default:
			// Every success, whatever its lease saw of the endpoint: a
			// failure recorded since (another worker's, or an earlier
			// round's while this delivery was in flight) ends with it too.
			healthy[r.Delivery.WebhookID] = true
		}
	}
	lease.Now, lease.Until = now, now.Add(WebhookLease)
	lease.Skip = maps.Clone(lease.Skip)
	for id := range failing {
		if lease.Skip == nil {
			lease.Skip = map[string]bool{}
		}
		lease.Skip[id] = true // it may be disabled below
	}
	var leased []WebhookDelivery
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.ReleaseWebhookDeliveries(ctx, back); err != nil {
			return err
		}
		var err error
		if leased, err = tx.FinishWebhookDeliveries(ctx, ds, as, &lease); err != nil {
			return err
		}
		// Of the endpoints that accepted a delivery, only those failing
		// change; most were not, and are not written.
		wasFailing, err := tx.FailingWebhooks(ctx, slices.Sorted(maps.Keys(healthy)))
		if err != nil {
			return err
		}
		// One pass in id order over both kinds: a pass for each took
		// the rows of one kind before the lower ids of the other.
		changed := map[string]bool{}
		for id := range failing {
			changed[id] = true
		}
		for _, id := range wasFailing {
			changed[id] = true
		}
		for _, id := range slices.Sorted(maps.Keys(changed)) {
			// An endpoint that accepted a delivery in this batch is not
			// failing every attempt, whatever failed beside it (a
			// receiver refusing one person's payload with a 422): it was
			// disabled after a day of such batches, and every event of
			// the account stopped. Only a 410 says it is gone.
			r, fails := failing[id]
			if healthy[id] && (!fails || r.Status != 410) {
				if err := tx.MarkWebhookHealthy(ctx, id); err != nil {
					return err
				}
			} else if err := s.webhookFailing(ctx, tx, now, r); err != nil {
				return err
			}
			if until, ok := pauses[id]; ok {
				if err := tx.PauseWebhook(ctx, id, until); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %d webhook attempts: %w", len(rs), err)
	}
	return leased, nil
}

// outcome is where a delivery stands after an attempt, and the attempt.
func (s *Service) outcome(ctx context.Context, now time.Time, r WebhookResult) (WebhookDelivery, WebhookAttempt) {
	d := r.Delivery
	if r.Err == nil {
		d.Status, d.LastStatus, d.LastError, d.FinishedAt = DeliveryDelivered, r.Status, "", &now
		return d, s.attempt(d, now, r.Status, "", r.Took)
	}
	d.LastStatus, d.LastError = r.Status, truncate(r.Err.Error(), 500)
	if now.Sub(d.retriesFrom()) >= WebhookGiveUpAfter {
		d.Status, d.FinishedAt = DeliveryFailed, &now
		s.log.ErrorContext(ctx, "giving up on webhook delivery", "delivery_id", d.ID, "webhook_id", d.WebhookID, "event_id", d.EventID, "attempts", d.Attempts, "err", r.Err)
	} else {
		delay := min(webhookRetryBase<<min(max(d.Attempts-d.RedeliveredAfter-1, 0), 20), webhookRetryCap)
		delay += rand.N(delay/5 + 1) // spread the retries of deliveries that failed together
		delay = max(delay, PauseFor(r.RetryAfter))
		// To the microsecond, as the databases keep time (see clock).
		d.NextAttemptAt = now.Add(delay).Truncate(time.Microsecond)
	}
	return d, s.attempt(d, now, r.Status, d.LastError, r.Took)
}

// retriesFrom is when d's current round of attempts began: when it was
// made, or last sent again by hand.
func (d WebhookDelivery) retriesFrom() time.Time {
	if d.RedeliveredAt != nil {
		return *d.RedeliveredAt
	}
	return d.CreatedAt
}

// webhookFailing notes that the endpoint of r is failing, and disables it
// on a 410 or when it has failed for WebhookDisableAfter.
func (s *Service) webhookFailing(ctx context.Context, tx Store, now time.Time, r WebhookResult) error {
	since, err := tx.MarkWebhookFailing(ctx, r.Delivery.WebhookID, now)
	if KindOf(err) == NotFound {
		return nil // removed while the attempt was in flight
	}
	if err != nil {
		return err
	}
	switch {
	case r.Status == 410:
		return s.disableWebhook(ctx, tx, r.Delivery.Webhook, now, "the endpoint answered 410 Gone")
	case now.Sub(since) >= WebhookDisableAfter:
		return s.disableWebhook(ctx, tx, r.Delivery.Webhook, now, fmt.Sprintf("the endpoint failed every delivery for %s (last: %s)", WebhookDisableAfter, truncate(r.Err.Error(), 300)))
	}
	return nil
}

func (s *Service) attempt(d WebhookDelivery, at time.Time, status int, errText string, took time.Duration) WebhookAttempt {
	return WebhookAttempt{ID: newID(), DeliveryID: d.ID, At: at, Status: status, Error: truncate(errText, 500), Duration: took}
}

// disableWebhook disables w and tells the people concerned, once: of
// attempts failing together, only the one that disables it does. An
// account's owners and admins are told of any endpoint receiving the
// account's events; the operators, by installation mail, of any they
// added (platform-wide, or for an account), which only they can enable.
// The account's people are shown an endpoint's URL only when an owner
// chose it: the operators' may lead into their network.
func (s *Service) disableWebhook(ctx context.Context, tx Store, w Webhook, now time.Time, reason string) error {
	if disabled, err := tx.DisableWebhook(ctx, w.ID, reason, now); err != nil || !disabled {
		return err
	}
	s.log.WarnContext(ctx, "webhook disabled", "webhook_id", w.ID, "url", w.URL, "reason", reason)
	data := map[string]any{"url": w.URL, "reason": reason}
	// One notice a day an endpoint: enabling one that answers 410 again
	// at once would otherwise mail every admin each time.
	toldAt, err := s.webhookNoticeSince(ctx, tx, w, now.Add(-WebhookNoticeEvery))
	if err != nil {
		return err
	}
	// The operators are found first: the account's people are told
	// whether they were told too.
	var ops []string
	if !w.ownersOwn() {
		found, err := tx.FindOperators(ctx)
		if err != nil {
			return err
		}
		for _, o := range found {
			ops = append(ops, o.Email)
		}
		if len(ops) == 0 {
			s.log.WarnContext(ctx, "no operator to tell that a webhook was disabled (admit operator add)", "webhook_id", w.ID)
		}
	}
	tell := func(mailOf string, to []string) error {
		if toldAt != nil {
			to = nil
		}
		for _, r := range to {
			if err := tx.AddMailMessage(ctx, MailMessage{
				ID: newID(), AccountID: mailOf, Kind: MailWebhookDisabled, Recipient: r,
				Data:   MailData{WebhookID: w.ID, OperatorsTold: mailOf != "" && len(ops) > 0 && toldAt == nil},
				Status: MailQueued, NextAttemptAt: now, CreatedAt: now,
			}); err != nil {
				return err
			}
		}
		told := "admins_told"
		if mailOf == "" {
			told = "operators_told"
		}
		data[told] = len(to)
		return nil
	}
	if toldAt != nil {
		s.log.InfoContext(ctx, "webhook disabled again within a day of the last notice: nobody is mailed", "webhook_id", w.ID)
		data["told_at"] = *toldAt
	}
	if w.AccountID != "" {
		admins, err := tx.FindAdminEmails(ctx, w.AccountID)
		if err != nil {
			return err
		}
		if err := tell(w.AccountID, admins); err != nil {
			return err
		}
	}
	if !w.ownersOwn() {
		if err := tell("", ops); err != nil {
			return err
		}
	}
	return s.record(ctx, tx, change{
		accountID: w.AccountID, actor: Actor{Source: SourceSystem}, action: "webhook.disabled", targetType: "webhook", targetID: w.ID,
		data: forAccount(w, data),
	})
}

// ownersOwn reports whether w is one of an account's owners' endpoints
// (AddAccountWebhook), rather than the operators'.
func (w Webhook) ownersOwn() bool { return w.AccountID != "" && w.PublicOnly }

// webhookNoticeSince returns when people were last told that w was
// disabled, if it was since since: its webhook.disabled events in the
// audit trail say how many were.
func (s *Service) webhookNoticeSince(ctx context.Context, tx Store, w Webhook, since time.Time) (*time.Time, error) {
	// A disabling that told nobody (within a day of a notice) is no
	// notice; an endpoint disabled more often than this in a day has
	// been enabled by hand as often, and its people were told.
	// An owner's endpoint is known by its URL too: removed and added
	// again, it has a new id, and the admins would be mailed each time.
	// And an account's owners' endpoints together are told of at most
	// MaxAccountWebhooks times a day, one for each they may have: added
	// again at ever other URLs, one endpoint could mail every admin a
	// hundred times a day.
	const look = 100
	q := AuditQuery{Action: "webhook.disabled", People: []string{w.ID}, Since: since, Limit: look}
	if w.ownersOwn() {
		q.People = nil
	}
	evs, err := tx.FindAuditEventsBy(ctx, w.AccountID, q)
	if err != nil {
		return nil, err
	}
	var owners []time.Time // the notices of owners' endpoints (which keep their URL), newest first
	for _, e := range evs {
		var d struct {
			URL       string `json:"url"`
			Admins    int    `json:"admins_told"`
			Operators int    `json:"operators_told"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.Admins+d.Operators == 0 {
			continue
		}
		if e.TargetID == w.ID || d.URL == w.URL {
			return &e.CreatedAt, nil
		}
		if d.URL != "" {
			owners = append(owners, e.CreatedAt)
		}
	}
	if w.ownersOwn() && len(owners) >= MaxAccountWebhooks {
		return &owners[0], nil
	}
	if len(evs) == look {
		return &evs[len(evs)-1].CreatedAt, nil
	}
	return nil, nil
}

// Events returns published events after the cursor, in order; of one
// account when accountID is not empty. A reader must learn when it cannot
// resume where it was, rather than skip what it missed: a cursor below
// the highest of the account's events swept since (older than the
// retention) is Gone, and one past the end of the feed (a database
// restored from a backup older than the reader) a Conflict. The messages
// carry no numbers: an account's reader learns nothing of others'
// events. After 0 is from the oldest event kept.
func (s *Service) Events(ctx context.Context, accountID string, after int64, limit int) ([]Event, error) {
	evs, err := s.store.FindEvents(ctx, accountID, after, min(max(limit, 1), 1000))
	// The event right after the cursor says nothing is missing: numbers
	// are given one after another.
	if err != nil || after == 0 || len(evs) > 0 && evs[0].Seq == after+1 {
		return evs, err
	}
	last, swept, err := s.store.FindEventBounds(ctx, accountID)
	switch {
	case err != nil:
		return nil, err
	case after > last:
		return nil, ConflictError("this cursor is past the end of the events feed: was admit's database restored from an older backup? Read again from cursor 0, and skip the event ids already handled")
	case after < swept:
		return nil, GoneError("events after this cursor are no longer kept (older than the retention, ADMIT_EVENTS_RETENTION): read again from cursor 0, the oldest kept, and skip the event ids already handled")
	}
	return evs, nil
}

// OldestUnpublishedEvent returns when the oldest event not yet published
// was made, or nil when every event is: workers publish within a second
// or two, so minutes mean none is running, or none can write.
func (s *Service) OldestUnpublishedEvent(ctx context.Context) (*time.Time, error) {
	return s.store.FindOldestUnpublishedEvent(ctx)
}

// WebhookHealth is how the webhooks that operators added (PublicOnly
// false) or that accounts' owners added stand, for the metrics.
type WebhookHealth struct {
	PublicOnly                 bool
	Enabled, Failing, Disabled int
	OldestFailing              *time.Time // the earliest FailingSince of those failing
}

// WebhookHealth returns the health of the operators' webhooks, then of
// the owners'. Only failing and disabled webhooks are read: the others
// are counted.
func (s *Service) WebhookHealth(ctx context.Context) ([]WebhookHealth, error) {
	operators, owners, err := s.store.CountWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	unhealthy, err := s.store.FindUnhealthyWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := []WebhookHealth{{Enabled: operators}, {PublicOnly: true, Enabled: owners}}
	for _, w := range unhealthy {
		h := &out[0]
		if w.PublicOnly {
			h = &out[1]
		}
		h.Enabled--
		switch w.State() {
		case WebhookDisabled:
			h.Disabled++
		case WebhookFailing:
			h.Failing++
			if h.OldestFailing == nil || w.FailingSince.Before(*h.OldestFailing) {
				h.OldestFailing = w.FailingSince
			}
		}
	}
	return out, nil
}

// SweepEvents deletes events and deliveries older than retention (zero:
// EventRetention), so the outbox stops growing, then queues the
// deliveries left waiting for nothing (readyStrandedDeliveries): those
// behind a person's first one it swept, or a recovery cut short.
func (s *Service) SweepEvents(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		retention = EventRetention
	}
	n, freed, err := s.store.DeleteEventsBefore(ctx, s.clock().Add(-retention))
	if err != nil {
		return 0, fmt.Errorf("sweep events: %w", err)
	}
	// A person whose first pending delivery went: the next is made ready
	// under the event sequence's lock, which waits for a publisher that
	// read the swept one as pending and is queuing another behind it.
	if err := s.makeReadyByWebhook(ctx, freed); err != nil {
		return n, fmt.Errorf("sweep events: %w", err)
	}
	people, err := s.readyStrandedDeliveries(ctx)
	if err != nil {
		return n, fmt.Errorf("sweep events: %w", err)
	}
	if people > 0 {
		s.log.InfoContext(ctx, "queued deliveries no earlier one held back any more", "people", people)
	}
	return n, nil
}

// readyStrandedDeliveries makes ready the first pending delivery of each
// person whose pending deliveries to a webhook all wait, with none before
// them left to finish, and returns how many people's it found. A
// recovery whose second step failed leaves such deliveries, as would any
// fault that broke a person's chain: the sweep looks each time, so that
// at worst they wait for the next sweep (within the hour) rather than for
// ever. The look takes no lock (it reads every pending delivery; holding
// publishers, and SQLite's every writer, that long each hour would not
// do), so a person whose chain a publisher or recorder is committing
// meanwhile waits for the next look.
func (s *Service) readyStrandedDeliveries(ctx context.Context) (int, error) {
	stranded, err := s.store.FindStrandedSubjects(ctx)
	if err != nil {
		return 0, fmt.Errorf("find stranded deliveries: %w", err)
	}
	n := 0
	for _, subjects := range stranded {
		n += len(subjects)
	}
	return n, s.makeReadyByWebhook(ctx, stranded)
}

// makeReadyByWebhook makes ready the first pending delivery of each
// webhook's subjects given that has none ready (MakeDeliveriesReady).
func (s *Service) makeReadyByWebhook(ctx context.Context, subjects map[string][]string) error {
	for _, webhookID := range slices.Sorted(maps.Keys(subjects)) {
		if err := s.store.MakeDeliveriesReady(ctx, webhookID, subjects[webhookID]); err != nil {
			return fmt.Errorf("make deliveries ready: %w", err)
		}
	}
	return nil
}

// AnalyzeDeliveries has the database read its statistics of deliveries
// and events again, for the worker to call after publishing a burst: see
// WebhookStore.
func (s *Service) AnalyzeDeliveries(ctx context.Context) error {
	if err := s.store.AnalyzeDeliveries(ctx); err != nil {
		return fmt.Errorf("refresh delivery statistics: %w", err)
	}
	return nil
}
