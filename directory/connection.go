package directory

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Protocol is how a connection's identity provider signs people in.
type Protocol string

const (
	ProtocolSAML Protocol = "saml"
	ProtocolOIDC Protocol = "oidc"
)

// JITMode says what a connection's logins may do to the directory.
type JITMode string

const (
	// JITCreate creates the user and membership on first login and keeps
	// name, groups and role up to date on later ones.
	JITCreate JITMode = "create"
	// JITLink never creates a user: a person admit already knows (through
	// another account, an invitation, SCIM, a bulk upload) gets a
	// membership if they have none; name, groups and role are kept up to
	// date.
	JITLink JITMode = "link"
	// JITOff signs in existing members only and changes nothing about
	// them: for accounts whose provider manages everyone through SCIM.
	JITOff JITMode = "off"
)

// Connection is one SAML or OIDC identity provider of an account.
//
// A SAML connection may be made before its identity provider is: the
// provider's admin needs admit's entity ID and ACS URL before they can
// publish metadata, so the operator creates the connection first, hands
// over its URLs, and gives the metadata last (State, SetConnectionMetadata).
type Connection struct {
	ID        string
	AccountID string
	Protocol  Protocol
	Name      string
	// Domains are the email domains the connection may sign people in
	// with; empty means all of the account's domains. Each is one of the
	// account's (DESIGN rule 2).
	Domains []string
	JITMode JITMode
	// Settings are the per-connection choices: attribute mapping, SAML
	// options.
	Settings ConnectionSettings
	// Metadata is the identity provider's SAML metadata XML, the last good
	// copy; MetadataURL, when set, is where it is refreshed from.
	Metadata          string
	MetadataURL       string
	MetadataFetchedAt *time.Time
	MetadataError     string // why the last refresh failed; empty when it worked
	// SigningCertificates are the SHA-256 fingerprints (hex) of the
	// certificates the provider signs with, per Metadata, sorted; and
	// SigningCertificatesChangedAt is when a refresh or a new file last
	// changed them: a provider's new key is the one event of a refresh an
	// operator must be able to see.
	SigningCertificates          []string
	SigningCertificatesChangedAt *time.Time
	// SealedSecret is an OIDC client secret, sealed with the server key.
	SealedSecret string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// ConnectionState says whether a connection can sign anyone in yet.
type ConnectionState string

const (
	// ConnectionReady signs people in.
	ConnectionReady ConnectionState = "ready"
	// ConnectionWaiting is a SAML connection whose identity provider's
	// metadata has not been given yet: its SP metadata is served (many
	// providers import it), but it signs nobody in, is not offered at
	// sign-in, and requires nothing of anyone (see ssoDomains).
	ConnectionWaiting ConnectionState = "waiting_for_idp_metadata"
)

// State is derived from the metadata itself rather than kept beside it, so
// the two can never disagree: a SAML connection without metadata has no
// key to verify a response with, whatever a flag would say.
func (c Connection) State() ConnectionState {
	if c.Protocol == ProtocolSAML && c.Metadata == "" {
		return ConnectionWaiting
	}
	return ConnectionReady
}

// Ready reports whether the connection signs people in (see State).
func (c Connection) Ready() bool { return c.State() == ConnectionReady }

// ConnectionSettings are a connection's options, kept as one JSON value.
type ConnectionSettings struct {
	Mapping AttributeMapping `json:"mapping"`
	// AllowIDPInitiated accepts SAML responses nobody asked for: the
	// intranet tile posts straight to the ACS.
	AllowIDPInitiated bool `json:"allow_idp_initiated,omitempty"`
	// ClockSkewSeconds is how far the identity provider's clock may be
	// from ours when validity windows are checked.
	ClockSkewSeconds int `json:"clock_skew_seconds,omitempty"`
	// ReturnHosts are other origins (https://app.example.com) a login may
	// return to, besides admit's own.
	ReturnHosts []string `json:"return_hosts,omitempty"`
	// OIDC is an OpenID Connect connection's provider and client.
	OIDC *OIDCSettings `json:"oidc,omitempty"`
}

// OIDCSettings are an OpenID Connect connection's provider and client; the
// client secret is kept sealed in Connection.SealedSecret.
type OIDCSettings struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// Scopes are asked for besides openid; empty means email and profile.
	Scopes []string `json:"scopes,omitempty"`
	// EmailTrust says why the provider's email may be believed.
	EmailTrust EmailTrust `json:"email_trust,omitempty"`
	// AllowHTTP accepts an http issuer that is not on loopback: for a
	// test provider on a private network, never for production.
	AllowHTTP bool `json:"allow_http,omitempty"`
}

