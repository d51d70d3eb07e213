package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
)

// moatIn runs the moat binary in dir with env added, and returns its
// combined output and exit code.
func moatIn(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, moatBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("moat %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// tree is every file under dir with its mode, size, time and content hash,
// and every directory by name (a directory's own time changes with SQLite's
// -wal and -shm files, which live while a connection is open and go with
// the last one).
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == dir {
			return filepath.SkipDir
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			fmt.Fprintf(&b, "%s/\n", rel)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if strings.HasSuffix(rel, "-shm") {
			// SQLite's shared-memory index: every reader of a WAL
			// database marks its place there. It holds no data.
			fmt.Fprintf(&b, "%s\n", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %s %x\n", rel, fi.Mode(), fi.Size(), fi.ModTime().Format(time.RFC3339Nano), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// readOnlyCommands must change nothing, whatever the state of the stack.
var readOnlyCommands = [][]string{
	{"status"}, {"status", "--json"}, {"logs"}, {"logs", "db", "api"}, {"images", "list"}, {"images", "list", "--json"},
	{"doctor"}, {"doctor", "--json"}, {"secrets", "list"}, {"secrets", "list", "--json"}, {"config"}, {"config", "--json"},
	{"config", "-q"}, {"verify"}, {"query", "SELECT 1"}, {"report", "list"}, {"report", "list", "--json"},
	{"report", "run", "nations"}, {"version"}, {"help", "status"},
}

func TestReadOnlyCommandsWriteNothing(t *testing.T) {
	s := newTestStack(t, "")
	dir := filepath.Dir(s.config)
	check := func(state string) {
		t.Helper()
		for _, args := range readOnlyCommands {
			before := tree(t, s.dataDir)
			out, _ := moatIn(t, dir, nil, append(args, "--config", s.config)...)
			if after := tree(t, s.dataDir); after != before {
				t.Errorf("%s: moat %s changed the data dir:\nbefore\n%s\nafter\n%s\noutput:\n%s", state, strings.Join(args, " "), before, after, out)
			}
		}
	}
	check("nothing yet")
	if _, err := os.Stat(s.dataDir); !os.IsNotExist(err) {
		t.Fatalf("the data dir exists before any up: %v", err)
	}
	s.mustMoat("up", "-d")
	// Once every probe has passed the supervisor writes nothing: what
	// changes then is the commands' doing.
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, "every service settled", func() error {
		for _, ss := range s.status().Services {
			if ss.State == "running" && ss.Health != "healthy" {
				return fmt.Errorf("%s is %s", ss.Name, ss.Health)
			}
		}
		return nil
	})
	check("stack up")
	s.mustMoat("down")
	check("stack down")
}

func TestReadOnlyCommandsInAnEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	for _, args := range readOnlyCommands {
		out, _ := moatIn(t, dir, nil, args...)
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Fatalf("moat %s created %v in an empty folder:\n%s", strings.Join(args, " "), entries, out)
		}
		if args[0] == "status" && !strings.Contains(out, "using the embedded default") {
			t.Errorf("moat %s does not say it uses the embedded default:\n%s", strings.Join(args, " "), out)
		}
	}
}

// cliCase is one row of the CLI table: a command in a state of the stack,
// its exit code and a fragment of its output.
type cliCase struct {
	state string // "none", "down" or "up"
	args  []string
	code  int
	want  string
}

func TestCommandLineTable(t *testing.T) {
	testenv.RequireImage(t, testenv.WorkloadImage)
	cases := []cliCase{
		{"none", []string{"status"}, 0, "api"},
		{"none", []string{"logs", "api"}, 1, "the stack is down"},
		{"none", []string{"logs"}, 1, "is down: nothing to show"},
		{"none", []string{"report", "run"}, 2, "the report's name is missing"},
		{"none", []string{"report", "open", "nosuch"}, 1, `no report "nosuch"`},
		{"none", []string{"report", "frob"}, 2, "unknown report verb frob"},
		{"none", []string{"secrets", "set", "consul"}, 2, "generated and used by moat itself"},
		{"none", []string{"secrets", "set", "pki_ca_key"}, 2, "generated and used by moat itself"},
		{"none", []string{"secrets", "set", "Bad-Name"}, 2, `invalid secret name "Bad-Name"`},
		{"none", []string{"secrets", "show", "dashboard"}, 1, `no secret "dashboard"`},
		{"none", []string{"status", "--jsn"}, 2, "flag provided but not defined: -jsn\nTry: moat status --help"},
		{"none", []string{"help", "up"}, 0, "--pull VALUE"},
		{"none", []string{"help", "logs"}, 0, "--tail VALUE"},
		{"none", []string{"help", "init"}, 0, "'moat up --pull=never'"},
		{"none", []string{"config", "--json"}, 0, `"workers"`},
		{"none", []string{"config"}, 0, "[appliance]"},
		{"none", []string{"version", "--json"}, 0, `"go": "go`},
		{"none", []string{"completion", "bash"}, 0, "complete -o default -F _moat moat"},
		{"none", []string{"completion", "fish"}, 0, "__fish_seen_subcommand_from logs"},
		{"none", []string{"completion", "tcsh"}, 2, `no completion for shell "tcsh"`},
		{"none", []string{"exec", "db"}, 2, "wrong number of arguments"},
		{"up", []string{"status"}, 0, "supervised by moat pid"},
		{"up", []string{"logs", "db", "cache", "--tail", "5"}, 0, "cache | "},
		{"up", []string{"exec", "db", "--", "/workload", "probe", "http://127.0.0.1:8080/health"}, 0, "ok"},
		{"up", []string{"exec", "db", "--", "/workload", "probe", "http://127.0.0.1:1/none"}, 1, ""},
		{"up", []string{"restart", "cache"}, 0, "the supervising moat (pid"},
		{"up", []string{"restart", "nosuch"}, 1, `no service "nosuch"`},
		{"up", []string{"down"}, 0, "is down"},
		{"down", []string{"status"}, 0, "no moat supervises it"},
		{"down", []string{"logs", "api"}, 1, "the stack is down"},
		{"down", []string{"restart", "api"}, 1, "the stack is down"},
	}
	// help must not show internal flags
	if out, _ := moatIn(t, t.TempDir(), nil, "help", "up"); strings.Contains(out, "detached-child") {
		t.Errorf("help up shows an internal flag:\n%s", out)
	}
	s := newTestStack(t, "")
	dir := filepath.Dir(s.config)
	for _, state := range []string{"none", "up", "down"} {
		switch state {
		case "up":
			s.mustMoat("up", "-d")
		case "down":
			s.mustMoat("down")
		}
		for _, tc := range cases {
			if tc.state != state {
				continue
			}
			out, code := moatIn(t, dir, []string{"MOAT_FILE=" + s.config}, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("[%s] moat %s: exit %d, want %d with %q:\n%s", state, strings.Join(tc.args, " "), code, tc.code, tc.want, out)
			}
		}
	}
}

func TestProjectIsFoundAsComposeFindsIt(t *testing.T) {
	testenv.RequireImage(t, testenv.WorkloadImage)
	s := newTestStack(t, "")
	sub := filepath.Join(filepath.Dir(s.config), "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	var st Status
	out, code := moatIn(t, sub, nil, "status", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Project != s.project {
		t.Errorf("status from a subfolder: exit %d, project %q, want %q:\n%s", code, st.Project, s.project, out)
	}
	other := t.TempDir()
	for _, args := range [][]string{
		{"--config", s.config, "status"}, {"-f", s.config, "status"}, {"--file=" + s.config, "status"}, {"status", "--file", s.config},
	} {
		if out, code := moatIn(t, other, nil, args...); code != 0 || !strings.Contains(out, "api") || strings.Contains(out, "embedded default") {
			t.Errorf("moat %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, _ := moatIn(t, other, []string{"MOAT_FILE=" + s.config}, "config", "--json"); !strings.Contains(out, s.project) {
		t.Errorf("MOAT_FILE is not used:\n%s", out)
	}
	if out, _ := moatIn(t, other, []string{"MOAT_FILE=" + s.config, "MOAT_PROJECT=other1"}, "config", "--json"); !strings.Contains(out, `"project": "other1"`) {
		t.Errorf("MOAT_PROJECT is not used:\n%s", out)
	}
	if out, _ := moatIn(t, other, nil, "-f", s.config, "-p", "other2", "config", "--json"); !strings.Contains(out, `"project": "other2"`) {
		t.Errorf("-p is not used:\n%s", out)
	}
	if out, code := moatIn(t, other, nil, "-p", "Bad_Name", "status"); code != 2 || !strings.Contains(out, `invalid --project "Bad_Name"`) {
		t.Errorf("a bad -p: exit %d\n%s", code, out)
	}
	if out, code := moatIn(t, other, nil, "--nosuch", "status"); code != 2 || !strings.Contains(out, "Try: moat help") {
		t.Errorf("an unknown global flag: exit %d\n%s", code, out)
	}
}

func TestConfigTypoDoesNotLockTheUserOut(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")
	good, _ := os.ReadFile(s.config)
	broken := strings.Replace(string(good), "[trino]\n", "[trino]\nwokers = 2\n", 1)
	if err := os.WriteFile(s.config, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(s.config)
	for _, args := range [][]string{{"status"}, {"logs", "api", "--tail", "3"}} {
		out, code := moatIn(t, dir, nil, append(args, "--config", s.config)...)
		if code != 0 || !strings.Contains(out, "wokers") || !strings.Contains(out, "acting on what the stack recorded") {
			t.Errorf("moat %s with a typo: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, code := moatIn(t, dir, nil, "status", "--config", s.config); !strings.Contains(out, "api") || code != 0 {
		t.Errorf("status does not list the recorded services:\n%s", out)
	}
	out, code := moatIn(t, dir, nil, "down", "--config", s.config)
	if code != 0 || !strings.Contains(out, "is down") {
		t.Fatalf("down with a typo: exit %d\n%s", code, out)
	}
	if left := s.labelled("container"); left != "" {
		t.Errorf("down with a typo left containers: %s", left)
	}
	// With nothing recorded the config's error stands alone.
	os.RemoveAll(s.dataDir)
	if out, code := moatIn(t, dir, nil, "status", "--config", s.config); code != 1 || !strings.Contains(out, "wokers") {
		t.Errorf("status with a typo and no stack: exit %d\n%s", code, out)
	}
	os.WriteFile(s.config, good, 0o644) // for the cleanup's down
}

func TestDownFromTheWrongFolderLeavesTheStack(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")
	// The same project from another folder: another data dir.
	other := t.TempDir()
	cfg, _ := os.ReadFile(s.config)
	wrong := strings.Replace(string(cfg), s.dataDir, filepath.Join(other, "data"), 1)
	if err := os.WriteFile(filepath.Join(other, "moat.toml"), []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := moatIn(t, other, nil, "down")
	if code != 1 || !strings.Contains(out, "never recorded") || !strings.Contains(out, "--force") {
		t.Errorf("down from the wrong folder: exit %d\n%s", code, out)
	}
	if n := len(strings.Fields(s.labelled("container"))); n != 4 {
		t.Errorf("%d containers after a refused down, want 4", n)
	}
	if st := s.status(); st.Supervisor == 0 {
		t.Error("the supervising moat is gone after a refused down")
	}
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("down from the wrong folder created %v", entries)
	}
}
