package webui

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// These tests take the side of a local attacker: code in the notebook (or
// any service on another port of the same host) that received the
// dashboard's cookie, a web page that rebinds its DNS name to loopback, a
// user who reads other processes' argv.

// request sends one request as the attacker would: no cookie jar, no
// redirects followed, and whatever Host, cookie and headers it likes; a
// non-nil form is the body of a POST.
func (ts *testServer) request(t *testing.T, method, path string, form url.Values, opts ...func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, o := range opts {
		o(req)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func withHost(h string) func(*http.Request) { return func(r *http.Request) { r.Host = h } }

func withCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieName, Value: v}) }
}

func withHeader(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }

// sessionCookie is the session cookie value client c holds.
func (ts *testServer) sessionCookie(t *testing.T, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	t.Fatal("the client holds no session cookie")
	return ""
}

// sameOriginHeaders are what a browser sends with a form posted from a
// dashboard page.
func (ts *testServer) sameOriginHeaders() []func(*http.Request) {
	return []func(*http.Request){withHeader("Origin", ts.URL), withHeader("Sec-Fetch-Site", "same-origin")}
}

// A page whose DNS name the attacker rebinds to the dashboard's address
// sends its own name as Host: nothing is served to it, not even the token
// exchange or the assets, whatever credential comes along.
func TestDNSRebindingForeignHostIsRefused(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	cookie := ts.sessionCookie(t, c)
	csrf := csrfOf(t, body(t, ts.get(t, c, "/reports")))
	port := ts.port()
	paths := append([]string{"/assets/style.css", "/?token=" + testToken, "/login?token=" + testToken, "/nope"}, guarded...)
	for _, host := range []string{"rebind.attacker.example:" + port, "rebind.attacker.example", "127.0.0.2:" + port,
		"127.0.0.1:1", "0.0.0.0:" + port, "localhost.attacker.example:" + port, "[::1]:" + port} {
		for _, p := range paths {
			for name, cred := range map[string]func(*http.Request){
				"no credential": func(*http.Request) {},
				"bearer token":  withHeader("Authorization", "Bearer "+testToken),
				"cookie":        withCookie(cookie),
			} {
				resp := ts.request(t, "GET", p, nil, withHost(host), cred)
				if resp.StatusCode != http.StatusMisdirectedRequest || len(resp.Cookies()) != 0 {
					t.Errorf("GET %s, Host %s, %s: %d with cookies %v, want 421 and none", p, host, name,
						resp.StatusCode, resp.Cookies())
					continue // (a live stream would never end)
				}
				if b := body(t, resp); strings.Contains(b, "trino") || strings.Contains(b, testToken) {
					t.Errorf("GET %s, Host %s: the refusal shows the stack or the token: %s", p, host, b)
				}
			}
		}
		// The rebinding page is same-origin with itself: its Origin names
		// its own host, so only the Host check stops the POST.
		resp := ts.request(t, "POST", "/reports/nations/run", url.Values{csrfField: {csrf}}, withHost(host),
			withCookie(cookie), withHeader("Origin", "http://"+host), withHeader("Sec-Fetch-Site", "same-origin"))
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("POST run, Host %s: %d, want 421", host, resp.StatusCode)
		}
	}
	if ts.src.runs != 0 {
		t.Fatalf("a request for another host ran the report %d times", ts.src.runs)
	}
	// Its own address and localhost on its port are served.
	for _, host := range []string{ts.host(), "localhost:" + port, "LOCALHOST:" + port} {
		if resp := ts.request(t, "GET", "/?token="+testToken, nil, withHost(host)); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login with Host %s: %d, want 303", host, resp.StatusCode)
		}
	}
}

