package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// OpenReadOnly opens the database at path for a command that changes
// nothing: it creates no file or directory, migrates nothing, and every write
// fails ("attempt to write a readonly database"). When there is no database
// yet it returns an empty one in memory, so that readers see an empty history
// rather than needing a case of their own; Exists tells the two apart.
func OpenReadOnly(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state: database path %q: %w", path, err)
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		return openMemory(abs, true)
	} else if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	s := &Store{path: abs}
	// Readers only, and the writer is a reader too: a write is an error,
	// never a nil dereference. The schema is whatever moat up left.
	if s.r, err = openDB(abs, readerPragmas, maxReaders); err != nil {
		return nil, err
	}
	s.w = s.r
	return s, nil
}

// OpenExisting opens the database at path as Open does when it exists (a
// command that records what it did, such as a query, into the stack's
// history), and otherwise an empty one in memory that takes writes and
// forgets them: no command but `moat up` creates the state.
func OpenExisting(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state: database path %q: %w", path, err)
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		return openMemory(abs, false)
	}
	return Open(abs)
}

// openMemory is an empty, migrated database in memory on one connection
// (each connection to :memory: is a database of its own); path is only
// for messages.
func openMemory(path string, readOnly bool) (*Store, error) {
	db, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("state: an empty database in memory: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{path: path, w: db, r: db}
	ctx := context.Background()
	if err := migrate(ctx, db, path, migrations); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if readOnly {
		if _, err := db.ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
			return nil, errors.Join(err, db.Close())
		}
	}
	return s, nil
}

// Exists reports whether there is a database file at the store's path
// (false: OpenReadOnly or OpenExisting found none and made an empty one in
// memory, because moat up never ran here).
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
