package sso

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
)

// Setup adds and changes connections for whoever sets them up: the
// command line and the admin console share it, so neither holds the
// protocol work (fetching and checking SAML metadata, OpenID discovery,
// sealing client secrets). The rules (names, domains, modes, the Entra ID
// default) are the directory's.
type Setup struct {
	dir     *directory.Service
	fetch   *fetch.Client
	secrets *certs.Sealer
	base    string
}

// SetupConfig configures a Setup.
type SetupConfig struct {
	Directory *directory.Service
	// Fetch is the guarded outbound client metadata and discovery go
	// through; nil means one with the default rules.
	Fetch *fetch.Client
	// Secrets seals OIDC client secrets.
	Secrets *certs.Sealer
	// BaseURL is admit's public origin (ADMIT_BASE_URL).
	BaseURL string
}

// NewSetup returns a Setup.
func NewSetup(cfg SetupConfig) *Setup {
	if cfg.Fetch == nil {
		cfg.Fetch = fetch.New(fetch.Config{})
	}
	return &Setup{dir: cfg.Directory, fetch: cfg.Fetch, secrets: cfg.Secrets, base: strings.TrimSuffix(cfg.BaseURL, "/")}
}

// URLs are the values the identity provider's admin needs of c.
func (s *Setup) URLs(accountSlug string, c directory.Connection) directory.ConnectionURLs {
	return ConnectionURLs(s.base, accountSlug, c)
}

// TestLoginPath starts a Test sign-in at connection c: a real login whose
// result is shown at returnTo (a local path, given ?ref=REFERENCE of the
// login log's entry) and changes nothing (see handleTest).
func (s *Setup) TestLoginPath(accountSlug string, c directory.Connection, returnTo string) string {
	return "/sso/" + url.PathEscape(accountSlug) + "/test?" + url.Values{"connection": {c.Name}, "return_to": {returnTo}}.Encode()
}

// AddSAML adds a SAML connection whose identity provider's metadata comes
// from md; without any, the connection waits for it (SetMetadata).
func (s *Setup) AddSAML(ctx context.Context, accountID string, actor directory.Actor, in directory.NewConnection, md directory.MetadataSource) (directory.Connection, error) {
	in.Protocol = directory.ProtocolSAML
	in.Settings.OIDC = nil
	if !md.Empty() {
		got, err := s.metadata(ctx, actor, md)
		if err != nil {
			return directory.Connection{}, err
		}
		in.Metadata, in.SigningCertificates, in.MetadataURL = got.Metadata, got.SigningCertificates, got.URL
	}
	return s.dir.CreateConnection(ctx, accountID, actor, in)
}

// SetMetadata gives SAML connection id its identity provider's metadata:
// it finishes a waiting connection, and replaces the metadata of a
// finished one. It reports whether the signing certificates changed.
func (s *Setup) SetMetadata(ctx context.Context, accountID string, actor directory.Actor, id string, md directory.MetadataSource) (directory.Connection, bool, error) {
	c, err := s.dir.Connection(ctx, accountID, id)
	if err != nil {
		return directory.Connection{}, false, err
	}
	if c.Protocol != directory.ProtocolSAML {
		return directory.Connection{}, false, directory.InvalidError(fmt.Sprintf("connection %s is OIDC: it has no SAML metadata (its provider's configuration is read from the issuer)", c.Name))
	}
	if md.Empty() {
		return directory.Connection{}, false, directory.InvalidError("give the identity provider's metadata URL, its metadata document, or its entity ID, single sign-on URL and certificate")
	}
	got, err := s.metadata(ctx, actor, md)
	if err != nil {
		return directory.Connection{}, false, err
	}
	return s.dir.SetConnectionMetadata(ctx, accountID, actor, id, got)
}

