package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// netTopo is web (probed) on the mesh and apps networks, and its sidecar
// in web's namespace.
func netTopo(web supervisor.Spec) supervisor.Topology {
	web.Networks = []supervisor.Attachment{{Network: "mesh"}, {Network: "apps"}}
	side := svc("web-sidecar", on("web", supervisor.Healthy))
	side.ShareNetworkWith = "web"
	return supervisor.Topology{Project: project,
		Networks: []supervisor.Network{{Name: "mesh"}, {Name: "apps"}},
		Services: []supervisor.Spec{web, side}}
}

// TestLostNetworkIsRepaired: a running instance detached from one of its
// networks behind moat's back (`docker network disconnect`) is unhealthy,
// with the network named, until the runtime has attached it again; it is
// not restarted (a restart would not bring the network back), and its
// namespace's sidecar is left alone.
func TestLostNetworkIsRepaired(t *testing.T) {
	for _, tc := range []struct {
		name string
		// lose detaches web-1 from mesh, as the case has it.
		lose func(f *fake) error
	}{
		{"the runtime's event says so", func(f *fake) error { return f.rt.Disconnect("web-1", "mesh", false) }},
		{"missed while the event stream was down: the resync finds it", func(f *fake) error {
			f.rt.BreakEvents(errors.New("daemon restarted"))
			f.awaitWarning("subscribing again in 10s")
			f.awaitTimers(1)
			if err := f.rt.Disconnect("web-1", "mesh", true); err != nil {
				return err
			}
			f.clk.Advance(10 * time.Second)
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, true)
			if err := f.eng.Up(context.Background(), netTopo(probed("web"))); err != nil {
				t.Fatal(err)
			}
			if err := tc.lose(f); err != nil {
				t.Fatal(err)
			}
			tr := f.w.awaitReason("web", supervisor.PhaseUnhealthy, "disconnected from network mesh; reconnecting")
			if tr.Restarts != 0 {
				t.Errorf("web was restarted: %+v", tr)
			}
			f.w.awaitReason("web", supervisor.PhaseHealthy, "reconnected to network mesh")
			in, err := f.rt.Inspect(context.Background(), "web-1")
			if err != nil || in.Addresses["mesh"] == "" || in.Addresses["apps"] == "" {
				t.Errorf("web-1 after the repair: %+v, %v", in, err)
			}
			if got := f.calls("reconnect", "start", "kill", "stop"); !slices.Equal(got, []string{"start web-1", "start web-sidecar-1", "reconnect web-1 mesh"}) {
				t.Errorf("calls %q, want the two starts and one reconnect", got)
			}
			if st := f.status("web-sidecar"); st.Phase != supervisor.PhaseRunning || st.Restarts != 0 {
				t.Errorf("the sidecar: %+v", st)
			}
		})
	}
}

// TestLostNetworkRepairRetries: a reconnect the runtime refuses is tried
// again with the restart backoff, saying why, until it succeeds.
func TestLostNetworkRepairRetries(t *testing.T) {
	f := newFake(t, true)
	if err := f.eng.Up(context.Background(), netTopo(probed("web"))); err != nil {
		t.Fatal(err)
	}
	f.rt.Fail(supervisortest.OpReconnect, "web", errors.New("endpoint busy"))
	if err := f.rt.Disconnect("web-1", "apps", false); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("web", supervisor.PhaseUnhealthy, "disconnected from network apps; reconnecting failed: supervisortest: reconnect web: endpoint busy; trying again in 10s")
	f.awaitTimers(1)
	f.clk.Advance(10 * time.Second)
	f.w.awaitReason("web", supervisor.PhaseUnhealthy, "trying again in 20s")
	f.rt.Fail(supervisortest.OpReconnect, "web", nil)
	f.awaitTimers(1)
	f.clk.Advance(20 * time.Second)
	f.w.awaitReason("web", supervisor.PhaseHealthy, "reconnected to network apps")
	if got := f.calls("reconnect"); len(got) != 3 || got[2] != "reconnect web-1 apps" {
		t.Errorf("reconnects %q, want two refused and one made", got)
	}
}

// TestLostNetworkRerunsTheGate: a service with a readiness gate is ready
// again only once the gate passes after the repair, and its probe passing
// meanwhile does not call it healthy while it is still detached.
func TestLostNetworkRerunsTheGate(t *testing.T) {
	f := newFake(t, true)
	var gates atomic.Int32
	web := probed("web")
	web.Gate = func(context.Context) error { gates.Add(1); return nil }
	f.rt.Fail(supervisortest.OpReconnect, "web", errors.New("not yet"))
	if err := f.eng.Up(context.Background(), netTopo(web)); err != nil {
		t.Fatal(err)
	}
	before := gates.Load()
	if err := f.rt.Disconnect("web-1", "mesh", false); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("web", supervisor.PhaseUnhealthy, "reconnecting failed")
	// The probe fails and passes again while web is detached.
	for _, h := range []supervisor.Health{supervisor.HealthUnhealthy, supervisor.HealthHealthy} {
		if err := f.rt.SetHealth("web-1", h, string(h)); err != nil {
			t.Fatal(err)
		}
	}
	f.w.awaitReason("web", supervisor.PhaseUnhealthy, "health probe failing")
	testenv.Eventually(t, bound, time.Millisecond, "the passing probe seen", func() error {
		if st := f.status("web"); st.Health != supervisor.HealthHealthy {
			return fmt.Errorf("health %s", st.Health)
		}
		return nil
	})
	f.rt.Fail(supervisortest.OpReconnect, "web", nil)
	f.awaitTimers(1)
	if st := f.status("web"); st.Phase != supervisor.PhaseUnhealthy {
		t.Fatalf("web detached from mesh is %s: %s", st.Phase, st.Reason)
	}
	f.clk.Advance(10 * time.Second)
	f.w.awaitReason("web", supervisor.PhaseStarting, "reconnected to network mesh; checking readiness")
	f.w.awaitReason("web", supervisor.PhaseHealthy, "ready")
	if gates.Load() <= before {
		t.Errorf("the gate did not run after the repair (%d runs, %d before)", gates.Load(), before)
	}
}

// TestStoppedInstanceLeavingItsNetworksIsNoLoss: an instance that exits
// leaves its networks too (Docker reports it after the die); that is its
// exit, restarted as such, and no network repair.
func TestStoppedInstanceLeavingItsNetworksIsNoLoss(t *testing.T) {
	f := newFake(t, true)
	if err := f.eng.Up(context.Background(), netTopo(probed("web"))); err != nil {
		t.Fatal(err)
	}
	if err := f.rt.Die("web-1", 137); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("web", supervisor.PhaseRestarting, "exited with code 137")
	f.w.awaitReason("web-sidecar", supervisor.PhaseRestarting, "restarting with its network peer")
	f.clk.Advance(10 * time.Second)
	f.w.await("web", supervisor.PhaseHealthy)
	f.w.await("web-sidecar", supervisor.PhaseRunning)
	// A marker event after the disconnects: once it is applied, they were.
	if err := f.rt.Die("web-sidecar-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.await("web-sidecar", supervisor.PhaseRestarting)
	for _, tr := range f.w.log {
		if strings.Contains(tr.Reason, "connected") {
			t.Errorf("a network repair after an exit: %s → %s: %s", tr.From, tr.To, tr.Reason)
		}
	}
	if got := f.calls("reconnect"); len(got) != 0 {
		t.Errorf("reconnects after an exit: %q", got)
	}
}
