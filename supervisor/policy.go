package supervisor

import (
	"fmt"
	"time"
)

// Backoff is the restart delay policy: exponential with jitter, reset after
// a service has run for StableAfter.
type Backoff struct {
	Initial     time.Duration // first delay
	Max         time.Duration // cap
	Factor      float64       // growth per consecutive failure
	Jitter      float64       // ± fraction of the delay, 0..1
	StableAfter time.Duration // uptime after which the failure count resets
}

// DefaultBackoff restarts after 100ms, doubling up to 30s, ±20%.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2, Jitter: 0.2, StableAfter: time.Minute}

// Delay is the wait before restart number n (n ≥ 1 consecutive failures);
// r is a random number in [0,1) for the jitter.
func (b Backoff) Delay(n int, r float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Initial)
	for i := 1; i < n && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	d += d * b.Jitter * (2*r - 1)
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}

// Validate checks the policy makes sense; field names are moat.toml's.
func (b Backoff) Validate() error {
	switch {
	case b.Initial <= 0:
		return fmt.Errorf("restart_backoff_initial = %s: must be positive", b.Initial)
	case b.Max < b.Initial:
		return fmt.Errorf("restart_backoff_max = %s: must be at least restart_backoff_initial (%s)", b.Max, b.Initial)
	case b.Factor < 1:
		return fmt.Errorf("backoff factor %g: must be at least 1", b.Factor)
	case b.Jitter < 0 || b.Jitter > 1:
		return fmt.Errorf("backoff jitter %g: must be between 0 and 1", b.Jitter)
	}
	return nil
}

// CrashLoop says when restarting stops: Failures failures within Window mark
// the service failed.
type CrashLoop struct {
	Failures int
	Window   time.Duration
}

// DefaultCrashLoop gives up after 5 failures in 2 minutes.
var DefaultCrashLoop = CrashLoop{Failures: 5, Window: 2 * time.Minute}

// failureLog remembers recent failure times of one service.
type failureLog struct {
	times       []time.Time
	consecutive int // failures since the last stable run, for the backoff
}

// record adds a failure at now. uptime is how long the instance ran before it
// failed: a stable run resets the consecutive count. It reports whether the
// service is now in a crash loop.
func (f *failureLog) record(now time.Time, uptime time.Duration, b Backoff, c CrashLoop) (looping bool) {
	if uptime >= b.StableAfter {
		f.consecutive = 0
	}
	f.consecutive++
	keep := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < c.Window {
			keep = append(keep, t)
		}
	}
	f.times = append(keep, now)
	return len(f.times) >= c.Failures
}
