package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"moat/internal/testenv"
)

// The process runtime records no time per log line: `moat logs --since`
// and `--timestamps` refuse in one line saying so, once even for several
// services, while plain `moat logs` works.
func TestProcessLogsRefuseTimes(t *testing.T) {
	dir := t.TempDir()
	workload := filepath.Join(dir, "workload")
	if out, err := exec.Command("go", "build", "-o", workload, "./internal/workload").CombinedOutput(); err != nil {
		t.Fatalf("build workload: %v\n%s", err, out)
	}
	a, b := testenv.FreePort(t), testenv.FreePort(t)
	cfg := fmt.Sprintf(`
[appliance]
project = "proc-logs"
data_dir = %q
start_timeout = "30s"
stop_grace = "2s"
[dashboard]
enabled = false
[mesh]
enabled = false
[trino]
enabled = false
[notebook]
enabled = false
[[service]]
name = "a"
image = %q
command = ["-name", "a", "-listen", "127.0.0.1:%d"]
[[service]]
name = "b"
image = %q
command = ["-name", "b", "-listen", "127.0.0.1:%d"]
`, filepath.Join(dir, "data"), workload, a, workload, b)
	config := filepath.Join(dir, "moat.toml")
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(moatBin, append(args, "--config", config)...)
		cmd.Env = append(os.Environ(), "MOAT_RUNTIME=process")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { run("down") })
	if out, err := run("up", "-d"); err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if out, err := run("logs", "a"); err != nil || !strings.Contains(out, "a: serving HTTP") {
		t.Errorf("logs a: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"logs", "a", "--since", "5m"}, {"logs", "--timestamps"}} {
		out, err := run(args...)
		if err == nil || strings.Count(out, "keeps no time per log line") != 1 || !strings.Contains(out, "need the docker runtime") {
			t.Errorf("moat %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
