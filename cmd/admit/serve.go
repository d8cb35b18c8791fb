package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	outbound "github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/invite"
	"github.com/admit-dev/admit/login"
	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/provider"
	"github.com/admit-dev/admit/scim"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/web"
)

// Server limits. Bodies larger than maxBodyBytes are refused before any
// handler reads them; routes that take uploads raise it for themselves.
const (
	maxBodyBytes     = 1 << 20
	maxHeaderBytes   = 64 << 10
	shutdownGrace    = 20 * time.Second
	readinessTimeout = 2 * time.Second
)

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := c.settingsFlags("serve")
	fs.BoolVar(&c.jsonLog, "json", false, "write the log as JSON lines (time, level, msg and the line's fields), for a log collector")
	// ADMIT_UPSTREAM is read here until it joins the settings of config.go.
	if err := c.parse(fs, args); err != nil {
		return err
	}
	upstream, err := parseUpstream(c.cfg.Upstream)
	if err != nil {
		return err
	}
	log := c.logger(slog.LevelInfo)
	// The OpenID provider's library (zitadel/oidc's op) logs through slog's
	// default logger and nothing else (its WithLogger does nothing), so
	// the default is the one global set here, once: op's lines and any
	// other library's (and the log package's) come out in admit's format,
	// and provider.LogHandler gives op's lines admit's levels and request
	// ids without repeating a line admit writes itself.
	slog.SetDefault(slog.New(provider.LogHandler(log.Handler())))
	if w := c.cfg.BaseURLWarning(); w != "" {
		log.Warn(w)
	}
	s, keys, err := c.open(ctx, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := c.recordBaseURL(ctx, s, log); err != nil {
		return err
	}
	if c.cfg.SecretKey == "" && s.Dialect() == "postgres" {
		log.Warn("ADMIT_SECRET_KEY is not set: the key in the data folder works for this replica only; set the same ADMIT_SECRET_KEY on every replica")
	}
	svc := directory.NewService(directory.Config{Store: s, TokenKey: keys.invitation, DeviceKey: keys.device, AcceptedTokenKeys: keys.accepted().invitation, AcceptedDeviceKeys: keys.accepted().device, Resolver: c.cfg.Resolver(), RefusedAddress: refusedAddress, Logger: log})
	sealer, err := keys.sealer()
	if err != nil {
		return err
	}
	certManager := certs.New(certs.Config{Store: s, Sealer: sealer, CommonName: hostOf(c.cfg.BaseURL), Logger: log})
	// The first start makes the SAML key pair now rather than in the first
	// login; a key sealed with another server key fails here, loudly.
	if _, err := certManager.Current(ctx); err != nil {
		return fmt.Errorf("SAML certificates: %w", err)
	}
	tokenKeys := certs.NewTokenKeys(certs.Config{Store: s, Sealer: sealer, CommonName: hostOf(c.cfg.BaseURL), Logger: log})
	if _, err := tokenKeys.JWKS(ctx); err != nil {
		return fmt.Errorf("token signing keys: %w", err)
	}
	reg := prometheus.NewRegistry()
	fetcher := c.cfg.Fetch(log)
	// The delivery worker, which the console and the API send test
	// events through too.
	webhooks := events.NewWorker(events.Config{Directory: svc, Client: fetcher, PublicClient: outbound.New(outbound.Config{Logger: log}),
		Secrets: sealer, Retention: c.cfg.Retention(), Logger: log})
	reg.MustRegister(webhooks.Collectors()...)
	// Background work stops only after the server has finished its
	// requests, so mail queued by the last of them is still picked up; it
	// also counts what the sign-in pages do after their answers.
	var background sync.WaitGroup
	handler, err := newHandler(c.cfg, keys, svc, certManager, tokenKeys, sealer, fetcher, webhooks, reg, log, upstream, &background)
	if err != nil {
		return err
	}
	refresher := &sso.Refresher{Directory: svc, Certs: certManager, Watcher: certs.NewWatcher(reg, log), Fetch: fetcher, Logger: log}
	worker, err := c.mailWorker(svc, log)
	if err != nil {
		return err
	}
	reg.MustRegister(worker.Metrics())
	// The ports are taken before any background work starts: a port in
	// use is the one thing said, not the end of a refresh it cut short.
	ln, err := net.Listen("tcp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.cfg.Addr, err)
	}
	servers := []served{{newServer(ctx, handler, log), ln}}
	if c.cfg.MetricsAddr != metricsOff {
		mln, err := net.Listen("tcp", c.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (ADMIT_METRICS_ADDR; off serves no metrics): %w", c.cfg.MetricsAddr, err)
		}
		servers = append(servers, served{newServer(ctx, metricsHandler(reg), log), mln})
		log.Info("metrics are listening", "addr", mln.Addr().String(), "path", "/metrics")
	} else {
		log.Info("ADMIT_METRICS_ADDR is off: no metrics are served")
	}
	if c.cfg.PprofAddr != "" {
		pln, err := net.Listen("tcp", c.cfg.PprofAddr)
		if err != nil {
			for _, sv := range servers {
				sv.ln.Close()
			}
			return fmt.Errorf("listen on %s (ADMIT_PPROF_ADDR): %w", c.cfg.PprofAddr, err)
		}
		servers = append(servers, served{pprofServer(ctx, log), pln})
		log.Warn("pprof is listening: profiles show what admit is doing, for the operator only", "addr", pln.Addr().String(), "path", "/debug/pprof/")
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	background.Go(func() { worker.Run(bgCtx) })
	background.Go(func() { sweep(bgCtx, svc, log) })
	clock := newClockWatch(s, reg, log)
	background.Go(func() { clock.run(bgCtx) })
	keyCheck := newKeyWatch(s, keys, reg, log)
	background.Go(func() { keyCheck.run(bgCtx) })
	background.Go(func() { refresher.Run(bgCtx) })
	logouts := provider.NewNotifier(provider.NotifierConfig{Directory: svc, Keys: tokenKeys, Fetch: fetcher, Issuer: c.cfg.BaseURL, Logger: log})
	background.Go(func() { logouts.Run(bgCtx) })
	background.Go(func() { webhooks.Run(bgCtx) })
	imports := &bulk.Runner{Service: svc, Logger: log}
	background.Go(func() { imports.Run(bgCtx) })
	defer func() { stopBackground(); background.Wait() }()
	log.Info("admit is listening", "addr", ln.Addr().String(), "base_url", c.cfg.BaseURL, "database", s.Dialect())
	done := make(chan error, len(servers))
	for _, sv := range servers {
		go func() { done <- sv.srv.Serve(sv.ln) }()
	}
	select {
	case err := <-done:
		for _, sv := range servers {
			sv.srv.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "grace", shutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	var errs []error
	for _, sv := range servers {
		if err := sv.srv.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	for range servers {
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// served is a server and the listener it serves.
type served struct {
	srv *http.Server
	ln  net.Listener
}

// newServer bounds every phase of a request, so that slow clients cannot
// hold connections open.
func newServer(ctx context.Context, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// mailWorker delivers the mail outbox through ADMIT_SMTP_URL, or keeps the
// mail for the dev mailbox when it is not set.
func (c *cli) mailWorker(svc *directory.Service, log *slog.Logger) (*mail.Worker, error) {
	renderer, err := mail.NewRenderer(c.cfg.BaseURL, c.cfg.Sender())
	if err != nil {
		return nil, err
	}
	if c.cfg.SMTPURL == "" {
		log.Info("ADMIT_SMTP_URL is not set: mail is kept in the database (admit mail list, admit mail show), not sent")
		return mail.NewWorker(svc, nil, renderer, log), nil
	}
	smtp, err := mail.NewSMTP(mail.SMTPConfig{URL: c.cfg.SMTPURL, HelloName: hostOf(c.cfg.BaseURL)})
	if err != nil {
		return nil, err
	}
	log.Info("mail goes out through SMTP", "server", smtp.String(), "from", c.cfg.Sender())
	return mail.NewWorker(svc, smtp, renderer, log), nil
}

// parseUpstream reads ADMIT_UPSTREAM; "" is none.
func parseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, usageError{msg: fmt.Sprintf("ADMIT_UPSTREAM (--upstream) %q must be an http or https URL like http://127.0.0.1:3000", s), settings: true}
	}
	return u, nil
}

func hostOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

// sweepEvery is how often expired sessions, sign-in failures, reset
// links and import uploads are deleted (Service.Sweep): an upload outlives
// its hour by five minutes at most.
const sweepEvery = 5 * time.Minute

func sweep(ctx context.Context, svc *directory.Service, log *slog.Logger) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	outage := &directory.Outage{Log: log, What: "sweep"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.Sweep(ctx)
			if _, down := outage.Check(ctx, err); down || ctx.Err() != nil {
				continue
			}
			if err != nil {
				log.ErrorContext(ctx, "sweep", "err", err)
			} else if n > 0 {
				log.InfoContext(ctx, "swept expired rows", "rows", n)
			}
		}
	}
}

// realms is home realm discovery for the sign-in page: an email whose
// domain has single sign-on is offered its account's SSO beside the
// password form.
type realms struct{ dir *directory.Service }

func (r realms) SSOFor(ctx context.Context, email string) (login.SSOOption, bool, error) {
	a, c, err := r.dir.ConnectionForDomainOf(ctx, email)
	if directory.KindOf(err) == directory.NotFound {
		return login.SSOOption{}, false, nil
	}
	if err != nil {
		return login.SSOOption{}, false, err
	}
	// An account that requires SSO sends its people straight there, unless
	// its owners keep a break-glass password: then the form still checks
	// the password and the directory lets only owners in with it.
	return login.SSOOption{AccountName: a.Title(), URL: sso.LoginPath(a.Slug, c.Name, email),
		Required: a.SignIn.SSORequired, OwnersMayUsePassword: a.SignIn.BreakGlassOwners}, true, nil
}

// onward is where sign-ins continue past admit: an app of the OpenID
// provider, or a forward-auth app on another host (a hand-off).
type onward []login.Onward

func (o onward) Origins(ctx context.Context, returnTo string) []string {
	var out []string
	for _, each := range o {
		out = append(out, each.Origins(ctx, returnTo)...)
	}
	return out
}

func (o onward) ChoosesAccount(ctx context.Context, returnTo string) bool {
	for _, each := range o {
		if each.ChoosesAccount(ctx, returnTo) {
			return true
		}
	}
	return false
}

// pinger is what readiness needs of the directory.
type pinger interface {
	Ping(ctx context.Context) error
}

// newHandler assembles the one ServeMux and the middleware every request
// passes through.
func newHandler(cfg Config, keys keys, svc *directory.Service, certManager *certs.Manager, tokenKeys *certs.TokenKeys, sealer *certs.Sealer, fetcher *outbound.Client, webhooks *events.Worker, reg *prometheus.Registry, log *slog.Logger, upstream *url.URL, apart *sync.WaitGroup) (http.Handler, error) {
	pages, err := web.NewRenderer(web.Config{Key: keys.csrf, AcceptedKeys: keys.accepted().csrf, Secure: cfg.Secure(), Logger: log})
	if err != nil {
		return nil, err
	}
	// The console's Branding page previews emails with the worker's renderer.
	mailPreview, err := mail.NewRenderer(cfg.BaseURL, cfg.Sender())
	if err != nil {
		return nil, err
	}
	invitations, err := invite.New(invite.Config{Directory: svc, Pages: pages, Secure: cfg.Secure(), Logger: log})
	if err != nil {
		return nil, err
	}
	openID, err := provider.New(provider.Config{Directory: svc, Keys: tokenKeys, Pages: pages, Issuer: cfg.BaseURL, Key: keys.provider, AcceptedKeys: keys.accepted().provider, Secure: cfg.Secure(), Logger: log})
	if err != nil {
		return nil, err
	}
	setup := sso.NewSetup(sso.SetupConfig{Directory: svc, Fetch: fetcher, Secrets: sealer, BaseURL: cfg.BaseURL})
	// The console's and the API's uploads take turns at reading, together.
	reading := bulk.NewSlots(bulk.MaxReading, bulk.ReadWait)
	api := admin.NewAPI(admin.APIConfig{Directory: svc, Imports: bulk.Spreadsheets{Slots: reading}, Secrets: events.Secrets{Sealer: sealer}, Sender: webhooks, Logger: log})
	imports, err := bulk.NewHandler(bulk.ConsoleConfig{Directory: svc, Pages: pages, Secure: cfg.Secure(), Slots: reading, Logger: log})
	if err != nil {
		return nil, err
	}
	provisioning, err := scim.New(svc, cfg.BaseURL, log)
	if err != nil {
		return nil, err
	}
	singleSignOn, err := sso.New(sso.Config{Directory: svc, Certs: certManager, Secrets: sealer, StateKey: keys.ssoState, AcceptedStateKeys: keys.accepted().ssoState, Fetch: fetcher, Pages: pages, BaseURL: cfg.BaseURL, Secure: cfg.Secure(), Logger: log, Metrics: reg})
	if err != nil {
		return nil, err
	}
	forward, err := gate.New(gate.Config{Directory: svc, Keys: tokenKeys, Pages: pages, Issuer: cfg.BaseURL, Secure: cfg.Secure(), Upstream: upstream, Logger: log})
	if err != nil {
		return nil, err
	}
	signIn, err := login.New(login.Config{Directory: svc, Pages: pages, Realms: realms{svc}, Onward: onward{openID, forward}, Logout: singleSignOn, Secure: cfg.Secure(), Logger: log, Apart: apart})
	if err != nil {
		return nil, err
	}
	console, err := admin.New(admin.Config{Directory: svc, Pages: pages, SSO: setup, Mail: mailPreview, SignIn: signIn, Secrets: events.Secrets{Sealer: sealer}, Sender: webhooks, Secure: cfg.Secure(), BaseURL: cfg.BaseURL, Logger: log})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := newHTTPMetrics(reg)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", readiness(svc, log))
	mux.Handle("GET /static/", http.StripPrefix("/static/", web.Static()))
	mux.Handle("GET /{$}", pages.Home())
	invitations.Register(mux)
	signIn.Register(mux)
	console.Register(mux)
	api.Register(mux)
	imports.Register(mux)
	provisioning.Register(mux)
	singleSignOn.Register(mux)
	openID.Register(mux)
	mux.Handle("POST /hooks/mail-bounce", mail.NewBounceHook(svc, keys.bounceSecret(), log))
	forward.Register(mux)
	if upstream == nil {
		mux.Handle("/", pages.Handler(func(w http.ResponseWriter, r *http.Request) error {
			return directory.NotFoundError("There is no page at this address.")
		}))
	}

	// Outermost first: the client's address is read from trusted proxies'
	// headers before anything counts or logs it, the request id exists
	// before anything logs, and observe sits right outside the mux (see
	// observe).
	var h http.Handler = mux
	h = forward.KeepPagesHome(h)
	h = recoverPanics(pages, log)(h)
	h = observe(log, metrics)(h)
	h = limitBodies(h)
	h = web.SecurityHeaders(cfg.Secure())(h)
	h = web.RequestID(h)
	// Validate has refused a list that does not parse.
	proxies, _ := web.ParseTrustedProxies(cfg.TrustedProxies)
	h = proxies.RealClient(h)
	return h, nil
}

// metricsHandler serves /metrics and nothing else, for the listener of
// ADMIT_METRICS_ADDR. Metrics carry account slugs (SSO logins by account,
// certificates by connection), which are not for the public listener.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

func readiness(p pinger, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readinessTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			log.WarnContext(r.Context(), "not ready: database unreachable", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
