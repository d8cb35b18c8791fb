package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/web"
)

// httpMetrics counts requests and times them by route pattern (never by raw
// path, which would give every account and token a series of its own).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admit_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "admit_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe records metrics and an access log line for each request. It must
// sit directly outside the mux and pass the request on unchanged: the mux
// sets r.Pattern on that very request, which names the route afterwards.
func observe(log *slog.Logger, m *httpMetrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &web.StatusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.Status == 0 {
				rec.Status = http.StatusOK
			}
			elapsed := time.Since(start)
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			m.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.Status)).Inc()
			m.duration.WithLabelValues(route, r.Method).Observe(elapsed.Seconds())
			client, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				client = r.RemoteAddr
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", web.SafePath(r)), slog.String("route", route),
				slog.Int("status", rec.Status), slog.Duration("duration", elapsed), slog.String("client", client))
		})
	}
}

// recoverPanics turns a panic into a logged error and a readable 500 page.
// No handler should panic; this keeps one bug from taking the process down.
func recoverPanics(pages *web.Renderer, log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler { //nolint:errorlint // the documented sentinel, compared as net/http does
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				pages.Error(w, r, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// limitBodies bounds every request body, so no handler can be made to read
// an unbounded amount.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBodyBytes)
		// A spreadsheet upload, of the console's import page or of the JSON
		// API (POST /api/v1/accounts/{account}/imports), is bounded by
		// package bulk's own limit, and answered over it by its page (the
		// import page, saying the limit) or as a problem (413 too_large):
		// a bare refusal here would tell the admin nothing.
		upload := r.Method == http.MethodPost &&
			(strings.HasPrefix(r.URL.Path, "/api/v1/accounts/") && strings.HasSuffix(r.URL.Path, "/imports") ||
				strings.HasPrefix(r.URL.Path, "/admin/") && strings.HasSuffix(r.URL.Path, "/imports/upload"))
		if upload {
			limit = bulk.DefaultMaxBytes + 2<<20
		}
		// SCIM answers an oversized body itself, in the SCIM error schema.
		if r.ContentLength > limit && !strings.HasPrefix(r.URL.Path, "/scim/") && !upload {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}
