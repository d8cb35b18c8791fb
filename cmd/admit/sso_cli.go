package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
)

type connectionJSON struct {
	ID                string                       `json:"id"`
	Account           string                       `json:"account"`
	Name              string                       `json:"name"`
	Protocol          directory.Protocol           `json:"protocol"`
	Domains           []string                     `json:"domains"`
	JITMode           directory.JITMode            `json:"jit_mode"`
	Settings          directory.ConnectionSettings `json:"settings"`
	MetadataURL       string                       `json:"idp_metadata_url,omitempty"`
	MetadataFetchedAt *time.Time                   `json:"idp_metadata_fetched_at,omitempty"`
	MetadataError     string                       `json:"idp_metadata_error,omitempty"`
	IDPEntityID       string                       `json:"idp_entity_id,omitempty"`
	// SigningCertificates are the SHA-256 fingerprints of the IdP's
	// signing certificates; SigningChangedAt when a refresh or a new file
	// last changed them.
	SigningCertificates []string                  `json:"idp_signing_certificates,omitempty"`
	SigningChangedAt    *time.Time                `json:"idp_signing_certificates_changed_at,omitempty"`
	State               directory.ConnectionState `json:"state"`
	sso.URLs
	// What a SAML provider's admin needs besides the URLs: the NameID
	// format admit asks for, and the attribute names it reads each field
	// from, in order.
	NameIDFormat string                    `json:"nameid_format,omitempty"`
	Attributes   *directory.AttributeNames `json:"attributes,omitempty"`
	// NextCommand finishes a connection waiting for its provider.
	NextCommand string `json:"next_command,omitempty"`
}

func (c *cli) toConnectionJSON(a directory.Account, conn directory.Connection) connectionJSON {
	out := connectionJSON{
		ID: conn.ID, Account: a.Slug, Name: conn.Name, Protocol: conn.Protocol, Domains: append([]string{}, conn.Domains...), JITMode: conn.JITMode,
		Settings: conn.Settings, MetadataURL: conn.MetadataURL, MetadataFetchedAt: conn.MetadataFetchedAt, MetadataError: conn.MetadataError,
		SigningCertificates: conn.SigningCertificates, SigningChangedAt: conn.SigningCertificatesChangedAt,
		URLs: sso.ConnectionURLs(c.linkBase(), a.Slug, conn), State: conn.State(),
	}
	if conn.Protocol == directory.ProtocolSAML {
		names := conn.Settings.Mapping.Names()
		out.NameIDFormat, out.Attributes = string(sso.NameIDFormat), &names
	}
	if !conn.Ready() {
		out.NextCommand = setMetadataCommand(a, conn)
	}
	if md, err := sso.ParseMetadata([]byte(conn.Metadata)); err == nil {
		out.IDPEntityID = md.EntityID
	}
	return out
}

func setMetadataCommand(a directory.Account, conn directory.Connection) string {
	return fmt.Sprintf("admit sso set-metadata --account %s --connection %s --metadata-url URL", a.Slug, conn.Name)
}

