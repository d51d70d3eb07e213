package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// shutdownTopo is db ← app ← web, web's sidecar in its namespace, and a
// one-shot that app needs completed.
func shutdownTopo() supervisor.Topology {
	sidecar := svc("web-sidecar")
	sidecar.ShareNetworkWith = "web"
	migrate := svc("migrate", on("db", supervisor.Healthy))
	migrate.Restart = supervisor.RestartOnFailure
	return supervisor.Topology{
		Project:  project,
		Networks: []supervisor.Network{{Name: "mesh"}},
		Volumes:  []supervisor.Volume{{Name: "data"}},
		Services: []supervisor.Spec{
			probed("db"), migrate,
			probed("app", on("db", supervisor.Healthy), on("migrate", supervisor.Completed)),
			svc("web", on("app", supervisor.Healthy)), sidecar,
		},
	}
}

// TestShutdownOrder: Down stops what topo does not know first, then the
// services in reverse dependency order, each level after the one before
// has gone; it removes networks and keeps volumes unless asked.
func TestShutdownOrder(t *testing.T) {
	for _, volumes := range []bool{false, true} {
		t.Run(map[bool]string{false: "keep volumes", true: "remove volumes"}[volumes], func(t *testing.T) {
			f := newFake(t, true)
			topo := shutdownTopo()
			errc := f.upAsync(topo)
			f.w.await("migrate", supervisor.PhaseRunning)
			if err := f.rt.Die("migrate-1", 0); err != nil {
				t.Fatal(err)
			}
			if err := f.result(errc); err != nil {
				t.Fatal(err)
			}
			stray := f.rt.Seed(project, svc("stray"), running) // left by someone else
			n := len(f.rt.Calls())
			if err := f.eng.Down(context.Background(), supervisor.DownOptions{Volumes: volumes}); err != nil {
				t.Fatal(err)
			}
			want := []string{
				"stop " + stray, "remove " + stray,
				"stop web-sidecar-1", "remove web-sidecar-1",
				"stop web-1", "remove web-1",
				"stop app-1", "remove app-1",
				"remove migrate-1", // completed: nothing to stop
				"stop db-1", "remove db-1",
				"remove-network mesh",
			}
			if volumes {
				want = append(want, "remove-volume data")
			}
			if got := f.rt.Calls()[n:]; !slices.Equal(got, want) {
				t.Errorf("Down's calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			for _, s := range topo.Services {
				if st := f.status(s.Name); st.Phase != supervisor.PhaseStopped || st.InstanceID != "" {
					t.Errorf("%s after Down: %s (%s) as %q", s.Name, st.Phase, st.Reason, st.InstanceID)
				}
			}
			if f.clk.Pending() != 0 {
				t.Errorf("%d timers pending after Down: nothing is restarted", f.clk.Pending())
			}
		})
	}
}

// TestPreStopDrains: a service whose PreStop makes it exit by itself is not
// sent a stop signal; one whose PreStop fails is stopped anyway, and the
// error is reported.
func TestPreStopDrains(t *testing.T) {
	f := newFake(t, true)
	drained, failing := probed("worker"), probed("other")
	drained.PreStop = func(ctx context.Context) error { return f.rt.Die("worker-1", 0) }
	failing.PreStop = func(ctx context.Context) error { return errBoom }
	f.mustUp(drained, failing)
	err := f.eng.Down(context.Background(), supervisor.DownOptions{})
	if err == nil || !strings.Contains(err.Error(), "other: graceful shutdown request failed (stopping it anyway): boom") || !errors.Is(err, errBoom) {
		t.Errorf("Down: %v", err)
	}
	if stops := f.calls("stop "); !slices.Equal(stops, []string{"stop other-1"}) {
		t.Errorf("stops %v, want only other's (worker drained and exited)", stops)
	}
	if inv, _ := f.rt.List(context.Background(), project); len(inv.Instances) != 0 {
		t.Errorf("left after Down: %+v", inv.Instances)
	}
}

// TestDownReportsEveryError: a failed stop or removal does not stop Down
// from taking down the rest, and each is reported.
func TestDownReportsEveryError(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(probed("db"), svc("app", on("db", supervisor.Healthy)))
	f.rt.Fail(supervisortest.OpStop, "app", errBoom)
	f.rt.Fail(supervisortest.OpRemove, "db", errBoom)
	err := f.eng.Down(context.Background(), supervisor.DownOptions{})
	for _, w := range []string{"stopping app: supervisortest: stop app: boom", "removing db: supervisortest: remove db: boom"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Down: %v\nwant it to contain %q", err, w)
		}
	}
	if got := f.calls("remove "); !slices.Equal(got, []string{"remove app-1", "remove db-1 (failed)"}) {
		t.Errorf("removes %v", got)
	}
}
