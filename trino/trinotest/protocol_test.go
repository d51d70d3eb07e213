package trinotest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"moat/trino/trinotest"
)

type results struct {
	ID      string `json:"id"`
	InfoURI string `json:"infoUri"`
	NextURI string `json:"nextUri"`
	Columns []struct {
		Name          string          `json:"name"`
		Type          string          `json:"type"`
		TypeSignature json.RawMessage `json:"typeSignature"`
	} `json:"columns"`
	Data  [][]any `json:"data"`
	Stats struct {
		State string `json:"state"`
	} `json:"stats"`
	Error *struct {
		Message   string `json:"message"`
		ErrorCode int    `json:"errorCode"`
		ErrorName string `json:"errorName"`
		ErrorType string `json:"errorType"`
	} `json:"error"`
}

func get(t *testing.T, method, url string, want int) results {
	t.Helper()
	var r results
	if b := doHTTP(t, method, url, "", nil, want); want == http.StatusOK {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	return r
}

// TestProtocolCancelThenGet follows the protocol by hand: POST, queued,
// first page, DELETE nextUri, then GET nextUri answers USER_CANCELED.
func TestProtocolCancelThenGet(t *testing.T) {
	s := coordinator(t, trinotest.Options{PageSize: 2})
	var r results
	b := doHTTP(t, "POST", s.URL+"/v1/statement", "SELECT regionkey, name FROM tpch.tiny.region", http.Header{"X-Trino-User": {"alice"}}, http.StatusOK)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Stats.State != "QUEUED" || !strings.Contains(r.NextURI, "/v1/statement/queued/"+r.ID+"/") || !strings.HasSuffix(r.InfoURI, "/ui/query.html?"+r.ID) {
		t.Fatalf("POST answered %s", b)
	}
	r = get(t, "GET", r.NextURI, http.StatusOK)
	r = get(t, "GET", r.NextURI, http.StatusOK)
	if len(r.Data) != 2 || len(r.Columns) != 2 || r.Columns[1].Type != "varchar(25)" ||
		string(r.Columns[1].TypeSignature) != `{"rawType":"varchar","arguments":[{"kind":"LONG","value":25}]}` {
		t.Fatalf("first page: %+v", r)
	}
	next := r.NextURI
	get(t, "DELETE", next, http.StatusNoContent)
	r = get(t, "GET", next, http.StatusOK)
	if r.Error == nil || r.Error.ErrorName != "USER_CANCELED" || r.Error.ErrorCode != 3 || r.Error.ErrorType != "USER_ERROR" || r.Stats.State != "FAILED" || r.NextURI != "" {
		t.Errorf("GET after DELETE: %+v %+v", r, r.Error)
	}
	get(t, "GET", strings.Replace(next, r.ID, "20200101_000000_00000_nope0", 1), http.StatusNotFound)
}

func TestWorkerRefusesStatements(t *testing.T) {
	w := trinotest.NewServer(trinotest.Options{})
	defer w.Close()
	doHTTP(t, "POST", w.URL+"/v1/statement", "SELECT 1", http.Header{"X-Trino-User": {"alice"}}, http.StatusNotFound)
	if i := getInfo(t, w.URL); i.Coordinator || i.Starting || i.State != "ACTIVE" || i.NodeVersion.Version == "" {
		t.Errorf("worker /v1/info: %+v", i)
	}
	doHTTP(t, "GET", w.URL+"/v1/info/coordinator", "", nil, http.StatusNotFound)
}
