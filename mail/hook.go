package mail

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

// BounceHook takes bounce reports from mail providers that learn of a
// bounce after they accepted the message (POST /hooks/mail-bounce). The
// outcome is the same as a 5xx at send time: the invitation is marked
// undeliverable and the inviter told.
//
// A report is JSON, {"message_id": "...", "recipient": "...", "reason": "..."},
// where message_id is the Message-ID admit gave the email (with or without
// angle brackets). It is signed with the install's bounce secret (admit
// mail bounce-secret): X-Admit-Timestamp carries the Unix time, and
// X-Admit-Signature "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
// Reports older or newer than five minutes are refused, so a captured
// report cannot be replayed later.
type BounceHook struct {
	dir    BounceDirectory
	secret []byte
	log    *slog.Logger
	now    func() time.Time
}

// BounceDirectory is what the hook needs of the directory.
type BounceDirectory interface {
	FindMailMessage(ctx context.Context, id string) (directory.MailMessage, error)
	MailRefused(ctx context.Context, id, reason string) error
}

// NewBounceHook returns the hook; secret must be at least 32 bytes.
func NewBounceHook(dir BounceDirectory, secret []byte, log *slog.Logger) *BounceHook {
	return &BounceHook{dir: dir, secret: secret, log: log, now: time.Now}
}

const (
	maxBounceBody   = 16 << 10
	bounceClockSkew = 5 * time.Minute
)

type bounceReport struct {
	MessageID string `json:"message_id"`
	Recipient string `json:"recipient"`
	Reason    string `json:"reason"`
}

// Sign returns the signature header value for a report body at a time:
// what a provider's relay (or a test) must send.
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (h *BounceHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBounceBody+1))
	if err != nil || len(body) > maxBounceBody {
		h.reply(w, r, http.StatusRequestEntityTooLarge, "the report is too large or could not be read")
		return
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Admit-Timestamp"), 10, 64)
	if err != nil {
		h.reply(w, r, http.StatusUnauthorized, "X-Admit-Timestamp must be the Unix time of signing")
		return
	}
	if d := h.now().Sub(time.Unix(ts, 0)); d > bounceClockSkew || d < -bounceClockSkew {
		h.reply(w, r, http.StatusUnauthorized, "the report's timestamp is more than five minutes off")
		return
	}
	if !hmac.Equal([]byte(r.Header.Get("X-Admit-Signature")), []byte(Sign(h.secret, ts, body))) {
		h.reply(w, r, http.StatusUnauthorized, "the signature does not match")
		return
	}
	var rep bounceReport
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil || rep.MessageID == "" || rep.Recipient == "" {
		h.reply(w, r, http.StatusBadRequest, "want a JSON object with message_id, recipient and reason")
		return
	}
	id := strings.Trim(rep.MessageID, "<> ")
	id, _, _ = strings.Cut(id, "@")
	m, err := h.dir.FindMailMessage(r.Context(), id)
	if directory.KindOf(err) == directory.NotFound || (err == nil && !strings.EqualFold(m.Recipient, strings.TrimSpace(rep.Recipient))) {
		h.reply(w, r, http.StatusNotFound, "no message with that Message-ID went to that recipient")
		return
	}
	if err != nil {
		h.failed(w, r, "", err)
		return
	}
	reason := "bounce reported later: " + strings.TrimSpace(rep.Reason)
	if err := h.dir.MailRefused(r.Context(), m.ID, reason); err != nil {
		h.failed(w, r, m.ID, err)
		return
	}
	h.log.InfoContext(r.Context(), "bounce recorded", "mail_id", m.ID)
	h.reply(w, r, http.StatusOK, "")
}

// failed answers a report that could not be recorded: a 503 with
// Retry-After while the database is unavailable, which mail services
// retry, and a 500 otherwise.
func (h *BounceHook) failed(w http.ResponseWriter, r *http.Request, mailID string, err error) {
	status := http.StatusInternalServerError
	if directory.KindOf(err) == directory.Unavailable {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", strconv.Itoa(directory.RetryAfter))
		h.log.WarnContext(r.Context(), "bounce report: directory unavailable", "mail_id", mailID, "err", err)
	} else {
		h.log.ErrorContext(r.Context(), "bounce report", "mail_id", mailID, "err", err)
	}
	h.reply(w, r, status, "the report could not be recorded; send it again later")
}

func (h *BounceHook) reply(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status >= 400 && status < 500 {
		h.log.InfoContext(r.Context(), "bounce report refused", "status", status, "reason", msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if msg == "" {
		_, _ = io.WriteString(w, `{"status":"recorded"}`+"\n")
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
