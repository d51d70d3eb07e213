package state

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// durabilityEnv, when set, turns the test binary into the writer child of
// TestEventsSurviveSIGKILL; it holds the database path.
const durabilityEnv = "MOAT_STATE_DURABILITY_DB"

// idPrefix marks the child's id lines, apart from anything the test
// framework prints.
const idPrefix = "event-id "

// reportedEvents is how many reported ids the parent reads before the kill.
const reportedEvents = 200

// TestEventsSurviveSIGKILL re-executes the test binary as a child that
// records events as fast as it can and prints each id only after
// RecordEvent returned. The parent reads ids, then SIGKILLs the child while
// it is still writing, re-opens the database and finds every reported event.
func TestEventsSurviveSIGKILL(t *testing.T) {
	if path := os.Getenv(durabilityEnv); path != "" {
		writeEventsUntilKilled(path)
		return
	}
	path := t.TempDir() + "/" + FileName
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventsSurviveSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), durabilityEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reported := readReportedIDs(t, bufio.NewScanner(out), reportedEvents)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the child exited by itself before the kill: the test proved nothing")
	}

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	assertEventsPresent(t, s, reported)
	var check string
	if err := s.r.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after SIGKILL = %q, %v", check, err)
	}
}

// writeEventsUntilKilled is the child: record, then report, forever (bounded
// so that an orphaned child ends; a write to a closed pipe also ends it).
func writeEventsUntilKilled(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := range 1_000_000 {
		id, err := s.RecordEvent(context.Background(), Event{Severity: SeverityInfo, Kind: "test.durable", Message: strconv.Itoa(i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if _, err := fmt.Fprintf(os.Stdout, "%s%d\n", idPrefix, id); err != nil {
			os.Exit(3)
		}
	}
	os.Exit(4)
}

// readReportedIDs reads n ids from the child's stdout.
func readReportedIDs(t *testing.T, sc *bufio.Scanner, n int) []int64 {
	t.Helper()
	var ids []int64
	for len(ids) < n && sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), idPrefix)
		if !ok {
			continue
		}
		id, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			t.Fatalf("child printed %q, want an event id", sc.Text())
		}
		ids = append(ids, id)
	}
	if len(ids) < n {
		t.Fatalf("child reported %d ids before its output ended (%v), want %d", len(ids), sc.Err(), n)
	}
	return ids
}

func assertEventsPresent(t *testing.T, s *Store, ids []int64) {
	t.Helper()
	evs, err := s.Events(context.Background(), EventFilter{Kind: "test.durable"})
	if err != nil {
		t.Fatal(err)
	}
	stored := make(map[int64]bool, len(evs))
	for _, e := range evs {
		stored[e.ID] = true
	}
	for _, id := range ids {
		if !stored[id] {
			t.Errorf("event %d was reported by the child but is not in the database", id)
		}
	}
	t.Logf("%d events reported, %d stored (the child may commit a few more before the kill lands)", len(ids), len(evs))
}
