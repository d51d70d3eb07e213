package webui

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"moat/state"
	"moat/supervisor"
)

const hostile = `<script>alert(1)</script>"'&x`

// hostileSource puts markup in every string a user can influence.
func hostileSource(ts *testServer) {
	ts.src.update(func(s *Snapshot) {
		s.Project = hostile
		s.Services = append(s.Services, Service{
			ServiceStatus: supervisor.ServiceStatus{Name: hostile, Phase: supervisor.PhaseFailed, Reason: hostile,
				WaitingOn: hostile, LastProbe: hostile, Ports: supervisor.Ports{{HostIP: hostile, HostPort: 1, ContainerPort: 1}},
				DependsOn: []supervisor.Dependency{{Service: hostile, Condition: supervisor.Condition(hostile)}}},
			Placement: Placement{Kind: KindApp, Upstreams: []Upstream{{Destination: "trino-coordinator", LocalBind: hostile}}}})
		s.Intentions = append(s.Intentions, Intention{Source: hostile, Destination: "notebook", Action: "deny"})
		s.Verify = append(s.Verify, state.VerifyResult{Source: hostile, Destination: "notebook", Expected: "deny",
			Observed: hostile})
	})
	ts.src.mu.Lock()
	ts.src.logs[hostile] = "line 1\n</pre><script>alert(2)</script>\n\x1b[31mred\x1b[0m \xff\n"
	ts.src.events = append(ts.src.events, state.Event{ID: 99, Severity: "error", Kind: hostile, Service: hostile,
		Message: hostile})
	ts.src.reports = append(ts.src.reports, ReportInfo{Name: hostile, RunAs: hostile,
		Runs: []state.ReportRun{{Report: hostile, RunKey: hostile, Status: "failed", Error: hostile}}})
	ts.src.mu.Unlock()
}

func TestHostileStringsAreEscaped(t *testing.T) {
	ts := newTestServer(t)
	hostileSource(ts)
	c := ts.login(t)
	pages := []string{"/", "/services", "/services/" + url.PathEscape(hostile), "/mesh", "/events", "/reports",
		"/reports/" + url.PathEscape(hostile) + "/?ran=" + url.QueryEscape(hostile)}
	for _, p := range pages {
		resp := ts.get(t, c, p)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
		if strings.Contains(b, "<script>alert") || strings.Contains(b, "</pre><script>") {
			t.Errorf("GET %s: unescaped markup in the page", p)
		}
		if !strings.Contains(b, "&lt;script&gt;alert(") {
			t.Errorf("GET %s: the hostile string is not shown escaped", p)
		}
	}
	logs := body(t, ts.get(t, c, "/services/"+url.PathEscape(hostile)))
	if !strings.Contains(logs, "&lt;/pre&gt;&lt;script&gt;alert(2)") || !strings.Contains(logs, "\uFFFD") {
		t.Errorf("the log tail is not shown escaped, as valid UTF-8:\n%s", logs)
	}
}

func TestHostileStringsInTheStream(t *testing.T) {
	ts := newTestServer(t)
	hostileSource(ts)
	c := ts.login(t)
	for _, view := range []string{"overview", "services", "mesh", "events"} {
		msg := firstStreamEvent(t, ts, c, view)
		if strings.Contains(msg, "<script>alert") || !strings.Contains(msg, "&lt;script&gt;alert(1)") {
			t.Errorf("stream %s: hostile string not escaped:\n%s", view, msg)
		}
	}
}

// TestTokenNeverShown walks every page and API answer of a logged-in
// browser and looks for the token.
func TestTokenNeverShown(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	for _, p := range append(guarded, "/services/trino-coordinator", "/assets/app.js") {
		if strings.HasPrefix(p, "/api/stream") {
			continue // tested below
		}
		resp := ts.get(t, c, p)
		if b := body(t, resp); strings.Contains(b, testToken) {
			t.Errorf("GET %s shows the token", p)
		}
		for k, v := range resp.Header {
			if strings.Contains(strings.Join(v, " "), testToken) {
				t.Errorf("GET %s: header %s carries the token", p, k)
			}
		}
	}
	if msg := firstStreamEvent(t, ts, c, "snapshot"); strings.Contains(msg, testToken) {
		t.Error("the snapshot stream shows the token")
	}
}

// firstStreamEvent reads the first event of /api/stream?view=view.
func firstStreamEvent(t *testing.T, ts *testServer, c *http.Client, view string) string {
	t.Helper()
	resp := ts.get(t, c, "/api/stream?view="+view)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream %s: %d %s", view, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return readEvent(t, bufio.NewReader(resp.Body))
}

// readEvent reads one Server-Sent Event, skipping comments.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if line == "\n" && b.Len() > 0 {
			return b.String()
		}
		if !strings.HasPrefix(line, ":") && line != "\n" {
			b.WriteString(line)
		}
	}
}
