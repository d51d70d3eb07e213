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

// PolicyError is a restart policy setting that cannot work. Field is the
// setting's name in moat.toml's [appliance] table where it has one
// (restart_backoff_initial, restart_backoff_max), else the policy's own
// (backoff_factor, backoff_jitter).
type PolicyError struct {
	Field  string
	Value  any    // the setting's value (a time.Duration or float64)
	Reason string // what it must be, naming the setting to change
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("%s = %v: %s", e.Field, e.Value, e.Reason)
}

// Validate checks the policy makes sense; the first problem is a
// *PolicyError.
func (b Backoff) Validate() error {
	switch {
	case b.Initial <= 0:
		return &PolicyError{"restart_backoff_initial", b.Initial, "must be positive"}
	case b.Max < b.Initial:
		return &PolicyError{"restart_backoff_max", b.Max, fmt.Sprintf("must be at least restart_backoff_initial (%s)", b.Initial)}
	case b.Factor < 1:
		return &PolicyError{"backoff_factor", b.Factor, "must be at least 1"}
	case b.Jitter < 0 || b.Jitter > 1:
		return &PolicyError{"backoff_jitter", b.Jitter, "must be between 0 and 1"}
	}
	return nil
}

// CrashLoop says what a service that cannot become healthy leads to: Failures
// failures within Window are a crash loop. In a crash loop the service is
// tried again every Retry (Kubernetes' CrashLoopBackOff), until it is
// healthy again; with Stop it is failed for good instead.
//
// Only a run that ended by the service's own doing counts: a service that was
// up and is killed from outside (SIGKILL as `docker kill` or an OOM kill
// sends, SIGTERM as a daemon shutdown sends, or gone) is restarted with the
// backoff however often that happens.
type CrashLoop struct {
	Failures int
	Window   time.Duration
	Retry    time.Duration // delay between tries of a crash-looping service
	Stop     bool          // fail for good instead of retrying
}

// DefaultCrashLoop: 5 failures in 2 minutes are a crash loop, tried again
// every 5 minutes.
var DefaultCrashLoop = CrashLoop{Failures: 5, Window: 2 * time.Minute, Retry: 5 * time.Minute}

// killedCode reports whether exit code says an instance was killed rather
// than exited by itself: SIGKILL (137: `docker kill`, an OOM kill), SIGTERM
// (143: `docker stop`, a daemon shutting down), or gone (negative).
func killedCode(code int) bool { return code == 137 || code == 143 || code < 0 }

// failureLog remembers recent failures of one service.
type failureLog struct {
	times       []time.Time // failures within the window that count toward a crash loop
	consecutive int         // failures since the last stable run, for the backoff
	looping     bool        // in a crash loop until it is healthy again or runs stably
}

// record adds a failure at now. uptime is how long the instance ran before it
// failed: a stable run resets the consecutive count and ends a crash loop.
// counts says whether the failure is the service's own (see CrashLoop). It
// reports whether the service is now in a crash loop.
func (f *failureLog) record(now time.Time, uptime time.Duration, counts bool, b Backoff, c CrashLoop) (looping bool) {
	if uptime >= b.StableAfter {
		f.consecutive = 0
		f.looping = false
	}
	f.consecutive++
	keep := f.times[:0]
	for _, t := range f.times {
		if now.Sub(t) < c.Window {
			keep = append(keep, t)
		}
	}
	f.times = keep
	if !counts {
		return false
	}
	f.times = append(f.times, now)
	if len(f.times) >= c.Failures {
		f.looping = true
	}
	return f.looping
}