// samlSetupText is what the identity provider's admin needs of a SAML
// connection, as the JSON's fields say it.
func samlSetupText(out connectionJSON, conn directory.Connection) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  SP entity ID (audience):  %s\n  ACS URL (reply URL):      %s\n  SP metadata URL:          %s\n", out.EntityID, out.ACS, out.Metadata)
	fmt.Fprintf(&b, "  Single logout URL:        %s (optional; the IdP must sign its logout requests)\n", out.SLO)
	fmt.Fprintf(&b, "  NameID format:            %s (the person's email address)\n", out.NameIDFormat)
	b.WriteString("  Attributes admit reads:\n")
	m := conn.Settings.Mapping
	for _, f := range []struct {
		field, set string
		names      []string
		note       string
	}{
		{"email", m.Email, out.Attributes.Email, ""},
		{"first name", m.FirstName, out.Attributes.FirstName, ""},
		{"last name", m.LastName, out.Attributes.LastName, ""},
		{"groups", m.Groups, out.Attributes.Groups, "optional, for roles"},
	} {
		name := f.names[0]
		switch {
		case f.set == directory.NameIDClaim:
			name = "the NameID"
		case f.set == "":
			// The defaults cover what each provider sends out of the box
			// (Entra ID's and ADFS's claim URIs among them): the first is
			// the name to type where the admin names attributes (Okta,
			// Google, JumpCloud).
			name += " (or another usual name)"
			if f.field == "email" {
				name += "; else the NameID" // see directory.MapClaims
			}
		}
		if f.note != "" {
			name += "; " + f.note
		}
		fmt.Fprintf(&b, "    %-11s %s\n", f.field+":", name)
	}
	switch m.Subject {
	case "":
		b.WriteString("    subject:    Entra ID's object id when sent (with its tenant id), else a persistent NameID; --subject-attribute names another\n")
	case directory.NameIDClaim:
		b.WriteString("    subject:    a persistent NameID\n")
	default:
		fmt.Fprintf(&b, "    subject:    %s (required: an id the provider never gives anyone else)\n", m.Subject)
	}
	if conn.Settings.AllowIDPInitiated {
		b.WriteString("  IdP-initiated login:      allowed (tiles at the identity provider may post straight to the ACS URL)")
	} else {
		b.WriteString("  IdP-initiated login:      not allowed (people start at the intranet link; --allow-idp-initiated allows it)")
	}
	return b.String()
}

// setup is the connection setup shared with the console (sso.Setup),
// once the database is open.
func (c *cli) setup(svc *directory.Service) (*sso.Setup, error) {
	sealer, err := c.sealer()
	if err != nil {
		return nil, err
	}
	return sso.NewSetup(sso.SetupConfig{Directory: svc, Fetch: c.cfg.Fetch(c.logger(0)), Secrets: sealer, BaseURL: c.cfg.BaseURL}), nil
}

// metadataSource is the metadata a command's flags name: a URL, or a file
// read here.
func metadataSource(metadataURL, file string) (directory.MetadataSource, error) {
	if file == "" {
		return directory.MetadataSource{URL: metadataURL}, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return directory.MetadataSource{}, directory.InvalidError(fmt.Sprintf("cannot read %s: %v", file, err))
	}
	return directory.MetadataSource{Document: data}, nil
}

// fileError names the file a metadata problem is in.
func fileError(err error, file string) error {
	var doc *sso.DocumentError
	if file != "" && errors.As(err, &doc) {
		return directory.InvalidError(file + ": " + directory.Message(err))
	}
	return err
}

// connectionFlags are the flags every kind of connection takes.
type connectionFlags struct {
	name                 *string
	domains, returnHosts stringList
	jit                  *string
}

func addConnectionFlags(fs *flag.FlagSet, defaultName string) *connectionFlags {
	f := &connectionFlags{}
	f.name = fs.String("name", defaultName, "the connection's name, used in its URLs (lowercase letters, digits, hyphens)")
	fs.Var(&f.domains, "domain", "an email domain this identity provider may sign people in with (repeatable; default: all the account's domains)")
	fs.Var(&f.returnHosts, "return-host", "another origin a login may return to, e.g. https://app.example.com (repeatable)")
	f.jit = fs.String("jit", "create", "just-in-time provisioning: create (users and memberships), link (existing users only) or off (existing members only)")
	return f
}

