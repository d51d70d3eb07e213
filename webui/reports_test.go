package webui

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reportSite lays out a report site with a secret next to it (outside
// ReportsDir) and links pointing at the secret.
func reportSite(t *testing.T, ts *testServer) {
	t.Helper()
	run := filepath.Join(ts.dir, "nations", "20250101T000000Z")
	mustWrite(t, filepath.Join(run, "index.html"), "<h1>nations report</h1>")
	mustWrite(t, filepath.Join(run, "data.csv"), "name\nALGERIA\n")
	mustWrite(t, filepath.Join(ts.dir, "nations", "empty", "keep"), "")
	mustWrite(t, filepath.Join(ts.dir, ".hidden"), "SECRET-HIDDEN")
	outside := t.TempDir()
	mustWrite(t, filepath.Join(outside, "secret.txt"), "SECRET-OUTSIDE")
	if err := os.Symlink(outside, filepath.Join(run, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(run, "linkfile")); err != nil {
		t.Fatal(err)
	}
	// ReportsDir's parent holds a secret too.
	mustWrite(t, filepath.Join(filepath.Dir(ts.dir), "secret.txt"), "SECRET-PARENT")
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReportFilesStayInsideReportsDir(t *testing.T) {
	ts := newTestServer(t)
	reportSite(t, ts)
	c := ts.login(t)
	for _, p := range []string{
		"/reports/../secret.txt",
		"/reports/..%2fsecret.txt",
		"/reports/nations/..%2f..%2fsecret.txt",
		"/reports/%2e%2e/secret.txt",
		"/reports/nations/20250101T000000Z/..%5c..%5c..%5csecret.txt",
		"/reports/nations/20250101T000000Z/linkdir/secret.txt",
		"/reports/nations/20250101T000000Z/linkfile",
		"/reports/.hidden",
		"/reports/nations/%2e%2e/%2e%2e/secret.txt",
		"/reports/nations/%00",
		"/reports//etc/passwd",
		"/reports/nations/empty/",
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/", nil)
		req.URL.RawPath, req.URL.Path = "", ""
		req.URL.Opaque = p // sent exactly as written
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := body(t, resp)
		resp.Body.Close()
		t.Logf("GET %s: %d %s", p, resp.StatusCode, resp.Header.Get("Location"))
		if resp.StatusCode == http.StatusOK || strings.Contains(b, "SECRET") || strings.Contains(b, "root:") {
			t.Errorf("GET %s: status %d, body %.200q: must not serve anything outside the run folders", p, resp.StatusCode, b)
		}
	}
}

func TestReportFilesAreServed(t *testing.T) {
	ts := newTestServer(t)
	reportSite(t, ts)
	c := ts.login(t)
	resp := ts.get(t, c, "/reports/nations/20250101T000000Z/")
	if b := body(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(b, "nations report") {
		t.Fatalf("run folder: %d %q, want its index.html", resp.StatusCode, b)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != reportCSP {
		t.Errorf("report pages get CSP %q, want %q (no scripts)", csp, reportCSP)
	}
	resp = ts.get(t, c, "/reports/nations/20250101T000000Z/data.csv")
	if b := body(t, resp); resp.StatusCode != http.StatusOK || b != "name\nALGERIA\n" {
		t.Fatalf("data.csv: %d %q", resp.StatusCode, b)
	}
	for from, to := range map[string]string{
		"/reports/nations/20250101T000000Z":            "/reports/nations/20250101T000000Z/",
		"/reports/nations/20250101T000000Z/index.html": "./",                // http.ServeFileFS's canonical form
		"/reports/nations/index.html":                  "/reports/nations/", // the site's history: the dashboard's
		"/reports/index.html":                          "/reports",
		"/reports/":                                    "/reports", // "All reports" from a run page
	} {
		resp := ts.get(t, c, from)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != to {
			t.Errorf("GET %s: %d to %q, want 301 to %q", from, resp.StatusCode, loc, to)
		}
	}
}
