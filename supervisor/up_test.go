package supervisor_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

var errBoom = errors.New("boom")

// TestRollback: a failed Up removes everything this attempt created, and
// nothing it adopted or found, and reports every error, not only the first.
func TestRollback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults [][2]string // op, service
		// want are patterns the error must match, one per error.
		want []string
		// removed are the instances, networks and volumes rolled back
		// (failed removals are added from faults).
		removed []string
		// left are the instances of this attempt still there.
		left []string
	}{
		{
			name:    "a start fails",
			faults:  [][2]string{{supervisortest.OpStart, "web"}},
			want:    []string{`web: starting: supervisortest: start web: boom`},
			removed: []string{"remove web-1", "remove db-1", "remove cache-1", "remove-network mesh", "remove-volume data"},
		},
		{
			name:    "a create fails; its dependent is not started",
			faults:  [][2]string{{supervisortest.OpCreate, "db"}},
			want:    []string{`db: creating its process: supervisortest: create db: boom`, `not started because of the above: (cache, )?web`},
			removed: []string{"remove web-1", "remove cache-1", "remove-network mesh", "remove-volume data"},
		},
		{
			name: "two roots and a failed rollback: all said",
			faults: [][2]string{
				{supervisortest.OpStart, "db"}, {supervisortest.OpCreate, "cache"}, {supervisortest.OpRemove, "web"},
				{supervisortest.OpRemoveVolume, "data"},
			},
			want: []string{
				`db: starting: supervisortest: start db: boom`,
				`cache: creating its process: supervisortest: create cache: boom`,
				`not started because of the above: web`,
				`rollback: removing web-1: supervisortest: remove web: boom`,
				`rollback: removing volume data: supervisortest: remove-volume data: boom`,
			},
			removed: []string{"remove db-1", "remove-network mesh"},
			left:    []string{"web-1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, true)
			ctx := context.Background()
			if _, err := f.rt.EnsureNetwork(ctx, project, supervisor.Network{Name: "shared"}); err != nil {
				t.Fatal(err)
			}
			keep := probed("keep")
			keepID := f.rt.Seed(project, keep, healthy)
			for _, fault := range tc.faults {
				f.rt.Fail(fault[0], fault[1], errBoom)
			}
			topo := supervisor.Topology{
				Project:  project,
				Networks: []supervisor.Network{{Name: "mesh"}, {Name: "shared"}},
				Volumes:  []supervisor.Volume{{Name: "data"}},
				Services: []supervisor.Spec{keep, probed("db"), svc("cache"), svc("web", on("db", supervisor.Healthy), on("cache", supervisor.Started))},
			}
			err := f.eng.Up(ctx, topo)
			if err == nil {
				t.Fatal("Up succeeded")
			}
			if lines := strings.Count(err.Error(), "\n") + 1; lines != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%v", lines, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !regexp.MustCompile(w).MatchString(err.Error()) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !errors.Is(err, errBoom) {
				t.Errorf("error does not wrap the runtime's: %v", err)
			}
			rolled := f.calls("remove ", "remove-network ", "remove-volume ")
			if got, want := sorted(rolled), sorted(removedAsCalled(tc.removed, tc.faults)); !slices.Equal(got, want) {
				t.Errorf("rolled back %v, want %v", got, want)
			}
			inv, _ := f.rt.List(ctx, project)
			var left []string
			for _, in := range inv.Instances {
				if in.ID != keepID {
					left = append(left, in.ID)
				}
			}
			if !slices.Equal(left, tc.left) {
				t.Errorf("left after rollback: %v, want %v", left, tc.left)
			}
			if !slices.Contains(inv.Networks, "shared") {
				t.Errorf("the network that was there before is gone: %v", inv.Networks)
			}
			if st := f.status("keep"); st.InstanceID != keepID || st.Phase != supervisor.PhaseHealthy {
				t.Errorf("the adopted service after rollback: %+v", st)
			}
		})
	}
}

// removedAsCalled adds the failed removals to removed as Calls shows them.
func removedAsCalled(removed []string, faults [][2]string) []string {
	out := slices.Clone(removed)
	for _, f := range faults {
		switch f[0] {
		case supervisortest.OpRemove:
			out = append(out, "remove "+f[1]+"-1 (failed)")
		case supervisortest.OpRemoveVolume:
			out = append(out, "remove-volume "+f[1]+" (failed)")
		}
	}
	return out
}

