package golden

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the tests produce")

// Check compares got with the file at path. With -update it first writes
// got there (creating the folders; an existing file keeps its mode).
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := write(path, got); err != nil {
			t.Fatalf("golden: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -run '%s' -update rewrites it; read the diff before keeping it):\n%s",
			path, t.Name(), diff(want, got))
	}
}

// CheckDir compares files (by slash-separated name) with the folder dir:
// the folder holds exactly those files, each with that content. With
// -update it first makes the folder so, removing the files it should not
// hold.
func CheckDir(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if *update {
		if err := writeDir(dir, files); err != nil {
			t.Fatalf("golden: %v", err)
		}
	}
	have, err := list(dir)
	if err != nil {
		t.Fatalf("golden: %v (go test -update writes it)", err)
	}
	if want := slices.Sorted(maps.Keys(files)); !slices.Equal(have, want) {
		t.Fatalf("golden folder %s holds %v, the test produced %v (go test -run '%s' -update rewrites it)", dir, have, want, t.Name())
	}
	for _, name := range have {
		Check(t, filepath.Join(dir, filepath.FromSlash(name)), files[name])
	}
}

// diff shows where got first departs from want, by line.
func diff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl || (i >= len(w)) != (i >= len(g)) {
			return fmt.Sprintf("first difference at line %d (of %d in the golden file, %d produced):\n- %s\n+ %s", i+1, len(w), len(g), wl, gl)
		}
	}
	return "(no difference by line)"
}

func write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func writeDir(dir string, files map[string][]byte) error {
	have, err := list(dir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, name := range have {
		if _, keep := files[name]; !keep {
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
				return err
			}
		}
	}
	for name, b := range files {
		if err := write(filepath.Join(dir, filepath.FromSlash(name)), b); err != nil {
			return err
		}
	}
	return nil
}

// list returns the regular files under dir, by slash-separated name, sorted.
func list(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		names = append(names, filepath.ToSlash(rel))
		return err
	})
	slices.Sort(names)
	return names, err
}
