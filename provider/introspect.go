package provider

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
)

// introspectionFaults answers an introspection whose token admit could
// not read for a fault of its own (the database failing, not the token
// being bad) as that fault, 500 server_error, which outageAware turns into
// 503 during an outage: op answers any error of the storage with
// {"active":false}, so an API that introspects would read a good token as
// revoked or expired and turn its caller away as signed out (the reason
// userinfo answers server_error rather than invalid_token: writeOAuthError).
// RFC 7662 section 2.2's inactive answer is for a token that is not
// valid; an answer the server could not make is an error (section 2.3).
// The storage notes the fault (introspectionFault) before op writes its
// answer, which is then dropped.
func (h *Handler) introspectionFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != introspectionPath {
			next.ServeHTTP(w, r)
			return
		}
		f := &fault{}
		fw := &faultAware{ResponseWriter: w, fault: f}
		next.ServeHTTP(fw, r.WithContext(context.WithValue(r.Context(), faultKey{}, f)))
		if fw.dropped {
			h.serverError(w, r)
		}
	})
}

// fault is a storage fault of one request, noted for the handler.
type fault struct {
	mu  sync.Mutex
	err error
}

func (f *fault) failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err != nil
}

type faultKey struct{}

// introspectionFault notes err, a storage fault while op introspects a
// token, for introspectionFaults, and logs it through the default logger
// (with the request, at ERROR, or not at all when outageAware finds the
// database out of reach and says so itself). It returns err for op, which
// answers inactive.
func introspectionFault(ctx context.Context, err error) error {
	if f, ok := ctx.Value(faultKey{}).(*fault); ok {
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}
	slog.ErrorContext(ctx, "introspection failed", "err", err)
	return err
}

// faultAware passes op's answer on unless a fault was noted before it,
// and then drops it.
type faultAware struct {
	http.ResponseWriter
	fault   *fault
	dropped bool
}

func (fw *faultAware) WriteHeader(status int) {
	if fw.dropped || fw.fault.failed() {
		fw.dropped = true
		return
	}
	fw.ResponseWriter.WriteHeader(status)
}

func (fw *faultAware) Write(b []byte) (int, error) {
	if fw.dropped || fw.fault.failed() {
		fw.dropped = true
		return len(b), nil
	}
	return fw.ResponseWriter.Write(b)
}
