package appliance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"moat/state"
	"moat/supervisor"
)

// Recorder stores the supervisor's transitions in moat's state database:
// the transition itself, the service's observed row, and an event for the
// ones a user cares about (failures and restarts).
type Recorder struct {
	Store *state.Store
	// Writes, when set, reports a run of failed writes (a full disk) once
	// instead of once per transition.
	Writes *WriteWatch
}

var _ supervisor.Recorder = Recorder{}

func (r Recorder) RecordTransition(ctx context.Context, t supervisor.Transition) error {
	err := r.record(ctx, t)
	if r.Writes != nil {
		return r.Writes.Note(err)
	}
	return err
}

// WriteWatch turns a run of failed state writes (a full disk, a read-only
// file system) into two reports: the first failure, and the first success
// after it with the count of writes lost in between. A supervisor recording
// every transition into a failing database thus neither spams its log nor
// spins; supervision goes on regardless.
type WriteWatch struct {
	// Report gets the recovery message (the first failure is Note's error).
	Report func(msg string)

	mu     sync.Mutex
	failed int       // writes failed since the last success
	first  error     // the first of them
	since  time.Time // when it failed
}

// Note takes the outcome of one write. It returns err for the first failure
// of a run, saying that further ones will not be reported, and nil for the
// failures after it; the first success after a run calls Report.
func (w *WriteWatch) Note(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err != nil && w.failed == 0:
		w.failed, w.first, w.since = 1, err, time.Now()
		return fmt.Errorf("%w (state writes are failing; supervision goes on, and further failures are not reported until writes work again)", err)
	case err != nil:
		w.failed++
		return nil
	case w.failed > 0:
		msg := fmt.Sprintf("state writes work again: %d failed from %s to %s (the first: %v)",
			w.failed, w.since.Format(time.RFC3339), time.Now().Format(time.RFC3339), w.first)
		w.failed, w.first = 0, nil
		if w.Report != nil {
			w.Report(msg)
		}
	}
	return nil
}

func (r Recorder) record(ctx context.Context, t supervisor.Transition) error {
	if err := r.Store.RecordTransition(ctx, state.Transition{
		Service: t.Service, From: string(t.From), To: string(t.To), Reason: t.Reason, At: t.Time,
	}); err != nil {
		return err
	}
	if err := r.Store.UpdateObserved(ctx, t.Status(), t.Time); err != nil {
		return err
	}
	sev := ""
	switch t.To {
	case supervisor.PhaseFailed, supervisor.PhaseCrashLooping:
		sev = state.SeverityError
	case supervisor.PhaseRestarting, supervisor.PhaseUnhealthy:
		sev = state.SeverityWarn
	}
	if sev == "" {
		return nil
	}
	_, err := r.Store.RecordEvent(ctx, state.Event{
		At: t.Time, Severity: sev, Kind: "service." + string(t.To), Service: t.Service, Message: t.Reason,
	})
	return err
}

// SetDesired records topo's services as the desired state.
func SetDesired(ctx context.Context, st *state.Store, topo supervisor.Topology) error {
	ds := make([]state.DesiredService, 0, len(topo.Services))
	for _, s := range topo.Services {
		planned := supervisor.SpecStatus(s)
		ds = append(ds, state.DesiredService{Name: s.Name, Image: s.Image, ConfigHash: s.ConfigHash(),
			DependsOn: planned.DependsOn, Ports: planned.Ports})
	}
	return st.SetDesired(ctx, ds)
}

// CloseInterrupted marks as failed the runs and report runs that an earlier
// moat left running (it was stopped or killed mid-way), so that the history
// tells the truth. Only the supervising moat calls it: it holds the lock, so
// nothing else is running.
func CloseInterrupted(ctx context.Context, st *state.Store) error {
	const why = "interrupted: moat stopped or was killed before it finished"
	runs, err := st.Runs(ctx, 100)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Status == state.StatusRunning {
			if err := st.EndRun(ctx, r.ID, state.StatusFailed, why); err != nil {
				return err
			}
		}
	}
	reports, err := st.ReportRuns(ctx, "", 100)
	if err != nil {
		return err
	}
	for _, r := range reports {
		if r.Status == state.StatusRunning {
			if err := st.EndReportRun(ctx, r.ID, state.ReportRunEnd{Status: state.StatusFailed, Error: why}); err != nil {
				return err
			}
		}
	}
	return nil
}