// EmailTrust is how an OIDC connection decides that the email a provider
// sent is the person's own: without it, anyone able to type an address into
// their profile at some provider could sign in as its owner (nOAuth).
type EmailTrust string

const (
	// EmailVerified believes the email claim only with email_verified
	// true: Okta, Google, Keycloak and most providers send it.
	EmailVerified EmailTrust = "verified"
	// EmailDomain believes the email, or the username when there is no
	// email, because the connection's issuer is one company's own tenant and
	// the domain rule holds: for Entra ID, which sends no email_verified.
	EmailDomain EmailTrust = "domain"
)

// Trust returns the connection's email trust, the default being verified.
func (o OIDCSettings) Trust() EmailTrust {
	if o.EmailTrust == "" {
		return EmailVerified
	}
	return o.EmailTrust
}

func (o OIDCSettings) check() []string {
	var problems []string
	if err := CheckIssuer(o.Issuer, o.AllowHTTP); err != nil {
		problems = append(problems, err.Error())
	}
	if strings.TrimSpace(o.ClientID) == "" || len(o.ClientID) > 512 || hasControl(o.ClientID) {
		problems = append(problems, "the client id must be given, at most 512 characters")
	}
	for _, sc := range o.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") || len(sc) > 200 {
			problems = append(problems, fmt.Sprintf("scope %q: want a single word", sc))
		}
	}
	if !slices.Contains([]EmailTrust{"", EmailVerified, EmailDomain}, o.EmailTrust) {
		problems = append(problems, fmt.Sprintf("email trust %q: want verified or domain", o.EmailTrust))
	}
	return problems
}

// CheckIssuer accepts an OIDC issuer URL: https, or http on a loopback
// address (or anywhere with allowHTTP) for development, with no query or
// fragment. Entra ID's multi-tenant issuers are refused: a token from any
// company's tenant would do, which is exactly how nOAuth gets in.
func CheckIssuer(issuer string, allowHTTP bool) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("issuer %q: want a URL like https://login.example.com", issuer)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && (allowHTTP || isLoopback(u.Hostname()))) {
		return fmt.Errorf("issuer %q: must be https (http only on localhost, or with --allow-http-issuer for a test provider)", issuer)
	}
	if strings.EqualFold(u.Hostname(), "login.microsoftonline.com") {
		tenant, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
		switch strings.ToLower(tenant) {
		case "common", "organizations", "consumers", "9188040d-6c67-4c5b-b112-36a304b66dad", "":
			return fmt.Errorf("issuer %q: use your tenant's own issuer, https://login.microsoftonline.com/<tenant id>/v2.0; a multi-tenant issuer would accept any company's users", issuer)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ClientSecretPurpose binds a sealed OIDC client secret to its connection:
// a sealed value copied onto another connection does not open.
func ClientSecretPurpose(accountID, connectionName string) string {
	return "admit oidc client secret " + accountID + "/" + connectionName
}

// AllowedDomains are the email domains the connection may sign people in
// with (see SignInWithSSO).
func (c Connection) AllowedDomains(a Account) []string { return allowedDomains(a, c) }

// Clock skew limits: the default, and the most crewjam/saml itself allows.
const (
	DefaultClockSkew = 2 * time.Minute
	MaxClockSkew     = 3 * time.Minute
)

// ClockSkew returns the connection's clock skew.
func (c Connection) ClockSkew() time.Duration {
	if c.Settings.ClockSkewSeconds <= 0 {
		return DefaultClockSkew
	}
	return time.Duration(c.Settings.ClockSkewSeconds) * time.Second
}

// NewConnection is what an operator gives to add a connection.
type NewConnection struct {
	Protocol Protocol
	Name     string
	Domains  []string // must be the account's; added to it when no account has them
	JITMode  JITMode  // empty means create
	Settings ConnectionSettings
	// Metadata is the identity provider's SAML metadata; without it (and
	// without MetadataURL) a SAML connection is made waiting for it.
	Metadata    string
	MetadataURL string
	// SigningCertificates are the fingerprints of Metadata's signing
	// certificates (see ConnectionMetadata).
	SigningCertificates []string
	// SealedSecret is an OIDC client secret already sealed by the caller.
	SealedSecret string
}

// CreateConnection adds an identity provider to the account. Domains the
// account does not have yet are added to it, unless another account has
// them: one company's identity provider can never vouch for another's
// addresses.
func (s *Service) CreateConnection(ctx context.Context, accountID string, actor Actor, in NewConnection) (Connection, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		in.Name = string(in.Protocol)
	}
	if in.JITMode == "" {
		in.JITMode = JITCreate
	}
	in.Settings.OIDC = in.Settings.OIDC.withDefaults()
	domains, problems := in.check()
	if len(problems) > 0 {
		return Connection{}, InvalidError(problems...)
	}
	signing, _ := fingerprints(in.SigningCertificates)
	now := s.clock()
	c := Connection{
		ID: newID(), AccountID: accountID, Protocol: in.Protocol, Name: in.Name, Domains: domains,
		JITMode: in.JITMode, Settings: in.Settings, Metadata: in.Metadata, MetadataURL: in.MetadataURL,
		SigningCertificates: signing, SealedSecret: in.SealedSecret, CreatedAt: now, UpdatedAt: now,
	}
	if c.MetadataURL != "" && c.Metadata != "" {
		c.MetadataFetchedAt = &now
	}
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := s.addDomains(ctx, tx, accountID, actor, domains); err != nil {
			return err
		}
		if err := tx.CreateConnection(ctx, c); KindOf(err) == Conflict {
			return ConflictError(fmt.Sprintf("the account already has a connection named %q", c.Name))
		} else if err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "connection.created", targetType: "connection", targetID: c.ID,
			data: map[string]any{"protocol": c.Protocol, "name": c.Name, "domains": c.Domains, "jit_mode": c.JITMode, "metadata_url": c.MetadataURL},
		})
	})
	if err != nil {
		return Connection{}, fmt.Errorf("create connection: %w", err)
	}
	return c, nil
}

