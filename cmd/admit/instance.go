package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
)

// The server and the CLI may run in different folders with different
// environments against one database. What they must agree on is recorded
// in the database (store.SettingBaseURL, store.SettingKeyFingerprint), and
// every process reconciles its own configuration with it here, before it
// does anything else.

// open opens the configured database, brings its schema up to date and
// unlocks it with the secret key: every command works on a fresh database
// as well as beside a running server. Close the store when done.
func (c *cli) open(ctx context.Context, log *slog.Logger) (*store.Store, keys, error) {
	if err := c.checkNewDatabase(); err != nil {
		return nil, keys{}, err
	}
	s, err := store.Open(ctx, c.cfg.DatabaseURL, log)
	if err != nil {
		return nil, keys{}, err
	}
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, keys{}, err
	}
	k, err := c.unlock(ctx, s, log)
	if err != nil {
		s.Close()
		return nil, keys{}, err
	}
	c.derived = &k
	return s, k, nil
}

// checkNewDatabase is asked before a command opens a SQLite database, which
// store.Open makes when its file is not there. Only `admit serve` (and
// `admit migrate`, which opens the store itself) may make one unasked. The
// default, admit-data/admit.db, is relative to the folder a command runs
// in: a command run from another folder than the server's would make a new
// empty database (and secret key) there and act on it, as if it had worked.
// So without ADMIT_DATABASE_URL a command refuses; with it, the operator
// named the file, and the command makes it, saying so.
func (c *cli) checkNewDatabase() error {
	path, ok := strings.CutPrefix(c.cfg.DatabaseURL, "sqlite:")
	if !ok || c.current == nil || c.current.name == "serve" {
		return nil
	}
	path = strings.TrimPrefix(path, "//")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // there, or a problem store.Open reports
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if !c.databaseFlag && c.getenv("ADMIT_DATABASE_URL") == "" {
		return directory.NotFoundError(fmt.Sprintf("no database at %s (without ADMIT_DATABASE_URL, admit looks in admit-data in the folder it runs in): set ADMIT_DATABASE_URL to the server's database, or run the command where the server runs; admit migrate makes a new one here", path))
	}
	fmt.Fprintf(c.stderr, "admit: note: no database at %s; making a new one, as ADMIT_DATABASE_URL says\n", path)
	return nil
}

// unlock finds the secret key and checks it against the fingerprint the
// database recorded. A key is generated only for a database that holds
// nothing sealed or keyed with another: generating one beside a database
// that does would make links and secrets the server cannot open.
func (c *cli) unlock(ctx context.Context, s *store.Store, log *slog.Logger) (keys, error) {
	secret, found, err := c.cfg.findSecretKey()
	if err != nil {
		return keys{}, err
	}
	recorded, hasRecord, err := s.InstanceSetting(ctx, store.SettingKeyFingerprint)
	if err != nil {
		return keys{}, err
	}
	held := false
	if !hasRecord {
		if held, err = s.HoldsKeyedData(ctx); err != nil {
			return keys{}, err
		}
	}
	generated := false
	if !found {
		if hasRecord || held {
			return keys{}, fmt.Errorf("no secret key here, but this database holds secrets sealed with one%s: give this process the server's key in %s; admit makes a new key only for a database that holds none",
				fingerprintNote(recorded), c.cfg.keyPlace())
		}
		if secret, generated, err = c.cfg.generateSecretKey(); err != nil {
			return keys{}, err
		}
		if generated {
			log.Info("generated a new secret key", "file", c.cfg.keyFile())
		}
	}
	fp, err := keyFingerprint(secret)
	if err != nil {
		return keys{}, err
	}
	derived, err := deriveKeys(secret)
	if err != nil {
		return keys{}, err
	}
	if !hasRecord {
		if held {
			// A database from before fingerprints were recorded: prove
			// the key on the sealed SAML keys before vouching for it.
			if err := c.checkSealed(ctx, s, derived, log); err != nil {
				return keys{}, err
			}
		}
		if recorded, err = s.RecordInstanceSettingOnce(ctx, store.SettingKeyFingerprint, fp, time.Now()); err != nil {
			return keys{}, err
		}
	}
	if err := c.checkFingerprints(ctx, s, fp, recorded, generated); err != nil {
		return keys{}, err
	}
	// Validate refused a previous or next key that does not decode.
	if derived.previous, err = deriveAccepted(c.cfg.SecretKeyPrevious); err != nil {
		return keys{}, err
	}
	if derived.next, err = deriveAccepted(c.cfg.SecretKeyNext); err != nil {
		return keys{}, err
	}
	derived.fingerprint = fp
	return derived, nil
}

// deriveAccepted derives the keys of ADMIT_SECRET_KEY_PREVIOUS or _NEXT:
// nil when it is unset.
func deriveAccepted(secret string) (*keys, error) {
	if secret == "" {
		return nil, nil
	}
	b, err := decodeSecretKey(secret)
	if err != nil {
		return nil, err
	}
	k, err := deriveKeys(b)
	if err != nil {
		return nil, err
	}
	if k.fingerprint, err = keyFingerprint(b); err != nil {
		return nil, err
	}
	return &k, nil
}

