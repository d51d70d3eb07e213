package webui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// guarded lists a URL of every authenticated route.
var guarded = []string{"/", "/services", "/services/consul", "/mesh", "/events", "/reports", "/reports/nations/",
	"/reports/nations/20250314T120001Z/index.html", "/api/snapshot", "/api/mesh", "/api/events", "/api/reports",
	"/api/logs/consul", "/api/stream?view=overview", "/metrics"}

func TestEveryPageNeedsTheToken(t *testing.T) {
	ts := newTestServer(t)
	c := ts.client(t)
	for _, p := range guarded {
		for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + testToken} {
			req, _ := http.NewRequest("GET", ts.URL+p, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b := body(t, resp)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s (Authorization %q): status %d, want 401", p, auth, resp.StatusCode)
			}
			if !strings.Contains(b, "moat up") || strings.Contains(b, testToken) {
				t.Errorf("GET %s: the 401 page must point at `moat up` and never show the token: %s", p, b)
			}
		}
	}
}

func TestWrongTokenGetsNoCookie(t *testing.T) {
	ts := newTestServer(t)
	for _, tok := range []string{"", "nope", testToken[:len(testToken)-1], testToken + "x", strings.ToUpper(testToken)} {
		resp := ts.get(t, ts.client(t), "/?token="+url.QueryEscape(tok))
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("token %q: status %d, cookies %v; want 401 and none", tok, resp.StatusCode, resp.Cookies())
		}
	}
}

func TestTokenIsExchangedForACookie(t *testing.T) {
	ts := newTestServer(t)
	for from, want := range map[string]string{
		"/?token=" + testToken:                      "/",
		"/login?token=" + testToken:                 "/",
		"/events?service=consul&token=" + testToken: "/events?service=consul",
	} {
		c := ts.client(t)
		resp := ts.get(t, c, from)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 303 to %q", from, resp.StatusCode, resp.Header.Get("Location"), want)
		}
		ck := resp.Cookies()
		if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
			t.Fatalf("GET %s: cookie %+v, want one HttpOnly SameSite=Strict Path=/ cookie", from, ck)
		}
		if strings.Contains(ck[0].Value, testToken) {
			t.Fatal("the cookie carries the token itself")
		}
		if resp := ts.get(t, c, want); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the cookie: %d, want 200", want, resp.StatusCode)
		}
	}
}

func TestForgedCookiesAreRefused(t *testing.T) {
	ts := newTestServer(t)
	good := ts.sessionCookie(t, ts.login(t))
	tampered := []byte(good)
	if mid := len(tampered) / 2; tampered[mid] == 'A' {
		tampered[mid] = 'B'
	} else {
		tampered[mid] = 'A'
	}
	for name, value := range map[string]string{
		"made up":          randomSecret(),
		"tampered":         string(tampered),
		"truncated":        good[:len(good)-1],
		"empty":            "",
		"the token itself": testToken,
		"the CSRF token":   csrfOf(t, body(t, ts.request(t, "GET", "/", nil, withCookie(good)))),
	} {
		if resp := ts.request(t, "GET", "/", nil, withCookie(value)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("cookie %s: status %d, want 401", name, resp.StatusCode)
		}
	}
}

func TestBearerTokenReadsMetricsAndAPI(t *testing.T) {
	ts := newTestServer(t)
	for _, p := range []string{"/metrics", "/api/snapshot"} {
		req, _ := http.NewRequest("GET", ts.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the bearer token: %d, want 200", p, resp.StatusCode)
		}
	}
}

func TestTokenCompare(t *testing.T) {
	a := newAuth(testToken, time.Now)
	for given, want := range map[string]bool{testToken: true, "": false, testToken[:10]: false,
		testToken + testToken: false, " " + testToken: false, strings.ToUpper(testToken): false} {
		if got := a.tokenOK(given); got != want {
			t.Errorf("tokenOK(%q) = %v, want %v", given, got, want)
		}
	}
}

