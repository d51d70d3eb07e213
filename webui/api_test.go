package webui

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"moat/internal/golden"
	"moat/supervisor"
)

func TestAPIGolden(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	csrf := csrfOf(t, body(t, ts.get(t, c, "/reports")))
	ts.postRun(t, c, csrf, nil)
	for path, file := range map[string]string{
		"/api/snapshot":                     "api_snapshot.json",
		"/api/mesh":                         "api_mesh.json",
		"/api/events?severity=info&limit=2": "api_events.json",
		"/api/reports":                      "api_reports.json",
		"/api/logs/trino-coordinator":       "api_logs.json",
		"/metrics":                          "metrics.txt",
	} {
		resp := ts.get(t, c, path)
		b := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if strings.HasSuffix(file, ".json") {
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || !json.Valid([]byte(b)) {
				t.Errorf("GET %s: Content-Type %q, valid JSON %v", path, ct, json.Valid([]byte(b)))
			}
		}
		golden.Check(t, filepath.Join("testdata", file), []byte(b))
	}
}

func TestAPIErrors(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	resp := ts.get(t, c, "/api/logs/no-such-service")
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusNotFound ||
		out["error"] != `no service named "no-such-service" in this stack` {
		t.Fatalf("unknown service: %d %v %v", resp.StatusCode, out, err)
	}
	if resp := ts.get(t, c, "/api/stream?view=nope"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown stream view: %d, want 400", resp.StatusCode)
	}
}

// Prometheus text format 0.0.4: every sample belongs to a family announced by
// HELP and TYPE lines, with well-formed names, labels and values.
var (
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter)$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?[0-9.]+(e[+-]?[0-9]+)?$`)
)

func TestMetricsFormat(t *testing.T) {
	ts := newTestServer(t)
	ts.src.update(func(s *Snapshot) { // a hostile name must not break the format
		s.Services = append(s.Services, Service{ServiceStatus: supervisor.ServiceStatus{Name: "evil\"}\nx 1\\", Phase: supervisor.PhaseFailed},
			Placement: Placement{Kind: KindApp}})
	})
	resp := ts.get(t, ts.login(t), "/metrics")
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	helped, typed := map[string]bool{}, map[string]bool{}
	samples := 0
	for _, line := range strings.Split(strings.TrimSuffix(body(t, resp), "\n"), "\n") {
		if m := helpLine.FindStringSubmatch(line); m != nil {
			helped[m[1]] = true
		} else if m := typeLine.FindStringSubmatch(line); m != nil {
			typed[m[1]] = true
		} else if m := sampleLine.FindStringSubmatch(line); m != nil {
			if !helped[m[1]] || !typed[m[1]] {
				t.Errorf("sample before its HELP and TYPE: %q", line)
			}
			samples++
		} else {
			t.Errorf("not Prometheus text format: %q", line)
		}
	}
	if samples < 20 {
		t.Errorf("only %d samples", samples)
	}
}