// checkFingerprints holds a process to the keys the database was sealed
// with: its ADMIT_SECRET_KEY must be the recorded key, or, during a
// rotation, the key that replaces it (ADMIT_SECRET_KEY_PREVIOUS then being
// the recorded one). A previous key is checked against the one the last
// rotation replaced, so that a wrong one is refused even when nothing is
// left for it to open. A next key (ADMIT_SECRET_KEY_NEXT) is a key the
// database does not know yet: it is refused when it is the key the last
// rotation replaced (rotations do not go back), and when the database
// belongs to it already while ADMIT_SECRET_KEY is the key it replaced (the
// rotation is done: this process would seal with the retired key).
func (c *cli) checkFingerprints(ctx context.Context, s *store.Store, fp, recorded string, generated bool) error {
	prevFP, err := fingerprintOf(c.cfg.SecretKeyPrevious)
	if err != nil {
		return err
	}
	nextFP, err := fingerprintOf(c.cfg.SecretKeyNext)
	if err != nil {
		return err
	}
	// replaced is read only when it matters: it is set by the first
	// rotation, and a database that never rotated has none.
	replaced := func() (string, error) {
		v, _, err := s.InstanceSetting(ctx, store.SettingPreviousKeyFingerprint)
		return v, err
	}
	// kv and pv name the new and the old key's variables in refusals.
	kv, pv := "ADMIT_SECRET_KEY", "ADMIT_SECRET_KEY_PREVIOUS"
	if c.rotatingToNext {
		kv, pv = "ADMIT_SECRET_KEY_NEXT", "ADMIT_SECRET_KEY"
	}
	switch {
	case (recorded == fp || prevFP != "" && recorded == prevFP) && nextFP != "":
		was, err := replaced()
		if err != nil {
			return err
		}
		if was == nextFP {
			return fmt.Errorf("ADMIT_SECRET_KEY_NEXT (key %s) is the key the last rotation replaced: a rotation never goes back to a key; make a new one with: admit secret-key generate",
				nextFP[:12])
		}
		if retired, err := s.RetiredKeyFingerprints(ctx); err != nil || slices.Contains(retired, nextFP) {
			if err != nil {
				return err
			}
			return fmt.Errorf("ADMIT_SECRET_KEY_NEXT (key %s) is a key an earlier rotation replaced: a rotation never goes back to a key; make a new one with: admit secret-key generate",
				nextFP[:12])
		}
	}
	switch {
	case recorded == fp && prevFP != "":
		was, err := replaced()
		if err != nil {
			return err
		}
		// Before any rotation there is nothing to check it against.
		if was != "" && was != prevFP {
			return fmt.Errorf("%s is not the key the last rotation replaced (key %s, replaced %s): give the old key, or unset %s once the rotation is over",
				pv, prevFP[:12], was[:min(12, len(was))], pv)
		}
		return nil
	case recorded == fp:
		return nil
	case prevFP != "" && recorded == prevFP:
		// The keys swapped after the rotation: this process would seal
		// and sign with the key the rotation retired, and what it sealed
		// would not open once the overlap ends.
		was, err := replaced()
		if err != nil {
			return err
		}
		if was == fp && c.rotatingToNext {
			return fmt.Errorf("ADMIT_SECRET_KEY_NEXT (key %s) is the key the last rotation replaced: a rotation never goes back to a key; make a new one with: admit secret-key generate", fp[:12])
		}
		if was == fp {
			return fmt.Errorf("%s (key %s) is the key the last rotation replaced and %s (key %s) the one that seals this database: they are swapped; the new key goes in %s",
				kv, fp[:12], pv, prevFP[:12], kv)
		}
		// An older retired key would seal again: it may be the one that
		// leaked.
		if retired, err := s.RetiredKeyFingerprints(ctx); err != nil || slices.Contains(retired, fp) {
			if err != nil {
				return err
			}
			return fmt.Errorf("%s (key %s) is a key an earlier rotation replaced: a rotation never goes back to a key; make a new one with: admit secret-key generate",
				kv, fp[:12])
		}
		return nil
	case nextFP != "" && recorded == nextFP:
		// The rotation to the next key is done. A replica started before
		// it goes on (keyWatch reports it); one starting now would seal
		// and sign with the retired key what the new key alone, once the
		// previous one is dropped, cannot open.
		if was, err := replaced(); err == nil && was == fp {
			return fmt.Errorf("the rotation to ADMIT_SECRET_KEY_NEXT (key %s) is done and ADMIT_SECRET_KEY (key %s) is the key it replaced: give this process the new key in ADMIT_SECRET_KEY and the old one in ADMIT_SECRET_KEY_PREVIOUS",
				nextFP[:12], fp[:12])
		}
		return fmt.Errorf("ADMIT_SECRET_KEY_NEXT (key %s) is the key that seals this database and ADMIT_SECRET_KEY (key %s) is not the one it replaced: are the two swapped? The key that seals now goes in ADMIT_SECRET_KEY, the new one in ADMIT_SECRET_KEY_NEXT",
			nextFP[:12], fp[:12])
	}
	if generated {
		// Another process recorded its key first; ours must not linger
		// for the next run to find.
		_ = os.Remove(c.cfg.keyFile())
	}
	if prevFP != "" {
		return fmt.Errorf("neither %s (key %s) nor %s (key %s) is the key that sealed this database (%s): give this process the server's key",
			kv, fp[:12], pv, prevFP[:12], recorded[:min(12, len(recorded))])
	}
	if was, err := replaced(); err == nil && was == fp {
		return fmt.Errorf("the secret key in %s (key %s) is the one the last rotation replaced: give this process the new key (database %s)",
			c.cfg.keyPlace(), fp[:12], recorded[:min(12, len(recorded))])
	}
	return fmt.Errorf("the secret key in %s is not the one that sealed this database (key %s, database %s): give this process the server's key (while rotating it, the old one in ADMIT_SECRET_KEY_PREVIOUS)",
		c.cfg.keyPlace(), fp[:12], recorded[:min(12, len(recorded))])
}

