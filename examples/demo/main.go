// Command demo runs the whole admit story on one machine, with nothing to
// set up: admit itself (the built binary, on SQLite in a fresh folder) and,
// beside it in this process, what a customer and a platform would bring:
//
//   - Acme's identity providers: a SAML IdP (crewjam's samlidp) and an
//     OpenID provider (zitadel's op), each with demo people;
//   - Acme's intranet portal, with tiles that sign people in (IdP-initiated
//     SAML, SP-initiated SAML, OIDC) and a button that pushes people by SCIM;
//   - the platform's apps: examples/apps/go, signing people in through
//     admit's OpenID provider (go-oidc and x/oauth2, as any Go app would),
//     and a wiki behind admit's reverse proxy, reading the identity headers.
//
// admit is configured only through its command line, as an operator would
// (see setup), so the demo also shows the commands. Run it with `make demo`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.admit, "admit", "bin/admit", "the admit binary to run")
	flag.StringVar(&cfg.goApp, "go-app", "bin/go-app", "the Go example app (examples/apps/go), built")
	flag.StringVar(&cfg.dir, "dir", "demo-data", "folder for the demo's database (emptied at start)")
	flag.IntVar(&cfg.port, "port", 8080, "admit's port; the demo's other servers take the next five")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := start(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	d.printWelcome(os.Stdout)
	<-ctx.Done()
	d.close()
}

type config struct {
	admit string
	goApp string
	dir   string
	port  int
}

// addresses are where each part of the demo listens. admit is reached as
// localhost and everything else as 127.0.0.1, so that admit's cookies and
// the demo servers' cookies live apart in the browser (cookies ignore ports).
type addresses struct {
	admit, samlIdP, oidcIdP, portal, app, wiki, nodeApp, pythonApp string
}

func addressesFrom(port int) addresses {
	at := func(host string, i int) string { return net.JoinHostPort(host, strconv.Itoa(port+i)) }
	return addresses{
		admit:   at("localhost", 0),
		samlIdP: at("127.0.0.1", 1),
		oidcIdP: at("127.0.0.1", 2),
		portal:  at("127.0.0.1", 3),
		app:     at("127.0.0.1", 4),
		wiki:    at("127.0.0.1", 5),
		// examples/apps/node and python, when you start them.
		nodeApp:   at("127.0.0.1", 6),
		pythonApp: at("127.0.0.1", 7),
	}
}

// demo is the running demo.
type demo struct {
	addr    addresses
	admit   *admitProcess
	goApp   *child
	servers []*http.Server
	setup   setupResult
}