// check returns the normalized domains and what is wrong with a connection.
func (in NewConnection) check() ([]string, []string) {
	var problems []string
	if in.Protocol != ProtocolSAML && in.Protocol != ProtocolOIDC {
		problems = append(problems, fmt.Sprintf("protocol %q: want saml or oidc", in.Protocol))
	}
	if !slugPattern.MatchString(in.Name) {
		problems = append(problems, fmt.Sprintf("connection name %q must be lowercase letters, digits or hyphens", in.Name))
	}
	if !slices.Contains([]JITMode{JITCreate, JITLink, JITOff}, in.JITMode) {
		problems = append(problems, fmt.Sprintf("just-in-time mode %q: want create, link or off", in.JITMode))
	}
	if sk := in.Settings.ClockSkewSeconds; sk < 0 || time.Duration(sk)*time.Second > MaxClockSkew {
		problems = append(problems, fmt.Sprintf("clock skew must be between 0 and %d seconds", int(MaxClockSkew/time.Second)))
	}
	domains, bad := normalizeDomains(in.Domains)
	problems = append(problems, bad...)
	problems = append(problems, in.Settings.Mapping.check()...)
	if in.Protocol == ProtocolOIDC && in.Settings.Mapping.Subject != "" {
		// The sub is the lasting subject OIDC gives (OIDC Core 2).
		problems = append(problems, "a subject attribute applies to SAML connections only: an OIDC connection links by the sub")
	}
	switch {
	case in.Protocol == ProtocolOIDC && in.Settings.OIDC == nil:
		problems = append(problems, "an OIDC connection needs an issuer and a client id")
	case in.Protocol == ProtocolOIDC:
		problems = append(problems, in.Settings.OIDC.check()...)
		if in.SealedSecret == "" {
			problems = append(problems, "an OIDC connection needs its client secret")
		}
	case in.Settings.OIDC != nil:
		problems = append(problems, "OIDC settings on a SAML connection")
	case in.MetadataURL != "" && in.Metadata == "":
		// The caller fetches before it creates: a URL that has not
		// answered yet would make a connection that looks finished
		// to the refresher but signs nobody in.
		problems = append(problems, "the metadata URL was given without its metadata")
	}
	for _, h := range in.Settings.ReturnHosts {
		if !validOrigin(h) {
			problems = append(problems, fmt.Sprintf("return host %q: want an origin like https://app.example.com", h))
		}
	}
	if _, err := fingerprints(in.SigningCertificates); err != nil {
		problems = append(problems, err.Error())
	}
	return domains, problems
}