// TestStartGatedOnHealth: a dependent starts only once its dependency is
// healthy, and says what it waits on meanwhile.
func TestStartGatedOnHealth(t *testing.T) {
	f := newFake(t, false)
	errc := f.upAsync(supervisor.Topology{Project: project, Services: []supervisor.Spec{probed("db"), svc("app", on("db", supervisor.Healthy))}})
	if tr := f.w.await("app", supervisor.PhaseWaiting); tr.WaitingOn != "db (healthy)" {
		t.Errorf("app waits on %q, want db (healthy)", tr.WaitingOn)
	}
	f.w.await("db", supervisor.PhaseStarting)
	if slices.Contains(f.rt.Calls(), "start app-1") {
		t.Fatalf("app started while db is starting: %v", f.rt.Calls())
	}
	if err := f.rt.SetHealth("db-1", supervisor.HealthHealthy, "ok"); err != nil {
		t.Fatal(err)
	}
	if err := f.result(errc); err != nil {
		t.Fatal(err)
	}
	f.before("start db-1", "start app-1")
	if st := f.status("app"); st.Phase != supervisor.PhaseRunning || st.WaitingOn != "" {
		t.Errorf("app after Up: %+v", st)
	}
}

// TestStartTimeout: a service that does not become healthy within its
// start timeout (on the clock) fails Up with its name, last probe and last
// log lines, and is rolled back.
func TestStartTimeout(t *testing.T) {
	f := newFake(t, false)
	slow := probed("slow")
	slow.StartTimeout = 90 * time.Second
	f.rt.SetLogs("slow", "line 1", "line 2", "line 3")
	errc := f.upAsync(supervisor.Topology{Project: project, Services: []supervisor.Spec{slow}})
	f.w.await("slow", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("slow-1", supervisor.HealthStarting, "connection refused"); err != nil {
		t.Fatal(err)
	}
	f.awaitTimers(1) // the start timeout
	f.clk.Advance(89 * time.Second)
	select {
	case err := <-errc:
		t.Fatalf("Up returned before the timeout: %v", err)
	default:
	}
	f.clk.Advance(time.Second)
	err := f.result(errc)
	for _, w := range []string{
		"slow did not become healthy within 1m30s (it is starting); last probe: connection refused",
		"last 3 log lines of slow:\n    line 1\n    line 2\n    line 3",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Up: %v\nwant it to contain %q", err, w)
		}
	}
	if st := f.status("slow"); st.Phase != supervisor.PhaseFailed {
		t.Errorf("slow after the timeout: %s (%s)", st.Phase, st.Reason)
	}
	if inv, _ := f.rt.List(context.Background(), project); len(inv.Instances) != 0 {
		t.Errorf("not rolled back: %+v", inv.Instances)
	}
}

// TestSidecarSharesItsPeersNamespace: a sidecar is created once its peer
// runs, with the peer's instance; when the peer dies the sidecar is killed
// with it and restarted after it.
func TestSidecarSharesItsPeersNamespace(t *testing.T) {
	f := newFake(t, true)
	app := probed("app")
	sidecar := svc("app-sidecar")
	sidecar.ShareNetworkWith = "app"
	f.mustUp(sidecar, app) // declared first: the order comes from the graph
	f.before("start app-1", "create app-sidecar peer=app-1")

	if err := f.rt.Die("app-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("app", supervisor.PhaseRestarting, "exited with code 1; restarting in 10s")
	f.w.awaitReason("app-sidecar", supervisor.PhaseRestarting, "restarting with its network peer")
	if got := f.calls("kill "); !slices.Equal(got, []string{"kill app-sidecar-1"}) {
		t.Errorf("kills %v, want the sidecar's (its namespace died with app)", got)
	}
	f.clk.Advance(10 * time.Second)
	f.w.await("app", supervisor.PhaseHealthy)
	f.w.await("app-sidecar", supervisor.PhaseRunning)
	starts := f.calls("start ")
	if want := []string{"start app-1", "start app-sidecar-1", "start app-1", "start app-sidecar-1"}; !slices.Equal(starts, want) {
		t.Errorf("starts %v, want %v", starts, want)
	}
	if st := f.status("app-sidecar"); st.Restarts != 1 {
		t.Errorf("sidecar restarts %d, want 1", st.Restarts)
	}
}

// TestDependencyFailure: a dependent of a service that failed is not
// started and says why.
func TestDependencyFailure(t *testing.T) {
	f := newFake(t, true)
	f.rt.Fail(supervisortest.OpStart, "db", errBoom)
	err := f.up(probed("db"), svc("app", on("db", supervisor.Healthy)))
	if err == nil || !strings.Contains(err.Error(), "db: starting") || !strings.Contains(err.Error(), "not started because of the above: app") {
		t.Fatalf("Up: %v", err)
	}
	if st := f.status("app"); st.Phase != supervisor.PhaseFailed || !strings.Contains(st.Reason, "db is needed healthy but db failed: start failed") {
		t.Errorf("app: %s (%s)", st.Phase, st.Reason)
	}
	if slices.Contains(f.rt.Calls(), "start app-1") {
		t.Errorf("app was started: %v", f.rt.Calls())
	}
}
