package trino

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the official driver against a TLS httptest server that
// answers with Trino's documented JSON (client protocol: POST /v1/statement,
// follow nextUri; /v1/info; PUT /v1/info/state); trinotest_test.go runs it
// against moat/trino/trinotest.

const (
	principal   = "orchestrator"
	principalPW = "fake-orch-pw-2b77"
)

type page map[string]any

type fakeTrino struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []*http.Request // headers of every statement request
	queries  map[string][]page
}

func bigintCol(name string) map[string]any {
	return map[string]any{"name": name, "type": "bigint", "typeSignature": map[string]any{"rawType": "bigint", "arguments": []any{}}}
}

func varcharCol(name string) map[string]any {
	return map[string]any{"name": name, "type": "varchar(25)", "typeSignature": map[string]any{"rawType": "varchar",
		"arguments": []any{map[string]any{"kind": "LONG", "value": 25}}}}
}

// answers maps a statement to the pages after the first (queued) answer.
func answers(sql string) []page {
	switch {
	case sql == ActiveWorkersSQL:
		return []page{{"columns": []any{bigintCol("_col0")}, "data": []any{[]any{3}}, "stats": map[string]any{"state": "FINISHED"}}}
	case strings.HasPrefix(sql, "SELECT nationkey, name FROM"):
		cols := []any{bigintCol("nationkey"), varcharCol("name")}
		return []page{
			{"columns": cols, "data": []any{[]any{0, "ALGERIA"}, []any{1, "ARGENTINA"}}, "stats": map[string]any{"state": "RUNNING"}},
			{"columns": cols, "data": []any{[]any{2, "BRAZIL"}}, "stats": map[string]any{"state": "FINISHED"}},
		}
	default: // as Trino answers right after start, before workers announce
		return []page{{"stats": map[string]any{"state": "FAILED"}, "error": map[string]any{
			"message": "No nodes available to run query", "errorCode": 65541, "errorName": "NO_NODES_AVAILABLE", "errorType": "INTERNAL_ERROR"}}}
	}
}

