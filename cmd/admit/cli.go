package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/web"
)

// cli holds what every command shares: the configuration, the standard
// streams, and the --json choice of the command being run.
type cli struct {
	cfg    Config
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	json   bool
}

// command is one subcommand. run parses its own flags from args.
type command struct {
	name    string // "account create"
	summary string
	run     func(c *cli, ctx context.Context, args []string) error
}

// commands lists every subcommand; help prints them in this order.
var commands = []command{
	{"serve", "run the HTTP server", (*cli).serve},
	{"migrate", "apply database migrations and exit", (*cli).migrate},
	{"account create", "create an account: --slug S --name N [--domain D ...]", (*cli).accountCreate},
	{"account list", "list accounts", (*cli).accountList},
	{"account set-policy", "set an account's password and sign-in policy: --account S [--min-length N] [--require upper,lower,digit,symbol|none] [--initial-password-days N] [--sso-required[=false]] [--break-glass-owners[=false]]", (*cli).accountSetPolicy},
	{"domain add", "claim an email domain for an account; prints the DNS TXT record that proves it: --account S --domain D [--verified]", (*cli).domainAdd},
	{"domain verify", "look up a claimed domain's TXT record and verify it: --account S --domain D", (*cli).domainVerify},
	{"domain list", "list an account's domains, verified and pending: --account S", (*cli).domainList},
	{"domain remove", "withdraw an account's claim of a domain: --account S --domain D", (*cli).domainRemove},
	{"role create", "add an account role beside owner, admin and member: --account S --name R", (*cli).roleCreate},
	{"role map", "give the members of an identity provider's group (pushed by SCIM or sent at an SSO login) a role: --account S --group G --role R [--priority N]", (*cli).roleMap},
	{"role unmap", "remove a group-to-role mapping: --account S --group G", (*cli).roleUnmap},
	{"role mappings", "list an account's group-to-role mappings: --account S", (*cli).roleMappings},
	{"account set-branding", "set how an account's pages and emails look: --account S [--display-name N] [--logo-url U] [--color #RGB] [--sender-name N] [--reply-to E] [--invite-subject S] [--invite-intro T]", (*cli).accountSetBranding},
	{"user add", "add a person to an account: --account S --email E --first F --last L [--role R] (--password-stdin | --invite)", (*cli).userAdd},
	{"user deactivate", "suspend a member: they can no longer sign in to the account, and their sessions there end: --account S --email E", (*cli).userDeactivate},
	{"user reactivate", "let a deactivated member sign in again: --account S --email E", (*cli).userReactivate},
	{"user list", "list an account's members: --account S [--search Q] [--limit N] [--after CURSOR]", (*cli).userList},
	{"invite create", "invite a person by email: --account S --email E [--role R] [--inviter E] [--expires-in 168h]", (*cli).inviteCreate},
	{"invite resend", "send an invitation again with a new link: --account S --email E [--expires-in 168h]", (*cli).inviteResend},
	{"invite revoke", "withdraw an invitation: --account S --email E", (*cli).inviteRevoke},
	{"invite list", "list an account's invitations: --account S", (*cli).inviteList},
	{"scim-token create", "make a SCIM bearer token for an identity provider (printed once): --account S [--name N]", (*cli).scimTokenCreate},
	{"scim-token list", "list an account's SCIM tokens and when each was last used: --account S", (*cli).scimTokenList},
	{"scim-token revoke", "stop a SCIM token from working: --account S --id ID", (*cli).scimTokenRevoke},
	{"sso add-saml", "add a SAML identity provider: --account S (--metadata-url U | --metadata-file F) [--name N] [--allow-idp-initiated] [--domain D ...] [--jit create|link|off] [--*-attribute A]", (*cli).ssoAddSAML},
	{"sso add-oidc", "add an OpenID Connect provider: --account S --issuer U --client-id C --client-secret-stdin [--name N] [--domain D ...] [--jit create|link|off] [--email-trust verified|domain] [--scope S ...] [--*-claim C]", (*cli).ssoAddOIDC},
	{"sso list", "list an account's SSO connections and their URLs: --account S", (*cli).ssoList},
	{"sso attempts", "show a connection's recent logins, with what the provider sent: --account S --connection N [--limit N]", (*cli).ssoAttempts},
	{"sso set-metadata", "replace a SAML connection's IdP metadata (a new IdP certificate): --account S --connection N --metadata-file F", (*cli).ssoSetMetadata},
	{"sso update", "change a connection (only the flags given): --account S --connection N [--domain D ... | --all-domains] [--jit M] [--return-host O ... | --no-return-hosts] [--allow-idp-initiated=BOOL] [--clock-skew D] [--email-trust T] [--scope S ...] [--*-attribute A | --*-claim C]", (*cli).ssoUpdate},
	{"sso set-secret", "replace an OIDC connection's client secret (read from standard input): --account S --connection N --client-secret-stdin", (*cli).ssoSetSecret},
	{"sso remove", "remove an SSO connection (its members stay): --account S --connection N", (*cli).ssoRemove},
	{"app add", "register an app that signs people in through admit (OpenID Connect); prints its client id and secret once: --name N --redirect-uri U [--redirect-uri U2] [--post-logout-redirect-uri U] [--backchannel-logout-uri U] [--public] [--account S]", (*cli).appAdd},
	{"app list", "list the registered apps", (*cli).appList},
	{"app remove", "remove an app: its client id and tokens stop working: --client-id C", (*cli).appRemove},
	{"app rotate-secret", "give an app a new client secret (printed once); the old one stops working: --client-id C", (*cli).appRotateSecret},
	{"certs list", "list admit's SAML certificates", (*cli).certsList},
	{"certs rotate", "publish a new SAML certificate; run again to start using it", (*cli).certsRotate},
	{"certs retire", "stop publishing an old SAML certificate and delete its key: --id ID", (*cli).certsRetire},
	{"audit list", "read an account's audit trail, newest first: --account S [--person E] [--action A] [--since 2026-12-01|24h] [--limit N]", (*cli).auditList},
	{"mail list", "list an account's mail and its delivery (the dev mailbox): --account S [--limit N]", (*cli).mailList},
	{"mail show", "print one email as it was (or would be) sent: --account S --id ID", (*cli).mailShow},
	{"mail bounce-secret", "print the secret that signs bounce reports to /hooks/mail-bounce", (*cli).mailBounceSecret},
}