func (c *cli) ssoAddSAML(ctx context.Context, args []string) error {
	fs := c.flags("sso add-saml")
	cf := addConnectionFlags(fs, "saml")
	metadataURL := fs.String("metadata-url", "", "where the identity provider publishes its SAML metadata (refreshed every 6 hours); without it or --metadata-file, the connection waits for it (sso set-metadata)")
	metadataFile := fs.String("metadata-file", "", "the identity provider's SAML metadata, downloaded")
	idpInitiated := fs.Bool("allow-idp-initiated", false, "accept logins started at the identity provider (intranet tiles that post straight to the ACS)")
	skew := fs.Duration("clock-skew", directory.DefaultClockSkew, "how far the identity provider's clock may be off (at most 3m)")
	m := mappingFlags(fs, "attribute", "the NameID")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		// Without metadata the connection is made waiting for it: the
		// provider's admin needs admit's URLs before there is any.
		if *metadataURL != "" && *metadataFile != "" {
			return usageError{msg: "sso add-saml: give --metadata-url or --metadata-file, not both (or neither, to get admit's URLs for the identity provider first)"}
		}
		md, err := metadataSource(*metadataURL, *metadataFile)
		if err != nil {
			return err
		}
		setup, err := c.setup(svc)
		if err != nil {
			return err
		}
		conn, err := setup.AddSAML(ctx, a.ID, c.actor(), directory.NewConnection{
			Name: *cf.name, Domains: cf.domains, JITMode: directory.JITMode(*cf.jit),
			Settings: directory.ConnectionSettings{
				Mapping: *m, AllowIDPInitiated: *idpInitiated, ClockSkewSeconds: int(*skew / time.Second), ReturnHosts: cf.returnHosts,
			},
		}, md)
		if err != nil {
			return fileError(err, *metadataFile)
		}
		out := c.toConnectionJSON(a, conn)
		if !conn.Ready() {
			c.output(out, fmt.Sprintf("Added SAML connection %q to %s, waiting for its identity provider. Give the identity provider's admin:\n%s\n"+
				"Once they have set it up, give admit the identity provider's metadata (the URL it publishes, or a downloaded file):\n"+
				"  admit sso set-metadata --account %s --connection %s --metadata-url URL\n"+
				"  admit sso set-metadata --account %s --connection %s --metadata-file FILE\n"+
				"Until then its intranet link says single sign-on is not finished, and people sign in with their password:\n  %s",
				conn.Name, a.Slug, samlSetupText(out, conn), a.Slug, conn.Name, a.Slug, conn.Name, out.IntranetURL))
			return nil
		}
		c.output(out, fmt.Sprintf("Added SAML connection %q to %s. Give the identity provider's admin:\n%s\n"+
			"Put this link on the intranet:\n  %s", conn.Name, a.Slug, samlSetupText(out, conn), out.IntranetURL))
		return nil
	})
}

// mappingFlags adds the flags that override where each field is read
// from: SAML attributes or OIDC claims (noun), the email's last resort
// being the NameID or the subject (fallback).
func mappingFlags(fs *flag.FlagSet, noun, fallback string) *directory.AttributeMapping {
	m := new(directory.AttributeMapping)
	fs.StringVar(&m.Email, "email-"+noun, "", fmt.Sprintf("the %s holding the email, or \"nameid\" for %s (default: the usual names of each provider)", noun, fallback))
	fs.StringVar(&m.FirstName, "first-name-"+noun, "", "the "+noun+" holding the first name")
	fs.StringVar(&m.LastName, "last-name-"+noun, "", "the "+noun+" holding the last name")
	fs.StringVar(&m.DisplayName, "display-name-"+noun, "", "the "+noun+" holding the full name")
	fs.StringVar(&m.Groups, "groups-"+noun, "", "the "+noun+" holding the groups")
	if noun == "attribute" {
		// An OIDC connection links by the sub, which is lasting (OIDC Core 2).
		fs.StringVar(&m.Subject, "subject-attribute", "", "the attribute (`NAME`) holding an id the identity provider gives the person for good (never reassigned, unlike an address), which links their logins; \"nameid\" for a persistent NameID only (default: Entra ID's object id when sent, else a persistent NameID)")
	}
	return m
}