func newFakeTrino(t *testing.T) *fakeTrino {
	f := &fakeTrino{queries: map[string][]page{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"nodeVersion":{"version":"483"},"environment":"moat","coordinator":true,"starting":false,"uptime":"5.02m"}`)
	})
	mux.HandleFunc("PUT /v1/info/state", f.state)
	mux.HandleFunc("POST /v1/statement", f.statement)
	mux.HandleFunc("GET /v1/statement/executing/{id}/{slug}/{n}", f.next)
	mux.HandleFunc("DELETE /v1/statement/executing/{id}/{slug}/{n}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTrino) state(w http.ResponseWriter, r *http.Request) {
	user, pw, ok := r.BasicAuth()
	body, _ := io.ReadAll(r.Body)
	switch {
	case !ok || user != "moat" || pw != "fake-moat-pw-c4b8":
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	case r.Header.Get("Content-Type") != "application/json" || string(body) != `"SHUTTING_DOWN"`:
		http.Error(w, "bad state "+string(body), http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (f *fakeTrino) statement(w http.ResponseWriter, r *http.Request) {
	user, pw, ok := r.BasicAuth()
	if !ok || user != principal || pw != principalPW {
		http.Error(w, "Access Denied: Invalid credentials", http.StatusUnauthorized)
		return
	}
	if r.TLS == nil {
		http.Error(w, "Password not allowed for insecure authentication", http.StatusForbidden)
		return
	}
	// Like Trino without http-server.process-forwarded (airlift's
	// RejectForwardedRequestCustomizer).
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-forwarded-") {
			http.Error(w, "Server configuration does not allow processing of the "+name+" header", http.StatusNotAcceptable)
			return
		}
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	id := fmt.Sprintf("20260722_000000_%05d_moat0", len(f.requests))
	f.requests = append(f.requests, r)
	f.queries[id] = answers(string(body))
	f.mu.Unlock()
	writeJSON(w, page{"id": id, "infoUri": f.srv.URL + "/ui/query.html?" + id, "nextUri": f.nextURI(id, 1), "stats": map[string]any{"state": "QUEUED"}})
}

func (f *fakeTrino) nextURI(id string, n int) string {
	return fmt.Sprintf("%s/v1/statement/executing/%s/y%d/%d", f.srv.URL, id, n, n)
}

func (f *fakeTrino) next(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var n int
	fmt.Sscan(r.PathValue("n"), &n)
	f.mu.Lock()
	pages := f.queries[id]
	f.mu.Unlock()
	if n < 1 || n > len(pages) {
		http.NotFound(w, r)
		return
	}
	p := page{"id": id, "infoUri": f.srv.URL + "/ui/query.html?" + id}
	for k, v := range pages[n-1] {
		p[k] = v
	}
	if n < len(pages) {
		p["nextUri"] = f.nextURI(id, n+1)
	}
	writeJSON(w, p)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(v)
	w.Write(b)
}

func (f *fakeTrino) open(t *testing.T, password, sessionUser string) *sql.DB {
	t.Helper()
	db, err := Open(context.Background(), Endpoint{URL: f.srv.URL, User: principal, Password: password, SessionUser: sessionUser,
		HTTPClient: f.srv.Client(), Source: "moat-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestInfoAndShutdown(t *testing.T) {
	f := newFakeTrino(t)
	ctx := context.Background()
	info, err := Info(ctx, f.srv.Client(), f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := (NodeInfo{Version: "483", Environment: "moat", Coordinator: true, Starting: false, Uptime: "5.02m"}); info != want {
		t.Errorf("Info = %+v, want %+v", info, want)
	}
	if err := Shutdown(ctx, f.srv.Client(), f.srv.URL, "moat", "fake-moat-pw-c4b8"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	err = Shutdown(ctx, f.srv.Client(), f.srv.URL, "moat", "wrong-pw")
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: Unauthorized: check moat's credentials") || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("Shutdown with a wrong password: %v", err)
	}
	if err := Shutdown(ctx, http.DefaultClient, "http://172.30.0.11:8080", "moat", "fake-moat-pw-c4b8"); err == nil ||
		!strings.Contains(err.Error(), "refusing to send the password of moat over http to 172.30.0.11:8080; use https") {
		t.Errorf("Shutdown over plain http: %v", err)
	}
}

// The client sends the session user and no X-Forwarded-* header: its TLS
// reaches Trino end to end, so there is nothing to claim.
func TestOpenSessionUserAndNoForwardedHeader(t *testing.T) {
	f := newFakeTrino(t)
	db := f.open(t, principalPW, "alice")
	n, err := ActiveWorkers(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("ActiveWorkers = %d, want 3", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 1 {
		t.Fatalf("%d statements sent, want 1", len(f.requests))
	}
	h := f.requests[0].Header
	if got := h.Get("X-Trino-User"); got != "alice" {
		t.Errorf("X-Trino-User = %q, want the session user alice", got)
	}
	if got := h.Get("X-Trino-Source"); got != "moat-test" {
		t.Errorf("X-Trino-Source = %q", got)
	}
	if u, _, _ := f.requests[0].BasicAuth(); u != principal {
		t.Errorf("basic-auth user = %q, want the principal %s", u, principal)
	}
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-forwarded-") {
			t.Errorf("the client sent %s", name)
		}
	}
}

func TestQueryStreamsRows(t *testing.T) {
	f := newFakeTrino(t)
	db := f.open(t, principalPW, "")
	var cols []Column
	var rows []string
	res, err := Query(context.Background(), db, "SELECT nationkey, name FROM tpch.tiny.nation", Handler{
		Columns: func(c []Column) error { cols = c; return nil },
		Row:     func(v []any) error { rows = append(rows, fmt.Sprint(v...)); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cols) != "[{nationkey bigint} {name varchar}]" || res.Rows != 3 {
		t.Errorf("columns %v rows %d", cols, res.Rows)
	}
	if got := strings.Join(rows, ","); got != "0ALGERIA,1ARGENTINA,2BRAZIL" {
		t.Errorf("rows = %s", got)
	}
	// A handler error stops the query and comes back as is.
	stop := errors.New("enough")
	res, err = Query(context.Background(), db, "SELECT nationkey, name FROM tpch.tiny.nation", Handler{Row: func([]any) error { return stop }})
	if !errors.Is(err, stop) || res.Rows != 1 {
		t.Errorf("stopping handler: rows %d err %v", res.Rows, err)
	}
}

func TestErrorMapping(t *testing.T) {
	f := newFakeTrino(t)
	db := f.open(t, principalPW, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Query(ctx, db, "SELECT 1", Handler{})
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Name != "NO_NODES_AVAILABLE" ||
		err.Error() != "No nodes available to run query: the coordinator has no active worker yet; wait until the workers have announced themselves (moat status), or check the workers' logs" {
		t.Errorf("no nodes: %v", err)
	}
	bad := f.open(t, "wrong-password-123", "")
	_, err = ActiveWorkers(ctx, bad)
	if !errors.As(err, &qe) || qe.Name != "HTTP_Unauthorized" || !strings.Contains(err.Error(), "the user or password was refused") {
		t.Errorf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestOpenRefusesPlainHTTP(t *testing.T) {
	_, err := Open(context.Background(), Endpoint{URL: "http://127.0.0.1:28080", User: "moat", Password: "fake-moat-pw-c4b8"})
	if err == nil || !strings.Contains(err.Error(), "want https://host:port") || strings.Contains(err.Error(), "fake-moat-pw") {
		t.Errorf("Open over http: %v", err)
	}
}
