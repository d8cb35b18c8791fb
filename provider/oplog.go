package provider

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/admit-dev/admit/web"
)

// op (zitadel/oidc v3) logs through slog's default logger only: its
// WithLogger option does nothing, and it logs every refusal of an app's
// request, an invalid_grant as much as a wrong client secret, at WARN.
// LogHandler is the bridge main installs as that default; with it, op's
// lines about a request of this package's routes are held with the
// request and written through the Handler's logger, once, at admit's
// levels (a refusal at INFO, a server_error at ERROR), or not at all where
// admit logs the outcome itself.

// LogHandler is next for the process's default logger (slog.SetDefault),
// so that what op logs comes out as admit's lines: during a request to
// the provider they go to the provider's logger (see opLog); any other is
// written to next, at admit's level.
func LogHandler(next slog.Handler) slog.Handler { return opHandler{next} }

type opHandler struct{ next slog.Handler }

func (h opHandler) Enabled(ctx context.Context, level slog.Level) bool {
	if linesOf(ctx) != nil {
		return true
	}
	// op's WARN may become INFO: ask at the lower of the two.
	return h.next.Enabled(ctx, min(level, slog.LevelInfo))
}

func (h opHandler) Handle(ctx context.Context, r slog.Record) error {
	if l := linesOf(ctx); l != nil {
		l.add(r)
		return nil
	}
	r = admitLevel(r)
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs and WithGroup serve loggers derived from the default; op
// derives none, and lines of such loggers are not held.
func (h opHandler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.next.WithAttrs(attrs) }
func (h opHandler) WithGroup(name string) slog.Handler       { return h.next.WithGroup(name) }

// admitLevel sets the level of a line that carries op's error
// (oidc_error) as admit logs an error answer: a refusal of the app's
// request (a 4xx) at INFO, a server_error at ERROR.
func admitLevel(r slog.Record) slog.Record {
	var e *oidc.Error
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "oidc_error" {
			e, _ = a.Value.Any().(*oidc.Error)
			return false
		}
		return true
	})
	if e == nil {
		return r
	}
	level := slog.LevelInfo
	if e.ErrorType == oidc.ServerError {
		level = slog.LevelError
	}
	return withLevel(r, level)
}

func withLevel(r slog.Record, level slog.Level) slog.Record {
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return out
}

// opLines holds op's lines of one request.
type opLines struct {
	mu      sync.Mutex
	records []slog.Record
	dropped bool
}

// maxOpLines bounds what one request holds; op writes one or two.
const maxOpLines = 8

func (l *opLines) add(r slog.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.records) < maxOpLines {
		l.records = append(l.records, r.Clone())
	}
}

type opLinesKey struct{}

func linesOf(ctx context.Context) *opLines {
	l, _ := ctx.Value(opLinesKey{}).(*opLines)
	return l
}

// dropOpLines discards op's lines of the request of ctx: admit logs its
// outcome itself.
func dropOpLines(ctx context.Context) {
	if l := linesOf(ctx); l != nil {
		l.mu.Lock()
		l.dropped = true
		l.mu.Unlock()
	}
}

// opLog holds op's lines while next serves the request, then writes those
// not dropped through the provider's logger, with the request's context
// (its request id), at the level of the answer that went out: INFO for a
// refusal, ERROR for a 5xx. (op's own levels say neither: it logs a wrong
// client secret at WARN, and a request without client_id, which it
// answers 400, as a server_error.)
func (h *Handler) opLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := &opLines{}
		ctx := context.WithValue(r.Context(), opLinesKey{}, l)
		sw := &web.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		l.mu.Lock()
		records, dropped := l.records, l.dropped
		l.mu.Unlock()
		if dropped {
			return
		}
		level := slog.LevelInfo
		if sw.Status >= 500 {
			level = slog.LevelError
		}
		for _, rec := range records {
			if h.log.Handler().Enabled(r.Context(), level) {
				_ = h.log.Handler().Handle(r.Context(), withLevel(rec, level))
			}
		}
	})
}
