package state

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openTest opens a fresh store in t's temporary directory.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data", FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// rawDB opens path without the store, for inspecting or tampering.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenIsWAL(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	for name, db := range map[string]*sql.DB{"writer": s.w, "reader": s.r} {
		var mode string
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("%s: journal_mode = %q, want wal", name, mode)
		}
	}
	var sync, fk, busy int
	if err := s.w.QueryRowContext(ctx, "SELECT * FROM pragma_synchronous, pragma_foreign_keys, pragma_busy_timeout").Scan(&sync, &fk, &busy); err != nil {
		t.Fatal(err)
	}
	if sync != 1 || fk != 1 || busy != 5000 {
		t.Errorf("writer pragmas: synchronous=%d foreign_keys=%d busy_timeout=%d, want 1 (NORMAL), 1, 5000", sync, fk, busy)
	}
	if _, err := s.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "test.write"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path() + "-wal"); err != nil {
		t.Errorf("no WAL file after a write: %v", err)
	}
	if fi, err := os.Stat(s.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestReaderIsReadOnly(t *testing.T) {
	s := openTest(t)
	_, err := s.r.Exec(`INSERT INTO events (at, severity, kind) VALUES (1, 'info', 'x')`)
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("write through the reader pool: err = %v, want a readonly error", err)
	}
}

func TestCheckWALRefusesOtherModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := openDB(path, []string{"journal_mode(DELETE)"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = checkWAL(context.Background(), db, path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"delete", not WAL`) {
		t.Errorf("checkWAL on a rollback-journal database: err = %v, want one naming %s and its mode", err, path)
	}
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	for i := range 3 {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		if _, err := s.RecordEvent(context.Background(), Event{Severity: SeverityInfo, Kind: "open"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	if v := userVersion(t, db); v != len(migrations) {
		t.Errorf("user_version = %d, want %d", v, len(migrations))
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil || n != 3 {
		t.Errorf("events after three opens = %d (%v), want 3: a re-open must keep the data", n, err)
	}
}

func TestMigrateAppliesOnlyNewSteps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db := rawDB(t, path)
	steps := []string{
		`CREATE TABLE a (x INTEGER)`,
		`INSERT INTO a VALUES (1)`,
	}
	if err := migrate(ctx, db, path, steps[:1]); err != nil {
		t.Fatal(err)
	}
	if v := userVersion(t, db); v != 1 {
		t.Fatalf("user_version after step 1 = %d", v)
	}
	for range 2 { // the second run must change nothing
		if err := migrate(ctx, db, path, steps); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in a = %d (%v), want 1: step 2 must run exactly once", n, err)
	}
	if v := userVersion(t, db); v != 2 {
		t.Errorf("user_version = %d, want 2", v)
	}
}

func TestMigrateFailedStepRollsBack(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db := rawDB(t, path)
	err := migrate(ctx, db, path, []string{`CREATE TABLE a (x INTEGER); CREATE TABLE broken (`})
	if err == nil || !strings.Contains(err.Error(), "migration 1") {
		t.Fatalf("err = %v, want a failure naming migration 1", err)
	}
	if v := userVersion(t, db); v != 0 {
		t.Errorf("user_version = %d after a failed step, want 0", v)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'a'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table a exists after a failed step (%d, %v): the step must roll back whole", n, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil {
		t.Fatal("Open accepted a database from a newer moat")
	}
	for _, want := range []string{path, "schema version 99", "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOpenRefusesNonDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a text file: err = %v, want an error naming %s", err, path)
	}
}

func TestOpenPathNeedingEscapes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dir with space?#%")
	path := filepath.Join(dir, FileName)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordEvent(context.Background(), Event{Severity: SeverityInfo, Kind: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != FileName {
		t.Errorf("files in %s = %v, want only %s", dir, entries, FileName)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("%s is empty or missing (%v): the data went elsewhere", path, err)
	}
}