func start(ctx context.Context, cfg config, log *slog.Logger) (*demo, error) {
	if _, err := os.Stat(cfg.admit); err != nil {
		return nil, fmt.Errorf("no admit binary at %s: run `make build` first (make demo does)", cfg.admit)
	}
	if _, err := os.Stat(cfg.goApp); err != nil {
		return nil, fmt.Errorf("no Go example app at %s: run `go build -o %s ./examples/apps/go` (make demo does)", cfg.goApp, cfg.goApp)
	}
	admitBin, err := filepath.Abs(cfg.admit)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(cfg.dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.dir, 0o700); err != nil {
		return nil, err
	}
	d := &demo{addr: addressesFrom(cfg.port)}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()

	samlIdP, err := newSAMLIdP("http://" + d.addr.samlIdP)
	if err != nil {
		return nil, err
	}
	oidcIdP, err := newOIDCIdP("http://"+d.addr.oidcIdP, oidcClient{id: "admit", secret: "demo-client-secret", redirectURI: "http://" + d.addr.admit + "/sso/acme/oidc/workforce/callback"})
	if err != nil {
		return nil, err
	}
	if err := d.serve(d.addr.samlIdP, samlIdP, log); err != nil {
		return nil, err
	}
	if err := d.serve(d.addr.oidcIdP, oidcIdP, log); err != nil {
		return nil, err
	}
	if err := d.serve(d.addr.wiki, wikiApp(), log); err != nil {
		return nil, err
	}

	d.admit = &admitProcess{bin: admitBin, dir: cfg.dir, env: []string{
		"ADMIT_DATABASE_URL=sqlite:" + filepath.Join(cfg.dir, "admit.db"),
		"ADMIT_ADDR=" + d.addr.admit,
		"ADMIT_BASE_URL=http://" + d.addr.admit,
		"ADMIT_METRICS_ADDR=off",
		// The demo's identity providers are on this machine: admit's
		// guarded outbound client refuses loopback unless told.
		"ADMIT_OUTBOUND_ALLOW=127.0.0.0/8",
		// The wiki sits behind admit's own reverse proxy.
		"ADMIT_UPSTREAM=http://" + d.addr.wiki,
	}}
	if d.setup, err = setup(ctx, d.admit, d.addr, samlIdP); err != nil {
		return nil, err
	}
	if err := d.admit.serve(ctx, "http://"+d.addr.admit); err != nil {
		return nil, err
	}
	// The IdP learns admit's SAML metadata from admit itself, as an IdP
	// admin pastes the metadata URL that `admit sso add-saml` printed.
	if err := samlIdP.trust(ctx, d.setup.samlMetadataURL, d.setup.samlRelayState); err != nil {
		return nil, err
	}
	// The demo app is examples/apps/go, run as you would run your own.
	if d.goApp, err = startChild("the Go example app", cfg.goApp, d.setup.apps["go"].env); err != nil {
		return nil, err
	}
	if err := d.goApp.waitReady(ctx, "http://"+d.addr.app+"/"); err != nil {
		return nil, err
	}
	if err := d.serve(d.addr.portal, newPortal(d.addr, d.setup), log); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// serve runs h on addr until the demo closes.
func (d *demo) serve(addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (is another demo running? try -port): %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	d.servers = append(d.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("demo server stopped", "addr", addr, "err", err)
		}
	}()
	return nil
}

func (d *demo) close() {
	for _, s := range d.servers {
		_ = s.Close()
	}
	d.goApp.stop()
	if d.admit != nil {
		d.admit.server.stop()
	}
}

func (d *demo) printWelcome(w io.Writer) {
	fmt.Fprintf(w, `
admit demo is running. Press Ctrl-C to stop it.

  Acme's intranet (start here)  http://%[1]s/
  admit                         http://%[2]s/
  admit's console               http://%[2]s/admin/acme  (sign in as an Acme admin: Nia below)
  the demo app (OpenID Connect) http://%[3]s/
  the wiki (behind admit proxy) http://%[2]s/wiki/
  Acme's SAML IdP               http://%[4]s/metadata
  Acme's OpenID provider        http://%[5]s/.well-known/openid-configuration

People at Acme's identity providers (they do not exist in admit until they first sign in):
  SAML  nia / %[6]s   (in the group "Acme Admins": admit makes her an admin)
  SAML  omar / %[6]s
  OIDC  leo / %[6]s

Acme's SCIM token (push people as Okta, Entra ID, OneLogin or JumpCloud would, with examples/scim):
  SCIM_TOKEN=%[10]s ADMIT_URL=http://%[2]s examples/scim/okta.sh

The example apps in examples/apps are registered too; start them beside the demo:
  env $(cat %[11]s) node examples/apps/node/app.mjs      (after npm ci in examples/apps/node)
  env $(cat %[12]s) python3 examples/apps/python/app.py  (needs Authlib and requests)

The dev mailbox holds an invitation for %[7]s:
  ADMIT_DATABASE_URL=sqlite:%[9]s/admit.db %[8]s mail list --account acme

`, d.addr.portal, d.addr.admit, d.addr.app, d.addr.samlIdP, d.addr.oidcIdP, demoPassword, invitedEmail, d.admit.bin, d.admit.dir, d.setup.scimToken, d.setup.apps["node"].envFile, d.setup.apps["python"].envFile)
}
