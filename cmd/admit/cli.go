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
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

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
	// jsonLog says the log is written as JSON lines: `serve --json`, whose
	// output is its log (DESIGN: every command prints JSON with --json).
	jsonLog bool

	// derived are the keys of the unlocked database (see open).
	derived *keys
	// rotatingToNext says `secret-key rotate` was given the new key in
	// ADMIT_SECRET_KEY_NEXT: it moved it to SecretKey and the old one to
	// SecretKeyPrevious, and refusals name the variables the operator set.
	rotatingToNext bool
	// baseURLFlag says --base-url was given: it wins over the URL the
	// server recorded. urlNote is what linkBase tells the operator.
	baseURLFlag bool
	urlNote     string
	// databaseFlag says --database-url was given (see checkNewDatabase).
	databaseFlag bool
	// current is the command being run, for its help and synopsis.
	current *command
	// markdown prints a command's help as a section of docs/cli.md.
	markdown bool
}

// command is one subcommand. run parses its own flags from args.
type command struct {
	name    string // "account create"
	usage   string // its flags as a synopsis: "--slug S --name N [--domain D ...]"
	summary string // what it does, in one line
	example string
	run     func(c *cli, ctx context.Context, args []string) error
}

// commands lists every subcommand; help prints them in this order.
var commands = []command{
	{"serve", "", "run the HTTP server", "ADMIT_BASE_URL=https://id.example.com admit serve", (*cli).serve},
	{"migrate", "", "apply database migrations and exit", "ADMIT_DATABASE_URL=postgres://admit@db/admit admit migrate", (*cli).migrate},
	{"account create", "--slug S --name N [--domain D ...]", "create an account", "admit account create --slug acme --name 'Acme Inc' --domain acme.com", (*cli).accountCreate},
	{"account list", "[--without-owner]", "list accounts with their number of active owners (an account may have none after SCIM deprovisioning)", "admit account list --without-owner", (*cli).accountList},
	{"account delete", "--slug S --yes [--chunk N]", "delete an account and everything in it, a chunk per transaction; erases the people whose only account it was, unless another account is their home or they are operators (run it again to resume)", "admit account delete --slug acme --yes", (*cli).accountDelete},
	{"account set-policy", "--account S [--min-length N] [--require upper,lower,digit,symbol|none] [--initial-password-days N] [--sso-required[=false]] [--break-glass-owners[=false]]", "set an account's password and sign-in policy", "admit account set-policy --account acme --min-length 12 --require upper,digit", (*cli).accountSetPolicy},
	{"account set-branding", "--account S [--display-name N] [--logo-url U] [--color #RGB] [--sender-name N] [--reply-to E] [--invite-subject S] [--invite-intro T]", "set how an account's pages and emails look", "admit account set-branding --account acme --logo-url https://acme.com/logo.png --color '#0a66c2'", (*cli).accountSetBranding},
	{"domain add", "--account S --domain D [--verified]", "claim an email domain for an account; prints the DNS TXT record that proves it", "admit domain add --account acme --domain acme.com", (*cli).domainAdd},
	{"domain verify", "--account S --domain D", "look up a claimed domain's TXT record and verify it", "admit domain verify --account acme --domain acme.com", (*cli).domainVerify},
	{"domain list", "--account S", "list an account's domains, verified and pending", "admit domain list --account acme", (*cli).domainList},
	{"domain remove", "--account S --domain D", "withdraw an account's claim of a domain", "admit domain remove --account acme --domain acme.com", (*cli).domainRemove},
	{"user add", "--account S --email E --first F --last L [--role R] (--password-stdin | --invite)", "add a person to an account", "admit user add --account acme --email ann@acme.com --first Ann --last Lee --invite", (*cli).userAdd},
	{"user list", "--account S [--search Q] [--status active|invited|deactivated] [--source W] [--never-signed-in] [--bounced] [--limit N] [--after CURSOR]", "list an account's members", "admit user list --account acme --status invited --bounced", (*cli).userList},
	{"user erase", "--email E --yes", "erase a person (right to erasure): their user, memberships in every account, sessions and tokens; audit events keep a pseudonym", "admit user erase --email ann@acme.com --yes", (*cli).userErase},
	{"user deactivate", "--account S --email E", "suspend a member: they can no longer sign in to the account, and their sessions there end (refused for the account's last active owner)", "admit user deactivate --account acme --email ann@acme.com", (*cli).userDeactivate},
	{"user remove", "--account S --email E", "take a member out of the account: their membership there ends with its sessions, app tokens and groups, and an open invitation is revoked; their user (name, email, password) stays, as do their other accounts, even when this was their only one (user deactivate suspends a membership and keeps it, user erase deletes the person from every account); refused for the account's last active owner", "admit user remove --account acme --email ann@acme.com", (*cli).userRemove},
	{"user set-role", "--account S --email E --role R", "give a member another of the account's roles (owner, admin, member or one the account added); the account's last active owner keeps theirs", "admit user set-role --account acme --email ann@acme.com --role admin", (*cli).userSetRole},
	{"user reactivate", "--account S --email E", "let a deactivated member sign in again", "admit user reactivate --account acme --email ann@acme.com", (*cli).userReactivate},
	{"user sign-out", "--account S --email E", "end a member's sessions in the account, on every device and app (their app tokens end, the apps are told); the membership stays active", "admit user sign-out --account acme --email ann@acme.com", (*cli).userSignOut},
	{"invite create", "--account S --email E [--role R] [--inviter E] [--expires-in 168h]", "invite a person by email", "admit invite create --account acme --email bob@acme.com --role admin", (*cli).inviteCreate},
	{"invite resend", "--account S --email E [--expires-in 168h]", "send an invitation again with a new link", "admit invite resend --account acme --email bob@acme.com", (*cli).inviteResend},
	{"invite revoke", "--account S --email E", "withdraw an invitation", "admit invite revoke --account acme --email bob@acme.com", (*cli).inviteRevoke},
	{"invite list", "--account S", "list an account's invitations", "admit invite list --account acme", (*cli).inviteList},
	{"import status", "--account S [--id ID]", "show an import's progress (the account's newest by default)", "admit import status --account acme --json", (*cli).importStatus},
	{"import cancel", "--account S [--id ID]", "stop an import: the rows done stay, the rest are not added", "admit import cancel --account acme", (*cli).importCancel},
	{"import resume", "--account S [--id ID]", "work an import that stopped (a killed process) to its end, in this process", "admit import resume --account acme", (*cli).importResume},
	{"import report", "--account S [--id ID]", "print an import's per-row results as CSV (cells neutralised against formulas), or JSON lines with --json", "admit import report --account acme > report.csv", (*cli).importReport},
	{"import", "--account S --file F (--password-stdin | --invite | --no-password) [--role R] [--sheet NAME] [--dry-run] [--max-size MiB]", "add the people of a spreadsheet (CSV or XLSX) to an account, as a job that resumes after a crash", "admit import --account acme --file people.xlsx --password-stdin < initial-password.txt", (*cli).importRun},
	{"group list", "--account S", "list an account's groups (pushed by SCIM or sent at SSO logins) with their members' count and mapped role", "admit group list --account acme", (*cli).groupList},
	{"role create", "--account S --name R", "add an account role beside owner, admin and member", "admit role create --account acme --name billing", (*cli).roleCreate},
	{"role map", "--account S --group G --role R [--priority N]", "give the members of an identity provider's group (pushed by SCIM or sent at an SSO login) a role", "admit role map --account acme --group 'Acme Admins' --role admin", (*cli).roleMap},
	{"role unmap", "--account S --group G", "remove a group-to-role mapping", "admit role unmap --account acme --group 'Acme Admins'", (*cli).roleUnmap},
	{"role mappings", "--account S", "list an account's group-to-role mappings", "admit role mappings --account acme", (*cli).roleMappings},
	{"scim-token create", "--account S [--name N]", "make a SCIM bearer token for an identity provider (printed once)", "admit scim-token create --account acme --name 'Okta production'", (*cli).scimTokenCreate},
	{"scim-token list", "--account S", "list an account's SCIM tokens and when each was last used", "admit scim-token list --account acme", (*cli).scimTokenList},
	{"scim-token revoke", "--account S --id ID", "stop a SCIM token from working", "admit scim-token revoke --account acme --id 0193…", (*cli).scimTokenRevoke},
	{"api-key create", "(--account S | --operator) --name N", "make a key for the JSON API /api/v1 (printed once): an account's key acts as its admin, an operator key on every account", "admit api-key create --account acme --name 'billing sync'", (*cli).apiKeyCreate},
	{"api-key list", "--account S | --operator", "list API keys and when each was last used", "admit api-key list --account acme", (*cli).apiKeyList},
	{"api-key revoke", "(--account S | --operator) --id ID", "stop an API key from working", "admit api-key revoke --account acme --id 0193…", (*cli).apiKeyRevoke},
	{"sso add-saml", "--account S [--metadata-url U | --metadata-file F] [--name N] [--allow-idp-initiated] [--domain D ...] [--jit create|link|off] [--*-attribute A]", "add a SAML identity provider (without its metadata: made waiting for it, printing what its admin needs)", "admit sso add-saml --account acme --name okta", (*cli).ssoAddSAML},
	{"sso add-oidc", "--account S --issuer U --client-id C --client-secret-stdin [--name N] [--domain D ...] [--jit create|link|off] [--email-trust verified|domain] [--scope S ...] [--*-claim C]", "add an OpenID Connect provider", "admit sso add-oidc --account acme --name entra --issuer https://login.microsoftonline.com/TENANT/v2.0 --client-id ID --client-secret-stdin < secret.txt", (*cli).ssoAddOIDC},
	{"sso list", "--account S", "list an account's SSO connections and their URLs", "admit sso list --account acme", (*cli).ssoList},
	{"sso attempts", "--account S --connection N [--limit N]", "show a connection's recent logins, with what the provider sent", "admit sso attempts --account acme --connection okta", (*cli).ssoAttempts},
	{"sso set-metadata", "--account S --connection N (--metadata-url U | --metadata-file F)", "give a SAML connection its IdP's metadata (finishes a waiting one; a new IdP certificate)", "admit sso set-metadata --account acme --connection okta --metadata-url https://acme.okta.com/app/exk1/sso/saml/metadata", (*cli).ssoSetMetadata},
	{"sso update", "--account S --connection N [--domain D ... | --all-domains] [--jit M] [--return-host O ... | --no-return-hosts] [--allow-idp-initiated=BOOL] [--clock-skew D] [--email-trust T] [--scope S ...] [--*-attribute A | --*-claim C]", "change a connection (only the flags given)", "admit sso update --account acme --connection okta --jit link", (*cli).ssoUpdate},
	{"sso set-secret", "--account S --connection N --client-secret-stdin", "replace an OIDC connection's client secret (read from standard input)", "admit sso set-secret --account acme --connection entra --client-secret-stdin < secret.txt", (*cli).ssoSetSecret},
	{"sso remove", "--account S --connection N", "remove an SSO connection (its members stay)", "admit sso remove --account acme --connection okta", (*cli).ssoRemove},
	{"operator add", "--email E", "make a person (a user already) a platform operator: they create accounts and may enter any account's console (audited)", "admit operator add --email ops@platform.example", (*cli).operatorAdd},
	{"operator list", "", "list the platform operators", "admit operator list --json", (*cli).operatorList},
	{"operator remove", "--email E", "end a person's operator rights (audited)", "admit operator remove --email ops@platform.example", (*cli).operatorRemove},
	{"app add", "--name N (--redirect-uri U [--redirect-uri U2] | --forward-auth-host H [--path-prefix P]) [--post-logout-redirect-uri U] [--backchannel-logout-uri U] [--public] [--account S] [--groups F] [--refresh-reuse-interval 10s]", "register an app that signs people in through admit (OpenID Connect) or sits behind its forward-auth or proxy; prints its client id and secret once", "admit app add --name 'Billing' --redirect-uri https://billing.example.com/callback --account acme", (*cli).appAdd},
	{"app list", "", "list the registered apps", "admit app list --json", (*cli).appList},
	{"app set-groups", "--client-id C --groups F", "name the groups an app is told about (names, or prefixes ending in *); --groups '' tells it every group", "admit app set-groups --client-id admit_app_… --groups 'wiki-*,admins'", (*cli).appSetGroups},
	{"app set-refresh-reuse", "--client-id C --refresh-reuse-interval D", "set how long after a refresh an app may present the used refresh token again (0s to 60s): a reuse later revokes the sign-in's tokens", "admit app set-refresh-reuse --client-id admit_app_… --refresh-reuse-interval 30s", (*cli).appSetRefreshReuse},
	{"app remove", "--client-id C", "remove an app: its client id and tokens stop working", "admit app remove --client-id admit_app_…", (*cli).appRemove},
	{"app rotate-secret", "--client-id C", "give an app a new client secret (printed once); the old one stops working", "admit app rotate-secret --client-id admit_app_…", (*cli).appRotateSecret},
	{"certs list", "[--kind saml|es256|rs256]", "list admit's signing keys: SAML certificates, or the OpenID provider's token keys", "admit certs list --kind es256", (*cli).certsList},
	{"certs rotate", "[--kind saml|es256|rs256]", "publish a new signing key of a kind; run again to start using it", "admit certs rotate --kind saml", (*cli).certsRotate},
	{"certs retire", "--id ID [--kind saml|es256|rs256]", "stop publishing an old signing key and delete it", "admit certs retire --id 0193…", (*cli).certsRetire},
	{"audit list", "(--account S [--person E] | --installation) [--action A] [--since 2026-12-01|24h] [--limit N]", "read an account's audit trail, or the installation's (operator actions), newest first", "admit audit list --account acme --person ann@acme.com --since 24h", (*cli).auditList},
	{"mail list", "(--account S | --installation) [--limit N]", "list an account's mail, or the installation's (to operators), and its delivery (the dev mailbox)", "admit mail list --account acme", (*cli).mailList},
	{"mail show", "(--account S | --installation) --id ID", "print one email as it was (or would be) sent", "admit mail show --account acme --id 0193…", (*cli).mailShow},
	{"mail bounce-secret", "", "print the secret that signs bounce reports to /hooks/mail-bounce", "admit mail bounce-secret", (*cli).mailBounceSecret},
	{"webhook add", "--url U [--account S] [--events T,...]", "send an account's events (or every account's) to a URL, signed; prints the signing secret once", "admit webhook add --url https://platform.example.com/hooks/admit --account acme --events user.created,membership.deactivated", (*cli).webhookAdd},
	{"webhook list", "[--account S]", "list webhooks and whether they are enabled, failing or disabled", "admit webhook list --account acme", (*cli).webhookList},
	{"webhook remove", "--id ID", "delete a webhook and its deliveries", "admit webhook remove --id 0193…", (*cli).webhookRemove},
	{"webhook rotate-secret", "--id ID [--overlap 24h]", "give a webhook a new signing secret (printed once); the old one signs beside it for the overlap", "admit webhook rotate-secret --id 0193… --overlap 48h", (*cli).webhookRotateSecret},
	{"webhook enable", "--id ID", "enable a disabled webhook; what waited for it is delivered, each person's or group's in order", "admit webhook enable --id 0193…", (*cli).webhookEnable},
	{"webhook test", "--id ID", "send a webhook.test event to a webhook now, signed as every event is, and say how it went (not retried; exits 1 when not delivered)", "admit webhook test --id 0193…", (*cli).webhookTest},
	{"webhook tests", "--id ID", "list the newest test events sent to a webhook (from the console, the API or here), who sent each and how it went", "admit webhook tests --id 0193…", (*cli).webhookTests},
	{"webhook deliveries", "--id ID [--limit N]", "list a webhook's recent deliveries with every attempt", "admit webhook deliveries --id 0193…", (*cli).webhookDeliveries},
	{"webhook redeliver", "--id DELIVERY", "send a delivered or failed delivery again at once, with the same webhook-id (a pending one goes out on its own, in order)", "admit webhook redeliver --id 0193…", (*cli).webhookRedeliver},
	{"webhook recover", "--id ID [--since 2026-12-01|72h]", "send again every delivery a webhook gave up (failed for 3 days) since a time, each person's in order, with their webhook-ids (none: every one still kept)", "admit webhook recover --id 0193… --since 168h", (*cli).webhookRecover},
	{"events tail", "[--account S] [--after CURSOR] [--follow]", "print events in order, each with the cursor to resume after", "admit events tail --account acme --after 1042 --follow --json", (*cli).eventsTail},
	{"secret-key generate", "", "print a new secret key for ADMIT_SECRET_KEY (base64, 32 bytes from crypto/rand)", "admit secret-key generate", (*cli).secretKeyGenerate},
	{"secret-key rotate", "", "seal every secret at rest anew with the new key (ADMIT_SECRET_KEY, the old one in ADMIT_SECRET_KEY_PREVIOUS; or ADMIT_SECRET_KEY_NEXT, the old one in ADMIT_SECRET_KEY), opening it with the old one, in one transaction, and make the new key the database's; audited on the installation; safe to run again and while replicas run", "ADMIT_SECRET_KEY=NEW ADMIT_SECRET_KEY_PREVIOUS=OLD admit secret-key rotate", (*cli).secretKeyRotate},
	{"backup", "--to FILE [--force]", "write a consistent copy of the SQLite database while the server runs (PostgreSQL: use pg_dump)", "admit backup --to /var/backups/admit/admit-2026-12-01.db", (*cli).backup},
}

