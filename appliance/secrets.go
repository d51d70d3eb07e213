package appliance

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"moat/pki"

	"github.com/BurntSushi/toml"
)

// SecretsFile is the name of the secrets file in the data dir (mode 0600).
const SecretsFile = "secrets.toml"

// Well-known secret names.
const (
	SecretDashboard     = "dashboard"     // dashboard token
	SecretNotebook      = "notebook"      // Jupyter token
	SecretConsul        = "consul"        // Consul bootstrap (management) token
	SecretTrinoShared   = "trino_shared"  // internal-communication.shared-secret
	SecretManagement    = "moat_password" // Trino password of moat's management user
	SecretOrchestrator  = "orchestrator_password"
	SecretPasswordDBKey = "password_db_key" // keys the HMAC that tells whether password.db is current
)

// Generated reports whether moat itself makes and uses the secret name
// (tokens, its own passwords, the shared secret, its CA and keys): setting
// one by hand breaks what moat set up with it.
func Generated(name string) bool {
	switch name {
	case SecretDashboard, SecretNotebook, SecretConsul, SecretTrinoShared, SecretManagement, SecretOrchestrator, SecretPasswordDBKey:
		return true
	}
	return strings.HasPrefix(name, TokenSecret("")) || strings.HasPrefix(name, "pki_")
}

// Secrets are moat's generated and user-given secrets. They live only in
// <data_dir>/secrets.toml and in the environment of the containers that need
// them; String never prints a value.
//
// Gate goroutines generate secrets while the engine runs: every method
// holds mu.
type Secrets struct {
	path   string
	mu     sync.Mutex
	values map[string]string
	// caMu makes CA's read-or-create one step; ca is the parsed CA.
	caMu  sync.Mutex
	ca    *pki.CA
	dirty bool
	// readOnly secrets (OpenSecretsReadOnly) never change the file: what
	// Ensure or Set would add lives in overlay, in this process only.
	readOnly bool
	overlay  map[string]string
}

// snapshot is a read-only copy of s as it is now, for the plan: what the
// plan would generate stays in the copy's overlay, where unprovisioned
// lists it.
func (s *Secrets) snapshot() *Secrets {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caMu.Lock()
	defer s.caMu.Unlock()
	v := &Secrets{path: s.path, values: maps.Clone(s.values), readOnly: true, overlay: maps.Clone(s.overlay), ca: s.ca}
	return v
}

// unprovisioned lists what a snapshot generated for itself: the secrets the
// plan needed that were not there.
func (s *Secrets) unprovisioned(base *Secrets) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	base.mu.Lock()
	defer base.mu.Unlock()
	var out []string
	for name := range s.overlay {
		if _, ok := base.get(name); !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// ErrSecretsReadOnly is Save's answer for secrets opened read-only.
var ErrSecretsReadOnly = errors.New("secrets were opened read-only: only `moat up` generates them")

// OpenSecrets reads the secrets file in dataDir, or starts an empty one.
func OpenSecrets(dataDir string) (*Secrets, error) {
	return openSecrets(dataDir, false)
}

// OpenSecretsReadOnly reads the secrets file in dataDir (or none) for a
// command that must change nothing: Ensure returns the stored value or a
// placeholder kept in memory, Set changes only this process's view, and Save
// refuses to write.
func OpenSecretsReadOnly(dataDir string) (*Secrets, error) {
	return openSecrets(dataDir, true)
}

func openSecrets(dataDir string, readOnly bool) (*Secrets, error) {
	s := &Secrets{path: filepath.Join(dataDir, SecretsFile), values: map[string]string{}, readOnly: readOnly, overlay: map[string]string{}}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading secrets: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by other users (mode %v): run `chmod 600 %s`", s.path, fi.Mode().Perm(), s.path)
	}
	if _, err := toml.Decode(string(data), &s.values); err != nil {
		return nil, fmt.Errorf("%s is not valid TOML (%v): fix or remove it (removing it generates new secrets)", s.path, err)
	}
	return s, nil
}

// Get returns a secret (for read-only secrets, also what this process
// generated in memory).
func (s *Secrets) Get(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.get(name)
}

func (s *Secrets) get(name string) (string, bool) {
	if v, ok := s.values[name]; ok {
		return v, ok
	}
	v, ok := s.overlay[name]
	return v, ok
}

// ReadOnly reports whether s was opened with OpenSecretsReadOnly.
func (s *Secrets) ReadOnly() bool { return s.readOnly }

// Ensure returns the secret name, generating a random one first if missing.
func (s *Secrets) Ensure(name string) string {
	return s.ensure(name, func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }, 24)
}

// EnsureUUID is Ensure for secrets that must be UUIDs (Consul ACL tokens).
func (s *Secrets) EnsureUUID(name string) string {
	return s.ensure(name, func(b []byte) string {
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	}, 16)
}

// ensure returns name's value or stores format(n random bytes).
func (s *Secrets) ensure(name string, format func([]byte) string, n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.get(name); ok && v != "" {
		return v
	}
	b := make([]byte, n)
	rand.Read(b)
	v := format(b)
	s.set(name, v)
	return v
}

// Set stores a secret given by the user (or learned, like Consul's token).
func (s *Secrets) Set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(name, value)
}

func (s *Secrets) set(name, value string) {
	if s.readOnly {
		s.overlay[name] = value
		return
	}
	if s.values[name] != value {
		s.values[name] = value
		s.dirty = true
	}
}

// Names lists the secrets, sorted.
func (s *Secrets) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.values))
	for k := range s.values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Save writes the file (mode 0600) atomically when something changed.
// Secrets opened read-only are never written: Save says so.
func (s *Secrets) Save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return ErrSecretsReadOnly
	}
	if !s.dirty {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteString("# moat's secrets: generated on first `moat up`. Keep this file private (mode 0600).\n")
	if err := toml.NewEncoder(&buf).Encode(s.values); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing secrets: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("writing secrets: %w", err)
	}
	s.dirty = false
	return nil
}

// String says how many secrets there are, never what they are.
func (s *Secrets) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d secrets in %s", len(s.values), s.path)
}
