package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// invitedEmail is the person the demo invites, so the dev mailbox holds one.
const invitedEmail = "ivy@acme.example"

// admitProcess runs the admit binary: its commands, and `admit serve`.
type admitProcess struct {
	bin string
	dir string
	env []string

	server *child
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
	var err error
	if a.server, err = startChild("admit serve", a.bin, a.env, "serve"); err != nil {
		return err
	}
	return a.server.waitReady(ctx, base+"/readyz")
}

// logs is what admit serve has printed, for a failure message.
func (a *admitProcess) logs() string {
	if a.server == nil {
		return ""
	}
	return a.server.logs.String()
}

// setupResult is what setup made that the rest of the demo needs.
type setupResult struct {
	samlMetadataURL string
	samlRelayState  string
	apps            map[string]exampleApp // by language: go, node, python
	scimToken       string
	invitationMail  string
}

// exampleApp is one of examples/apps, registered with admit.
type exampleApp struct {
	env     []string // ADMIT_ISSUER, APP_URL, CLIENT_ID, CLIENT_SECRET
	envFile string
}

// setup configures admit with its command line, as an operator would:
// an account for Acme with its verified domain, Acme's two identity
// providers, the platform's apps (the wiki and the three of examples/apps), a SCIM token for Acme's portal,
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
	r.apps = map[string]exampleApp{}
	for _, e := range []struct{ key, name, addr string }{
		{"go", "Go app", addr.app}, {"node", "Node.js app", addr.nodeApp}, {"python", "Python app", addr.pythonApp},
	} {
		app, err := runJSON[struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}](ctx, a, "", "app", "add", "--name", e.name, "--redirect-uri", "http://"+e.addr+"/callback",
			"--post-logout-redirect-uri", "http://"+e.addr+"/", "--account", "acme")
		if err != nil {
			return r, err
		}
		ea := exampleApp{env: []string{"ADMIT_ISSUER=" + admitURL, "APP_URL=http://" + e.addr,
			"CLIENT_ID=" + app.ClientID, "CLIENT_SECRET=" + app.ClientSecret}}
		// The example apps in examples/apps read their settings from the
		// environment: `env $(cat demo-data/node-app.env) node app.mjs`.
		ea.envFile = filepath.Join(a.dir, e.key+"-app.env")
		if err := os.WriteFile(ea.envFile, []byte(strings.Join(ea.env, "\n")+"\n"), 0o600); err != nil {
			return r, err
		}
		r.apps[e.key] = ea
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
	r.scimToken = token.Token
	r.invitationMail = invitation.ID
	return r, nil
}
