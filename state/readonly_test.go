package state

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// snapshot is every file under dir with its mode and modification time
// (a directory's own time changes with SQLite's -wal and -shm files, which
// live while a connection is open and go with the last one).
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			b.WriteString(p + "/\n")
		} else {
			b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n")
		}
		return nil
	})
	return b.String()
}

func TestOpenReadOnlyChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	before := snapshot(t, dir)

	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := r.Events(ctx, EventFilter{}); err != nil || len(evs) != 1 {
		t.Errorf("read %d events (%v), want 1", len(evs), err)
	}
	if _, err := r.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "k"}); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write through a read-only store: %v", err)
	}
	r.Close()
	if after := snapshot(t, dir); after != before {
		t.Errorf("the data dir changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func TestOpenWithoutDatabaseCreatesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "data", FileName)
	for name, open := range map[string]func(string) (*Store, error){"OpenReadOnly": OpenReadOnly, "OpenExisting": OpenExisting} {
		s, err := open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rs, err := s.Services(ctx); err != nil || len(rs) != 0 {
			t.Errorf("%s: %d services (%v), want an empty history", name, len(rs), err)
		}
		_, werr := s.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "k"})
		if (werr == nil) != (name == "OpenExisting") {
			t.Errorf("%s: write error %v", name, werr)
		}
		s.Close()
		if Exists(path) {
			t.Errorf("%s created %s", name, path)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("files created: %v", es)
	}
}
