package appliance

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadOnlySecretsWriteNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sec, err := OpenSecretsReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := sec.Ensure(SecretDashboard)
	if a == "" || sec.Ensure(SecretDashboard) != a {
		t.Errorf("a placeholder must be stable within the process: %q", a)
	}
	if u := sec.EnsureUUID(SecretConsul); len(u) != 36 {
		t.Errorf("EnsureUUID = %q", u)
	}
	if _, err := sec.CA(); err != nil {
		t.Fatal(err)
	}
	if n := sec.Names(); len(n) != 0 {
		t.Errorf("placeholders listed as stored secrets: %v", n)
	}
	if err := sec.Save(); !errors.Is(err, ErrSecretsReadOnly) {
		t.Errorf("Save = %v, want ErrSecretsReadOnly", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the data dir was created: %v", err)
	}

	// Stored values are what a read-only open returns.
	rw, _ := OpenSecrets(dir)
	stored := rw.Ensure(SecretDashboard)
	if err := rw.Save(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenSecretsReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := ro.Ensure(SecretDashboard); got != stored {
		t.Errorf("read-only Ensure = %q, want the stored %q", got, stored)
	}
}

func TestGeneratedSecretNames(t *testing.T) {
	for name, want := range map[string]bool{
		SecretConsul: true, SecretTrinoShared: true, "pki_ca_key": true, TokenSecret("notebook"): true,
		"pg_password": false, "user_analyst": false,
	} {
		if Generated(name) != want {
			t.Errorf("Generated(%q) = %v, want %v", name, !want, want)
		}
	}
}