func (c *cli) ssoAddOIDC(ctx context.Context, args []string) error {
	fs := c.flags("sso add-oidc")
	cf := addConnectionFlags(fs, "oidc")
	issuer := fs.String("issuer", "", "the provider's issuer URL; its configuration is read from ISSUER/.well-known/openid-configuration")
	clientID := fs.String("client-id", "", "the client (application) id registered at the provider")
	secretStdin := fs.Bool("client-secret-stdin", false, "read the client secret from standard input (required; it is stored encrypted)")
	trust := fs.String("email-trust", "", "why the email is believed: verified (email_verified must be true) or domain (the issuer is the company's own tenant; default for Entra ID)")
	allowHTTP := fs.Bool("allow-http-issuer", false, "accept an http issuer off localhost (a test provider on a private network; never in production)")
	var scopes stringList
	fs.Var(&scopes, "scope", "a scope to ask for besides openid (repeatable; default: email and profile)")
	m := mappingFlags(fs, "claim", "the subject")
	return c.inAccount(ctx, fs, args, []string{"issuer", "client-id"}, func(svc *directory.Service, a directory.Account) error {
		if !*secretStdin {
			return usageError{msg: "sso add-oidc: give the client secret on standard input with --client-secret-stdin"}
		}
		secret, err := readSecret(c.stdin, "--client-secret-stdin", "client secret")
		if err != nil {
			return err
		}
		setup, err := c.setup(svc)
		if err != nil {
			return err
		}
		conn, err := setup.AddOIDC(ctx, a.ID, c.actor(), directory.NewConnection{
			Name: *cf.name, Domains: cf.domains, JITMode: directory.JITMode(*cf.jit),
			Settings: directory.ConnectionSettings{
				Mapping: *m, ReturnHosts: cf.returnHosts,
				OIDC: &directory.OIDCSettings{Issuer: *issuer, ClientID: *clientID, Scopes: scopes, EmailTrust: directory.EmailTrust(*trust), AllowHTTP: *allowHTTP},
			},
		}, secret)
		if err != nil {
			return err
		}
		out := c.toConnectionJSON(a, conn)
		c.output(out, fmt.Sprintf("Added OIDC connection %q to %s. Register at the provider:\n"+
			"  Redirect URI:        %s\n  Initiate login URI:  %s (optional: for tiles started at the provider)\n"+
			"Put this link on the intranet:\n  %s", conn.Name, a.Slug, out.RedirectURI, out.InitiateLoginURI, out.IntranetURL))
		return nil
	})
}

