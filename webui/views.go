package webui

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"moat/state"
)

// Helpers for the templ components.

func itoa(v int) string { return strconv.Itoa(v) }

// short cuts s to n runes with an ellipsis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// nodeSub is a node's second line: what it waits on, else its state.
func nodeSub(n topoNode) string {
	if n.WaitingOn != "" {
		return "waiting on " + n.WaitingOn
	}
	return n.Sub
}

// nodeTitle is a node's tooltip: everything known about it in a few lines.
func nodeTitle(n topoNode, now time.Time) string {
	t := n.Name + " (" + n.Kind + ")\n" + n.Sub
	if up := uptime(n.Service, now); up != "" {
		t += "\nup " + up
	}
	if n.Restarts > 0 {
		t += fmt.Sprintf("\n%d restarts", n.Restarts)
	}
	if w := waitText(n.Service); w != "" {
		t += "\n" + w
	} else if n.Reason != "" {
		t += "\n" + n.Reason
	}
	return t
}

// counts summarises the stack for the overview's cards.
type counts struct {
	Services, Healthy, Allow, Deny, Verified, VerifyOK int
}

func countOf(snap Snapshot) counts {
	var c counts
	for _, s := range snap.Services {
		c.Services++
		if healthy(s) {
			c.Healthy++
		}
	}
	for _, in := range snap.Intentions {
		if in.Action == "allow" {
			c.Allow++
		} else {
			c.Deny++
		}
	}
	for _, v := range snap.Verify {
		c.Verified++
		if v.OK {
			c.VerifyOK++
		}
	}
	return c
}

// waiting lists the services that wait on another, or failed, with why.
func waiting(snap Snapshot) []Service {
	var out []Service
	for _, s := range snap.Services {
		if s.WaitingOn != "" || statusOf(s) == stBad {
			out = append(out, s)
		}
	}
	return out
}

func verifyMark(v *verifyJSON) string {
	switch {
	case v == nil:
		return "not verified"
	case v.OK:
		return "✓ verified " + v.Observed
	default:
		return "✗ observed " + v.Observed
	}
}

func verifyClass(v *verifyJSON) string {
	switch {
	case v == nil:
		return "v-none"
	case v.OK:
		return "v-ok"
	default:
		return "v-bad"
	}
}

func runStatusClass(status string) string {
	switch status {
	case "ok":
		return stOK
	case "running":
		return stWarn
	case "failed":
		return stBad
	}
	return stOff
}

// findRun returns the run of rep with key.
func findRun(rep ReportInfo, key string) (state.ReportRun, bool) {
	for _, r := range rep.Runs {
		if r.RunKey == key {
			return r, true
		}
	}
	return state.ReportRun{}, false
}

func duration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return human(d)
}

// olderURL is the events page after the current one, keeping the filter.
func olderURL(f state.EventFilter, before int64) string {
	q := url.Values{}
	for k, v := range map[string]string{"service": f.Service, "kind": f.Kind, "severity": f.Severity} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("before", strconv.FormatInt(before, 10))
	return "/events?" + q.Encode()
}

func severityClass(sev string) string {
	switch sev {
	case state.SeverityError:
		return stBad
	case state.SeverityWarn:
		return stWarn
	}
	return stOff
}

// cardStatus colours a "healthy of total" card.
func cardStatus(ok, total int) string {
	switch {
	case total == 0:
		return stOff
	case ok == total:
		return stOK
	}
	return stWarn
}

// verifyStatus colours the verify card: one mismatch is a security finding.
func verifyStatus(c counts) string {
	switch {
	case c.Verified == 0:
		return stOff
	case c.VerifyOK < c.Verified:
		return stBad
	}
	return stOK
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func runDuration(r state.ReportRun) string {
	if r.EndedAt.IsZero() {
		return "running"
	}
	return duration(r.Duration)
}

// edgeTitle is an arrow's tooltip.
func edgeTitle(e topoEdge) string {
	switch e.Kind {
	case "upstream":
		return e.From + " reaches " + e.To + " at " + e.Label + " through its sidecar"
	case "depends":
		return e.From + " depends on " + e.To
	}
	return "intention: " + e.From + " → " + e.To + ": " + e.Kind
}
