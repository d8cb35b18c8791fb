package main

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/admit-dev/admit/certs"
	outbound "github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/web"
)

// Config is admit's configuration: environment variables, each overridable
// by a flag (--addr or, spelled as the variable, --ADMIT_ADDR).
type Config struct {
	Addr        string
	BaseURL     string
	DatabaseURL string
	SMTPURL     string
	MailFrom    string
	SecretKey   string
	// SecretKeyPrevious is the key ADMIT_SECRET_KEY replaces while it is
	// being rotated: it still opens and verifies, and never seals or
	// signs (see docs/operations.md, "Rotating the secret key").
	SecretKeyPrevious string
	// SecretKeyNext is the key a rotation is about to move to: like the
	// previous key it opens and verifies and never seals or signs, so that
	// every replica accepts the new key before any seals with it.
	SecretKeyNext string
	DNSResolver   string
	// MetricsAddr is where /metrics is served, apart from the public
	// listener: metrics name every account, so they are for the operator's
	// scraper only. metricsOff turns them off.
	MetricsAddr string
	// EventsRetention is how long events and webhook deliveries are kept
	// (a duration); empty means directory.EventRetention.
	EventsRetention string
	// Upstream is the app `admit serve` proxies to; empty serves admit
	// alone.
	Upstream string
	// PprofAddr is where Go's profiles (/debug/pprof/) are served, on
	// loopback only; empty serves none.
	PprofAddr string
	// OutboundAllow lists the CIDRs and host names outbound fetches may
	// reach although private (see package fetch).
	OutboundAllow string
	// TrustedProxies lists the proxies whose X-Forwarded-For admit
	// believes (web.TrustedProxies).
	TrustedProxies string
}

// metricsOff is the ADMIT_METRICS_ADDR that serves no metrics. An empty
// value cannot say it: an empty variable is an unset one, which means the
// default.
const metricsOff = "off"

// setting ties a Config field to its variable and flag.
type setting struct {
	env, flag, usage string
	field            func(*Config) *string
}

var settings = []setting{
	{"ADMIT_ADDR", "addr", "listen address", func(c *Config) *string { return &c.Addr }},
	{"ADMIT_BASE_URL", "base-url", "public URL, used in links, SAML metadata and redirect URIs", func(c *Config) *string { return &c.BaseURL }},
	{"ADMIT_DATABASE_URL", "database-url", "postgres://… or sqlite:PATH", func(c *Config) *string { return &c.DatabaseURL }},
	{"ADMIT_SMTP_URL", "smtp-url", "smtp://[user:pass@]host[:port][?tls=required] or smtps://…; with a password STARTTLS is required off this machine; unset keeps mail in the dev mailbox", func(c *Config) *string { return &c.SMTPURL }},
	{"ADMIT_MAIL_FROM", "mail-from", "the address admit's emails come from; default noreply@ the host of ADMIT_BASE_URL", func(c *Config) *string { return &c.MailFrom }},
	{"ADMIT_DNS_RESOLVER", "dns-resolver", "host[:port] of the DNS server asked when verifying domains; default the system's", func(c *Config) *string { return &c.DNSResolver }},
	{"ADMIT_METRICS_ADDR", "metrics-addr", "listen address of Prometheus /metrics, apart from the public one (which answers 404 there); off serves no metrics", func(c *Config) *string { return &c.MetricsAddr }},
	{"ADMIT_SECRET_KEY", "secret-key", "key for cookies and secrets at rest (base64, 32+ bytes); generated into the data folder when unset", func(c *Config) *string { return &c.SecretKey }},
	{"ADMIT_SECRET_KEY_PREVIOUS", "secret-key-previous", "while rotating the secret key: the old key, replaced by the new one (ADMIT_SECRET_KEY); it still opens secrets at rest and verifies cookies and links but seals and signs nothing; unset when no rotation is under way", func(c *Config) *string { return &c.SecretKeyPrevious }},
	{"ADMIT_SECRET_KEY_NEXT", "secret-key-next", "before rotating the secret key: the new key, which will replace ADMIT_SECRET_KEY; it already opens secrets at rest and verifies cookies and links but seals and signs nothing, so that replicas rolled onto the new key meet none that cannot open what they make; unset when no rotation is under way", func(c *Config) *string { return &c.SecretKeyNext }},
	{"ADMIT_EVENTS_RETENTION", "events-retention", "how long events, webhook deliveries and their attempts are kept (a duration like 720h); default 720h (30 days)", func(c *Config) *string { return &c.EventsRetention }},
	{"ADMIT_UPSTREAM", "upstream", "the app admit serve proxies to, with the identity headers of the signed-in person (http://127.0.0.1:3000); unset serves admit alone", func(c *Config) *string { return &c.Upstream }},
	{"ADMIT_PPROF_ADDR", "pprof-addr", "loopback listen address of Go's profiles at /debug/pprof/ (127.0.0.1:6060), for profiling a running admit; unset serves none", func(c *Config) *string { return &c.PprofAddr }},
	{"ADMIT_TRUSTED_PROXIES", "trusted-proxies", "CIDRs and addresses of the load balancers or proxies in front of admit, comma-separated (e.g. 10.0.0.0/8): from them the client's address is read from X-Forwarded-For, for the sign-in throttles and the logs; unset believes no header", func(c *Config) *string { return &c.TrustedProxies }},
	{"ADMIT_OUTBOUND_ALLOW", "outbound-allow", "CIDRs and host names that metadata, discovery and other outbound fetches may reach although private or loopback, comma-separated (e.g. 10.20.0.0/16,adfs.corp.example); plain http goes only to these", func(c *Config) *string { return &c.OutboundAllow }},
}

