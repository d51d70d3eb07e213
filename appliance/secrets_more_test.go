package appliance

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Generated secrets are random, of the documented shape, kept once made,
// and saved (only when something changed) into a 0600 file in a 0700
// folder, atomically, from which a new process reads them back.
func TestSecretsGenerateAndPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sec, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b := sec.Ensure(SecretDashboard), sec.Ensure(SecretNotebook)
	for _, v := range []string{a, b} {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(raw) != 24 {
			t.Errorf("Ensure = %q: want 24 random bytes, URL-safe base64 (%v)", v, err)
		}
	}
	if a == b || sec.Ensure(SecretDashboard) != a {
		t.Errorf("two secrets alike (%q, %q), or one not kept", a, b)
	}
	u := sec.EnsureUUID(SecretConsul)
	if !uuidV4.MatchString(u) || sec.EnsureUUID(SecretConsul) != u || sec.EnsureUUID(TokenSecret("x")) == u {
		t.Errorf("EnsureUUID = %q: want a random version-4 UUID, kept", u)
	}
	// An empty stored value counts as missing.
	sec.Set("blank", "")
	if v := sec.Ensure("blank"); v == "" {
		t.Error("an empty secret was not generated")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("secrets written before Save: %v", err)
	}
	if err := sec.Save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SecretsFile)
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), want)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file was left behind: %v", err)
	}
	again, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{SecretDashboard: a, SecretNotebook: b, SecretConsul: u} {
		if got, ok := again.Get(name); !ok || got != want {
			t.Errorf("%s read back as %q, %v; want %q", name, got, ok, want)
		}
	}
	if !slices.Equal(again.Names(), []string{"blank", SecretConsul, TokenSecret("x"), SecretDashboard, SecretNotebook}) {
		t.Errorf("names %v, want them sorted", again.Names())
	}
	// Nothing changed: Save writes nothing (a removed file stays removed).
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	again.Ensure(SecretDashboard)
	again.Set(SecretNotebook, b)
	if err := again.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("Save rewrote the file with nothing changed")
	}
	again.Set(SecretNotebook, "changed-by-hand")
	if err := again.Save(); err != nil {
		t.Fatal(err)
	}
	if third := mustOpenSecrets(t, dir); len(third.Names()) != 5 || mustGet(t, third, SecretNotebook) != "changed-by-hand" {
		t.Errorf("the changed secret was not saved: %v", third.Names())
	}
}

func mustOpenSecrets(t *testing.T, dir string) *Secrets {
	t.Helper()
	sec, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func mustOpenSecretsReadOnly(t *testing.T, dir string) *Secrets {
	t.Helper()
	sec, err := OpenSecretsReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func mustGet(t *testing.T, sec *Secrets, name string) string {
	t.Helper()
	v, ok := sec.Get(name)
	if !ok {
		t.Fatalf("no secret %s", name)
	}
	return v
}

// Values with TOML's special characters, newlines (PEM) and non-ASCII
// text survive the file; String tells how many secrets, never a value.
func TestSecretsFileKeepsAnyValue(t *testing.T) {
	dir := t.TempDir()
	sec := mustOpenSecrets(t, dir)
	values := map[string]string{
		"quotes": `a "quoted" 'value' with \ backslash`, "pem": "-----BEGIN X-----\nAAAA\n-----END X-----\n",
		"triple": `'''"""`, "unicode": "pässwörd-秘密", "hash": "#not a comment", "eq": "a = b",
	}
	for k, v := range values {
		sec.Set(k, v)
	}
	if err := sec.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		if got := mustGet(t, again, k); got != v {
			t.Errorf("%s: %q read back as %q", k, v, got)
		}
	}
	s := again.String()
	if !strings.HasPrefix(s, "6 secrets in ") {
		t.Errorf("String = %q", s)
	}
	for _, v := range values {
		if strings.Contains(s, v) {
			t.Errorf("String shows a value: %q", s)
		}
	}
}

// A secrets file others can read, or one that is not TOML, is refused with
// the way out; nothing is overwritten.
func TestSecretsFileRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"group readable", "a = \"b\"\n", 0o640, "is readable by other users (mode -rw-r-----): run `chmod 600 "},
		{"world readable", "a = \"b\"\n", 0o604, "is readable by other users"},
		{"not TOML", "this is = = not toml\n", 0o600, "is not valid TOML"},
		{"not strings", "consul = 5\n", 0o600, "is not valid TOML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SecretsFile)
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			for _, open := range []func(string) (*Secrets, error){OpenSecrets, OpenSecretsReadOnly} {
				_, err := open(dir)
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("opening: %v; want %q naming %s", err, tc.want, path)
				}
			}
			if strings.HasPrefix(tc.name, "not") {
				if _, err := OpenSecrets(dir); err == nil || !strings.Contains(err.Error(), "fix or remove it (removing it generates new secrets)") {
					t.Errorf("no way out in %v", err)
				}
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Error("the refused file was changed")
			}
		})
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, SecretsFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSecrets(dir); err == nil || !strings.Contains(err.Error(), "reading secrets") {
		t.Errorf("a folder where the file should be: %v", err)
	}
}