// addDomains makes sure the connection's domains are the account's,
// verified. The operator at the command line vouches for domains the
// account does not have yet (audited as such), as account create does;
// anyone else must have them verified first (admit domain add|verify). A
// domain another account holds verified is refused: one company's identity
// provider can never vouch for another's addresses.
func (s *Service) addDomains(ctx context.Context, tx Store, accountID string, actor Actor, domains []string) error {
	for _, name := range domains {
		d, err := tx.FindDomain(ctx, accountID, name)
		switch {
		case err == nil && d.Verified():
			continue
		case err != nil && KindOf(err) != NotFound:
			return err
		case actor.Source != SourceCLI:
			return InvalidError(fmt.Sprintf("the domain %s is not a verified domain of the account; verify it first", name))
		case err != nil:
			d = Domain{AccountID: accountID, Name: name, Challenge: newChallenge(), CreatedAt: s.clock()}
			if err := tx.AddDomain(ctx, d); err != nil {
				return err
			}
		}
		if err := s.markVerified(ctx, tx, &d, actor, ProofOperator); err != nil {
			if KindOf(err) == Conflict {
				return ConflictError(fmt.Sprintf("the domain %s belongs to another account", name))
			}
			return err
		}
	}
	return nil
}

// ConnectionChange is what an operator changes of a connection; nil
// fields stay as they are. The name, protocol and provider stay: they are
// in the URLs and keys the provider knows.
type ConnectionChange struct {
	Domains  *[]string
	JITMode  *JITMode
	Settings *ConnectionSettings
}

// UpdateConnection changes a connection's domains, just-in-time mode or
// settings, under the same rules as CreateConnection.
func (s *Service) UpdateConnection(ctx context.Context, accountID string, actor Actor, id string, ch ConnectionChange) (Connection, error) {
	var out Connection
	err := s.store.Tx(ctx, func(tx Store) error {
		c, err := tx.FindConnection(ctx, accountID, id)
		if err != nil {
			return err
		}
		in := NewConnection{Protocol: c.Protocol, Name: c.Name, Domains: c.Domains, JITMode: c.JITMode, Settings: c.Settings, SealedSecret: c.SealedSecret}
		if ch.Domains != nil {
			in.Domains = *ch.Domains
		}
		if ch.JITMode != nil {
			in.JITMode = *ch.JITMode
		}
		if ch.Settings != nil {
			in.Settings = *ch.Settings
		}
		if o, n := c.Settings.OIDC, in.Settings.OIDC; o != nil && n != nil && (o.Issuer != n.Issuer || o.ClientID != n.ClientID) {
			return InvalidError("the issuer and client id stay as they are: a new provider or client is a new connection")
		}
		domains, problems := in.check()
		if len(problems) > 0 {
			return InvalidError(problems...)
		}
		if err := s.addDomains(ctx, tx, accountID, actor, domains); err != nil {
			return err
		}
		c.Domains, c.JITMode, c.Settings, c.UpdatedAt = domains, in.JITMode, in.Settings, s.clock()
		if err := tx.UpdateConnection(ctx, c); err != nil {
			return err
		}
		out = c
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "connection.updated", targetType: "connection", targetID: id,
			data: map[string]any{"name": c.Name, "domains": c.Domains, "jit_mode": c.JITMode, "settings": c.Settings},
		})
	})
	if err != nil {
		return Connection{}, fmt.Errorf("update connection: %w", err)
	}
	return out, nil
}

func validOrigin(s string) bool {
	scheme, rest, ok := strings.Cut(s, "://")
	return ok && (scheme == "https" || scheme == "http") && rest != "" && !strings.ContainsAny(rest, "/?#@\\ ")
}

// Connection returns one of the account's connections.
func (s *Service) Connection(ctx context.Context, accountID, id string) (Connection, error) {
	return s.store.FindConnection(ctx, accountID, id)
}

// Connections returns the account's connections, oldest first.
func (s *Service) Connections(ctx context.Context, accountID string) ([]Connection, error) {
	return s.store.FindConnections(ctx, accountID)
}

