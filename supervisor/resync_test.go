package supervisor_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// TestRestartSeenByResyncWhileTheStreamIsDown: a restart made while the
// event stream is down (its start event reaches nobody) is found by the
// next resync, which applies the start the stream would have reported: the
// service does not stay "restarting" until the stream is back.
func TestRestartSeenByResyncWhileTheStreamIsDown(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(probed("web"))
	if err := f.rt.Die("web-1", 137); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("web", supervisor.PhaseRestarting, "restarting in 10s")
	f.rt.Fail(supervisortest.OpEvents, "", errors.New("proxy refuses"))
	f.rt.BreakEvents(errors.New("stream cut"))
	f.awaitWarning("subscribing again in 10s")
	f.awaitTimers(2) // the restart and the resubscription
	f.clk.Advance(10 * time.Second)
	// The runtime answers the resync, so the backoff starts over.
	f.awaitWarning("(supervisortest: events : proxy refuses); subscribing again in 10s")
	f.awaitTimers(1)
	// The restart is made (its start event lost) before the next resync.
	testenv.Eventually(t, bound, time.Millisecond, "web restarted", func() error {
		if got := f.calls("start"); len(got) != 2 {
			return fmt.Errorf("starts %q", got)
		}
		return nil
	})
	if st := f.status("web"); st.Phase != supervisor.PhaseRestarting && st.Phase != supervisor.PhaseHealthy {
		t.Fatalf("web is %s", st.Phase)
	}
	f.clk.Advance(10 * time.Second)
	f.w.await("web", supervisor.PhaseHealthy)
	if st := f.status("web"); st.Restarts != 1 {
		t.Errorf("web after the resync: %+v", st)
	}
}