// fingerprintOf is the fingerprint of an optional key: "" when unset.
func fingerprintOf(secret string) (string, error) {
	if secret == "" {
		return "", nil
	}
	b, err := decodeSecretKey(secret)
	if err != nil {
		return "", err
	}
	return keyFingerprint(b)
}

func fingerprintNote(fp string) string {
	if fp == "" {
		return ""
	}
	return " (fingerprint " + fp[:min(12, len(fp))] + ")"
}

// checkSealed opens every sealed SAML key with the derived keys.
func (c *cli) checkSealed(ctx context.Context, s *store.Store, k keys, log *slog.Logger) error {
	sealer, err := certs.NewSealer(k.sealing)
	if err != nil {
		return err
	}
	err = certs.New(certs.Config{Store: s, Sealer: sealer, Logger: log}).Check(ctx)
	if errors.Is(err, certs.ErrWrongKey) {
		return fmt.Errorf("the secret key in %s does not open this database's sealed SAML keys: give this process the server's key", c.cfg.keyPlace())
	}
	return err
}

// recordBaseURL is what `admit serve` does at start: the URL it serves is
// the one the CLI prints links with. A changed URL is worth a warning: SAML
// entity IDs, ACS and redirect URLs change with it, and identity providers
// configured with the old ones stop working.
func (c *cli) recordBaseURL(ctx context.Context, s *store.Store, log *slog.Logger) error {
	old, ok, err := s.InstanceSetting(ctx, store.SettingBaseURL)
	if err != nil {
		return err
	}
	if ok && old == c.cfg.BaseURL {
		return nil
	}
	if ok {
		log.Warn("ADMIT_BASE_URL changed: SAML entity IDs, ACS URLs, OIDC redirect URIs and emailed links change with it; identity providers set up with the old URLs must be updated",
			"was", old, "now", c.cfg.BaseURL)
	}
	return s.SetInstanceSetting(ctx, store.SettingBaseURL, c.cfg.BaseURL, time.Now())
}

// adoptBaseURL makes a one-shot command print links with the URL the
// server recorded, unless --base-url says otherwise. Whatever it decides
// that the operator might not expect becomes a note, printed with the
// first link (see linkBase).
func (c *cli) adoptBaseURL(ctx context.Context, s *store.Store) error {
	recorded, ok, err := s.InstanceSetting(ctx, store.SettingBaseURL)
	if err != nil {
		return err
	}
	own := c.cfg.BaseURL
	switch {
	case c.baseURLFlag:
		if ok && recorded != own {
			c.urlNote = fmt.Sprintf("links use --base-url %s; the server runs at %s", own, recorded)
		}
	case ok:
		c.cfg.BaseURL = recorded
		if c.getenv("ADMIT_BASE_URL") != "" && recorded != own {
			c.urlNote = fmt.Sprintf("links use %s, where the server runs, not ADMIT_BASE_URL %s (--base-url overrides)", recorded, own)
		}
	case c.getenv("ADMIT_BASE_URL") == "":
		c.urlNote = fmt.Sprintf("no server has started on this database yet: links use %s; set ADMIT_BASE_URL to the public URL", own)
	}
	return nil
}

// linkBase is the base URL of every link and URL a command prints. The
// first call prints the note adoptBaseURL left, on stderr, so that it
// never mixes into the output a script reads.
func (c *cli) linkBase() string {
	if c.urlNote != "" {
		fmt.Fprintf(c.stderr, "admit: note: %s\n", c.urlNote)
		c.urlNote = ""
	}
	return c.cfg.BaseURL
}
