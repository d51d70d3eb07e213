package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what a failing check says.
type recorder struct {
	testing.TB
	failed, fatal bool
	msg           string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.fatal = true
	panic(r) // stop the check, as FailNow would
}

// run calls check with a recorder and returns it.
func run(t *testing.T, check func(testing.TB)) (r *recorder) {
	r = &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
	}()
	check(r)
	return r
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, func(tb testing.TB) { Check(tb, path, []byte("one\ntwo\nthree\n")) }); r.failed {
		t.Errorf("equal content failed: %s", r.msg)
	}
	r := run(t, func(tb testing.TB) { Check(tb, path, []byte("one\nTWO\nthree\n")) })
	if !r.failed || r.fatal || !strings.Contains(r.msg, "first difference at line 2") || !strings.Contains(r.msg, "- two\n+ TWO") ||
		!strings.Contains(r.msg, "-update") {
		t.Errorf("a changed line: failed=%v fatal=%v %q; want the line, both versions and -update named", r.failed, r.fatal, r.msg)
	}
	r = run(t, func(tb testing.TB) { Check(tb, path, []byte("one\ntwo\nthree")) })
	if !r.failed || !strings.Contains(r.msg, "line 4") {
		t.Errorf("a missing final newline: failed=%v %q", r.failed, r.msg)
	}
	r = run(t, func(tb testing.TB) { Check(tb, filepath.Join(dir, "missing.txt"), nil) })
	if !r.fatal || !strings.Contains(r.msg, "go test -update writes it") {
		t.Errorf("a missing golden file: fatal=%v %q", r.fatal, r.msg)
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"a.txt": []byte("a\n"), "sub/b.txt": []byte("b\n")}
	for name, b := range files {
		if err := write(filepath.Join(dir, filepath.FromSlash(name)), b); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, func(tb testing.TB) { CheckDir(tb, dir, files) }); r.failed {
		t.Errorf("equal folder failed: %s", r.msg)
	}
	r := run(t, func(tb testing.TB) { CheckDir(tb, dir, map[string][]byte{"a.txt": []byte("a\n")}) })
	if !r.fatal || !strings.Contains(r.msg, "holds [a.txt sub/b.txt], the test produced [a.txt]") {
		t.Errorf("a file too many: fatal=%v %q", r.fatal, r.msg)
	}
	r = run(t, func(tb testing.TB) {
		CheckDir(tb, dir, map[string][]byte{"a.txt": []byte("a\n"), "sub/b.txt": []byte("c\n")})
	})
	if !r.failed || !strings.Contains(r.msg, "b.txt differs") {
		t.Errorf("a changed file: failed=%v %q", r.failed, r.msg)
	}
}

// With -update the files are rewritten to what was produced: an existing
// file keeps its mode, a file the test no longer produces is removed.
func TestUpdateRewrites(t *testing.T) {
	*update = true
	defer func() { *update = false }()
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(script, []byte("old\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stale.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"run.sh": []byte("new\n"), "deep/new.txt": []byte("n\n")}
	if r := run(t, func(tb testing.TB) { CheckDir(tb, dir, files) }); r.failed {
		t.Fatalf("update failed: %s", r.msg)
	}
	*update = false
	if r := run(t, func(tb testing.TB) { CheckDir(tb, dir, files) }); r.failed {
		t.Errorf("after the update the folder differs: %s", r.msg)
	}
	if fi, err := os.Stat(script); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh after the update: %v %v, want mode 0755 kept", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.txt")); !os.IsNotExist(err) {
		t.Errorf("stale.txt survived the update: %v", err)
	}
}