// usageError is a mistake in how a command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func (c *cli) run(ctx context.Context, args []string) int {
	global := flag.NewFlagSet("admit", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.cfg.register(global)
	if err := global.Parse(args); err != nil {
		return c.fail(usageError{err.Error()})
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		c.help()
		if len(rest) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, cmd := range commands {
		words := strings.Fields(cmd.name)
		if len(rest) >= len(words) && strings.Join(rest[:len(words)], " ") == cmd.name {
			return c.fail(cmd.run(c, ctx, rest[len(words):]))
		}
	}
	return c.fail(usageError{fmt.Sprintf("unknown command %q; run 'admit help'", strings.Join(rest, " "))})
}

func (c *cli) help() {
	fmt.Fprintln(c.stdout, "usage: admit [flags] <command> [command flags]\n\ncommands:")
	for _, cmd := range commands {
		fmt.Fprintf(c.stdout, "  %-20s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(c.stdout, "\nEvery command takes --json and the configuration flags:")
	for _, s := range settings {
		fmt.Fprintf(c.stdout, "  --%-14s %s (env %s)\n", s.flag, s.usage, s.env)
	}
}

// fail reports err the one way the CLI reports errors: one line on stderr
// and, with --json, an error object on stdout. It returns the exit status.
func (c *cli) fail(err error) int {
	if err == nil {
		return exitOK
	}
	code, msg, kind := exitError, "", ""
	var ue usageError
	switch {
	case errors.As(err, &ue):
		code, msg, kind = exitUsage, ue.msg, "usage"
	case directory.KindOf(err) != directory.Internal:
		msg, kind = directory.Message(err), directory.KindOf(err).String()
	default:
		// The operator at the terminal may see the whole chain: it names
		// the database or file that failed.
		msg, kind = err.Error(), "internal"
	}
	msg = strings.Join(strings.Fields(msg), " ") // one line, whatever the cause said
	fmt.Fprintf(c.stderr, "admit: %s\n", msg)
	if c.json {
		c.printJSON(map[string]string{"error": msg, "kind": kind})
	}
	return code
}

// flags returns a FlagSet for the named command with the configuration
// flags and --json on it.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("admit "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	c.cfg.register(fs)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	return fs
}

// parse parses args and checks that the named flags were given.
func (c *cli) parse(fs *flag.FlagSet, args []string, required ...string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(c.stdout)
			fs.PrintDefaults()
		}
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []string
	for _, r := range required {
		if !set[r] {
			missing = append(missing, "--"+r)
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Sprintf("%s: missing %s", fs.Name(), strings.Join(missing, ", "))}
	}
	if err := c.cfg.Validate(); err != nil {
		return usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return nil
}

func (c *cli) printJSON(v any) {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// output prints v as JSON with --json, else the text.
func (c *cli) output(v any, text string) {
	if c.json {
		c.printJSON(v)
		return
	}
	fmt.Fprintln(c.stdout, text)
}

// logger is where commands log: stderr, with the request id when a context
// carries one.
func (c *cli) logger(level slog.Level) *slog.Logger {
	return slog.New(web.LogHandler(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level})))
}

// openStore opens the configured database and brings its schema up to date,
// so that every command works on a fresh database as well as beside a
// running server.
func (c *cli) openStore(ctx context.Context, log *slog.Logger) (*store.Store, error) {
	s, err := store.Open(ctx, c.cfg.DatabaseURL, log)
	if err != nil {
		return nil, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// service opens the store for a one-shot command; close it when done.
func (c *cli) service(ctx context.Context) (*directory.Service, func(), error) {
	log := c.logger(slog.LevelWarn)
	keys, err := c.keys(log)
	if err != nil {
		return nil, nil, err
	}
	s, err := c.openStore(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	svc := directory.NewService(directory.Config{Store: s, TokenKey: keys.invitation, Resolver: c.cfg.Resolver(), Logger: log})
	return svc, func() { s.Close() }, nil
}

// account opens the store and finds the account with the given slug, for
// the commands that act in one account; call done when finished.
func (c *cli) account(ctx context.Context, slug string) (*directory.Service, directory.Account, func(), error) {
	svc, done, err := c.service(ctx)
	if err != nil {
		return nil, directory.Account{}, nil, err
	}
	a, err := svc.Account(ctx, slug)
	if err != nil {
		done()
		return nil, directory.Account{}, nil, err
	}
	return svc, a, done, nil
}

// actor names the operator in audit events: the OS user running the command.
func (c *cli) actor() directory.Actor {
	name := c.getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return directory.Actor{Source: directory.SourceCLI, Name: name}
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	fs := c.flags("migrate")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	s, err := store.Open(ctx, c.cfg.DatabaseURL, c.logger(slog.LevelWarn))
	if err != nil {
		return err
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		return err
	}
	version, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if applied == nil {
		applied = []string{}
	}
	text := fmt.Sprintf("schema is at version %d (%d migrations applied now)", version, len(applied))
	c.output(map[string]any{"version": version, "applied": applied, "database": s.Dialect()}, text)
	return nil
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type accountJSON struct {
	ID             string                   `json:"id"`
	Slug           string                   `json:"slug"`
	Name           string                   `json:"name"`
	Domains        []string                 `json:"domains"`
	PasswordPolicy directory.PasswordPolicy `json:"password_policy"`
	SSORequired    bool                     `json:"sso_required"`
	BreakGlass     bool                     `json:"break_glass_owners"`
	CreatedAt      string                   `json:"created_at"`
}

func toAccountJSON(a directory.Account) accountJSON {
	domains := a.Domains
	if domains == nil {
		domains = []string{}
	}
	return accountJSON{a.ID, a.Slug, a.Name, domains, a.PasswordPolicy, a.SignIn.SSORequired, a.SignIn.BreakGlassOwners, a.CreatedAt.Format("2006-01-02T15:04:05Z")}
}

func (c *cli) accountCreate(ctx context.Context, args []string) error {
	fs := c.flags("account create")
	slug := fs.String("slug", "", "the account's short name, used in URLs")
	name := fs.String("name", "", "the account's display name")
	var domains stringList
	fs.Var(&domains, "domain", "an email domain the account owns (repeatable)")
	if err := c.parse(fs, args, "slug", "name"); err != nil {
		return err
	}
	svc, done, err := c.service(ctx)
	if err != nil {
		return err
	}
	defer done()
	a, err := svc.CreateAccount(ctx, c.actor(), directory.NewAccount{Slug: *slug, Name: *name, Domains: domains})
	if err != nil {
		return err
	}
	c.output(toAccountJSON(a), fmt.Sprintf("created account %s (%s)", a.Slug, a.ID))
	return nil
}

func (c *cli) accountList(ctx context.Context, args []string) error {
	fs := c.flags("account list")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	svc, done, err := c.service(ctx)
	if err != nil {
		return err
	}
	defer done()
	accounts, err := svc.Accounts(ctx)
	if err != nil {
		return err
	}
	out := make([]accountJSON, len(accounts))
	var text strings.Builder
	for i, a := range accounts {
		out[i] = toAccountJSON(a)
		fmt.Fprintf(&text, "%-24s %-32s %s\n", a.Slug, a.Name, strings.Join(a.Domains, ","))
	}
	c.output(out, strings.TrimSuffix(text.String(), "\n"))
	return nil
}

func (c *cli) accountSetPolicy(ctx context.Context, args []string) error {
	fs := c.flags("account set-policy")
	minLength := fs.Int("min-length", 0, "minimum password length (8 to 128)")
	require := fs.String("require", "", "character classes every password must have: comma-separated upper, lower, digit, symbol, or none")
	initialDays := fs.Int("initial-password-days", 0, "days a password set by an admin works before it must have been changed (1 to 90)")
	ssoRequired := fs.Bool("sso-required", false, "members in the account's SSO domains must sign in through its SSO (--sso-required=false lifts it)")
	breakGlass := fs.Bool("break-glass-owners", false, "with --sso-required, owners may still sign in with a password, audited each time")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		var err error
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if given["sso-required"] || given["break-glass-owners"] {
			si := a.SignIn
			if given["sso-required"] {
				si.SSORequired = *ssoRequired
			}
			if given["break-glass-owners"] {
				si.BreakGlassOwners = *breakGlass
			}
			if a, err = svc.SetSignInPolicy(ctx, a.ID, c.actor(), si); err != nil {
				return err
			}
			if !given["min-length"] && !given["require"] && !given["initial-password-days"] {
				c.output(toAccountJSON(a), fmt.Sprintf("sign-in policy of %s: %s", a.Slug, signInText(a.SignIn)))
				return nil
			}
		}
		p := a.PasswordPolicy
		if *minLength != 0 {
			p.MinLength = *minLength
		}
		if *initialDays != 0 {
			p.InitialPasswordDays = *initialDays
		}
		if *require != "" {
			if p, err = withClasses(p, *require); err != nil {
				return err
			}
		}
		if a, err = svc.SetPasswordPolicy(ctx, a.ID, c.actor(), p); err != nil {
			return err
		}
		c.output(toAccountJSON(a), fmt.Sprintf("password policy of %s: %s", a.Slug, strings.Join(a.PasswordPolicy.Rules(), ", ")))
		return nil
	})
}

func signInText(p directory.SignInPolicy) string {
	switch {
	case p.SSORequired && p.BreakGlassOwners:
		return "single sign-on required; owners may use a password (break-glass, audited)"
	case p.SSORequired:
		return "single sign-on required"
	}
	return "password sign-in allowed"
}

func withClasses(p directory.PasswordPolicy, list string) (directory.PasswordPolicy, error) {
	p.RequireUpper, p.RequireLower, p.RequireDigit, p.RequireSymbol = false, false, false, false
	for _, class := range strings.Split(list, ",") {
		switch strings.TrimSpace(class) {
		case "none":
		case "upper":
			p.RequireUpper = true
		case "lower":
			p.RequireLower = true
		case "digit":
			p.RequireDigit = true
		case "symbol":
			p.RequireSymbol = true
		default:
			return p, usageError{fmt.Sprintf("--require: unknown class %q (want upper, lower, digit, symbol or none)", class)}
		}
	}
	return p, nil
}

func (c *cli) roleCreate(ctx context.Context, args []string) error {
	fs := c.flags("role create")
	name := fs.String("name", "", "role name: lowercase letters, digits, hyphens")
	return c.inAccount(ctx, fs, args, []string{"name"}, func(svc *directory.Service, a directory.Account) error {
		if err := svc.CreateRole(ctx, a.ID, c.actor(), directory.Role(*name)); err != nil {
			return err
		}
		c.output(map[string]string{"account": a.Slug, "role": *name}, fmt.Sprintf("created role %s in %s", *name, a.Slug))
		return nil
	})
}

type memberJSON struct {
	UserID             string `json:"user_id"`
	Email              string `json:"email"`
	FirstName          string `json:"first_name"`
	LastName           string `json:"last_name"`
	Role               string `json:"role"`
	Status             string `json:"status"`
	HasPassword        bool   `json:"has_password"`
	PasswordMustChange bool   `json:"password_must_change"`
}

func toMemberJSON(m directory.Member) memberJSON {
	return memberJSON{
		m.User.ID, m.User.Email, m.User.FirstName, m.User.LastName, string(m.Membership.Role), string(m.Membership.Status),
		m.User.HasPassword(), m.User.PasswordMustChange,
	}
}

func (c *cli) userAdd(ctx context.Context, args []string) error {
	fs := c.flags("user add")
	slug := fs.String("account", "", "account slug")
	email := fs.String("email", "", "the person's email address")
	first := fs.String("first", "", "first name")
	last := fs.String("last", "", "last name")
	role := fs.String("role", "member", "role in the account")
	passwordStdin := fs.Bool("password-stdin", false, "read the initial password from standard input; the person must change it at first sign-in")
	invite := fs.Bool("invite", false, "send an invitation instead: the person chooses their own password")
	if err := c.parse(fs, args, "account", "email", "first", "last"); err != nil {
		return err
	}
	if *passwordStdin == *invite {
		return usageError{"user add: give either --password-stdin (an initial password on standard input) or --invite"}
	}
	if *invite {
		return c.invite(ctx, *slug, directory.NewInvitation{Email: *email, Role: directory.Role(*role), FirstName: *first, LastName: *last})
	}
	password, err := readSecret(c.stdin, "--password-stdin", "password")
	if err != nil {
		return err
	}
	svc, a, done, err := c.account(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	added, err := svc.AddUser(ctx, a.ID, c.actor(), directory.NewUser{
		Email: *email, FirstName: *first, LastName: *last, Role: directory.Role(*role), Password: password,
	})
	if err != nil {
		return err
	}
	text := fmt.Sprintf("added %s to %s as %s; they must change the initial password at first sign-in", added.Member.User.Email, a.Slug, added.Member.Membership.Role)
	if !added.NewUser {
		text = fmt.Sprintf("added %s to %s as %s; they already have an admit sign-in, so their existing password is unchanged and the one given was not used", added.Member.User.Email, a.Slug, added.Member.Membership.Role)
	}
	c.output(struct {
		Account string `json:"account"`
		memberJSON
		NewUser     bool `json:"new_user"`
		PasswordSet bool `json:"password_set"`
	}{a.Slug, toMemberJSON(added.Member), added.NewUser, added.PasswordSet}, text)
	return nil
}

// readSecret reads the first line of r, for the flag that asked for it
// (what is what the line holds). It refuses an empty line rather than
// keeping a password or secret "".
func readSecret(r io.Reader, flagName, what string) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: read standard input: %w", flagName, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{flagName + ": standard input held no " + what}
	}
	return line, nil
}

func (c *cli) userList(ctx context.Context, args []string) error {
	fs := c.flags("user list")
	search := fs.String("search", "", "only members whose email, name or last name starts with this")
	limit := fs.Int("limit", 100, fmt.Sprintf("members per page (at most %d)", directory.MaxPageSize))
	after := fs.String("after", "", "continue after this cursor (the next_cursor of the previous page)")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		page, err := svc.ListMembers(ctx, a.ID, *search, *after, *limit)
		if err != nil {
			return err
		}
		total, err := svc.CountMembers(ctx, a.ID, *search)
		if err != nil {
			return err
		}
		members := make([]memberJSON, len(page.Members))
		rows := make([]string, len(page.Members))
		for i, m := range page.Members {
			members[i] = toMemberJSON(m)
			rows[i] = fmt.Sprintf("%-40s %-30s %-10s %s", m.User.Email, m.User.FirstName+" "+m.User.LastName, m.Membership.Role, m.Membership.Status)
		}
		text := strings.Join(rows, "\n")
		if page.Next != "" {
			text += fmt.Sprintf("\n(%d of %d; next page: --after %s)", len(rows), total, page.Next)
		}
		c.output(map[string]any{"account": a.Slug, "total": total, "members": members, "next_cursor": page.Next}, text)
		return nil
	})
}

