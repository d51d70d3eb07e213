package trinotest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

type info struct {
	NodeID      string `json:"nodeId"`
	State       string `json:"state"`
	Environment string `json:"environment"`
	Coordinator bool   `json:"coordinator"`
	Starting    bool   `json:"starting"`
	Uptime      string `json:"uptime"`
	NodeVersion struct {
		Version string `json:"version"`
	} `json:"nodeVersion"`
}

func getInfo(t *testing.T, base string) info {
	t.Helper()
	var i info
	if err := json.Unmarshal(doHTTP(t, "GET", base+"/v1/info", "", nil, http.StatusOK), &i); err != nil {
		t.Fatal(err)
	}
	return i
}

// doHTTP sends a request and fails t unless the status is want.
func doHTTP(t *testing.T, method, url, body string, header http.Header, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d (%s), want %d", method, url, resp.StatusCode, b, want)
	}
	return b
}