// ssoUpdate changes what a connection's flags at creation said: only the
// flags given change. Name, protocol and provider stay (they are in the
// URLs and keys the provider knows); a new provider is a new connection.
func (c *cli) ssoUpdate(ctx context.Context, args []string) error {
	fs := c.flags("sso update")
	name := fs.String("connection", "", "the connection's name")
	var domains, returnHosts, scopes stringList
	fs.Var(&domains, "domain", "an email domain this identity provider may sign people in with (repeatable; replaces the list)")
	allDomains := fs.Bool("all-domains", false, "let it sign people in with all the account's domains (clears the list)")
	fs.Var(&returnHosts, "return-host", "another origin a login may return to (repeatable; replaces the list)")
	noReturnHosts := fs.Bool("no-return-hosts", false, "allow returns to admit's own pages only")
	jit := fs.String("jit", "", "just-in-time provisioning: create, link or off")
	idpInitiated := fs.Bool("allow-idp-initiated", false, "SAML: accept logins started at the identity provider (--allow-idp-initiated=false to stop)")
	skew := fs.Duration("clock-skew", 0, "SAML: how far the identity provider's clock may be off (at most 3m)")
	trust := fs.String("email-trust", "", "OIDC: verified or domain")
	fs.Var(&scopes, "scope", "OIDC: a scope to ask for besides openid (repeatable; replaces the list)")
	attributes := mappingFlags(fs, "attribute", "the NameID")
	claims := mappingFlags(fs, "claim", "the subject")
	return c.inAccount(ctx, fs, args, []string{"connection"}, func(svc *directory.Service, a directory.Account) error {
		conn, err := c.findConnection(ctx, svc, a, *name)
		if err != nil {
			return err
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		oidcOnly, samlOnly := []string{"email-trust", "scope"}, []string{"allow-idp-initiated", "clock-skew", "subject-attribute"}
		for _, f := range []string{"email", "first-name", "last-name", "display-name", "groups"} {
			oidcOnly, samlOnly = append(oidcOnly, f+"-claim"), append(samlOnly, f+"-attribute")
		}
		wrong := oidcOnly
		if conn.Protocol == directory.ProtocolOIDC {
			wrong = samlOnly
		}
		for _, f := range wrong {
			if set[f] {
				return usageError{msg: fmt.Sprintf("sso update: --%s does not apply to %s connection %s", f, strings.ToUpper(string(conn.Protocol)), conn.Name)}
			}
		}
		var ch directory.ConnectionChange
		switch {
		case *allDomains && set["domain"]:
			return usageError{msg: "sso update: give --domain or --all-domains, not both"}
		case *allDomains:
			ch.Domains = &[]string{}
		case set["domain"]:
			d := []string(domains)
			ch.Domains = &d
		}
		if set["jit"] {
			mode := directory.JITMode(*jit)
			ch.JITMode = &mode
		}
		st := conn.Settings
		if st.OIDC != nil {
			o := *st.OIDC
			st.OIDC = &o
		}
		switch {
		case *noReturnHosts && set["return-host"]:
			return usageError{msg: "sso update: give --return-host or --no-return-hosts, not both"}
		case *noReturnHosts:
			st.ReturnHosts = nil
		case set["return-host"]:
			st.ReturnHosts = returnHosts
		}
		if set["allow-idp-initiated"] {
			st.AllowIDPInitiated = *idpInitiated
		}
		if set["clock-skew"] {
			st.ClockSkewSeconds = int(*skew / time.Second)
		}
		if set["email-trust"] {
			st.OIDC.EmailTrust = directory.EmailTrust(*trust)
		}
		if set["scope"] {
			st.OIDC.Scopes = scopes
		}
		given := attributes
		if conn.Protocol == directory.ProtocolOIDC {
			given = claims
		}
		noun := map[directory.Protocol]string{directory.ProtocolSAML: "-attribute", directory.ProtocolOIDC: "-claim"}[conn.Protocol]
		for f, pair := range map[string][2]*string{
			"email": {&st.Mapping.Email, &given.Email}, "first-name": {&st.Mapping.FirstName, &given.FirstName},
			"last-name": {&st.Mapping.LastName, &given.LastName}, "display-name": {&st.Mapping.DisplayName, &given.DisplayName},
			"groups": {&st.Mapping.Groups, &given.Groups}, "subject": {&st.Mapping.Subject, &given.Subject},
		} {
			if set[f+noun] {
				*pair[0] = *pair[1]
			}
		}
		ch.Settings = &st
		setup, err := c.setup(svc)
		if err != nil {
			return err
		}
		updated, err := setup.Update(ctx, a.ID, c.actor(), conn.ID, ch)
		if err != nil {
			return err
		}
		c.output(c.toConnectionJSON(a, updated), fmt.Sprintf("updated connection %s of %s", updated.Name, a.Slug))
		return nil
	})
}

// ssoSetSecret replaces an OIDC connection's client secret: secrets expire
// at the provider, and the connection stays as it is.
func (c *cli) ssoSetSecret(ctx context.Context, args []string) error {
	fs := c.flags("sso set-secret")
	name := fs.String("connection", "", "the connection's name")
	secretStdin := fs.Bool("client-secret-stdin", false, "read the new client secret from standard input (required)")
	return c.inAccount(ctx, fs, args, []string{"connection"}, func(svc *directory.Service, a directory.Account) error {
		if !*secretStdin {
			return usageError{msg: "sso set-secret: give the client secret on standard input with --client-secret-stdin"}
		}
		secret, err := readSecret(c.stdin, "--client-secret-stdin", "client secret")
		if err != nil {
			return err
		}
		conn, err := c.findConnection(ctx, svc, a, *name)
		if err != nil {
			return err
		}
		setup, err := c.setup(svc)
		if err != nil {
			return err
		}
		if err := setup.SetSecret(ctx, a.ID, c.actor(), conn.ID, secret); err != nil {
			return err
		}
		c.output(map[string]string{"account": a.Slug, "connection": conn.Name}, fmt.Sprintf("replaced the client secret of connection %s in %s; the next login uses it", conn.Name, a.Slug))
		return nil
	})
}

// sealer is the server key's sealer for secrets at rest, once the
// database is open (see open).
func (c *cli) sealer() (*certs.Sealer, error) {
	if c.derived == nil {
		return nil, errors.New("sealer: the database is not open")
	}
	return c.derived.sealer()
}

func (c *cli) ssoList(ctx context.Context, args []string) error {
	fs := c.flags("sso list")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		all, err := svc.Connections(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]connectionJSON, len(all))
		rows := make([]string, len(all))
		for i, conn := range all {
			out[i] = c.toConnectionJSON(a, conn)
			state := "metadata from file"
			switch {
			case !conn.Ready():
				state = "waiting for IdP metadata (" + setMetadataCommand(a, conn) + ")"
			case conn.Protocol == directory.ProtocolOIDC && conn.Settings.OIDC != nil:
				state = "issuer " + conn.Settings.OIDC.Issuer + ", client " + conn.Settings.OIDC.ClientID
			case conn.MetadataURL != "":
				state = "metadata from " + conn.MetadataURL
				if conn.MetadataError != "" {
					state += " (last refresh failed: " + conn.MetadataError + ")"
				}
			}
			if at := conn.SigningCertificatesChangedAt; at != nil {
				state += "; signing certificates changed at " + at.Format(time.RFC3339)
			}
			rows[i] = fmt.Sprintf("%-12s %-5s jit=%-6s %s\n  intranet link: %s", conn.Name, conn.Protocol, conn.JITMode, state, out[i].IntranetURL)
		}
		if len(rows) == 0 {
			rows = []string{"no connections; add one with admit sso add-saml or admit sso add-oidc"}
		}
		c.output(out, strings.Join(rows, "\n"))
		return nil
	})
}