// Read-only secrets show what is stored, keep what a command sets or
// generates in memory (stable for the process), and never touch the file.
func TestReadOnlySecretsKeepTheFile(t *testing.T) {
	dir := t.TempDir()
	rw := mustOpenSecrets(t, dir)
	stored := rw.Ensure(SecretConsul)
	if err := rw.Save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SecretsFile)
	before, _ := os.ReadFile(path)
	ro, err := OpenSecretsReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !ro.ReadOnly() || rw.ReadOnly() {
		t.Error("ReadOnly does not say how the secrets were opened")
	}
	ro.Set("pg_password", "typed-in-by-hand")
	placeholder := ro.Ensure(SecretDashboard)
	if mustGet(t, ro, "pg_password") != "typed-in-by-hand" || ro.Ensure(SecretDashboard) != placeholder || ro.EnsureUUID(SecretConsul) != stored {
		t.Error("the read-only view lost what was set, generated or stored")
	}
	if !slices.Equal(ro.Names(), []string{SecretConsul}) {
		t.Errorf("Names %v: only what the file holds", ro.Names())
	}
	if err := ro.Save(); err != ErrSecretsReadOnly {
		t.Errorf("Save = %v", err)
	}
	if _, err := ro.CA(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a read-only open changed the file")
	}
	if fresh := mustOpenSecrets(t, dir); !slices.Equal(fresh.Names(), []string{SecretConsul}) {
		t.Errorf("another process sees %v", fresh.Names())
	}
}

// A snapshot (the plan's view) generates into itself alone, and lists
// what it had to generate.
func TestSnapshotAndUnprovisioned(t *testing.T) {
	sec := mustOpenSecrets(t, t.TempDir())
	kept := sec.Ensure(SecretNotebook)
	view := sec.snapshot()
	if !view.ReadOnly() || view.Ensure(SecretNotebook) != kept {
		t.Fatal("the snapshot is not a read-only copy")
	}
	view.Ensure(SecretTrinoShared)
	view.EnsureUUID(SecretConsul)
	if _, ok := sec.Get(SecretTrinoShared); ok {
		t.Error("generating in the snapshot changed the secrets it was taken from")
	}
	if got := view.unprovisioned(sec); !slices.Equal(got, []string{SecretConsul, SecretTrinoShared}) {
		t.Errorf("unprovisioned %v", got)
	}
	sec.Ensure(SecretConsul)
	if got := view.unprovisioned(sec); !slices.Equal(got, []string{SecretTrinoShared}) {
		t.Errorf("after provisioning consul: unprovisioned %v", got)
	}
}

// Goroutines asking for the same missing secret at once get one value.
func TestEnsureConcurrently(t *testing.T) {
	sec := mustOpenSecrets(t, t.TempDir())
	const n = 32
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = sec.Ensure("shared")
			if !slices.Contains(sec.Names(), "shared") {
				t.Error("a secret another goroutine generated is not listed")
			}
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("goroutine %d got %q, goroutine 0 %q", i, got[i], got[0])
		}
	}
}
