package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// ErrBackupUnsupported is Backup's answer on PostgreSQL, whose own tools
// (pg_dump, base backups and WAL archiving) copy a live cluster better than
// admit could.
var ErrBackupUnsupported = errors.New("admit backup copies a SQLite database; back up PostgreSQL with its own tools (pg_dump, or base backups with WAL archiving)")

// BackupResult describes a finished copy.
type BackupResult struct {
	Path          string
	Bytes         int64
	SchemaVersion int64
}

// Backup writes a consistent copy of a SQLite database to path while the
// server goes on reading and writing it.
//
// VACUUM INTO reads the database inside one read transaction, so the copy
// is the database as one instant saw it (WAL lets writers go on meanwhile);
// it also compacts the copy. The copy is written under a temporary name in
// path's folder, checked with PRAGMA quick_check and only then put at path,
// so path never holds half a copy. An existing path is refused unless
// replace is set; the database itself (or its -wal and -shm files) never
// is a target.
func (s *Store) Backup(ctx context.Context, path string, replace bool) (BackupResult, error) {
	if s.dialect.name != sqliteDialect.name {
		return BackupResult{}, ErrBackupUnsupported
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	if err := s.notTheDatabase(ctx, abs); err != nil {
		return BackupResult{}, err
	}
	if info, err := os.Stat(abs); err == nil {
		if !replace {
			return BackupResult{}, targetExists(path)
		}
		if !info.Mode().IsRegular() {
			return BackupResult{}, fmt.Errorf("%s is not a regular file; admit replaces only a file", path)
		}
	}
	// The copy holds password hashes and sealed secrets, as the database
	// does: CreateTemp makes it 0600. VACUUM INTO accepts an empty file.
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".partial-*")
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // gone once linked or renamed into place; removed on failure
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, tmpName); err != nil {
		return BackupResult{}, fmt.Errorf("backup: copy the database: %w", err)
	}
	version, err := checkCopy(ctx, tmpName)
	if err != nil {
		return BackupResult{}, err
	}
	// VACUUM INTO does not sync the file (the copy is not the database's
	// own journal): sync it before it takes the name an operator trusts.
	if err := syncFile(tmpName); err != nil {
		return BackupResult{}, err
	}
	if replace {
		err = os.Rename(tmpName, abs)
	} else {
		// Link, not rename: it fails if path appeared meanwhile rather
		// than replacing what someone else put there.
		err = os.Link(tmpName, abs)
	}
	if errors.Is(err, fs.ErrExist) {
		return BackupResult{}, targetExists(path)
	}
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return BackupResult{}, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	return BackupResult{Path: abs, Bytes: info.Size(), SchemaVersion: version}, nil
}

func targetExists(path string) error {
	return &directory.Error{Kind: directory.Conflict, Message: path + " already exists: choose another file, or give --force to replace it", Err: fs.ErrExist}
}

// notTheDatabase refuses a target that is the open database or one of its
// companion files: replacing those under a running server destroys it.
func (s *Store) notTheDatabase(ctx context.Context, target string) error {
	var files []struct {
		Seq  int    `db:"seq"`
		Name string `db:"name"`
		File string `db:"file"`
	}
	if err := s.db.SelectContext(ctx, &files, `PRAGMA database_list`); err != nil {
		return fmt.Errorf("backup: find the database file: %w", err)
	}
	targetInfo, targetErr := os.Stat(target)
	for _, f := range files {
		if f.File == "" {
			continue
		}
		for _, name := range []string{f.File, f.File + "-wal", f.File + "-shm", f.File + "-journal"} {
			same := name == target
			if info, err := os.Stat(name); err == nil && targetErr == nil && os.SameFile(info, targetInfo) {
				same = true
			}
			if same {
				return &directory.Error{Kind: directory.Invalid, Message: target + " is the database itself (or one of its files); write the backup somewhere else"}
			}
		}
	}
	return nil
}

// checkCopy opens the copy read-only, checks its pages and returns its
// schema version, so a backup that reports success can be restored.
func checkCopy(ctx context.Context, path string) (int64, error) {
	db, err := sqlx.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, fmt.Errorf("backup: open the copy: %w", err)
	}
	defer db.Close()
	var result string
	if err := db.GetContext(ctx, &result, `PRAGMA quick_check`); err != nil {
		return 0, fmt.Errorf("backup: check the copy: %w", err)
	}
	if result != "ok" {
		return 0, fmt.Errorf("backup: the copy failed its check: %s", result)
	}
	var version int64
	if err := db.GetContext(ctx, &version, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`); err != nil {
		return 0, fmt.Errorf("backup: read the copy's schema version: %w", err)
	}
	return version, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: sync %s: %w", path, err)
	}
	return nil
}