// AllConnections returns every account's connections: for the metadata
// refresher and certificate expiry warnings.
func (s *Service) AllConnections(ctx context.Context) ([]Connection, error) {
	return s.store.FindAllConnections(ctx)
}

// ConnectionForEmail picks the account's ready connection for an email: one
// that names the email's domain, else one that serves all the account's
// domains (no --domain of its own) when the domain is the account's, else
// the only one there is.
func (s *Service) ConnectionForEmail(ctx context.Context, accountID, email string) (Connection, error) {
	a, err := s.store.FindAccount(ctx, accountID)
	if err != nil {
		return Connection{}, err
	}
	all, err := readyConnections(ctx, s.store, accountID)
	if err != nil {
		return Connection{}, err
	}
	_, domain, _ := strings.Cut(EmailKey(strings.TrimSpace(email)), "@")
	if c, ok := connectionServing(a, all, domain); ok {
		return c, nil
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return Connection{}, NotFoundError("no single sign-on connection of this account serves that email address")
}

// ConnectionForDomainOf is home realm discovery: the account that owns the
// email's domain and its ready connection that serves it. NotFound when the
// domain is nobody's or its account has no ready connection for it: a
// connection still waiting for its identity provider would send people to
// a login that cannot finish, so they keep their password sign-in.
func (s *Service) ConnectionForDomainOf(ctx context.Context, email string) (Account, Connection, error) {
	_, domain, ok := strings.Cut(EmailKey(strings.TrimSpace(email)), "@")
	if !ok || domain == "" || !lookupable(domain) {
		return Account{}, Connection{}, NotFoundError("not an email address")
	}
	a, err := s.store.FindAccountByDomain(ctx, domain)
	if err != nil {
		return Account{}, Connection{}, err
	}
	all, err := readyConnections(ctx, s.store, a.ID)
	if err != nil {
		return a, Connection{}, err
	}
	if c, ok := connectionServing(a, all, domain); ok {
		return a, c, nil
	}
	return a, Connection{}, NotFoundError("the account has no single sign-on for this domain")
}

// readyConnections returns the account's connections that sign people in,
// oldest first.
func readyConnections(ctx context.Context, st Store, accountID string) ([]Connection, error) {
	all, err := st.FindConnections(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c Connection) bool { return !c.Ready() }), nil
}

// connectionServing picks the connection for an email domain: one that
// names the domain, else one that serves all the account's domains.
func connectionServing(a Account, all []Connection, domain string) (Connection, bool) {
	for _, named := range []bool{true, false} {
		for _, c := range all {
			if (len(c.Domains) > 0) == named && domain != "" && slices.Contains(allowedDomains(a, c), domain) {
				return c, true
			}
		}
	}
	return Connection{}, false
}

// ConnectionMetadata is an identity provider's SAML metadata, checked by
// the protocol's package, with the SHA-256 fingerprints (hex) of the
// certificates it signs with: the directory compares certificates without
// reading XML.
type ConnectionMetadata struct {
	Metadata            string
	SigningCertificates []string
	// URL, when given, is where the metadata was fetched from: the
	// connection refreshes from it from now on. Empty keeps the
	// connection's own (the refresher passes none, so an operator's new
	// URL is never undone by a refresh that read the old one).
	URL string
}

