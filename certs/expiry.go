package certs

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Expiry is one certificate whose end is watched: admit's own, or an
// identity provider's signing certificate from a connection's metadata.
type Expiry struct {
	Kind       string // "sp" (admit's own) or "idp"
	Account    string // the account slug, for idp
	Connection string // the connection name, for idp
	Serial     string
	NotAfter   time.Time
}

// WarnBefore is how long before a certificate's end the warnings start.
const WarnBefore = 30 * 24 * time.Hour

// Watcher exports certificate ends as a metric and logs a warning for each
// certificate about to end (or already over), so that a rollover is done
// before logins fail.
type Watcher struct {
	notAfter *prometheus.GaugeVec
	log      *slog.Logger
}

// NewWatcher registers admit_certificate_not_after_seconds with reg.
func NewWatcher(reg prometheus.Registerer, log *slog.Logger) *Watcher {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "admit_certificate_not_after_seconds",
		Help: "When a SAML certificate stops being valid (Unix time): admit's own (kind=sp) and identity providers' signing certificates (kind=idp).",
	}, []string{"kind", "account", "connection", "serial"})
	reg.MustRegister(g)
	return &Watcher{notAfter: g, log: log}
}

// Report replaces the exported ends with these and warns of those ending
// within WarnBefore of now. It returns how many it warned of.
func (w *Watcher) Report(ctx context.Context, now time.Time, all []Expiry) int {
	w.notAfter.Reset()
	warned := 0
	for _, e := range all {
		w.notAfter.WithLabelValues(e.Kind, e.Account, e.Connection, e.Serial).Set(float64(e.NotAfter.Unix()))
		left := e.NotAfter.Sub(now)
		if left > WarnBefore {
			continue
		}
		warned++
		msg := "a SAML certificate ends soon"
		if left <= 0 {
			msg = "a SAML certificate has ended"
		}
		hint := "run admit certs rotate, wait for identity providers to read the metadata again, then rotate again"
		if e.Kind == "idp" {
			hint = "ask the identity provider's admin for its new certificate, and add it to the connection's metadata before the old one ends"
		}
		w.log.WarnContext(ctx, msg, "kind", e.Kind, "account", e.Account, "connection", e.Connection, "serial", e.Serial,
			"not_after", e.NotAfter, "days_left", int(left.Hours()/24), "what_to_do", hint)
	}
	return warned
}

// Expiries returns the ends of admit's own published certificates.
func (s Set) Expiries() []Expiry {
	out := make([]Expiry, 0, len(s.Published))
	for _, kp := range s.Published {
		out = append(out, Expiry{Kind: "sp", Serial: kp.Certificate.SerialNumber.Text(16), NotAfter: kp.Certificate.NotAfter})
	}
	return out
}
