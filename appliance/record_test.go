package appliance

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/appliance/config"
	"moat/state"
	"moat/supervisor"
)

func openStateStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.Open(filepath.Join(t.TempDir(), state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The recorder stores every transition and the service's status row;
// failures and crash loops are error events, restarts and unhealthy probes
// warnings, and the rest no event at all.
func TestRecorderWritesTransitionsRowsAndEvents(t *testing.T) {
	ctx := context.Background()
	st := openStateStore(t)
	r := Recorder{Store: st}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		to       supervisor.Phase
		reason   string
		severity string // "" = no event
	}{
		{supervisor.PhaseStarting, "created", ""},
		{supervisor.PhaseHealthy, "probe passed", ""},
		{supervisor.PhaseUnhealthy, "probe failed 3 times", state.SeverityWarn},
		{supervisor.PhaseRestarting, "exited with 1", state.SeverityWarn},
		{supervisor.PhaseCrashLooping, "5 failures in 2m", state.SeverityError},
		{supervisor.PhaseFailed, "gave up", state.SeverityError},
		{supervisor.PhaseHealthy, "probe passed", ""},
	}
	from := supervisor.PhasePending
	for i, s := range steps {
		tr := supervisor.Transition{Time: at.Add(time.Duration(i) * time.Second), Service: "web", From: from, To: s.to, Reason: s.reason,
			InstanceID: "web-1", Restarts: i, Health: supervisor.HealthHealthy, LastProbe: "ok " + s.reason}
		if err := r.RecordTransition(ctx, tr); err != nil {
			t.Fatal(err)
		}
		row, ok, err := st.Service(ctx, "web")
		if err != nil || !ok {
			t.Fatalf("no row for web: %v", err)
		}
		if row.Phase != s.to || row.Reason != s.reason || row.Restarts != i || row.InstanceID != "web-1" || row.LastProbe != "ok "+s.reason || row.Health != supervisor.HealthHealthy {
			t.Errorf("after %s: row %+v", s.to, row)
		}
		if !row.UpdatedAt.Equal(tr.Time) {
			t.Errorf("after %s: row updated at %s, want the transition's time %s", s.to, row.UpdatedAt, tr.Time)
		}
		if row.Desired {
			t.Error("a service moat only observed is desired")
		}
		from = s.to
	}
	trs, err := st.Transitions(ctx, "web", 0)
	if err != nil || len(trs) != len(steps) {
		t.Fatalf("%d transitions stored (%v), want %d", len(trs), err, len(steps))
	}
	if newest := trs[0]; newest.From != string(supervisor.PhaseFailed) || newest.To != string(supervisor.PhaseHealthy) || !newest.At.Equal(at.Add(6*time.Second)) {
		t.Errorf("newest transition %+v", newest)
	}
	events, err := st.Events(ctx, state.EventFilter{Service: "web"})
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, e := range events {
		got = append(got, e.Severity+" "+e.Kind+" "+e.Message)
	}
	for i := len(steps) - 1; i >= 0; i-- { // newest first
		if s := steps[i]; s.severity != "" {
			want = append(want, s.severity+" service."+string(s.to)+" "+s.reason)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %q\nwant %q", got, want)
	}
}

// A recorder with a WriteWatch reports a broken database once, is silent
// while it stays broken, and says when writes work again.
func TestRecorderWithWriteWatch(t *testing.T) {
	ctx := context.Background()
	broken, err := state.Open(filepath.Join(t.TempDir(), state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	var reports []string
	w := &WriteWatch{Report: func(msg string) { reports = append(reports, msg) }}
	tr := supervisor.Transition{Service: "web", From: supervisor.PhasePending, To: supervisor.PhaseStarting, Time: time.Now()}
	if err := (Recorder{Store: broken, Writes: w}).RecordTransition(ctx, tr); err == nil || !strings.Contains(err.Error(), "supervision goes on") {
		t.Errorf("the first failed write: %v", err)
	}
	if err := (Recorder{Store: broken}).RecordTransition(ctx, tr); err == nil {
		t.Error("a recorder without a watch hides a failed write")
	}
	for range 3 {
		if err := (Recorder{Store: broken, Writes: w}).RecordTransition(ctx, tr); err != nil {
			t.Errorf("a repeated failure was reported again: %v", err)
		}
	}
	if len(reports) != 0 {
		t.Fatalf("reported while failing: %v", reports)
	}
	if err := (Recorder{Store: openStateStore(t), Writes: w}).RecordTransition(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || !strings.Contains(reports[0], "state writes work again: 4 failed") {
		t.Errorf("recovery reports %q", reports)
	}
}

// The plan becomes the desired state: every service with its image, config
// hash and dependencies; a service dropped from the plan stays visible as
// not desired.
func TestSetDesiredRecordsThePlan(t *testing.T) {
	ctx := context.Background()
	st := openStateStore(t)
	_, _, topo := provisionedPlan(t, "[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\ndepends_on = [\"trino-coordinator\", \"init:completed\"]\n[[service]]\nname = \"init\"\nimage = \"busybox:1\"\nrestart = \"never\"\n")
	if err := SetDesired(ctx, st, topo); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(topo.Services) {
		t.Fatalf("%d rows for %d planned services", len(rows), len(topo.Services))
	}
	for _, row := range rows {
		spec := mustService(t, topo, row.Name)
		planned := supervisor.SpecStatus(spec)
		if !row.Desired || row.Image != spec.Image || row.ConfigHash != spec.ConfigHash() ||
			!slices.Equal(row.DependsOn, planned.DependsOn) || !slices.Equal(row.Ports, spec.Ports) {
			t.Errorf("%s: row %+v; want image %s, hash %s, deps %v, ports %v", row.Name, row, spec.Image, spec.ConfigHash(), planned.DependsOn, spec.Ports)
		}
	}
	web, _, _ := st.Service(ctx, "web")
	if want := []supervisor.Dependency{{Service: config.ServiceCoordinator, Condition: supervisor.Healthy}, {Service: "init", Condition: supervisor.Completed}}; !slices.Equal(web.DependsOn, want) {
		t.Errorf("web depends on %v, want %v", web.DependsOn, want)
	}
	if nb, _, _ := st.Service(ctx, config.ServiceNotebook); len(nb.Ports) != 2 || nb.Ports[0].HostPort != 8888 {
		t.Errorf("the notebook's planned ports %v", nb.Ports)
	}
	// The next plan without init.
	next := topo
	next.Services = slices.DeleteFunc(slices.Clone(topo.Services), func(s supervisor.Spec) bool { return s.Name == "init" })
	if err := SetDesired(ctx, st, next); err != nil {
		t.Fatal(err)
	}
	init, ok, err := st.Service(ctx, "init")
	if err != nil || !ok || init.Desired {
		t.Errorf("a service dropped from the plan: %+v, %v, %v", init, ok, err)
	}
	if web, _, _ := st.Service(ctx, "web"); !web.Desired {
		t.Error("web is no longer desired")
	}
}