// SetConnectionMetadata saves new metadata of a SAML connection, fetched
// from its URL or given by an operator. When it changes the provider's
// signing certificates, the change is audited on the connection's account
// with the fingerprints before and after, and the connection remembers
// when: whoever controls the metadata controls who may sign people in, so
// a change of key must never pass unnoticed. For the same reason the
// metadata that finishes a connection waiting for its identity provider,
// and a new metadata URL, are audited. It returns the connection as saved,
// and whether its signing certificates changed.
func (s *Service) SetConnectionMetadata(ctx context.Context, accountID string, actor Actor, id string, md ConnectionMetadata) (c Connection, certificatesChanged bool, err error) {
	signing, err := fingerprints(md.SigningCertificates)
	switch {
	case err != nil:
		return Connection{}, false, InvalidError(err.Error())
	case md.Metadata == "" || len(signing) == 0:
		return Connection{}, false, InvalidError("the metadata and its signing certificates must be given")
	}
	var out Connection
	var changed bool
	err = s.store.Tx(ctx, func(tx Store) error {
		c, err := tx.FindConnection(ctx, accountID, id)
		if err != nil {
			return err
		}
		if c.Protocol != ProtocolSAML {
			return InvalidError(fmt.Sprintf("connection %s is %s: it has no SAML metadata", c.Name, strings.ToUpper(string(c.Protocol))))
		}
		now := s.clock()
		previous, waiting, previousURL := c.SigningCertificates, !c.Ready(), c.MetadataURL
		c.Metadata, c.MetadataFetchedAt, c.MetadataError, c.SigningCertificates, c.UpdatedAt = md.Metadata, &now, "", signing, now
		if md.URL != "" {
			c.MetadataURL = md.URL
		}
		// A connection made before fingerprints were kept has none: its
		// first metadata sets them without an event.
		changed = len(previous) > 0 && !slices.Equal(previous, signing)
		if changed {
			c.SigningCertificatesChangedAt = &now
		}
		if err := tx.UpdateConnectionMetadata(ctx, c); err != nil {
			return err
		}
		out = c
		if waiting || c.MetadataURL != previousURL {
			action := "connection.metadata_source_changed"
			if waiting {
				action = "connection.finished"
			}
			if err := s.record(ctx, tx, change{
				accountID: accountID, actor: actor, action: action, targetType: "connection", targetID: id,
				data: map[string]any{"name": c.Name, "metadata_url": c.MetadataURL, "previous_metadata_url": previousURL, "signing_certificates": signing},
			}); err != nil {
				return err
			}
		}
		if !changed {
			return nil
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "connection.signing_certificates_changed", targetType: "connection", targetID: id,
			data: map[string]any{
				"name": c.Name, "metadata_url": c.MetadataURL, "previous": previous, "current": signing,
				"added": without(signing, previous), "removed": without(previous, signing),
			},
		})
	})
	if err != nil {
		return Connection{}, false, fmt.Errorf("save connection metadata: %w", err)
	}
	return out, changed, nil
}

// RecordMetadataFailure records why fetching a connection's metadata
// failed; the connection keeps its last good copy and certificates.
func (s *Service) RecordMetadataFailure(ctx context.Context, accountID, id string, fetchErr error) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		c, err := tx.FindConnection(ctx, accountID, id)
		if err != nil {
			return err
		}
		c.MetadataError, c.UpdatedAt = fetchErr.Error(), s.clock()
		return tx.UpdateConnectionMetadata(ctx, c)
	})
	if err != nil {
		return fmt.Errorf("record metadata failure: %w", err)
	}
	return nil
}

// fingerprints normalizes a set of SHA-256 certificate fingerprints:
// lowercase hex, sorted, each once.
func fingerprints(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, f := range in {
		f = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(f), ":", ""))
		if len(f) != 64 || strings.Trim(f, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("certificate fingerprint %q: want SHA-256 in hex", f)
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// without returns the entries of a that are not in b.
func without(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// SetConnectionSecret replaces an OIDC connection's client secret, sealed
// by the caller: client secrets expire (Entra ID's within two years), and
// the connection, its URLs and its login log stay.
func (s *Service) SetConnectionSecret(ctx context.Context, accountID string, actor Actor, id, sealed string) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		c, err := tx.FindConnection(ctx, accountID, id)
		if err != nil {
			return err
		}
		if c.Protocol != ProtocolOIDC {
			return InvalidError(fmt.Sprintf("connection %s is %s: only OIDC connections have a client secret", c.Name, strings.ToUpper(string(c.Protocol))))
		}
		if sealed == "" {
			return InvalidError("the client secret is empty")
		}
		if err := tx.UpdateConnectionSecret(ctx, accountID, id, sealed, s.clock()); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "connection.secret_changed", targetType: "connection", targetID: id,
			data: map[string]any{"name": c.Name},
		})
	})
	if err != nil {
		return fmt.Errorf("set connection secret: %w", err)
	}
	return nil
}

// DeleteConnection removes a connection; its members stay.
func (s *Service) DeleteConnection(ctx context.Context, accountID string, actor Actor, id string) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		c, err := tx.FindConnection(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteConnection(ctx, accountID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "connection.deleted", targetType: "connection", targetID: id,
			data: map[string]any{"protocol": c.Protocol, "name": c.Name},
		})
	})
	if err != nil {
		return fmt.Errorf("delete connection: %w", err)
	}
	return nil
}
