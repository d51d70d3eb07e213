package kubernetes

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"moat/appliance"
	"moat/appliance/config"
	"moat/internal/golden"
)

// configs are the three golden configurations: the embedded default, three
// workers with masks and filters (and an L7 intention), a PostgreSQL
// catalog with a secret.
var configs = []string{"default", "workers3", "postgres"}

func loadConfig(t *testing.T, name string) *config.Config {
	t.Helper()
	if name == "default" {
		c, err := config.Default()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, err := config.Load(filepath.Join("testdata", "config", name+".toml"))
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
			golden.CheckDir(t, filepath.Join("testdata", "golden", name), exportOf(t, name))
		})
	}
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

// Intentions that could not be enforced on the cluster are refused, every
// one at once, by mesh's validator: it runs on what the export would write
// even when cfg was not loaded from a file (nothing checked it before).
func TestExportRefusesUnenforceableIntentions(t *testing.T) {
	cfg := loadConfig(t, "default")
	cfg.Intentions = append(cfg.Intentions,
		config.Intention{Source: "notebook", Destination: "trino-coordinator", Action: "allow",
			HTTP: []config.HTTPRule{{PathPrefix: "/v1/statement"}}},
		config.Intention{Source: "orchestrator", Destination: "notebook", Action: "deny",
			HTTP: []config.HTTPRule{{PathPrefix: "api"}}})
	_, err := Export(cfg, Options{})
	for _, want := range []string{
		"export: intentions:\n",
		"(notebook → trino-coordinator): http: HTTP path and method rules cannot apply to trino-coordinator",
		"(orchestrator → notebook): http: HTTP path rules narrow an allow; a deny takes none",
		`(orchestrator → notebook): http[0].path_prefix = "api": must start with /`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("export error:\n%v\nwant it to contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "mesh.proxy") {
		t.Errorf("the export's sidecars are Envoy, yet the error asks for it: %v", err)
	}
}
