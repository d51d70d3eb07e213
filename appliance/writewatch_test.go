package appliance

import (
	"errors"
	"strings"
	"testing"
)

// A run of failed writes is reported once (the first failure's error),
// the failures after it are silent, and the first success after them
// reports the recovery once with the count.
func TestWriteWatchReportsARunOnce(t *testing.T) {
	var reports []string
	w := &WriteWatch{Report: func(msg string) { reports = append(reports, msg) }}
	full := errors.New("database or disk is full")
	if err := w.Note(nil); err != nil || len(reports) != 0 {
		t.Fatalf("a success before any failure: %v %v", err, reports)
	}
	err := w.Note(full)
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "further failures are not reported") {
		t.Errorf("the first failure: %v", err)
	}
	for i := 0; i < 5; i++ {
		if err := w.Note(full); err != nil {
			t.Errorf("failure %d after the first was reported again: %v", i+2, err)
		}
	}
	if len(reports) != 0 {
		t.Errorf("reported while failing: %v", reports)
	}
	w.Note(nil)
	w.Note(nil)
	if len(reports) != 1 || !strings.Contains(reports[0], "state writes work again: 6 failed") || !strings.Contains(reports[0], "database or disk is full") {
		t.Errorf("recovery reports %q, want one naming the 6 failures and the first error", reports)
	}
	if err := w.Note(full); err == nil {
		t.Error("a new run of failures after the recovery is not reported")
	}
}
