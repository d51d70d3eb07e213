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

// processStack writes a moat.toml of [[service]]s (TOML after the common
// header) run as local processes, and returns a function running moat on it
// with MOAT_RUNTIME=process; the stack is taken down when the test ends.
func processStack(t *testing.T, project, services string) func(args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
[appliance]
project = %q
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
`, project, filepath.Join(dir, "data")) + services
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
	return run
}

// buildWorkload builds the test workload for the process runtime.
func buildWorkload(t *testing.T) string {
	t.Helper()
	workload := filepath.Join(t.TempDir(), "workload")
	if out, err := exec.Command("go", "build", "-o", workload, "./internal/workload").CombinedOutput(); err != nil {
		t.Fatalf("build workload: %v\n%s", err, out)
	}
	return workload
}

// The same moat on a host without Docker: MOAT_RUNTIME=process runs the
// [[service]] entries as local processes (image = the executable).
func TestProcessRuntimeStack(t *testing.T) {
	workload := buildWorkload(t)
	db, api := testenv.FreePort(t), testenv.FreePort(t)
	moat := processStack(t, "proc-test", fmt.Sprintf(`
[[service]]
name = "db"
image = %q
command = ["-name", "db", "-listen", "127.0.0.1:%d", "-ready-after", "300ms"]
health = [%q, "probe", "http://127.0.0.1:%d/health"]
health_interval = "100ms"
[[service]]
name = "api"
image = %q
command = ["-name", "api", "-listen", "127.0.0.1:%d", "-depends", "http://127.0.0.1:%d/health"]
health = [%q, "probe", "http://127.0.0.1:%d/health"]
health_interval = "100ms"
depends_on = ["db"]
`, workload, db, workload, db, workload, api, db, workload, api))
	run := func(args ...string) string {
		t.Helper()
		out, err := moat(args...)
		if err != nil {
			t.Fatalf("moat %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := run("up", "-d"); !strings.Contains(out, "all 2 services are up") {
		t.Fatalf("up:\n%s", out)
	}
	if err := exec.Command(workload, "probe", fmt.Sprintf("http://127.0.0.1:%d/health", api)).Run(); err != nil {
		t.Errorf("api is not serving after up: %v", err)
	}
	if out := run("status"); !strings.Contains(out, "api") || strings.Count(out, "healthy") < 4 {
		t.Errorf("status:\n%s", out)
	}
	if out := run("logs", "api", "--tail", "5"); !strings.Contains(out, "peer http://127.0.0.1:") {
		t.Errorf("logs:\n%s", out)
	}
	run("down")
	if err := exec.Command(workload, "probe", fmt.Sprintf("http://127.0.0.1:%d/health", api)).Run(); err == nil {
		t.Error("api still answers after down")
	}
}
