package appliance

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"moat/report"
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