// Browsers send a cookie to every port of its host, so Jupyter on another
// port of the same address sees it. A session works only for the Host it
// was made for.
func TestCookieReplayedForAnotherHostIsRefused(t *testing.T) {
	ts := newTestServer(t)
	atIP := ts.sessionCookie(t, ts.login(t))
	resp := ts.request(t, "GET", "/?token="+testToken, nil, withHost("localhost:"+ts.port()))
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login at localhost: %d with %v", resp.StatusCode, resp.Cookies())
	}
	atLocalhost := resp.Cookies()[0].Value
	for _, tc := range []struct {
		name, cookie, host string
		want               int
	}{
		{"the IP's session at the IP", atIP, ts.host(), http.StatusOK},
		{"localhost's session at localhost", atLocalhost, "localhost:" + ts.port(), http.StatusOK},
		{"the IP's session at localhost", atIP, "localhost:" + ts.port(), http.StatusUnauthorized},
		{"localhost's session at the IP", atLocalhost, ts.host(), http.StatusUnauthorized},
	} {
		if resp := ts.request(t, "GET", "/api/snapshot", nil, withHost(tc.host), withCookie(tc.cookie)); resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// Whoever copied the cookie loses it when the user signs out: the session
// ends on the server, not only in the browser.
func TestLogoutRevokesTheSessionOnTheServer(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	stolen := ts.sessionCookie(t, c)
	other := ts.sessionCookie(t, ts.login(t)) // another browser's session
	csrf := csrfOf(t, body(t, ts.get(t, c, "/")))
	same := ts.sameOriginHeaders()
	logout := func(form url.Values, opts ...func(*http.Request)) *http.Response {
		return ts.request(t, "POST", "/logout", form, append([]func(*http.Request){withCookie(stolen)}, opts...)...)
	}
	good := url.Values{csrfField: {csrf}}
	for name, resp := range map[string]*http.Response{
		"no CSRF token":  logout(url.Values{}, same...),
		"wrong CSRF":     logout(url.Values{csrfField: {"abc"}}, same...),
		"cross-site":     logout(good, withHeader("Sec-Fetch-Site", "cross-site")),
		"foreign Origin": logout(good, withHeader("Origin", "http://evil.example")),
	} {
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("logout with %s: %d, want 403", name, resp.StatusCode)
		}
	}
	if resp := ts.request(t, "GET", "/", nil, withCookie(stolen)); resp.StatusCode != http.StatusOK {
		t.Fatalf("a refused logout ended the session: %d", resp.StatusCode)
	}
	resp := logout(good, same...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d, want 200", resp.StatusCode)
	}
	if ck := resp.Cookies(); len(ck) != 1 || ck[0].Name != cookieName || ck[0].MaxAge >= 0 || ck[0].Value != "" {
		t.Errorf("logout does not clear the cookie: %+v", ck)
	}
	if b := body(t, resp); !strings.Contains(b, "Signed out") {
		t.Errorf("the logout page: %s", b)
	}
	for _, p := range []string{"/", "/api/snapshot", "/api/stream?view=overview"} {
		if resp := ts.request(t, "GET", p, nil, withCookie(stolen)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with the copied cookie after logout: %d, want 401", p, resp.StatusCode)
		}
	}
	if resp := ts.request(t, "GET", "/", nil, withCookie(other)); resp.StatusCode != http.StatusOK {
		t.Errorf("logout ended another browser's session: %d", resp.StatusCode)
	}
}

// A copied cookie is worth hours, not days: 12 h without use, 24 h at most
// however busy the session is.
func TestSessionsExpireWhenIdleAndAfterADay(t *testing.T) {
	ts := newTestServer(t)
	busy := ts.sessionCookie(t, ts.login(t))
	idle := ts.sessionCookie(t, ts.login(t))
	status := func(cookie string) int {
		return ts.request(t, "GET", "/api/snapshot", nil, withCookie(cookie)).StatusCode
	}
	ts.clock.advance(11*time.Hour + 59*time.Minute)
	if got := status(busy); got != http.StatusOK {
		t.Fatalf("a session used after 11h59m: %d, want 200", got)
	}
	ts.clock.advance(2 * time.Minute) // idle's last use was 12h01m ago
	if got := status(idle); got != http.StatusUnauthorized {
		t.Errorf("a session idle for 12h01m: %d, want 401", got)
	}
	ts.clock.advance(11*time.Hour + 58*time.Minute) // 23h59m after login; busy's last use 11h59m ago
	if got := status(busy); got != http.StatusOK {
		t.Fatalf("a busy session 23h59m after login: %d, want 200", got)
	}
	ts.clock.advance(2 * time.Minute)
	if got := status(busy); got != http.StatusUnauthorized {
		t.Errorf("a busy session 24h01m after login: %d, want 401", got)
	}
	if resp := ts.request(t, "GET", "/?token="+testToken, nil); len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge > 24*3600 {
		t.Errorf("the cookie outlives the session: %+v", resp.Cookies())
	}
}

