package appliance

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"moat/state"
)

// Runs an earlier moat left running are closed as interrupted, and finished
// ones are left alone.
func TestCloseInterrupted(t *testing.T) {
	ctx := context.Background()
	st, err := state.Open(filepath.Join(t.TempDir(), state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	killed, _ := st.BeginRun(ctx, state.Run{Command: "up"})
	done, _ := st.BeginRun(ctx, state.Run{Command: "up"})
	st.EndRun(ctx, done, state.StatusOK, "")
	half, _ := st.BeginReportRun(ctx, state.ReportRun{Report: "nations", RunKey: "k1", Status: state.StatusRunning})
	if err := CloseInterrupted(ctx, st); err != nil {
		t.Fatal(err)
	}
	runs, _ := st.Runs(ctx, 0)
	for _, r := range runs {
		want := map[int64]string{killed: state.StatusFailed, done: state.StatusOK}[r.ID]
		if r.Status != want || (r.ID == killed && !strings.Contains(r.Error, "interrupted")) {
			t.Errorf("run %d: %s %q", r.ID, r.Status, r.Error)
		}
	}
	rr, _ := st.ReportRuns(ctx, "nations", 0)
	if len(rr) != 1 || rr[0].ID != half || rr[0].Status != state.StatusFailed {
		t.Errorf("report runs %+v", rr)
	}
}
