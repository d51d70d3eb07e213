package supervisor_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"moat/supervisor"
)

var (
	running = supervisor.Instance{State: supervisor.StateRunning}
	healthy = supervisor.Instance{State: supervisor.StateRunning, Health: supervisor.HealthHealthy}
	drifted = supervisor.Instance{State: supervisor.StateRunning, ConfigHash: "0ld0ld0ld0ld0ld0"}
)

func exited(code int) supervisor.Instance {
	return supervisor.Instance{State: supervisor.StateExited, ExitCode: code}
}

// TestReconcile: Up adopts what matches, replaces what drifted, removes
// orphans and duplicates, and creates only what is missing.
func TestReconcile(t *testing.T) {
	web, db := probed("web", on("db", supervisor.Healthy)), probed("db")
	sidecar := svc("web-sidecar")
	sidecar.ShareNetworkWith = "web"
	oneShot := svc("migrate")
	oneShot.Restart = supervisor.RestartOnFailure
	type seed struct {
		spec supervisor.Spec
		in   supervisor.Instance
	}
	for _, tc := range []struct {
		name  string
		seeds []seed
		topo  []supervisor.Spec
		// calls are the runtime's changes, in any order; removes come
		// before any create.
		calls []string
		// ids are the instances the services run as afterwards.
		ids map[string]string
	}{
		{
			name:  "nothing there: everything created",
			topo:  []supervisor.Spec{db, web},
			calls: []string{"create db", "start db-1", "create web", "start web-1"},
			ids:   map[string]string{"db": "db-1", "web": "web-1"},
		},
		{
			name:  "matching and running: adopted, not touched",
			seeds: []seed{{db, healthy}, {web, healthy}},
			topo:  []supervisor.Spec{db, web},
			ids:   map[string]string{"db": "db-1", "web": "web-1"},
		},
		{
			name:  "config hash drifted: replaced",
			seeds: []seed{{db, healthy}, {web, drifted}},
			topo:  []supervisor.Spec{db, web},
			calls: []string{"remove web-1", "create web", "start web-2"},
			ids:   map[string]string{"db": "db-1", "web": "web-2"},
		},
		{
			name:  "orphans of services no longer declared: removed",
			seeds: []seed{{probed("old"), running}, {db, healthy}, {svc("older"), exited(1)}},
			topo:  []supervisor.Spec{db},
			calls: []string{"remove old-1", "remove older-1"},
			ids:   map[string]string{"db": "db-1"},
		},
		{
			name:  "two instances of one service: the first adopted, the other removed",
			seeds: []seed{{db, healthy}, {db, healthy}},
			topo:  []supervisor.Spec{db},
			calls: []string{"remove db-2"},
			ids:   map[string]string{"db": "db-1"},
		},
		{
			name:  "matching but exited: started again, not re-created",
			seeds: []seed{{db, exited(1)}},
			topo:  []supervisor.Spec{db},
			calls: []string{"start db-1"},
			ids:   map[string]string{"db": "db-1"},
		},
		{
			name:  "a one-shot that completed: not run again",
			seeds: []seed{{oneShot, exited(0)}},
			topo:  []supervisor.Spec{oneShot},
			ids:   map[string]string{"migrate": "migrate-1"},
		},
		{
			name:  "a sidecar whose namespace peer is replaced: replaced too",
			seeds: []seed{{db, healthy}, {web, drifted}, {sidecar, running}},
			topo:  []supervisor.Spec{db, web, sidecar},
			calls: []string{"remove web-1", "remove web-sidecar-1", "create web", "start web-2", "create web-sidecar peer=web-2", "start web-sidecar-2"},
			ids:   map[string]string{"db": "db-1", "web": "web-2", "web-sidecar": "web-sidecar-2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, true)
			for _, s := range tc.seeds {
				f.rt.Seed(project, s.spec, s.in)
			}
			f.mustUp(tc.topo...)
			calls := f.rt.Calls()
			if got, want := sorted(calls), sorted(tc.calls); !slices.Equal(got, want) {
				t.Errorf("calls (sorted):\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if i := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "create ") }); i >= 0 {
				if slices.ContainsFunc(calls[i:], func(c string) bool { return strings.HasPrefix(c, "remove ") }) {
					t.Errorf("a remove came after a create: %v", calls)
				}
			}
			for name, id := range tc.ids {
				st := f.status(name)
				if st.InstanceID != id {
					t.Errorf("%s runs as %q, want %q", name, st.InstanceID, id)
				}
				if st.Phase != supervisor.PhaseHealthy && st.Phase != supervisor.PhaseRunning && st.Phase != supervisor.PhaseCompleted {
					t.Errorf("%s is %s (%s) after Up", name, st.Phase, st.Reason)
				}
			}
			inv, err := f.rt.List(context.Background(), project)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Instances) != len(tc.ids) {
				t.Errorf("%d instances left, want %d: %+v", len(inv.Instances), len(tc.ids), inv.Instances)
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestReconcileNetworks: networks no longer declared are removed; volumes
// (data) are kept; declared ones are ensured.
func TestReconcileNetworks(t *testing.T) {
	f := newFake(t, true)
	ctx := context.Background()
	for _, n := range []string{"mesh", "gone"} {
		if _, err := f.rt.EnsureNetwork(ctx, project, supervisor.Network{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.rt.EnsureVolume(ctx, project, supervisor.Volume{Name: "old-data"}); err != nil {
		t.Fatal(err)
	}
	db := probed("db")
	db.Networks = []supervisor.Attachment{{Network: "mesh"}, {Network: "trino"}}
	topo := supervisor.Topology{Project: project, Services: []supervisor.Spec{db},
		Networks: []supervisor.Network{{Name: "mesh"}, {Name: "trino"}}, Volumes: []supervisor.Volume{{Name: "data"}}}
	if err := f.eng.Up(ctx, topo); err != nil {
		t.Fatal(err)
	}
	inv, err := f.rt.List(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(inv.Networks, ","); got != "mesh,trino" {
		t.Errorf("networks %s, want mesh,trino (gone removed)", got)
	}
	if got := strings.Join(inv.Volumes, ","); got != "data,old-data" {
		t.Errorf("volumes %s, want data,old-data (volumes are kept)", got)
	}
	f.before("ensure-network trino", "create db")
}

// TestUpTwiceIsIdempotent: a second Up of the same topology changes
// nothing.
func TestUpTwiceIsIdempotent(t *testing.T) {
	f := newFake(t, true)
	db, web := probed("db"), svc("web", on("db", supervisor.Healthy))
	f.mustUp(db, web)
	n := len(f.rt.Calls())
	f.mustUp(db, web)
	if calls := f.rt.Calls(); len(calls) != n {
		t.Errorf("the second Up changed the runtime: %v", calls[n:])
	}
	if st := f.status("web"); st.InstanceID != "web-1" || st.Phase != supervisor.PhaseRunning {
		t.Errorf("web after the second Up: %+v", st)
	}
}

// TestDroppedServiceIsNotRestarted: a service that a later Up no longer
// declares is removed as an orphan, and its exit is not a crash to restart.
func TestDroppedServiceIsNotRestarted(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(svc("a"), svc("b"))
	f.mustUp(svc("a"))
	if !slices.Contains(f.rt.Calls(), "remove b-1") {
		t.Fatalf("b was not removed: %v", f.rt.Calls())
	}
	if err := f.rt.Die("a-1", 1); err != nil { // applied after b's exit
		t.Fatal(err)
	}
	f.w.await("a", supervisor.PhaseRestarting)
	if n := f.clk.Pending(); n != 1 {
		t.Errorf("%d timers pending, want only a's restart", n)
	}
	if got := f.w.phases("b"); !slices.Equal(got, []supervisor.Phase{supervisor.PhaseRunning}) {
		t.Errorf("b's transitions after it was dropped: %v", got)
	}
	for _, st := range f.eng.Status() {
		if st.Name == "b" {
			t.Errorf("b still has a status: %+v", st)
		}
	}
}