// usageError is a mistake in how a command was called (exit status 2):
// fail prints the command's synopsis under the reason, whichever command
// and whatever the mistake (a flag, a missing one, a value it cannot
// take, standard input), unless settings says the mistake is in the
// settings, which are every command's and not in any synopsis
// (`admit help config` lists them).
type usageError struct {
	msg      string
	settings bool
}

func (e usageError) Error() string { return e.msg }

func (c *cli) run(ctx context.Context, args []string) int {
	global := flag.NewFlagSet("admit", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.cfg.register(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c.fail(c.help(ctx, nil))
		}
		return c.fail(usageError{msg: err.Error()})
	}
	c.noteFlags(global)
	rest := global.Args()
	if len(rest) == 0 {
		c.overview(c.stderr)
		return exitUsage
	}
	if rest[0] == "help" {
		return c.fail(c.help(ctx, rest[1:]))
	}
	cmd, args, group := lookup(rest)
	switch {
	case cmd != nil:
		c.current = cmd
		return c.fail(cmd.run(c, ctx, args))
	case group != "" && len(args) == 1 && isHelpFlag(args[0]):
		c.groupHelp(c.stdout, group)
		return exitOK
	case group != "":
		c.groupHelp(c.stderr, group)
		return exitUsage
	}
	return c.fail(usageError{msg: fmt.Sprintf("unknown command %q; run 'admit help'", strings.Join(rest, " "))})
}