func (c *cli) userDeactivate(ctx context.Context, args []string) error {
	return c.setMemberStatus(ctx, "user deactivate", args)
}

func (c *cli) userReactivate(ctx context.Context, args []string) error {
	return c.setMemberStatus(ctx, "user reactivate", args)
}

// setMemberStatus runs user deactivate and user reactivate.
func (c *cli) setMemberStatus(ctx context.Context, name string, args []string) error {
	fs := c.flags(name)
	email := fs.String("email", "", "the member's email address")
	return c.inAccount(ctx, fs, args, []string{"email"}, func(svc *directory.Service, a directory.Account) error {
		var (
			m   directory.Member
			err error
		)
		text := "deactivated %s in %s; their sessions there have ended"
		if name == "user reactivate" {
			m, err = svc.Reactivate(ctx, a.ID, c.actor(), *email)
			text = "reactivated %s in %s; they can sign in again"
		} else {
			m, err = svc.Deactivate(ctx, a.ID, c.actor(), *email)
		}
		if err != nil {
			return err
		}
		c.output(struct {
			Account string `json:"account"`
			memberJSON
		}{a.Slug, toMemberJSON(m)}, fmt.Sprintf(text, m.User.Email, a.Slug))
		return nil
	})
}

// inAccount runs the body of a command that acts in one account: it adds
// --account to fs, parses args (with --account and the other required
// flags), opens the store, finds the account and calls fn.
func (c *cli) inAccount(ctx context.Context, fs *flag.FlagSet, args []string, required []string, fn func(svc *directory.Service, a directory.Account) error) error {
	slug := fs.String("account", "", "account slug")
	if err := c.parse(fs, args, append([]string{"account"}, required...)...); err != nil {
		return err
	}
	svc, a, done, err := c.account(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	return fn(svc, a)
}
