package webui

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"moat/supervisor"
)

// Health colours: the CSS classes st-ok (green), st-warn (amber), st-bad
// (red) and st-off (grey).
const (
	stOK   = "ok"
	stWarn = "warn"
	stBad  = "bad"
	stOff  = "off"
)

// statusOf maps a service's phase (and probe verdict) to its colour.
func statusOf(s Service) string {
	switch s.Phase {
	case supervisor.PhaseHealthy:
		return stOK
	case supervisor.PhaseRunning:
		if s.Health == supervisor.HealthUnhealthy {
			return stBad
		}
		return stOK
	case supervisor.PhaseStarting, supervisor.PhaseWaiting, supervisor.PhaseRestarting:
		return stWarn
	case supervisor.PhaseUnhealthy, supervisor.PhaseFailed, supervisor.PhaseCrashLooping:
		return stBad
	default: // pending, completed, stopping, stopped, unknown
		return stOff
	}
}

// healthy reports whether a service counts as up for /metrics.
func healthy(s Service) bool { return statusOf(s) == stOK }

// phases are the supervisor's phases, listed so /metrics reports zeros too.
var phases = []supervisor.Phase{supervisor.PhasePending, supervisor.PhaseWaiting, supervisor.PhaseStarting,
	supervisor.PhaseRunning, supervisor.PhaseHealthy, supervisor.PhaseUnhealthy, supervisor.PhaseRestarting,
	supervisor.PhaseCompleted, supervisor.PhaseCrashLooping, supervisor.PhaseFailed, supervisor.PhaseStopping,
	supervisor.PhaseStopped}

// waitText is "waiting on X because Y" as far as it is known; the
// supervisor's reason often says it already ("exited with code 1; waiting
// on db (healthy)").
func waitText(s Service) string {
	w := "waiting on " + s.WaitingOn
	switch {
	case s.WaitingOn == "":
		return ""
	case strings.Contains(s.Reason, w):
		return s.Reason
	case s.Reason != "":
		return w + " because " + s.Reason
	}
	return w
}

// uptime is how long a running service has been up, "" when it is not up.
func uptime(s Service, now time.Time) string {
	if s.StartedAt.IsZero() || statusOf(s) == stOff {
		return ""
	}
	return human(now.Sub(s.StartedAt))
}

// human writes d with its two largest units: "3d 4h", "2h 5m", "4m 10s", "12s".
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	sec := int64(d / time.Second)
	units := []struct {
		n    int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}}
	var parts []string
	for _, u := range units {
		if v := sec / u.n; v > 0 || (u.n == 1 && len(parts) == 0) {
			parts = append(parts, fmt.Sprintf("%d%s", v, u.name))
			sec -= v * u.n
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

// clock is a time as the host shows it.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func servicePath(name string) string { return "/services/" + url.PathEscape(name) }
func reportPath(name string) string  { return "/reports/" + url.PathEscape(name) + "/" }
func runPath(name, key string) string {
	return "/reports/" + url.PathEscape(name) + "/" + url.PathEscape(key) + "/"
}
