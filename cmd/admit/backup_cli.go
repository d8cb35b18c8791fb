package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/admit-dev/admit/store"
)

// backup copies the SQLite database while the server runs. It neither
// migrates nor unlocks the database: a backup must copy what is there, and
// must work without the secret key (which the operator keeps apart from
// the copy; the copy says which key it needs).
func (c *cli) backup(ctx context.Context, args []string) error {
	fs := c.flags("backup")
	to := fs.String("to", "", "the file to write the copy to (refused if it exists, unless --force)")
	force := fs.Bool("force", false, "replace FILE if it exists")
	if err := c.parse(fs, args, "to"); err != nil {
		return err
	}
	path, isSQLite := strings.CutPrefix(c.cfg.DatabaseURL, "sqlite:")
	if !isSQLite {
		return errBackupPostgres
	}
	// store.Open creates a missing file; a backup of a database that is
	// not there (a mistyped path) must fail instead of copying nothing.
	path = strings.TrimPrefix(path, "//")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database at %s (ADMIT_DATABASE_URL %s): %w", path, c.cfg.DatabaseURL, err)
	}
	s, err := store.Open(ctx, c.cfg.DatabaseURL, c.logger(slog.LevelWarn))
	if err != nil {
		return err
	}
	defer s.Close()
	fingerprint, _, err := s.InstanceSetting(ctx, store.SettingKeyFingerprint)
	if err != nil {
		return err
	}
	res, err := s.Backup(ctx, *to, *force)
	if errors.Is(err, store.ErrBackupUnsupported) {
		return errBackupPostgres
	}
	if err != nil {
		return err
	}
	text := fmt.Sprintf("wrote %s (%d bytes, schema version %d), a consistent copy of %s", res.Path, res.Bytes, res.SchemaVersion, path)
	if fingerprint != "" {
		text += fmt.Sprintf("\nit opens only with the secret key of fingerprint %s: keep that key (ADMIT_SECRET_KEY or %s) safe apart from the copy", fingerprint[:min(12, len(fingerprint))], c.cfg.keyFile())
	}
	c.output(map[string]any{
		"file": res.Path, "bytes": res.Bytes, "schema_version": res.SchemaVersion,
		"database": path, "secret_key_fingerprint": fingerprint,
	}, text)
	return nil
}

// errBackupPostgres is the one-line answer on PostgreSQL.
var errBackupPostgres = errors.New("backup copies a SQLite database only; on PostgreSQL use pg_dump (or base backups with WAL archiving): see docs/operations.md")