// BenchmarkTokenCompare measures a wrong first byte against a wrong last
// byte, side by side: a constant-time compare shows a ratio near 1.
func BenchmarkTokenCompare(b *testing.B) {
	a := newAuth(testToken, time.Now)
	first := "X" + testToken[1:]
	last := testToken[:len(testToken)-1] + "X"
	var tFirst, tLast time.Duration
	for b.Loop() {
		s := time.Now()
		a.tokenOK(first)
		tFirst += time.Since(s)
		s = time.Now()
		a.tokenOK(last)
		tLast += time.Since(s)
	}
	b.ReportMetric(float64(tFirst)/float64(tLast), "first/last-ratio")
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	for _, p := range []string{"/", "/events", "/api/snapshot", "/metrics", "/assets/style.css", "/nope"} {
		for _, client := range []*http.Client{c, ts.client(t)} {
			resp := ts.get(t, client, p)
			h := resp.Header
			if !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'") ||
				h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" ||
				h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET %s (%d): security headers missing: %v", p, resp.StatusCode, h)
			}
		}
	}
}

// postRun posts "run now" for nations with the given CSRF value and headers.
func (ts *testServer) postRun(t *testing.T, c *http.Client, csrf string, headers map[string]string) *http.Response {
	t.Helper()
	form := url.Values{}
	if csrf != "" {
		form.Set(csrfField, csrf)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/reports/nations/run", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRunNowNeedsCSRFAndSameOrigin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	csrf := csrfOf(t, body(t, ts.get(t, c, "/reports")))
	otherCSRF := csrfOf(t, body(t, ts.get(t, ts.login(t), "/reports")))
	same := map[string]string{"Origin": ts.URL, "Sec-Fetch-Site": "same-origin"}
	cases := []struct {
		name    string
		client  *http.Client
		csrf    string
		headers map[string]string
		want    int
	}{
		{"no cookie", ts.client(t), csrf, same, http.StatusUnauthorized},
		{"bearer token only", ts.client(t), csrf, map[string]string{"Authorization": "Bearer " + testToken}, http.StatusUnauthorized},
		{"no CSRF token", c, "", same, http.StatusForbidden},
		{"wrong CSRF token", c, "abc", same, http.StatusForbidden},
		{"another session's CSRF token", c, otherCSRF, same, http.StatusForbidden},
		{"cross-site fetch", c, csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"foreign Origin", c, csrf, map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"foreign Referer", c, csrf, map[string]string{"Referer": "http://evil.example/page"}, http.StatusForbidden},
	}
	for _, tc := range cases {
		if resp := ts.postRun(t, tc.client, tc.csrf, tc.headers); resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if ts.src.runs != 0 {
		t.Fatalf("a refused POST ran the report %d times", ts.src.runs)
	}
	resp := ts.postRun(t, c, csrf, same)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports/nations/?ran=20250314T120001Z" {
		t.Fatalf("good POST: %d to %q, want 303 to the report with ?ran=", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The header works as well as the form field (for scripts).
	if resp := ts.postRun(t, c, "", map[string]string{csrfHeader: csrf}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST with the CSRF header: %d, want 303", resp.StatusCode)
	}
	page := body(t, ts.get(t, c, "/reports/nations/?ran=20250314T120002Z"))
	if !strings.Contains(page, `id="ran" data-run="20250314T120002Z" data-status="ok"`) {
		t.Fatalf("the report page does not show the finished run:\n%s", page)
	}
}

// Logins cannot grow memory without bound: past the cap the least recently
// used session ends, and past theirs the oldest one-time links.
func TestSessionsAndLinksAreCapped(t *testing.T) {
	now := fixedNow
	a := newAuth(testToken, func() time.Time { return now })
	var values []string
	for range maxSessions {
		values = append(values, a.newSession("h"))
		now = now.Add(time.Second)
	}
	if _, ok := a.session(values[0], "h"); !ok { // values[1] is now the least recently used
		t.Fatal("a session under the cap ended")
	}
	a.newSession("h")
	if _, ok := a.session(values[1], "h"); ok || len(a.sessions) != maxSessions {
		t.Errorf("past the cap: the least recently used session lives (%v), %d sessions", ok, len(a.sessions))
	}
	if _, ok := a.session(values[0], "h"); !ok {
		t.Error("past the cap a recently used session ended")
	}
	var links []string
	for range maxOnce + 1 {
		links = append(links, a.newOnce())
		now = now.Add(time.Millisecond)
	}
	if a.redeemOnce(links[0]) || !a.redeemOnce(links[1]) || len(a.once) != maxOnce-1 {
		t.Errorf("past the cap the oldest one-time link should end, and only it (%d left)", len(a.once))
	}
}