// metadata reads md: fetched through the guarded client, parsed from the
// document, or made from the fields; then checked (ParseMetadata).
func (s *Setup) metadata(ctx context.Context, actor directory.Actor, md directory.MetadataSource) (directory.ConnectionMetadata, error) {
	fields := md.EntityID != "" || md.SSOURL != "" || md.CertificatePEM != ""
	given := 0
	for _, b := range []bool{md.URL != "", len(md.Document) > 0, fields} {
		if b {
			given++
		}
	}
	if given > 1 {
		return directory.ConnectionMetadata{}, directory.InvalidError("give one of the metadata URL, the metadata document, or the entity ID, single sign-on URL and certificate")
	}
	switch {
	case md.URL != "":
		got, err := FetchMetadata(ctx, s.fetch, md.URL)
		if err != nil {
			return directory.ConnectionMetadata{}, outboundError(err, actor)
		}
		got.URL = md.URL
		return got, nil
	case fields:
		doc, err := MetadataFromFields(md.EntityID, md.SSOURL, md.CertificatePEM)
		if err != nil {
			return directory.ConnectionMetadata{}, directory.InvalidError(err.Error())
		}
		md.Document = doc
	}
	got, err := CheckMetadata(md.Document)
	if err != nil {
		return directory.ConnectionMetadata{}, &DocumentError{directory.InvalidError(err.Error())}
	}
	return got, nil
}

// DocumentError is a metadata document that admit cannot use: the caller
// that read it from a file names the file. It is Invalid.
type DocumentError struct{ err error }

func (e *DocumentError) Error() string { return e.err.Error() }
func (e *DocumentError) Unwrap() error { return e.err }

// MetadataFromFields writes the metadata of an identity provider that
// publishes none, from what its setup page shows: its entity ID, its
// single sign-on URL (HTTP-Redirect binding) and its signing certificate.
func MetadataFromFields(entityID, ssoURL, certificate string) ([]byte, error) {
	var problems []string
	entityID, ssoURL = strings.TrimSpace(entityID), strings.TrimSpace(ssoURL)
	if entityID == "" || len(entityID) > 1024 || !utf8.ValidString(entityID) || strings.ContainsFunc(entityID, unicode.IsControl) {
		problems = append(problems, "the entity ID (issuer) must be given, at most 1024 characters on one line")
	}
	if u, err := url.Parse(ssoURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		problems = append(problems, "the single sign-on URL must be an https URL")
	}
	der, err := certificateDER(certificate)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	info := saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(der)}}}}
	ed := saml.EntityDescriptor{EntityID: entityID, IDPSSODescriptors: []saml.IDPSSODescriptor{{
		SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
			ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			KeyDescriptors:             []saml.KeyDescriptor{{Use: "signing", KeyInfo: info}},
		}},
		SingleSignOnServices: []saml.Endpoint{{Binding: saml.HTTPRedirectBinding, Location: ssoURL}},
	}}}
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return out, nil
}

// certificateDER reads a certificate pasted as PEM or as the bare base64
// some providers show.
func certificateDER(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the signing certificate must be given")
	}
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), "")); err == nil {
		der = b
	}
	if parseCertificate(base64.StdEncoding.EncodeToString(der)) == nil {
		return nil, errors.New("the signing certificate is not an X.509 certificate (paste it as PEM, -----BEGIN CERTIFICATE----- included)")
	}
	return der, nil
}

func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// AddOIDC adds an OpenID Connect connection: the issuer is checked and
// discovered now (a mistyped one fails here rather than at the first
// employee's login), and the client secret sealed with the server key.
func (s *Setup) AddOIDC(ctx context.Context, accountID string, actor directory.Actor, in directory.NewConnection, secret string) (directory.Connection, error) {
	in.Protocol = directory.ProtocolOIDC
	if in.Settings.OIDC == nil {
		return directory.Connection{}, directory.InvalidError("an OIDC connection needs an issuer and a client id")
	}
	o := *in.Settings.OIDC
	o.Issuer = strings.TrimSpace(o.Issuer)
	if err := directory.CheckIssuer(o.Issuer, o.AllowHTTP); err != nil {
		return directory.Connection{}, directory.InvalidError(err.Error())
	}
	if strings.TrimSpace(secret) == "" {
		return directory.Connection{}, directory.InvalidError("an OIDC connection needs its client secret")
	}
	issuer, err := s.discover(ctx, actor, o.Issuer)
	if err != nil {
		return directory.Connection{}, err
	}
	o.Issuer = issuer
	in.Settings.OIDC = &o
	if in.Name = strings.TrimSpace(in.Name); in.Name == "" {
		in.Name = string(directory.ProtocolOIDC)
	}
	if s.secrets == nil {
		return directory.Connection{}, errors.New("setup: no sealer for client secrets")
	}
	in.SealedSecret = s.secrets.Seal([]byte(secret), directory.ClientSecretPurpose(accountID, in.Name))
	return s.dir.CreateConnection(ctx, accountID, actor, in)
}