// fail reports err the one way the CLI reports errors: one line on stderr
// and, with --json, an error object on stdout. It returns the exit status.
func (c *cli) fail(err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return exitOK
	}
	code, msg, kind := exitError, "", ""
	var ue usageError
	switch {
	case errors.As(err, &ue):
		code, msg, kind = exitUsage, ue.msg, "usage"
	case directory.KindOf(err) == directory.Unavailable:
		// Try again in a moment; the cause names the database's address.
		msg, kind = err.Error(), directory.Unavailable.String()
	case directory.KindOf(err) != directory.Internal:
		msg, kind = directory.Message(err), directory.KindOf(err).String()
	default:
		// The operator at the terminal may see the whole chain: it names
		// the database or file that failed.
		msg, kind = err.Error(), "internal"
	}
	msg = strings.Join(strings.Fields(msg), " ") // one line, whatever the cause said
	fmt.Fprintf(c.stderr, "admit: %s\n", msg)
	if errors.As(err, &ue) && !ue.settings && c.current != nil {
		fmt.Fprintf(c.stderr, "usage: %s\nRun 'admit help %s' for its flags and an example.\n", synopsis(c.current), c.current.name)
	}
	if c.json {
		c.printJSON(map[string]string{"error": msg, "kind": kind})
	}
	return code
}