func (c *cli) findConnection(ctx context.Context, svc *directory.Service, a directory.Account, name string) (directory.Connection, error) {
	all, err := svc.Connections(ctx, a.ID)
	if err != nil {
		return directory.Connection{}, err
	}
	for _, conn := range all {
		if strings.EqualFold(conn.Name, name) {
			return conn, nil
		}
	}
	return directory.Connection{}, directory.NotFoundError(fmt.Sprintf("%s has no connection named %q (admit sso list shows them)", a.Slug, name))
}

func (c *cli) ssoAttempts(ctx context.Context, args []string) error {
	fs := c.flags("sso attempts")
	name := fs.String("connection", "", "the connection's name")
	limit := limitFlag(fs, 20, 1, directory.LoginLogSize, fmt.Sprintf("how many of each kind (verified answers, unverified ones), newest first (1 to %d)", directory.LoginLogSize))
	return c.inAccount(ctx, fs, args, []string{"connection"}, func(svc *directory.Service, a directory.Account) error {
		conn, err := c.findConnection(ctx, svc, a, *name)
		if err != nil {
			return err
		}
		attempts, err := svc.LoginAttempts(ctx, a.ID, conn.ID, *limit)
		if err != nil {
			return err
		}
		rows := make([]string, len(attempts))
		for i, at := range attempts {
			outcome := at.Outcome
			if !at.Verified {
				// Anyone can post these: kept apart, so they never push the
				// verified ones out.
				outcome += " (unverified answer)"
			}
			rows[i] = fmt.Sprintf("%s  %-9s %-30s ref %s\n  %s\n  %s", at.CreatedAt.Format(time.RFC3339), outcome, at.Email, at.Reference, at.Reason, at.Detail)
		}
		if len(rows) == 0 {
			rows = []string{"no login attempts yet"}
		}
		c.output(attempts, strings.Join(rows, "\n"))
		return nil
	})
}

func (c *cli) ssoRemove(ctx context.Context, args []string) error {
	fs := c.flags("sso remove")
	name := fs.String("connection", "", "the connection's name")
	return c.inAccount(ctx, fs, args, []string{"connection"}, func(svc *directory.Service, a directory.Account) error {
		conn, err := c.findConnection(ctx, svc, a, *name)
		if err != nil {
			return err
		}
		if err := svc.DeleteConnection(ctx, a.ID, c.actor(), conn.ID); err != nil {
			return err
		}
		c.output(map[string]string{"account": a.Slug, "removed": conn.Name}, fmt.Sprintf("removed connection %s from %s; its members stay", conn.Name, a.Slug))
		return nil
	})
}