const defaultDatabaseURL = "sqlite:admit-data/admit.db"

// configFromEnv reads the environment, with DESIGN.md's defaults.
func configFromEnv(getenv func(string) string) Config {
	c := Config{Addr: "127.0.0.1:8080", BaseURL: "http://localhost:8080", DatabaseURL: defaultDatabaseURL, MetricsAddr: "127.0.0.1:9090"}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			*s.field(&c) = v
		}
	}
	return c
}

// register adds the configuration flags to fs, both spellings of each.
func (c *Config) register(fs *flag.FlagSet) {
	for _, s := range settings {
		p := s.field(c)
		fs.StringVar(p, s.flag, *p, s.usage+" ("+s.env+")")
		fs.StringVar(p, s.env, *p, "same as --"+s.flag)
	}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var problems []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Errorf("ADMIT_ADDR %q: want host:port", c.Addr))
	}
	if c.MetricsAddr != metricsOff {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			problems = append(problems, fmt.Errorf("ADMIT_METRICS_ADDR %q: want host:port, or off", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr && port != "0" {
			problems = append(problems, fmt.Errorf("ADMIT_METRICS_ADDR %q is ADMIT_ADDR: metrics need a listener of their own, off the public one", c.MetricsAddr))
		}
	}
	if c.PprofAddr != "" {
		if err := checkLoopback(c.PprofAddr); err != nil {
			problems = append(problems, fmt.Errorf("ADMIT_PPROF_ADDR %q: %w", c.PprofAddr, err))
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		problems = append(problems, fmt.Errorf("ADMIT_BASE_URL %q: want an origin like https://admit.example.com", c.BaseURL))
	}
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		problems = append(problems, fmt.Errorf("ADMIT_DATABASE_URL %q: want postgres://… or sqlite:PATH", redactURL(c.DatabaseURL)))
	}
	if c.SMTPURL != "" {
		// The mail package owns the URL's rules (credentials only over TLS
		// off this machine, the one tls=required parameter); checking with
		// it here refuses a bad URL at start, not at the first invitation.
		if _, err := mail.NewSMTP(mail.SMTPConfig{URL: c.SMTPURL}); err != nil {
			problems = append(problems, fmt.Errorf("ADMIT_SMTP_URL: %w", err))
		}
	}
	if c.MailFrom != "" {
		if local, domain, ok := strings.Cut(c.MailFrom, "@"); !ok || local == "" || domain == "" || strings.ContainsAny(c.MailFrom, " <>\r\n") {
			problems = append(problems, fmt.Errorf("ADMIT_MAIL_FROM %q: want a plain address like noreply@example.com", c.MailFrom))
		}
	}
	if c.DNSResolver != "" {
		if _, err := resolverAddr(c.DNSResolver); err != nil {
			problems = append(problems, err)
		}
	}
	if c.SecretKey != "" {
		if _, err := decodeSecretKey(c.SecretKey); err != nil {
			problems = append(problems, err)
		}
	}
	if c.SecretKeyPrevious != "" {
		prev, err := decodeSecretKey(c.SecretKeyPrevious)
		cur, _ := decodeSecretKey(c.SecretKey)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("ADMIT_SECRET_KEY_PREVIOUS: %w", err))
		case c.SecretKey == "":
			// A key generated into the data folder is one replica's own:
			// rotating from it means naming the new key explicitly.
			problems = append(problems, errors.New("ADMIT_SECRET_KEY_PREVIOUS is set without ADMIT_SECRET_KEY: give the new key in ADMIT_SECRET_KEY (make one with: admit secret-key generate)"))
		case bytes.Equal(prev, cur):
			problems = append(problems, errors.New("ADMIT_SECRET_KEY_PREVIOUS is the same key as ADMIT_SECRET_KEY: give the new key in ADMIT_SECRET_KEY and the old one in ADMIT_SECRET_KEY_PREVIOUS"))
		}
	}
	if c.SecretKeyNext != "" {
		next, err := decodeSecretKey(c.SecretKeyNext)
		cur, _ := decodeSecretKey(c.SecretKey)
		prev, _ := decodeSecretKey(c.SecretKeyPrevious)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("ADMIT_SECRET_KEY_NEXT: %w", err))
		case c.SecretKey == "":
			problems = append(problems, errors.New("ADMIT_SECRET_KEY_NEXT is set without ADMIT_SECRET_KEY: give the key that seals now in ADMIT_SECRET_KEY and the new one in ADMIT_SECRET_KEY_NEXT"))
		case bytes.Equal(next, cur):
			problems = append(problems, errors.New("ADMIT_SECRET_KEY_NEXT is the same key as ADMIT_SECRET_KEY: give the new key in ADMIT_SECRET_KEY_NEXT (make one with: admit secret-key generate)"))
		case c.SecretKeyPrevious != "" && bytes.Equal(next, prev):
			problems = append(problems, errors.New("ADMIT_SECRET_KEY_NEXT is the same key as ADMIT_SECRET_KEY_PREVIOUS: a rotation never goes back to the key it replaced; make a new key with: admit secret-key generate"))
		}
	}
	if c.EventsRetention != "" {
		if d, err := time.ParseDuration(c.EventsRetention); err != nil || d < time.Hour {
			problems = append(problems, fmt.Errorf("ADMIT_EVENTS_RETENTION %q: want a duration of an hour or more, like 720h", c.EventsRetention))
		}
	}
	if _, err := parseUpstream(c.Upstream); err != nil {
		problems = append(problems, err)
	}
	if _, err := outbound.ParseAllow(c.OutboundAllow); err != nil {
		problems = append(problems, fmt.Errorf("ADMIT_OUTBOUND_ALLOW: %w", err))
	}
	if _, err := web.ParseTrustedProxies(c.TrustedProxies); err != nil {
		problems = append(problems, fmt.Errorf("ADMIT_TRUSTED_PROXIES: %w", err))
	}
	return errors.Join(problems...)
}

