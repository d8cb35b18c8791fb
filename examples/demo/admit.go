package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// invitedEmail is the person the demo invites, so the dev mailbox holds one.
const invitedEmail = "ivy@acme.example"

// admitProcess runs the admit binary: its commands, and `admit serve`.
type admitProcess struct {
	bin string
	dir string
	env []string

	server *exec.Cmd
	logs   bytes.Buffer
	exited chan struct{}
}

// run runs one admit command and returns what it printed.
func (a *admitProcess) run(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = append(os.Environ(), a.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("admit %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// runJSON runs an admit command with --json and decodes what it printed.
func runJSON[T any](ctx context.Context, a *admitProcess, stdin string, args ...string) (T, error) {
	var v T
	out, err := a.run(ctx, stdin, append(args, "--json")...)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return v, fmt.Errorf("admit %s --json: %w", strings.Join(args, " "), err)
	}
	return v, nil
}

// serve starts `admit serve` and waits until it is ready.
func (a *admitProcess) serve(ctx context.Context, base string) error {
	a.server = exec.Command(a.bin, "serve")
	a.server.Env = append(os.Environ(), a.env...)
	a.server.Stdout, a.server.Stderr = &a.logs, &a.logs
	if err := a.server.Start(); err != nil {
		return err
	}
	a.exited = make(chan struct{})
	go func() { _ = a.server.Wait(); close(a.exited) }()
	ready := time.NewTimer(30 * time.Second)
	defer ready.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-a.exited:
			return fmt.Errorf("admit serve stopped:\n%s", a.logs.String())
		case <-ready.C:
			return fmt.Errorf("admit serve not ready after 30 s:\n%s", a.logs.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends `admit serve` the way an operator's Ctrl-C does.
func (a *admitProcess) stop() {
	if a.server == nil || a.server.Process == nil {
		return
	}
	_ = a.server.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		_ = a.server.Process.Kill()
		<-a.exited
	}
}

// setupResult is what setup made that the rest of the demo needs.
type setupResult struct {
	samlMetadataURL string
	samlRelayState  string
	appClientID     string
	appClientSecret string
	scimToken       string
	invitationMail  string
}

// setup configures admit with its command line, as an operator would:
// an account for Acme with its verified domain, Acme's two identity
// providers, the platform's two apps, a SCIM token for Acme's portal,
// and an invitation in the dev mailbox.
func setup(ctx context.Context, a *admitProcess, addr addresses, idp *samlIdP) (setupResult, error) {
	var r setupResult
	admitURL := "http://" + addr.admit
	steps := [][]string{
		{"account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "acme.example"},
		// Members of Acme's "Acme Admins" group (sent at each SAML login)
		// are admins in admit.
		{"role", "map", "--account", "acme", "--group", "Acme Admins", "--role", "admin"},
		{"sso", "add-saml", "--account", "acme", "--name", "intranet", "--metadata-url", idp.url + "/metadata",
			"--allow-idp-initiated", "--groups-attribute", "eduPersonAffiliation"},
		// A person landing in the wiki is behind admit's reverse proxy,
		// on admit's own host.
		{"app", "add", "--name", "Wiki", "--forward-auth-host", addr.admit, "--account", "acme"},
	}
	for _, args := range steps {
		if _, err := a.run(ctx, "", args...); err != nil {
			return r, err
		}
	}
	if _, err := a.run(ctx, "demo-client-secret", "sso", "add-oidc", "--account", "acme", "--name", "workforce",
		"--issuer", "http://"+addr.oidcIdP, "--client-id", "admit", "--client-secret-stdin",
		"--return-host", "http://"+addr.app); err != nil {
		return r, err
	}
	app, err := runJSON[struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}](ctx, a, "", "app", "add", "--name", "Demo app", "--redirect-uri", "http://"+addr.app+"/callback",
		"--post-logout-redirect-uri", "http://"+addr.app+"/", "--account", "acme")
	if err != nil {
		return r, err
	}
	token, err := runJSON[struct {
		Token string `json:"token"`
	}](ctx, a, "", "scim-token", "create", "--account", "acme", "--name", "Acme portal")
	if err != nil {
		return r, err
	}
	invitation, err := runJSON[struct {
		ID string `json:"id"`
	}](ctx, a, "", "invite", "create", "--account", "acme", "--email", invitedEmail)
	if err != nil {
		return r, err
	}
	r.samlMetadataURL = admitURL + "/sso/acme/saml/intranet/metadata"
	r.samlRelayState = "/wiki/"
	r.appClientID, r.appClientSecret = app.ClientID, app.ClientSecret
	r.scimToken = token.Token
	r.invitationMail = invitation.ID
	return r, nil
}