// certManager opens the store and the manager of one kind of admit's key
// pairs: the SAML certificate, or a token signing key.
func (c *cli) certManager(ctx context.Context, kind directory.KeyKind) (*certs.Manager, func(), error) {
	log := c.logger(0)
	s, keys, err := c.open(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	if err := c.adoptBaseURL(ctx, s); err != nil {
		s.Close()
		return nil, nil, err
	}
	sealer, err := keys.sealer()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return certs.New(certs.Config{Store: s, Sealer: sealer, Kind: kind, CommonName: hostOf(c.cfg.BaseURL), Logger: log}), func() { s.Close() }, nil
}

type certificateJSON struct {
	ID          string                     `json:"id"`
	Kind        directory.KeyKind          `json:"kind"`
	State       directory.CertificateState `json:"state"`
	NotBefore   time.Time                  `json:"not_before"`
	NotAfter    time.Time                  `json:"not_after"`
	CreatedAt   time.Time                  `json:"created_at"`
	ActivatedAt *time.Time                 `json:"activated_at,omitempty"`
	PEM         string                     `json:"certificate_pem"`
}

func toCertificateJSON(r directory.Certificate) certificateJSON {
	return certificateJSON{ID: r.ID, Kind: r.Kind, State: r.State, NotBefore: r.NotBefore, NotAfter: r.NotAfter, CreatedAt: r.CreatedAt, ActivatedAt: r.ActivatedAt, PEM: r.CertPEM}
}

// withCerts adds --kind to fs, parses the command's flags and runs fn with
// the manager of that kind of key pairs. Each kind rotates on its own:
// the SAML certificate when identity providers are ready for it, the token
// keys whenever the operator likes (apps fetch the JWKS themselves).
func (c *cli) withCerts(ctx context.Context, fs *flag.FlagSet, args, required []string, fn func(m *certs.Manager) error) error {
	kind := fs.String("kind", string(directory.KeySAML), "which key pairs: saml (the SAML certificate), es256 or rs256 (the keys that sign tokens)")
	if err := c.parse(fs, args, required...); err != nil {
		return err
	}
	if !slices.Contains(directory.KeyKinds(), directory.KeyKind(*kind)) {
		return usageError{msg: fmt.Sprintf("%s: --kind must be saml, es256 or rs256, not %q", strings.TrimPrefix(fs.Name(), "admit "), *kind)}
	}
	m, done, err := c.certManager(ctx, directory.KeyKind(*kind))
	if err != nil {
		return err
	}
	defer done()
	return fn(m)
}

func (c *cli) certsList(ctx context.Context, args []string) error {
	return c.withCerts(ctx, c.flags("certs list"), args, nil, func(m *certs.Manager) error {
		all, err := m.List(ctx)
		if err != nil {
			return err
		}
		out := make([]certificateJSON, len(all))
		t := newTable("ID", "KIND", "STATE", "VALID UNTIL")
		for i, r := range all {
			out[i] = toCertificateJSON(r)
			t.add(r.ID, string(r.Kind), string(r.State), r.NotAfter.Format("2006-01-02"))
		}
		c.output(out, t.String())
		return nil
	})
}

func (c *cli) certsRotate(ctx context.Context, args []string) error {
	return c.withCerts(ctx, c.flags("certs rotate"), args, nil, func(m *certs.Manager) error {
		rot, err := m.Rotate(ctx)
		if err != nil {
			return err
		}
		if rot.Published != nil && rot.Published.Kind != directory.KeySAML {
			c.output(map[string]any{"published": toCertificateJSON(*rot.Published)}, fmt.Sprintf(
				"Published %s key %s in the JWKS; it does not sign yet. Apps that cache the JWKS learn it at their next fetch; run admit certs rotate --kind %s again to start signing with it.",
				rot.Published.Kind, rot.Published.ID, rot.Published.Kind))
			return nil
		}
		if rot.Activated != nil && rot.Activated.Kind != directory.KeySAML {
			text := fmt.Sprintf("The %s key %s now signs tokens.", rot.Activated.Kind, rot.Activated.ID)
			out := map[string]any{"activated": toCertificateJSON(*rot.Activated)}
			if rot.Previous != nil {
				out["previous"] = toCertificateJSON(*rot.Previous)
				text += fmt.Sprintf("\nThe old key %s stays in the JWKS, so tokens it signed verify until they expire; retire it with admit certs retire --kind %s --id %s after that (a day is ample).", rot.Previous.ID, rot.Previous.Kind, rot.Previous.ID)
			}
			c.output(out, text)
			return nil
		}
		if rot.Published != nil {
			c.output(map[string]any{"published": toCertificateJSON(*rot.Published)}, fmt.Sprintf(
				"Published certificate %s in every connection's SP metadata; it is not used yet.\n"+
					"Once identity providers have the new metadata (those that read the metadata URL do so on their own; give the others the new certificate), run admit certs rotate again to start using it.", rot.Published.ID))
			return nil
		}
		text := fmt.Sprintf("Certificate %s now signs requests and is the one identity providers encrypt to.", rot.Activated.ID)
		out := map[string]any{"activated": toCertificateJSON(*rot.Activated)}
		if rot.Previous != nil {
			out["previous"] = toCertificateJSON(*rot.Previous)
			text += fmt.Sprintf("\nThe old certificate %s stays published and can still decrypt; retire it with admit certs retire --id %s once no identity provider uses it.", rot.Previous.ID, rot.Previous.ID)
		}
		c.output(out, text)
		return nil
	})
}

func (c *cli) certsRetire(ctx context.Context, args []string) error {
	fs := c.flags("certs retire")
	id := fs.String("id", "", "the certificate's id (from certs list)")
	return c.withCerts(ctx, fs, args, []string{"id"}, func(m *certs.Manager) error {
		if err := m.Retire(ctx, *id); err != nil {
			return err
		}
		c.output(map[string]string{"retired": *id}, fmt.Sprintf("retired certificate %s: it is no longer published, and its key is deleted", *id))
		return nil
	})
}

// ssoSetMetadata gives a SAML connection its IdP's metadata: it finishes a
// connection waiting for its provider, and replaces the metadata of a
// finished one (how a provider's new certificate is added when it publishes
// no metadata URL). A URL is fetched through the guarded client, as add-saml
// does, and refreshed from from then on; a file keeps the URL the
// connection had.
func (c *cli) ssoSetMetadata(ctx context.Context, args []string) error {
	fs := c.flags("sso set-metadata")
	name := fs.String("connection", "", "the connection's name")
	metadataURL := fs.String("metadata-url", "", "where the identity provider publishes its SAML metadata (refreshed every 6 hours)")
	file := fs.String("metadata-file", "", "the identity provider's SAML metadata, downloaded")
	return c.inAccount(ctx, fs, args, []string{"connection"}, func(svc *directory.Service, a directory.Account) error {
		if (*metadataURL == "") == (*file == "") {
			return usageError{msg: "sso set-metadata: give one of --metadata-url and --metadata-file"}
		}
		conn, err := c.findConnection(ctx, svc, a, *name)
		if err != nil {
			return err
		}
		setup, err := c.setup(svc)
		if err != nil {
			return err
		}
		var md directory.MetadataSource
		if conn.Protocol == directory.ProtocolSAML {
			// An OIDC connection is refused by the setup before any file
			// is read.
			if md, err = metadataSource(*metadataURL, *file); err != nil {
				return err
			}
		} else {
			md.URL = *metadataURL
		}
		updated, changed, err := setup.SetMetadata(ctx, a.ID, c.actor(), conn.ID, md)
		if err != nil {
			return fileError(err, *file)
		}
		out := c.toConnectionJSON(a, updated)
		if !conn.Ready() {
			c.output(out, fmt.Sprintf("Connection %s of %s is finished: it signs people in now.\nPut this link on the intranet:\n  %s", conn.Name, a.Slug, out.IntranetURL))
			return nil
		}
		text := fmt.Sprintf("replaced the metadata of connection %s in %s", conn.Name, a.Slug)
		if changed {
			text += "; its signing certificates changed (audited)"
		}
		c.output(out, text)
		return nil
	})
}
