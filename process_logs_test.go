package main

import (
	"fmt"
	"strings"
	"testing"

	"moat/internal/testenv"
)

// The process runtime records no time per log line: `moat logs --since`
// and `--timestamps` refuse in one line saying so, once even for several
// services, while plain `moat logs` works.
func TestProcessLogsRefuseTimes(t *testing.T) {
	workload := buildWorkload(t)
	a, b := testenv.FreePort(t), testenv.FreePort(t)
	run := processStack(t, "proc-logs", fmt.Sprintf(`
[[service]]
name = "a"
image = %q
command = ["-name", "a", "-listen", "127.0.0.1:%d"]
health = [%q, "probe", "http://127.0.0.1:%d/health"]
health_interval = "100ms"
[[service]]
name = "b"
image = %q
command = ["-name", "b", "-listen", "127.0.0.1:%d"]
`, workload, a, workload, a, workload, b))
	// up -d returns once a is healthy: it answers, so it has logged that
	// it serves (a started process may not have written a line yet).
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
