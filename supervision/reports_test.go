package supervision

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"moat/report"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// Thursday 1 January 2026, midnight.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A report runs when its schedule falls due, and again at its next time; a
// report without a schedule never runs by itself.
func TestScheduledReportRunsWhenDue(t *testing.T) {
	clk := supervisor.NewFakeClock(epoch)
	ran := newRecord()
	r := start(t, Stack{Reports: Reports{
		Definitions: []report.Definition{{Name: "daily", Schedule: "0 6 * * *"}, {Name: "by-hand"}},
		Run: func(_ context.Context, d report.Definition) {
			ran.add(d.Name + " " + clk.Now().Format("Jan 2 15:04"))
		},
		Clock: clk,
	}})
	supervisortest.AwaitTimers(t, clk, 1)
	clk.Advance(6*time.Hour - time.Minute)
	if clk.Pending() != 1 {
		t.Fatalf("the timer fired at 05:59 for a 06:00 report")
	}
	clk.Advance(time.Minute)
	ran.awaitItem(t, "daily Jan 1 06:00")
	supervisortest.AwaitTimers(t, clk, 1) // the next run, armed again
	clk.Advance(24 * time.Hour)
	ran.awaitItem(t, "daily Jan 2 06:00")
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	for _, item := range ran.all() {
		if strings.HasPrefix(item, "by-hand") {
			t.Errorf("a report without a schedule ran by itself: %q", ran.all())
		}
	}
}

// A schedule that does not parse is Run's error, before anything starts.
func TestBadScheduleIsAnError(t *testing.T) {
	upCalled := false
	err := Run(context.Background(), Stack{
		Up:      func(context.Context) error { upCalled = true; return nil },
		Reports: Reports{Definitions: []report.Definition{{Name: "x", Schedule: "every tuesday"}}, Run: func(context.Context, report.Definition) {}},
	})
	if err == nil || !strings.HasPrefix(err.Error(), `scheduled reports: report x: schedule = "every tuesday"`) {
		t.Fatalf("Run = %v, want the schedule's error", err)
	}
	if upCalled {
		t.Error("the stack came up despite a bad schedule")
	}
}

// A report under way when the scheduler stops sees its context end, and
// Run returns only once it has finished.
func TestRunningReportFinishesBeforeRunReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := supervisor.NewFakeClock(epoch)
		started, release := make(chan struct{}), make(chan struct{})
		var finished atomic.Bool
		r := start(t, Stack{Reports: Reports{
			Definitions: []report.Definition{{Name: "slow", Schedule: "@every 1h"}},
			Run: func(ctx context.Context, d report.Definition) {
				close(started)
				<-ctx.Done()
				<-release
				finished.Store(true)
			},
			Clock: clk,
		}})
		supervisortest.AwaitTimers(t, clk, 1)
		clk.Advance(time.Hour)
		<-started
		r.cancel()
		synctest.Wait() // everything is blocked: the report on release
		select {
		case err := <-r.errc:
			t.Fatalf("Run returned (%v) while a report was running", err)
		default:
		}
		close(release)
		if err := <-r.errc; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if !finished.Load() {
			t.Error("Run returned before the report finished")
		}
	})
}

// A report still running at its next time skips that run and says so.
func TestReportStillRunningSkipsItsNextRun(t *testing.T) {
	clk := supervisor.NewFakeClock(epoch)
	out, release := newOutput(), make(chan struct{})
	var runs atomic.Int32
	r := start(t, Stack{Out: out, Reports: Reports{
		Definitions: []report.Definition{{Name: "slow", Schedule: "@every 1h"}},
		Run: func(ctx context.Context, d report.Definition) {
			runs.Add(1)
			<-release
		},
		Clock: clk,
	}})
	supervisortest.AwaitTimers(t, clk, 1)
	clk.Advance(time.Hour)
	supervisortest.AwaitTimers(t, clk, 1)
	clk.Advance(time.Hour)
	out.awaitLine(t, "report slow: still running at its next scheduled time; that run is skipped")
	close(release)
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}
