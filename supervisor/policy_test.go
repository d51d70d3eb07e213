package supervisor

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelayGrowsAndCaps(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 2, Jitter: 0}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := b.Delay(i+1, 0.5); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w)
		}
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}
	if lo, hi := b.Delay(1, 0), b.Delay(1, 0.999999); lo != 800*time.Millisecond || hi < 1199*time.Millisecond || hi > 1200*time.Millisecond {
		t.Errorf("jitter bounds for 1s ±20%%: got [%s, %s]", lo, hi)
	}
}

func TestBackoffValidate(t *testing.T) {
	for _, tc := range []struct {
		b    Backoff
		want PolicyError
		text string
	}{
		{Backoff{Initial: 0, Max: time.Second, Factor: 2}, PolicyError{"restart_backoff_initial", time.Duration(0), "must be positive"},
			"restart_backoff_initial = 0s: must be positive"},
		{Backoff{Initial: 2 * time.Second, Max: time.Second, Factor: 2}, PolicyError{"restart_backoff_max", time.Second, "must be at least restart_backoff_initial (2s)"},
			"restart_backoff_max = 1s: must be at least restart_backoff_initial (2s)"},
		{Backoff{Initial: time.Second, Max: time.Second, Factor: 0.5}, PolicyError{"backoff_factor", 0.5, "must be at least 1"},
			"backoff_factor = 0.5: must be at least 1"},
		{Backoff{Initial: time.Second, Max: time.Second, Factor: 1, Jitter: 1.5}, PolicyError{"backoff_jitter", 1.5, "must be between 0 and 1"},
			"backoff_jitter = 1.5: must be between 0 and 1"},
	} {
		err := tc.b.Validate()
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%+v: %v (a %T), want a *PolicyError", tc.b, err, err)
			continue
		}
		if *pe != tc.want || err.Error() != tc.text {
			t.Errorf("%+v: %#v %q, want %#v %q", tc.b, *pe, err, tc.want, tc.text)
		}
	}
	if err := DefaultBackoff.Validate(); err != nil {
		t.Error(err)
	}
}

func TestCrashLoopWindowWithFakeClock(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := Backoff{StableAfter: time.Minute}
	c := CrashLoop{Failures: 3, Window: 30 * time.Second}
	var f failureLog
	// Two quick failures, then one after the window: not a loop.
	if f.record(clk.Now(), time.Second, true, b, c) {
		t.Fatal("loop after 1 failure")
	}
	clk.Advance(10 * time.Second)
	if f.record(clk.Now(), time.Second, true, b, c) {
		t.Fatal("loop after 2 failures")
	}
	clk.Advance(21 * time.Second)
	if f.record(clk.Now(), time.Second, true, b, c) {
		t.Fatal("the first failure left the window: not a loop yet")
	}
	clk.Advance(5 * time.Second)
	if !f.record(clk.Now(), time.Second, true, b, c) {
		t.Fatal("3 failures within 30s: want a crash loop")
	}
	if f.consecutive != 4 {
		t.Errorf("consecutive = %d, want 4", f.consecutive)
	}
	// A stable run resets the backoff count.
	f.record(clk.Now(), 2*time.Minute, true, b, c)
	if f.consecutive != 1 {
		t.Errorf("after a stable run consecutive = %d, want 1", f.consecutive)
	}
}

func TestFakeClockFiresInOrderAndStops(t *testing.T) {
	clk := NewFakeClock(time.Unix(0, 0))
	var got []string
	clk.AfterFunc(2*time.Second, func() { got = append(got, "b") })
	clk.AfterFunc(time.Second, func() { got = append(got, "a") })
	stopped := clk.AfterFunc(time.Second, func() { got = append(got, "never") })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	clk.Advance(1500 * time.Millisecond)
	if strings.Join(got, "") != "a" {
		t.Fatalf("after 1.5s fired %q", got)
	}
	clk.Advance(time.Second)
	if strings.Join(got, "") != "ab" || clk.Pending() != 0 {
		t.Fatalf("after 2.5s fired %q, pending %d", got, clk.Pending())
	}
}
