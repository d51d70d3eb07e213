package supervisortest

import (
	"context"
	"testing"
	"time"

	"moat/supervisor"
)

// awaitBound is how long AwaitTimers waits before it fails the test: a
// bound on a wait that should end at once, never a synchronisation.
const awaitBound = 20 * time.Second

// AwaitTimers returns once n timers are armed on clk: the code under test
// has reached the wait it means (a backoff, a schedule) and the test may
// advance the clock past it.
func AwaitTimers(t testing.TB, clk *supervisor.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), awaitBound)
	defer cancel()
	if err := clk.AwaitTimers(ctx, n); err != nil {
		t.Fatal(err)
	}
}
