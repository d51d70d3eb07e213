package kubernetes

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

	"moat/appliance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// configs are the three golden configurations: the embedded default, three
// workers with masks and filters (and an L7 intention), a PostgreSQL
// catalog with a secret.
var configs = []string{"default", "workers3", "postgres"}

func loadConfig(t *testing.T, name string) *appliance.Config {
	t.Helper()
	if name == "default" {
		c, err := appliance.Default()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, err := appliance.Load(filepath.Join("testdata", "config", name+".toml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exportOf(t *testing.T, name string) map[string][]byte {
	t.Helper()
	files, err := Export(loadConfig(t, name), Options{Namespace: "analytics"})
	if err != nil {
		t.Fatalf("export %s: %v", name, err)
	}
	return files
}

// TestGolden compares every exported file with testdata/golden/CONFIG/FILE
// (go test -update rewrites them).
func TestGolden(t *testing.T) {
	for _, name := range configs {
		t.Run(name, func(t *testing.T) {
			files := exportOf(t, name)
			dir := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := Write(dir, files); err != nil {
					t.Fatal(err)
				}
				return
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("%v (run go test ./export/... -update)", err)
			}
			var have []string
			for _, e := range entries {
				have = append(have, e.Name())
			}
			if want := slices.Sorted(maps.Keys(files)); !slices.Equal(have, want) {
				t.Fatalf("golden files %v, export writes %v", have, want)
			}
			for fn, got := range files {
				want, _ := os.ReadFile(filepath.Join(dir, fn))
				if !bytes.Equal(got, want) {
					t.Errorf("%s/%s differs from the golden file (go test -update to accept):\n%s", name, fn, firstDiff(string(want), string(got)))
				}
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return ""
}

// TestNoSecretValueWritten: an export of a stack whose secrets exist holds
// none of their values (the folder is safe to commit).
func TestNoSecretValueWritten(t *testing.T) {
	cfg := loadConfig(t, "postgres")
	dir := t.TempDir()
	cfg.Appliance.DataDir = dir
	sec, err := appliance.OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, n := range []string{appliance.SecretTrinoShared, appliance.SecretNotebook, appliance.SecretOrchestrator, appliance.SecretManagement, "pg_password", "user_analyst"} {
		values = append(values, sec.Ensure(n))
	}
	if err := sec.Save(); err != nil {
		t.Fatal(err)
	}
	files, err := Export(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for fn, data := range files {
		for _, v := range values {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s holds a secret value", fn)
			}
		}
	}
}

// TestWriteRefusesForeignFolder: Write does not mix an export into a
// folder holding other files.
func TestWriteRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(dir, exportOf(t, "default"))
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("Write into a folder with notes.txt: %v", err)
	}
}

// TestNoNotebook: with notebook.enabled = false there is no notebook.yaml,
// and the README does not apply one.
func TestNoNotebook(t *testing.T) {
	cfg := loadConfig(t, "default")
	cfg.Notebook.Enabled = false
	files, err := Export(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[FileNotebook]; ok {
		t.Error("notebook.yaml written for a config without notebook")
	}
	if readme := string(files[FileReadme]); strings.Contains(readme, "-f "+FileNotebook) {
		t.Error("the README applies notebook.yaml")
	}
}

// TestNoPlanSecretWritten: the single-host plan the export is made from
// generates secrets in memory (tokens, passwords, moat's CA and its key);
// none of them, nor a catalog secret's stand-in, is in any exported file.
func TestNoPlanSecretWritten(t *testing.T) {
	for _, name := range configs {
		pl, err := newPlan(loadConfig(t, name), Options{Namespace: "analytics"})
		if err != nil {
			t.Fatal(err)
		}
		var values []string
		for _, n := range pl.sec.Names() {
			if v, _ := pl.sec.Get(n); len(v) >= 8 {
				values = append(values, v)
			}
		}
		if len(values) < 3 {
			t.Fatalf("%s: the plan generated %d secrets: the check would be empty", name, len(values))
		}
		for fn, f := range map[string]func() ([]byte, error){FileConsulValues: pl.consulValues, FileTrinoValues: pl.trinoValues,
			FileIntentions: pl.intentionsYAML, FileNotebook: pl.notebookYAML, FileReports: pl.reportsYAML, FileSecrets: pl.secretsScript,
			FileDockerfile: pl.dockerfile, FileReadme: pl.readme} {
			data, err := f()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("%s/%s holds a secret the plan generated", name, fn)
				}
			}
			if bytes.Contains(data, []byte("PRIVATE KEY")) || bytes.Contains(data, []byte("stand-in")) {
				t.Errorf("%s/%s holds a private key or a stand-in", name, fn)
			}
		}
	}
}