// BaseURLWarning is what `admit serve` warns of at start when
// ADMIT_BASE_URL is a loopback URL on another port than ADMIT_ADDR's (the
// default http://localhost:8080 left as it was after moving the port):
// invitation links, the OpenID issuer and the SCIM base URL would point at
// a port nothing of admit's answers. Only a warning, since a proxy on this
// machine may well serve that port; a non-loopback URL is always taken as
// the public one, and port 0 (the system chooses) is for tests.
func (c Config) BaseURLWarning() string {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return ""
	}
	_, addrPort, err := net.SplitHostPort(c.Addr)
	if err != nil || addrPort == "0" {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port == addrPort {
		return ""
	}
	return fmt.Sprintf("ADMIT_BASE_URL %s is on this machine but on port %s, and admit listens on port %s (ADMIT_ADDR %s): invitation links, the OpenID issuer and the SCIM base URL use ADMIT_BASE_URL; set it to the address people reach admit at, unless a proxy on this machine serves that port",
		c.BaseURL, port, addrPort, c.Addr)
}

// resolverAddr turns ADMIT_DNS_RESOLVER into host:port, port 53 unless given.
func resolverAddr(v string) (string, error) {
	if host, port, err := net.SplitHostPort(v); err == nil {
		if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65536 && host != "" {
			return v, nil
		}
	} else if net.ParseIP(strings.Trim(v, "[]")) != nil || (v != "" && !strings.ContainsAny(v, ":/ ")) {
		return net.JoinHostPort(strings.Trim(v, "[]"), "53"), nil
	}
	return "", fmt.Errorf("ADMIT_DNS_RESOLVER %q: want host or host:port, like 10.0.0.2 or 127.0.0.1:5353", v)
}

