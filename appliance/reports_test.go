package appliance

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"moat/report"
	"moat/state"
)

// Scheduled reports run on their schedule while moat supervises, and a
// report without a schedule does not run by itself.
func TestScheduleReports(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan string, 10)
	var manual atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- ScheduleReports(ctx, []report.Definition{
			{Name: "often", Schedule: "@every 1s"},
			{Name: "by-hand"},
		}, func(_ context.Context, d report.Definition) {
			if d.Name == "by-hand" {
				manual.Add(1)
			}
			ran <- d.Name
		})
	}()
	select {
	case name := <-ran:
		if name != "often" {
			t.Errorf("ran %q", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the @every 1s report did not run within 10s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if manual.Load() != 0 {
		t.Error("a report without a schedule ran by itself")
	}
}

func TestScheduleReportsRefusesABadSchedule(t *testing.T) {
	err := ScheduleReports(context.Background(), []report.Definition{{Name: "x", Schedule: "every tuesday"}}, func(context.Context, report.Definition) {})
	if err == nil {
		t.Fatal("a bad schedule was accepted")
	}
}

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