// `moat up --open` hands the browser a one-time URL: whoever reads it from
// the browser's argv gets no lasting secret, and nothing once the browser
// has used it or a minute has passed.
func TestOneTimeURLWorksOnceAndSoon(t *testing.T) {
	ts := newTestServer(t)
	link := ts.srv.OneTimeURL()
	u, err := url.Parse(link)
	if err != nil || "http://"+u.Host != ts.URL || u.Path != "/login" || strings.Contains(link, testToken) {
		t.Fatalf("one-time URL %q: want %s/login?once=… without the token", link, ts.URL)
	}
	nonce := u.Query().Get(onceParam)
	for name, cred := range map[string]func(*http.Request){
		"bearer": withHeader("Authorization", "Bearer "+nonce), "cookie": withCookie(nonce),
	} {
		if resp := ts.request(t, "GET", "/api/snapshot", nil, cred); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the one-time secret as a %s: %d, want 401", name, resp.StatusCode)
		}
	}
	if resp := ts.request(t, "GET", "/?token="+url.QueryEscape(nonce), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the one-time secret as ?token=: %d, want 401", resp.StatusCode)
	}
	browser := ts.client(t)
	resp := ts.get(t, browser, u.RequestURI())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 {
		t.Fatalf("first use: %d to %q with %v, want 303 to / with a cookie", resp.StatusCode,
			resp.Header.Get("Location"), resp.Cookies())
	}
	if resp := ts.get(t, browser, "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the browser after the one-time login: %d", resp.StatusCode)
	}
	if resp := ts.request(t, "GET", u.RequestURI(), nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("second use: %d with %v, want 401 and no cookie", resp.StatusCode, resp.Cookies())
	}
	late := ts.srv.OneTimeURL()
	ts.clock.advance(onceTTL)
	if resp := ts.request(t, "GET", strings.TrimPrefix(late, ts.URL), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("use after a minute: %d, want 401", resp.StatusCode)
	}
}

// No secret (token, one-time link, cookie) reaches the log or a page, be
// it given right, wrong or in the wrong place.
func TestNoSecretInLogsOrPages(t *testing.T) {
	ts := newTestServer(t)
	link := ts.srv.OneTimeURL()
	c := ts.client(t)
	ts.get(t, c, strings.TrimPrefix(link, ts.URL))
	cookie := ts.sessionCookie(t, c)
	var pages []string
	var paths []string
	for _, p := range guarded {
		if !strings.HasPrefix(p, "/api/stream") { // (a live stream never ends)
			paths = append(paths, p)
		}
	}
	for _, p := range append([]string{"/?token=wrong-" + testToken, strings.TrimPrefix(link, ts.URL),
		"/login?once=" + cookie, "/services/nope", "/reports/nope/"}, paths...) {
		for _, cred := range []func(*http.Request){withCookie(cookie), withCookie(testToken),
			withHeader("Authorization", "Bearer "+cookie)} {
			pages = append(pages, body(t, ts.request(t, "GET", p, nil, cred)))
		}
	}
	pages = append(pages, body(t, ts.request(t, "GET", "/", nil, withHost("rebind.example"), withCookie(cookie))))
	csrf := csrfOf(t, body(t, ts.get(t, c, "/")))
	pages = append(pages, body(t, ts.request(t, "POST", "/logout", url.Values{csrfField: {csrf}}, withCookie(cookie))))
	secrets := map[string]string{"token": testToken, "cookie": cookie, "one-time link": link[strings.Index(link, "=")+1:]}
	for name, secret := range secrets {
		if strings.Contains(ts.logs.String(), secret) {
			t.Errorf("the log holds the %s:\n%s", name, ts.logs.String())
		}
		for _, p := range pages {
			if strings.Contains(p, secret) {
				t.Errorf("a page shows the %s:\n%s", name, p)
			}
		}
	}
	if !strings.Contains(ts.logs.String(), "refused a login") {
		t.Errorf("the refused logins were not logged:\n%s", ts.logs.String())
	}
}

func TestNewNeedsALoopbackListenAddress(t *testing.T) {
	for _, addr := range []string{"", "0.0.0.0:7700", "[::]:7700", "192.168.1.5:7700", "localhost:7700", "127.77.0.1:0",
		"127.77.0.1"} {
		if _, err := New(Options{Source: newMemSource(t.TempDir()), Token: testToken, Addr: addr}); err == nil {
			t.Errorf("New accepted listen address %q", addr)
		}
	}
	s, err := New(Options{Source: newMemSource(t.TempDir()), Token: testToken, Addr: "127.77.0.1:7700"})
	if err != nil || s.URL() != "http://127.77.0.1:7700" {
		t.Fatalf("New(127.77.0.1:7700): %v, URL %q", err, s.URL())
	}
}

// A live stream opened with a copied cookie does not outlast the session:
// the logout ends it.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	stolen := ts.sessionCookie(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound, not a wait
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/stream?view=overview", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: stolen})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	readEvent(t, stream)
	csrf := csrfOf(t, body(t, ts.get(t, c, "/")))
	if resp := ts.request(t, "POST", "/logout", url.Values{csrfField: {csrf}}, withCookie(stolen)); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if rest, err := io.ReadAll(stream); err != nil {
		t.Fatalf("the stream outlived the logout: %v (after %q)", err, rest)
	}
}
