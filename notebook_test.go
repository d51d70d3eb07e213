package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	moatembed "moat/embed"
	"moat/internal/testenv"
	"moat/trino"
	"moat/trino/trinotest"
)

// The sample notebook's code, run with python3 against the Trino protocol
// server configured as moat configures the coordinator (passwords only over
// TLS or forwarded-TLS, no unauthenticated HTTP): it authenticates and pages
// through all 25 nations.
func TestSampleNotebookQueriesTrino(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		testenv.Missing(t, "python3 is not installed (apt-get install python3)")
	}
	pw, err := trino.PasswordFile([]trino.User{{Name: "analyst", Password: "fake-analyst-password"}}, 8)
	if err != nil {
		t.Fatal(err)
	}
	srv := trinotest.NewServer(trinotest.Options{Coordinator: true, PasswordFile: pw, ProcessForwarded: true, DenyInsecureOverHTTP: true, PageSize: 10})
	defer srv.Close()
	var nb struct {
		Cells []struct {
			Type   string   `json:"cell_type"`
			Source []string `json:"source"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(moatembed.SampleNotebook, &nb); err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, c := range nb.Cells {
		if c.Type == "code" {
			code.WriteString(strings.Join(c.Source, "") + "\n")
		}
	}
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	cmd := exec.Command(python, "-c", code.String())
	cmd.Env = []string{"TRINO_HOST=" + host, "TRINO_PORT=" + port, "TRINO_USER=analyst", "TRINO_PASSWORD=fake-analyst-password"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "25 rows") || !strings.Contains(string(out), "ALGERIA") {
		t.Fatalf("the notebook's code: %v\n%s", err, out)
	}
	q, _ := srv.WaitQuery(t.Context(), func(q trinotest.RecordedQuery) bool { return strings.Contains(q.SQL, "FROM nation") })
	if q.Principal != "analyst" || q.User != "analyst" || q.Source != "moat-notebook" {
		t.Errorf("the server saw %+v", q)
	}
}
