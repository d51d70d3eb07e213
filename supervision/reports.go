package supervision

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"moat/report"
	"moat/supervisor"
)

// Reports runs the scheduled reports while the stack runs.
type Reports struct {
	// Definitions are the [[report]]s; one without a schedule runs on
	// demand only. A schedule is parsed by report.ParseSchedule, as config
	// validation does: one that does not parse is Run's error.
	Definitions []report.Definition
	// Run runs one report and says how it went (the runner records its
	// outcome). Its context ends when the scheduler stops, which waits for
	// it to return.
	Run func(ctx context.Context, d report.Definition)
	// Clock is the scheduler's time (nil: the wall clock).
	Clock supervisor.Clock
}

// schedule is one scheduled report and its next run.
type schedule struct {
	def   report.Definition
	sched interface{ Next(time.Time) time.Time } // report.ParseSchedule's
	next  time.Time                              // zero: never again
}

// schedules parses the schedules of the reports that have one.
func (r Reports) schedules() ([]*schedule, error) {
	var out []*schedule
	for _, d := range r.Definitions {
		if d.Schedule == "" {
			continue
		}
		s, err := report.ParseSchedule(d.Schedule)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", d.Name, err)
		}
		out = append(out, &schedule{def: d, sched: s})
	}
	return out, nil
}

// run runs each report when it falls due until ctx ends, then waits for the
// runs under way. A report still running when it falls due again skips
// that run.
func (r Reports) run(ctx context.Context, schedules []*schedule, out io.Writer) error {
	clock := r.Clock
	if clock == nil {
		clock = supervisor.RealClock{}
	}
	var (
		running sync.WaitGroup
		mu      sync.Mutex
		busy    = map[string]bool{}
	)
	defer running.Wait()
	start := func(d report.Definition) {
		mu.Lock()
		defer mu.Unlock()
		if busy[d.Name] {
			say(out, "report %s: still running at its next scheduled time; that run is skipped", d.Name)
			return
		}
		busy[d.Name] = true
		running.Add(1)
		go func() {
			defer running.Done()
			defer func() { mu.Lock(); delete(busy, d.Name); mu.Unlock() }()
			r.Run(ctx, d)
		}()
	}
	now := clock.Now()
	for _, s := range schedules {
		s.next = s.sched.Next(now)
	}
	fire := make(chan struct{}, 1)
	for {
		next, ok := earliest(schedules)
		if !ok { // no schedule has a next time (30 February)
			<-ctx.Done()
			return nil
		}
		t := clock.AfterFunc(next.Sub(clock.Now()), func() {
			select {
			case fire <- struct{}{}:
			default:
			}
		})
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-fire:
		}
		now := clock.Now()
		for _, s := range due(schedules, now) {
			s.next = s.sched.Next(now)
			start(s.def)
		}
	}
}

// earliest is the soonest next run.
func earliest(schedules []*schedule) (time.Time, bool) {
	var t time.Time
	for _, s := range schedules {
		if !s.next.IsZero() && (t.IsZero() || s.next.Before(t)) {
			t = s.next
		}
	}
	return t, !t.IsZero()
}

// due are the schedules whose next run is at or before now.
func due(schedules []*schedule, now time.Time) []*schedule {
	var out []*schedule
	for _, s := range schedules {
		if !s.next.IsZero() && !s.next.After(now) {
			out = append(out, s)
		}
	}
	return out
}
