package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's name inside moat's data_dir.
const FileName = "moat.db"

// maxReaders bounds the read-only connections; reads never block the writer
// in WAL mode.
const maxReaders = 4

// Pragmas run by the driver on every new connection (modernc's _pragma DSN
// parameter). busy_timeout waits for other moat processes holding the lock.
var (
	writerPragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"}
	readerPragmas = []string{"busy_timeout(5000)", "foreign_keys(1)", "query_only(1)"}
)

// Store is moat's state database. Its methods are safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // exactly one connection: the only writer in this process
	r    *sql.DB // read-only connections
}

// Open opens (creating if needed) the database at path, checks that it is in
// WAL mode and migrates its schema. The caller must Close it.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state: database path %q: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, err
	}
	s := &Store{path: abs}
	if err := s.open(context.Background()); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// open fills s.w and s.r; on error the caller closes whatever was opened.
func (s *Store) open(ctx context.Context) error {
	var err error
	if s.w, err = openDB(s.path, writerPragmas, 1); err != nil {
		return err
	}
	if err := checkWAL(ctx, s.w, s.path); err != nil {
		return err
	}
	if err := migrate(ctx, s.w, s.path, migrations); err != nil {
		return err
	}
	if s.r, err = openDB(s.path, readerPragmas, maxReaders); err != nil {
		return err
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("state: open %s for reading: %w", s.path, err)
	}
	return nil
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database; the last connection to go checkpoints the WAL.
func (s *Store) Close() error {
	var errs []error
	for _, db := range []*sql.DB{s.r, s.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state: close %s: %w", s.path, err)
	}
	return nil
}

// createFile makes the parent directory and the file itself, readable by
// its owner only (SQLite gives the -wal and -shm files the same mode).
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state: create the directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("state: create %s: %w", path, err)
	}
	return f.Close()
}

// openDB opens a pool of at most conns connections and makes the first one,
// so that a bad file or pragma fails here.
func openDB(path string, pragmas []string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, pragmas))
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s (is it a moat database?): %w", path, err)
	}
	return db, nil
}

// dsn is a file: URI for path (escaped, so '?', '#' and '%' in a path are
// safe) with the pragmas and BEGIN IMMEDIATE transactions, which take the
// write lock at once and so wait out busy_timeout instead of failing later.
func dsn(path string, pragmas []string) string {
	q := url.Values{"_txlock": {"immediate"}}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// checkWAL fails unless the database really is in WAL mode: SQLite silently
// keeps another journal mode where WAL cannot work (some network file
// systems), and the one-writer, readers-never-block design depends on it.
func checkWAL(ctx context.Context, db *sql.DB, path string) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("state: read the journal mode of %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("state: %s is in journal mode %q, not WAL: SQLite could not switch it "+
			"(a network or read-only file system?); put moat's data_dir on a local disk", path, mode)
	}
	return nil
}
