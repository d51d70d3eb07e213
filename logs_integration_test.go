package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// `moat logs --since` and `--timestamps` on the Docker runtime.
func TestLogsSinceAndTimestamps(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")

	out := s.mustMoat("logs", "db", "--timestamps", "--tail", "5")
	if !strings.Contains(out, "db: serving HTTP") {
		t.Fatalf("logs db --timestamps:\n%s", out)
	}
	var serving time.Time // when db wrote its start-up line
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		stamp, _, _ := strings.Cut(line, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || ts.After(time.Now()) {
			t.Errorf("line without a valid timestamp (%v): %q", err, line)
		}
		if strings.Contains(line, "db: serving HTTP") {
			serving = ts
		}
	}
	if out := s.mustMoat("logs", "db", "cache", "-t"); !strings.Contains(out, "cache | 20") {
		t.Errorf("logs db cache -t: no prefixed, timestamped line:\n%s", out)
	}

	if out := s.mustMoat("logs", "db", "--since", "1h"); !strings.Contains(out, "db: serving HTTP") {
		t.Errorf("logs --since 1h lost the start-up line:\n%s", out)
	}
	// Just after the start-up line: already past, as that line was read
	// back from the logs.
	cutoff := serving.Add(time.Millisecond)
	since := cutoff.UTC().Format(time.RFC3339Nano)
	if out := s.mustMoat("logs", "db", "--since", since); strings.Contains(out, "serving HTTP") {
		t.Errorf("logs --since %s shows a line written before it:\n%s", since, out)
	}
	if out := s.mustMoat("logs", "db", "--since", "1ms"); strings.Contains(out, "serving HTTP") {
		t.Errorf("logs --since 1ms shows the start-up line:\n%s", out)
	}

	for _, bad := range []string{"yesterday", "-5m"} {
		out, err := s.moat("logs", "db", "--since", bad)
		if code := exitStatus(err); code != 2 || !strings.Contains(out, "invalid --since") {
			t.Errorf("logs --since %s: exit %d:\n%s", bad, code, out)
		}
	}
}

// exitStatus is the exit code behind err from exec (0 for nil, -1 when the
// command did not run to an exit).
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
