package trinotest_test

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/trinodb/trino-go-client/trino"

	"moat/trino/trinotest"
)

// tlsProxy stands for a TLS-terminating proxy (an Envoy sidecar): the client
// speaks https, the request reaches the server over plain HTTP, with
// X-Forwarded-Proto: https when forward is set.
type tlsProxy struct{ forward bool }

func (p tlsProxy) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme = "http"
	if p.forward {
		r.Header.Set("X-Forwarded-Proto", "https")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func passwordServer(t *testing.T, opts trinotest.Options) *trinotest.Server {
	t.Helper()
	opts.PasswordFile = []byte("orchestrator:" + hash(t, "s3cret") + "\nalice:" + hash(t, "alice-pw") + "\n")
	return coordinator(t, opts)
}

func httpsURL(s *trinotest.Server, user, password string) string {
	return strings.Replace(s.URL, "http://", "https://"+user+":"+password+"@", 1)
}

func TestPasswordAuthentication(t *testing.T) {
	s := passwordServer(t, trinotest.Options{ProcessForwarded: true})
	proxied := &http.Client{Transport: tlsProxy{forward: true}}

	db := open(t, trino.Config{ServerURI: httpsURL(s, "orchestrator", "s3cret"), HTTPClient: proxied})
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil || n != 25 {
		t.Fatalf("right password through a TLS proxy: %d, %v", n, err)
	}
	if q := s.Queries(); len(q) != 1 || q[0].Principal != "orchestrator" || q[0].User != "orchestrator" {
		t.Errorf("recorded %+v, want one query by orchestrator", q)
	}

	wrong := open(t, trino.Config{ServerURI: httpsURL(s, "orchestrator", "nope"), HTTPClient: proxied})
	err := wrong.QueryRow("SELECT 1").Scan(&n)
	var qf *trino.ErrQueryFailed
	if !errors.As(err, &qf) || qf.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "Access Denied: Invalid credentials") {
		t.Errorf("wrong password: %v, want 401 Access Denied: Invalid credentials", err)
	}
	if strings.Contains(err.Error(), "nope") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestPasswordOverPlainHTTPRejected(t *testing.T) {
	s := passwordServer(t, trinotest.Options{})
	plain := &http.Client{Transport: tlsProxy{forward: false}}
	db := open(t, trino.Config{ServerURI: httpsURL(s, "alice", "alice-pw"), HTTPClient: plain})
	var n int64
	err := db.QueryRow("SELECT 1").Scan(&n)
	var qf *trino.ErrQueryFailed
	if !errors.As(err, &qf) || qf.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "Password not allowed for insecure authentication") {
		t.Errorf("password over HTTP: %v, want 401 Password not allowed for insecure authentication", err)
	}
	if len(s.Queries()) != 0 {
		t.Errorf("a rejected request reached the engine: %+v", s.Queries())
	}
}

func TestForwardedHeaderWithoutProcessForwarded(t *testing.T) {
	s := passwordServer(t, trinotest.Options{})
	db := open(t, trino.Config{ServerURI: httpsURL(s, "alice", "alice-pw"), HTTPClient: &http.Client{Transport: tlsProxy{forward: true}}})
	var n int64
	err := db.QueryRow("SELECT 1").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "Server configuration does not allow processing of the X-Forwarded-Proto header") {
		t.Errorf("X-Forwarded-Proto without process-forwarded: %v, want 406", err)
	}
}

func TestDenyInsecureOverHTTP(t *testing.T) {
	s := passwordServer(t, trinotest.Options{DenyInsecureOverHTTP: true})
	doHTTP(t, "POST", s.URL+"/v1/statement", "SELECT 1", http.Header{"X-Trino-User": {"alice"}}, http.StatusForbidden)
}

func TestWWWAuthenticateChallenge(t *testing.T) {
	s := passwordServer(t, trinotest.Options{ProcessForwarded: true})
	req, _ := http.NewRequest("POST", s.URL+"/v1/statement", strings.NewReader("SELECT 1"))
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="Trino"` {
		t.Errorf("no credentials: %d %q, want 401 Basic realm=\"Trino\"", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestImpersonation(t *testing.T) {
	rules, err := trinotest.LoadRules([]byte(`{
		"catalogs": [{"allow": "all"}],
		"impersonation": [
			{"original_user": "orchestrator", "new_user": "admin", "allow": false},
			{"original_user": "orchestrator", "new_user": ".*"},
			{"original_user": "(.*)", "new_user": "$1_test"}
		]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := passwordServer(t, trinotest.Options{ProcessForwarded: true, Impersonation: rules})
	proxied := &http.Client{Transport: tlsProxy{forward: true}}
	db := open(t, trino.Config{ServerURI: httpsURL(s, "orchestrator", "s3cret"), HTTPClient: proxied})

	tests := []struct {
		as      string
		allowed bool
	}{{"bob", true}, {"admin", false}, {"orchestrator_test", true}}
	for _, tt := range tests {
		var user string
		err := db.QueryRow("SELECT current_user", sql.Named("X-Trino-User", tt.as)).Scan(&user)
		if tt.allowed && (err != nil || user != tt.as) {
			t.Errorf("orchestrator as %s: %q, %v; want allowed", tt.as, user, err)
		}
		var te *trino.ErrTrino
		if !tt.allowed && (!errors.As(err, &te) || te.ErrorName != "PERMISSION_DENIED" || te.Message != "Access Denied: User orchestrator cannot impersonate user "+tt.as) {
			t.Errorf("orchestrator as %s: %v; want PERMISSION_DENIED", tt.as, err)
		}
	}
	alice := open(t, trino.Config{ServerURI: httpsURL(s, "alice", "alice-pw"), HTTPClient: proxied})
	var user string
	if err := alice.QueryRow("SELECT current_user", sql.Named("X-Trino-User", "bob")).Scan(&user); err == nil {
		t.Error("alice impersonated bob with no rule allowing it")
	}
	var got []string
	for _, q := range s.Queries() {
		got = append(got, q.Principal+">"+q.User+":"+q.State)
	}
	want := "orchestrator>bob:FINISHED orchestrator>admin:FAILED orchestrator>orchestrator_test:FINISHED alice>bob:FAILED"
	if strings.Join(got, " ") != want {
		t.Errorf("recorded %v, want %s", got, want)
	}
}

func TestLoadRulesErrors(t *testing.T) {
	for _, bad := range []string{`{"impersonation": [{"original_user": "a"}]}`, `{"impersonation": [{"new_user": "("}]}`, `not json`} {
		if _, err := trinotest.LoadRules([]byte(bad)); err == nil {
			t.Errorf("LoadRules(%s) accepted invalid rules", bad)
		}
	}
}

func TestPasswordFileErrors(t *testing.T) {
	for _, bad := range []string{"alice", "alice:plaintext", "alice:$2a$04$abcdefghijklmnopqrstuuN7Qb3yM4LXJvI1s5Kx8vH1N6n7OeQ8y"} {
		if _, err := trinotest.NewUnstartedServer(trinotest.Options{PasswordFile: []byte(bad)}); err == nil {
			t.Errorf("password file %q accepted", bad)
		} else if strings.Contains(err.Error(), "plaintext") || strings.Contains(err.Error(), "abcdefghij") {
			t.Errorf("error %q shows the hash", err)
		}
	}
}