// Resolver is what domain verification asks: the configured DNS server,
// or the system's. Only the verification lookups use it.
func (c Config) Resolver() *net.Resolver {
	addr, err := resolverAddr(c.DNSResolver)
	if c.DNSResolver == "" || err != nil {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Fetch is the one guarded client for outbound requests, with the
// operator's allow list.
func (c Config) Fetch(log *slog.Logger) *outbound.Client {
	// Validate has refused a list that does not parse.
	allow, _ := outbound.ParseAllow(c.OutboundAllow)
	return outbound.New(outbound.Config{Allow: allow, Logger: log})
}

// refusedAddress is the guarded client's rule for the endpoints an
// account's owners add (with nothing allowed), for the directory, which
// refuses such an endpoint when it is added (directory.Config).
func refusedAddress(addr netip.Addr) string {
	var refused *outbound.RefusedError
	if errors.As(outbound.Allow{}.Check(addr), &refused) {
		return refused.Reason
	}
	return ""
}

// Retention is how long events are kept: ADMIT_EVENTS_RETENTION, or 0
// for the directory's default.
func (c Config) Retention() time.Duration {
	d, _ := time.ParseDuration(c.EventsRetention) // Validate refused a bad one
	return d
}

// Sender is the address emails come from.
func (c Config) Sender() string {
	if c.MailFrom != "" {
		return c.MailFrom
	}
	host := "localhost"
	if u, err := url.Parse(c.BaseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "noreply@" + host
}

// Secure reports whether admit is reached over HTTPS, so cookies must be Secure.
func (c Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// DataDir is where admit keeps local files: the SQLite database's folder,
// or admit-data when the database is PostgreSQL.
func (c Config) DataDir() string {
	if path, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok {
		return filepath.Dir(strings.TrimPrefix(path, "//"))
	}
	return "admit-data"
}

const minSecretKeyBytes = 32

// newSecretKey returns a fresh secret key, base64 as ADMIT_SECRET_KEY
// takes it.
func newSecretKey() string {
	raw := make([]byte, minSecretKeyBytes)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func decodeSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) >= minSecretKeyBytes {
			return b, nil
		}
	}
	return nil, fmt.Errorf("ADMIT_SECRET_KEY must be at least %d bytes of base64 (make one with: openssl rand -base64 32)", minSecretKeyBytes)
}

// keyFile is where the secret key is kept when ADMIT_SECRET_KEY is unset.
func (c Config) keyFile() string {
	path := filepath.Join(c.DataDir(), "secret.key")
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// keyPlace says where the key is expected, for the messages that ask for it.
func (c Config) keyPlace() string {
	if c.SecretKey != "" {
		return "ADMIT_SECRET_KEY"
	}
	return c.keyFile() + " (or ADMIT_SECRET_KEY)"
}

// findSecretKey returns the configured key or the one kept in the data
// folder; found is false when there is neither. It never makes a key:
// whether one may be made depends on the database (see cli.unlock).
func (c Config) findSecretKey() (key []byte, found bool, err error) {
	if c.SecretKey != "" {
		key, err := decodeSecretKey(c.SecretKey)
		return key, err == nil, err
	}
	path := c.keyFile()
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("%s is readable by other users (mode %v); run: chmod 600 %s", path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	key, err = decodeSecretKey(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return key, true, nil
}

// generateSecretKey makes a new key in the data folder (mode 0600). When
// another process made one at the same moment, that one is returned and
// created is false.
func (c Config) generateSecretKey() (key []byte, created bool, err error) {
	if err := os.MkdirAll(c.DataDir(), 0o700); err != nil {
		return nil, false, fmt.Errorf("create data folder: %w", err)
	}
	encoded := newSecretKey()
	created, err = createExclusive(c.keyFile(), []byte(encoded+"\n"))
	if err != nil {
		return nil, false, err
	}
	if created {
		key, err := decodeSecretKey(encoded)
		return key, true, err
	}
	key, found, err := c.findSecretKey()
	if err == nil && !found {
		err = fmt.Errorf("%s vanished while it was being made", c.keyFile())
	}
	return key, false, err
}

// keyFingerprint identifies a secret key without revealing it: a value
// derived under its own label, as every other use of the key is.
func keyFingerprint(secret []byte) (string, error) {
	b, err := hkdf.Key(sha256.New, secret, nil, "admit secret key fingerprint", 16)
	if err != nil {
		return "", fmt.Errorf("fingerprint the secret key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// createExclusive writes data to path unless path exists, atomically: the
// file is written in full under a temporary name and then linked into place,
// so a process starting at the same moment never reads half a key.
func createExclusive(path string, data []byte) (bool, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return false, fmt.Errorf("create secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, fmt.Errorf("create secret key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write secret key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write secret key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("store secret key: %w", err)
	}
	return true, nil
}

// Keys derived from the server key, one per purpose, so that no two uses
// ever share a key.
type keys struct {
	csrf, invitation, bounceHook []byte
	// device signs the device tokens of password sign-in.
	device []byte
	// ssoState seals the sign-ins a browser has in progress into its
	// cookies.
	ssoState []byte
	// provider is the OpenID provider's own key, from which it derives
	// the keys of its access tokens and sealed authorization requests.
	provider []byte
	// sealing encrypts secrets at rest: SAML private keys, OIDC client
	// secrets (DESIGN rule 7).
	sealing []byte
	// fingerprint names the key they come from, as the database records
	// the key it is sealed with (store.SettingKeyFingerprint).
	fingerprint string
	// previous are the keys of ADMIT_SECRET_KEY_PREVIOUS during a
	// rotation: they open and verify what the old key sealed and signed,
	// and nil otherwise.
	previous *keys
	// next are the keys of ADMIT_SECRET_KEY_NEXT before a rotation: they
	// open and verify what replicas already on the new key seal and sign,
	// and nil otherwise.
	next *keys
}

// acceptedKeys are, for each use, the keys this process opens and
// verifies with but never seals or signs with: the previous key's and the
// next key's (ADMIT_SECRET_KEY_PREVIOUS, ADMIT_SECRET_KEY_NEXT). It has a
// field for every key of keys but the bounce hook's, whose secret the
// mail relay holds one of (TestAcceptedKeysCoverEveryUse): each opener is
// given its field, so that a key accepted for one use is accepted for all.
type acceptedKeys struct {
	csrf, invitation, device, ssoState, provider, sealing [][]byte
}

// accepted returns the accepted keys, none outside a rotation.
func (k keys) accepted() acceptedKeys {
	var a acceptedKeys
	for _, o := range []*keys{k.previous, k.next} {
		if o == nil {
			continue
		}
		a.csrf = append(a.csrf, o.csrf)
		a.invitation = append(a.invitation, o.invitation)
		a.device = append(a.device, o.device)
		a.ssoState = append(a.ssoState, o.ssoState)
		a.provider = append(a.provider, o.provider)
		a.sealing = append(a.sealing, o.sealing)
	}
	return a
}

// sealer seals with the current key and opens with it or an accepted one.
func (k keys) sealer() (*certs.Sealer, error) {
	return certs.NewSealer(k.sealing, k.accepted().sealing...)
}

func deriveKeys(secret []byte) (keys, error) {
	var k keys
	for _, d := range []struct {
		dst  *[]byte
		info string
	}{{&k.csrf, "admit csrf"}, {&k.invitation, "admit invitation token"}, {&k.bounceHook, "admit mail bounce hook"}, {&k.sealing, "admit secrets at rest"}, {&k.device, "admit device token"},
		{&k.ssoState, "admit sso pending sign-ins"}, {&k.provider, "admit openid provider"}} {
		b, err := hkdf.Key(sha256.New, secret, nil, d.info, 32)
		if err != nil {
			return keys{}, fmt.Errorf("derive %s key: %w", d.info, err)
		}
		*d.dst = b
	}
	return k, nil
}

// bounceSecret is the secret a mail provider's relay signs bounce reports
// with: printable, so that it can be pasted into the relay's settings.
func (k keys) bounceSecret() []byte { return []byte(hex.EncodeToString(k.bounceHook)) }

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}