// discover reads the provider's OpenID configuration and returns the
// issuer as the provider spells it: one given with or without the
// trailing slash the provider uses (Auth0's has one, Okta's not) is taken
// in the provider's spelling, since ID tokens must match it exactly.
func (s *Setup) discover(ctx context.Context, actor directory.Actor, issuer string) (string, error) {
	octx := oidc.ClientContext(ctx, s.fetch.HTTPClient())
	_, err := oidc.NewProvider(octx, issuer)
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) && strings.TrimSuffix(mismatch.Discovered, "/") == strings.TrimSuffix(issuer, "/") {
		issuer = mismatch.Discovered
		_, err = oidc.NewProvider(octx, issuer)
	}
	if err != nil {
		return "", outboundError(fmt.Errorf("cannot read the OpenID configuration of %s: %w", issuer, err), actor)
	}
	return issuer, nil
}

// SetSecret replaces OIDC connection id's client secret: secrets expire
// at the provider, and the connection stays as it is.
func (s *Setup) SetSecret(ctx context.Context, accountID string, actor directory.Actor, id, secret string) error {
	c, err := s.dir.Connection(ctx, accountID, id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(secret) == "" {
		return directory.InvalidError("the client secret must be given")
	}
	if s.secrets == nil {
		return errors.New("setup: no sealer for client secrets")
	}
	return s.dir.SetConnectionSecret(ctx, accountID, actor, c.ID, s.secrets.Seal([]byte(secret), directory.ClientSecretPurpose(accountID, c.Name)))
}

// Update changes a connection's domains, just-in-time mode or settings
// (directory.UpdateConnection decides).
func (s *Setup) Update(ctx context.Context, accountID string, actor directory.Actor, id string, ch directory.ConnectionChange) (directory.Connection, error) {
	return s.dir.UpdateConnection(ctx, accountID, actor, id, ch)
}

// outboundError words a failed fetch from an identity provider for the
// actor who asked. Operators (the command line, an operator in the
// console) read the whole error, and a refusal names the
// ADMIT_OUTBOUND_ALLOW entry that would let it through, for a provider on
// the company's network or on this machine. An account's owner chose the
// URL but must not learn how admit's network resolves names, as with
// their webhooks: a name that resolves only to refused addresses and a
// name that does not resolve read alike (the difference would say which
// internal names exist), and they are told to ask the operators.
func outboundError(err error, actor directory.Actor) error {
	var refused *fetch.RefusedError
	isRefused := errors.As(err, &refused)
	if actor.Source == directory.SourceCLI || actor.Source == directory.SourceOperator {
		if isRefused && refused.Allowance() != "" {
			return directory.InvalidError(fmt.Sprintf("%v; if that is your identity provider, add %s to ADMIT_OUTBOUND_ALLOW", err, refused.Allowance()))
		}
		return directory.InvalidError(err.Error())
	}
	return forOwners(err)
}

// forOwners words a failed fetch for an account's owner (see
// outboundError): what they may read of it.
func forOwners(err error) error {
	const ask = "; if your identity provider is on a private network, ask the platform's operators to allow it"
	var refused *fetch.RefusedError
	isRefused := errors.As(err, &refused)
	if isRefused && refused.Public() != "" {
		return directory.InvalidError(refused.Public() + ask)
	}
	var dns *net.DNSError
	switch {
	case isRefused:
		return directory.InvalidError(unreachable(refused.Host) + ask)
	case errors.As(err, &dns) && (dns.IsNotFound || dns.IsTemporary):
		return directory.InvalidError(unreachable(dns.Name) + ask)
	}
	return directory.InvalidError(err.Error())
}

// unreachable says that host names no address admit connects to, in the
// one wording for a name that does not resolve and a refused one.
func unreachable(host string) string {
	return fmt.Sprintf("cannot reach %s: the name does not resolve, or only to addresses admit does not connect to (private, loopback, link-local)", host)
}

// SigningCertificateExpiries are when the signing certificates in c's
// SAML metadata end, soonest first: the console warns before a provider's
// certificate runs out.
func (s *Setup) SigningCertificateExpiries(c directory.Connection) []time.Time {
	if c.Protocol != directory.ProtocolSAML || c.Metadata == "" {
		return nil
	}
	ed, err := ParseMetadata([]byte(c.Metadata))
	if err != nil {
		return nil
	}
	var out []time.Time
	for _, cert := range signingCertificates(ed) {
		out = append(out, cert.NotAfter)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}
