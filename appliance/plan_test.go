package appliance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"moat/appliance/config"
	"moat/internal/golden"
	"moat/supervisor"
	"moat/trino"
)

// fakeSecrets holds fixed stand-ins for every secret a plan uses.
func fakeSecrets(t *testing.T, dataDir string) *Secrets {
	t.Helper()
	sec, err := OpenSecrets(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{SecretConsul, TokenSecret(config.ServiceCoordinator), TokenSecret(config.ServiceNotebook), TokenSecret(config.OrchestratorUser)} {
		sec.Set(name, "00000000-0000-4000-8000-fake-"+strings.ReplaceAll(name, "_", "-"))
	}
	for _, name := range []string{SecretTrinoShared, SecretManagement, SecretOrchestrator, UserSecret("analyst"), SecretNotebook, SecretDashboard} {
		sec.Set(name, "fake-"+name)
	}
	return sec
}

// planJSON renders a plan for a golden file: specs as JSON, file contents
// as text, bcrypt output (salted) replaced by a marker.
func planJSON(t *testing.T, topo supervisor.Topology) []byte {
	t.Helper()
	type file struct {
		Path, Mode, Content string
		UID, GID            int
	}
	type spec struct {
		supervisor.Spec
		Files   []file `json:"files,omitempty"`
		Gate    bool   `json:"gate,omitempty"`
		Prepare bool   `json:"prepare,omitempty"`
		PreStop bool   `json:"pre_stop,omitempty"`
		Hash    string `json:"config_hash"`
	}
	var out struct {
		Networks []supervisor.Network
		Volumes  []supervisor.Volume
		Services []spec
	}
	out.Networks, out.Volumes = topo.Networks, topo.Volumes
	for _, s := range topo.Services {
		js := spec{Spec: s, Gate: s.Gate != nil, Prepare: s.Prepare != nil, PreStop: s.PreStop != nil, Hash: "(stable)"}
		for _, f := range s.Files {
			content := string(f.Content)
			if strings.HasSuffix(f.Path, "password.db") {
				content = "(bcrypt hashes of moat, orchestrator and the [[user]] passwords)"
			}
			if kind, _, ok := strings.Cut(strings.TrimPrefix(content, "-----BEGIN "), "-----"); ok && strings.HasPrefix(content, "-----BEGIN ") {
				content = "(PEM " + kind + " issued by moat's CA)" // random keys
			}
			js.Files = append(js.Files, file{f.Path, f.Mode.String(), content, f.UID, f.GID})
		}
		js.Spec.Files = nil
		out.Services = append(out.Services, js)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestPlanGolden(t *testing.T) {
	for _, tc := range []struct{ name, extra string }{
		{"plan-builtin.golden", ""},
		{"plan-envoy.golden", "[mesh]\nproxy = \"envoy\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"+tc.extra), "moat.toml")
			if err != nil {
				t.Fatal(err)
			}
			sec := fakeSecrets(t, dir)
			if err := Provision(c, sec); err != nil {
				t.Fatal(err)
			}
			topo, err := Plan(c, sec, nil)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name), []byte(strings.ReplaceAll(string(planJSON(t, topo)), dir, "$DATA_DIR")))
			// Planning twice gives the same config hashes: nothing is
			// re-created on the next up (the password file is reused).
			again, _ := Plan(c, sec, nil)
			for i := range topo.Services {
				if topo.Services[i].ConfigHash() != again.Services[i].ConfigHash() {
					t.Errorf("%s: config hash changed between two plans", topo.Services[i].Name)
				}
			}
		})
	}
}

// The password file is reused while the passwords stay the same (no bcrypt,
// no new salt) and rewritten, verifiably, when one changes.
func TestPasswordFileReuse(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec := fakeSecrets(t, dir)
	path := filepath.Join(dir, "trino", "password.db")
	if err := writePasswordFile(c, sec); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	users := trinoUsers(c, sec)
	if trino.CheckPasswordFile(first, users) != nil {
		t.Fatal("the written file does not check against the users' passwords")
	}
	if err := writePasswordFile(c, sec); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("same passwords: the file was rewritten")
	}
	if planned, _ := passwordFile(c, sec, users); string(planned) != string(first) {
		t.Error("the plan does not use the current file")
	}
	sec.Set(UserSecret("analyst"), "fake-password-three")
	users = trinoUsers(c, sec)
	// Planning with a stale file changes nothing on disk.
	if planned, _ := passwordFile(c, sec, users); trino.CheckPasswordFile(planned, users) != nil {
		t.Error("the plan's in-memory file does not hold the new password")
	}
	if now, _ := os.ReadFile(path); string(now) != string(first) {
		t.Error("planning wrote the password file")
	}
	if err := writePasswordFile(c, sec); err != nil {
		t.Fatal(err)
	}
	changed, _ := os.ReadFile(path)
	if string(changed) == string(first) || trino.CheckPasswordFile(changed, users) != nil {
		t.Error("a changed password did not give a new, matching file")
	}
	sum, _ := os.ReadFile(path + ".sum")
	if len(sum) != 64 || strings.Contains(string(sum), "fake-password") {
		t.Errorf("the fingerprint %q", sum)
	}
}

// Planning is pure: it writes nothing (no secret, no certificate, no
// password file) and, on secrets that may change, refuses to plan with
// what was never provisioned instead of inventing it.
func TestPlanWritesNothing(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(c, sec, nil); err == nil || !strings.Contains(err.Error(), "not provisioned") {
		t.Errorf("plan before provisioning: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("planning wrote into the data dir: %v", entries)
	}
	if names := sec.Names(); len(names) != 0 {
		t.Errorf("planning added secrets: %v", names)
	}
	if err := Provision(c, sec); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{SecretsFile, "trino/password.db", "trino/password.db.sum"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("provisioning did not write %s: %v", f, err)
		}
	}
	before := sec.Names()
	topo, err := Plan(c, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Services) == 0 || !slices.Equal(before, sec.Names()) {
		t.Errorf("the plan after provisioning: %d services, secrets %v → %v", len(topo.Services), before, sec.Names())
	}
	// A read-only command plans with placeholders and writes nothing.
	ro, err := OpenSecretsReadOnly(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := config.Parse([]byte("[appliance]\ndata_dir = \""+t.TempDir()+"\"\n"), "moat.toml")
	if _, err := Plan(c2, ro, nil); err != nil {
		t.Errorf("read-only plan: %v", err)
	}
	if entries, _ := os.ReadDir(c2.DataDir()); len(entries) != 0 {
		t.Errorf("a read-only plan wrote into the data dir: %v", entries)
	}
}
