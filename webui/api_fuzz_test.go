package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzHandler sends the dashboard random requests (method, request target
// with its query string, form body; with no credentials, a session cookie
// or the bearer token; with the right Host or another) as net/http would
// parse them off the wire. The handler must never panic nor answer 5xx
// (the test Source never fails), never show the token, must answer every
// /api/ request it serves with valid JSON, and must return once the
// request's context is done (a live stream included). The seeds are the
// requests the webui tests and golden files make.
func FuzzHandler(f *testing.F) {
	for _, target := range []string{"/", "/?token=" + testToken, "/login?once=x", "/services", "/services/trino-coordinator",
		"/mesh", "/events?service=consul&kind=service.start&severity=info&before=3&limit=2", "/reports",
		"/reports/nations/", "/reports/nations/20250314T120001Z/index.html", "/reports/nations/20250314T120001Z/", "/reports/../etc/passwd", "/reports/%2e%2e/x",
		"/api/snapshot", "/api/mesh", "/api/events?severity=info&limit=2", "/api/events?limit=-1&before=x", "/api/reports",
		"/api/logs/trino-coordinator", "/api/logs/no-such-service", "/api/logs/%00", "/api/stream?view=overview",
		"/api/stream?view=nope", "/metrics", "/assets/app.js", "/favicon.ico", "//api//snapshot", "/api/snapshot?%zz",
		"*", "http://evil.example/api/snapshot"} {
		f.Add("GET", target, "", uint8(1))
	}
	f.Add("POST", "/reports/nations/run", "csrf=x", uint8(1))
	f.Add("POST", "/reports/nations/run", "", uint8(2))
	f.Add("HEAD", "/api/snapshot", "", uint8(2))
	f.Add("DELETE", "/api/events", "", uint8(0))
	f.Add("GET", "/api/snapshot", "", uint8(5))
	f.Add("OPTIONS", "/api/mesh", "", uint8(3))

	f.Fuzz(func(t *testing.T, method, target, form string, flags uint8) {
		if strings.ContainsAny(method+target, "\r\n") {
			return // not one request line
		}
		ts := newTestServer(t)
		if _, err := ts.src.RunReport(context.Background(), "nations"); err != nil {
			t.Fatal(err) // a run to serve under /reports/nations/
		}
		host := ts.host()
		if flags&4 != 0 {
			host = "evil.example"
		}
		var head strings.Builder
		head.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
		switch flags % 4 {
		case 1:
			head.WriteString("Cookie: " + fuzzSession(t, ts) + "\r\n")
		case 2:
			head.WriteString("Authorization: Bearer " + testToken + "\r\n")
		}
		head.WriteString("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n")
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String() + form)))
		if err != nil {
			return // net/http answers 400 before any handler
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		r = r.WithContext(ctx)
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			ts.srv.ServeHTTP(w, r)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s: the handler did not return after its context ended", method, target)
		}
		resp := w.Result()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, resp.StatusCode, w.Body.String())
		}
		for k, vs := range resp.Header {
			if strings.Contains(strings.Join(vs, " "), testToken) {
				t.Fatalf("%s %s: header %s shows the token", method, target, k)
			}
		}
		if strings.Contains(w.Body.String(), testToken) {
			t.Fatalf("%s %s: the answer shows the token", method, target)
		}
		if strings.HasPrefix(r.URL.Path, "/api/") && resp.StatusCode == http.StatusOK && method == http.MethodGet &&
			resp.Header.Get("Content-Type") != "text/event-stream" && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: 200 with invalid JSON (Content-Type %q): %.200s", method, target, resp.Header.Get("Content-Type"), w.Body.String())
		}
	})
}

// fuzzSession signs in with the token, as a browser does, and returns the
// session cookie to send.
func fuzzSession(t *testing.T, ts *testServer) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://"+ts.host()+"/?token="+testToken, nil)
	w := httptest.NewRecorder()
	ts.srv.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("signing in with the token: %d, no %s cookie", w.Code, cookieName)
	return ""
}