// flags returns a FlagSet for the named command with the configuration
// flags and --json on it.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := c.settingsFlags(name)
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	return fs
}

// settingsFlags returns a FlagSet for the named command with the
// configuration flags only: for serve, whose --json is its log's.
func (c *cli) settingsFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("admit "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	c.cfg.register(fs)
	return fs
}

// parse parses args and checks that the named flags were given.
func (c *cli) parse(fs *flag.FlagSet, args []string, required ...string) error {
	fs.SetOutput(io.Discard)
	name := strings.TrimPrefix(fs.Name(), "admit ")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) && c.current != nil {
			c.commandHelp(c.stdout, c.current, fs)
			return errHelpShown
		}
		return usageError{msg: fmt.Sprintf("%s: %s", name, flagError(fs, err))}
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	c.noteFlags(fs)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []string
	for _, r := range required {
		if !set[r] {
			missing = append(missing, "--"+r)
		}
	}
	if len(missing) > 0 {
		return usageError{msg: fmt.Sprintf("%s: missing %s", name, strings.Join(missing, ", "))}
	}
	if err := c.cfg.Validate(); err != nil {
		return usageError{msg: strings.ReplaceAll(err.Error(), "\n", "; "), settings: true}
	}
	return nil
}

// noteFlags remembers which of the settings that change what a command
// does were given as flags (either spelling): --base-url, --database-url.
func (c *cli) noteFlags(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "base-url", "ADMIT_BASE_URL":
			c.baseURLFlag = true
		case "database-url", "ADMIT_DATABASE_URL":
			c.databaseFlag = true
		}
	})
}

// badFlagValue is the flag package's refusal of a value: for the types it
// knows, it says only "parse error" or "value out of range".
var badFlagValue = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-([^:\s]+): (.*)$`)

// flagError words a flag value the command could not take: it names the
// flag as the help does and says which form it wants (a duration is Go's,
// which has no "d").
func flagError(fs *flag.FlagSet, err error) string {
	m := badFlagValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err.Error()
	}
	value, name, reason := m[1], m[2], m[3]
	if f := fs.Lookup(name); f != nil && (reason == "parse error" || reason == "value out of range") {
		if g, ok := f.Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case time.Duration:
				reason = "want a duration like 24h, 90m or 30s (units h, m, s; no d: 7 days is 168h)"
			case int, int64, uint, uint64:
				if reason == "value out of range" {
					reason = "too large a number"
				} else {
					reason = "want a whole number"
				}
			case bool:
				reason = "want true or false"
			}
		}
	}
	return fmt.Sprintf("--%s %s: %s", name, value, reason)
}

// intRange is an int flag that takes only lo to hi: a --limit out of its
// range is refused, not quietly made into another number of rows.
type intRange struct{ n, lo, hi int }

func (r *intRange) String() string {
	if r == nil {
		return ""
	}
	return strconv.Itoa(r.n)
}

func (r *intRange) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < r.lo || n > r.hi {
		return fmt.Errorf("want a whole number from %d to %d", r.lo, r.hi)
	}
	r.n = n
	return nil
}

func (r *intRange) Get() any { return r.n }

// limitFlag adds --limit, from lo to hi, to fs.
func limitFlag(fs *flag.FlagSet, def, lo, hi int, usage string) *int {
	r := &intRange{def, lo, hi}
	fs.Var(r, "limit", usage)
	return &r.n
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
	opts := &slog.HandlerOptions{Level: level}
	if c.jsonLog {
		return slog.New(web.LogHandler(slog.NewJSONHandler(c.stderr, opts)))
	}
	return slog.New(web.LogHandler(slog.NewTextHandler(c.stderr, opts)))
}

// service opens the store for a one-shot command; close it when done.
func (c *cli) service(ctx context.Context) (*directory.Service, func(), error) {
	log := c.logger(slog.LevelWarn)
	s, keys, err := c.open(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	if err := c.adoptBaseURL(ctx, s); err != nil {
		s.Close()
		return nil, nil, err
	}
	svc := directory.NewService(directory.Config{Store: s, TokenKey: keys.invitation, AcceptedTokenKeys: keys.accepted().invitation, Resolver: c.cfg.Resolver(), RefusedAddress: refusedAddress, Logger: log})
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
	return c.inService(ctx, fs, args, []string{"slug", "name"}, func(svc *directory.Service) error {
		a, err := svc.CreateAccount(ctx, c.actor(), directory.NewAccount{Slug: *slug, Name: *name, Domains: domains})
		if err != nil {
			return err
		}
		c.output(toAccountJSON(a), fmt.Sprintf("created account %s (%s)", a.Slug, a.ID))
		return nil
	})
}

func (c *cli) accountList(ctx context.Context, args []string) error {
	fs := c.flags("account list")
	withoutOwner := fs.Bool("without-owner", false, "only the accounts with no active owner (none to manage SSO, domains, SCIM tokens; an operator names one)")
	return c.inService(ctx, fs, args, nil, func(svc *directory.Service) error {
		accounts, err := svc.Accounts(ctx)
		if err != nil {
			return err
		}
		owners, err := svc.OwnerCounts(ctx)
		if err != nil {
			return err
		}
		type listed struct {
			accountJSON
			Owners int `json:"owners"` // active owners
		}
		out := []listed{}
		t := newTable("SLUG", "NAME", "DOMAINS", "OWNERS")
		for _, a := range accounts {
			n := owners[a.ID]
			if *withoutOwner && n > 0 {
				continue
			}
			out = append(out, listed{toAccountJSON(a), n})
			t.add(a.Slug, a.Name, strings.Join(a.Domains, ","), strconv.Itoa(n))
		}
		switch {
		case t.len() == 0 && *withoutOwner:
			c.output(out, "every account has an active owner")
		case t.len() == 0:
			c.output(out, "no accounts yet: admit account create --slug S --name N makes one")
		default:
			c.output(out, t.String())
		}
		return nil
	})
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
			return p, usageError{msg: fmt.Sprintf("--require: unknown class %q (want upper, lower, digit, symbol or none)", class)}
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
		return usageError{msg: "user add: give either --password-stdin (an initial password on standard input) or --invite"}
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
		return "", usageError{msg: flagName + ": standard input held no " + what}
	}
	return line, nil
}

func (c *cli) userList(ctx context.Context, args []string) error {
	fs := c.flags("user list")
	search := fs.String("search", "", "only members whose email, name or last name starts with this")
	status := fs.String("status", "", "only members with this status: active, invited or deactivated")
	source := fs.String("source", "", "only members who came this way: admin, invitation, scim, sso or import")
	never := fs.Bool("never-signed-in", false, "only members who never signed in to the account")
	bounced := fs.Bool("bounced", false, "only invited members whose invitation email bounced (and was not sent again since)")
	limit := limitFlag(fs, 100, 1, directory.MaxPageSize, fmt.Sprintf("members per page (1 to %d)", directory.MaxPageSize))
	after := fs.String("after", "", "continue after this cursor (the next_cursor of the previous page)")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		f := directory.MemberFilter{Search: *search, Status: directory.Status(*status), Source: directory.MembershipSource(*source), NeverSignedIn: *never, Bounced: *bounced}
		page, err := svc.ListMembersBy(ctx, a.ID, f, *after, *limit)
		if err != nil {
			return err
		}
		total, err := svc.CountMembersBy(ctx, a.ID, f)
		if err != nil {
			return err
		}
		members := make([]memberJSON, len(page.Members))
		t := newTable("EMAIL", "NAME", "ROLE", "STATUS")
		for i, m := range page.Members {
			members[i] = toMemberJSON(m)
			t.add(m.User.Email, strings.TrimSpace(m.User.FirstName+" "+m.User.LastName), string(m.Membership.Role), string(m.Membership.Status))
		}
		text := t.String()
		switch {
		case t.len() == 0 && f != (directory.MemberFilter{Search: *search}):
			text = fmt.Sprintf("no member of %s matches these filters", a.Slug)
		case t.len() == 0 && *search != "":
			text = fmt.Sprintf("no member of %s matches %q", a.Slug, *search)
		case t.len() == 0:
			text = "no members in " + a.Slug
		case page.Next != "":
			text += fmt.Sprintf("\n(%d of %d; next page: --after %s)", t.len(), total, page.Next)
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

func (c *cli) userSetRole(ctx context.Context, args []string) error {
	fs := c.flags("user set-role")
	email := fs.String("email", "", "the member's email address")
	role := fs.String("role", "", "the role to give: owner, admin, member or one of the account's own (admit role create)")
	return c.inAccount(ctx, fs, args, []string{"email", "role"}, func(svc *directory.Service, a directory.Account) error {
		m, err := svc.SetRole(ctx, a.ID, c.actor(), *email, directory.Role(*role))
		if err != nil {
			return err
		}
		c.output(struct {
			Account string `json:"account"`
			memberJSON
		}{a.Slug, toMemberJSON(m)}, fmt.Sprintf("%s is %s in %s", m.User.Email, m.Membership.Role, a.Slug))
		return nil
	})
}

func (c *cli) userRemove(ctx context.Context, args []string) error {
	fs := c.flags("user remove")
	email := fs.String("email", "", "the member's email address")
	return c.inAccount(ctx, fs, args, []string{"email"}, func(svc *directory.Service, a directory.Account) error {
		m, err := svc.Remove(ctx, a.ID, c.actor(), *email)
		if err != nil {
			return err
		}
		c.output(struct {
			Account string `json:"account"`
			memberJSON
			Removed bool `json:"removed"`
		}{a.Slug, toMemberJSON(m), true}, fmt.Sprintf("removed %s from %s; their sessions and app tokens there have ended, and their user stays (admit user erase deletes it)", m.User.Email, a.Slug))
		return nil
	})
}

func (c *cli) userSignOut(ctx context.Context, args []string) error {
	fs := c.flags("user sign-out")
	email := fs.String("email", "", "the member's email address")
	return c.inAccount(ctx, fs, args, []string{"email"}, func(svc *directory.Service, a directory.Account) error {
		m, err := svc.EndSessions(ctx, a.ID, c.actor(), *email)
		if err != nil {
			return err
		}
		c.output(struct {
			Account string `json:"account"`
			memberJSON
		}{a.Slug, toMemberJSON(m)}, fmt.Sprintf("ended the sessions of %s in %s; they can sign in again", m.User.Email, a.Slug))
		return nil
	})
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

// inService parses the command's flags, checks the required ones and runs
// fn with the directory, for the commands that act on the whole
// installation.
func (c *cli) inService(ctx context.Context, fs *flag.FlagSet, args []string, required []string, fn func(svc *directory.Service) error) error {
	if err := c.parse(fs, args, required...); err != nil {
		return err
	}
	svc, done, err := c.service(ctx)
	if err != nil {
		return err
	}
	defer done()
	return fn(svc)
}

// oneLine makes text from outside (a name an identity provider sent) safe
// for a terminal row: control characters, which could move the cursor or
// forge lines, become '?'.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
