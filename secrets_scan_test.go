package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"moat/appliance"
	"moat/state"
)

// secretNeedles are the values an auditor looks for: every secret moat
// generated, and a stretch of every private key's body.
func secretNeedles(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	sec, err := appliance.OpenSecrets(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range sec.Names() {
		v, _ := sec.Get(name)
		switch {
		case strings.Contains(v, "PRIVATE KEY"):
			lines := strings.Split(v, "\n")
			if len(lines) > 2 {
				out[name] = lines[1] // a line of the key's base64 body
			}
		case strings.Contains(v, "CERTIFICATE"): // public
		case len(v) >= 12:
			out[name] = v
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d secrets to look for: %v", len(out), out)
	}
	return out
}

// scanForSecrets fails when a secret appears anywhere a local user, a log
// reader or the dashboard could see: every process's argv on the host, the
// argv of every container and of every exec Docker recorded, every row of
// moat.db, moat's log and `moat status --json`.
func scanForSecrets(t *testing.T, s *testStack, when string) {
	t.Helper()
	needles := secretNeedles(t, s.dataDir)
	places := map[string]string{}
	ps, _ := exec.Command("ps", "-eo", "args").CombinedOutput()
	places["host argv (ps)"] = string(ps)
	ids := strings.Fields(s.labelled("container"))
	for _, id := range ids {
		out, _ := exec.Command("docker", "inspect", "-f", "{{.Name}} {{json .Path}} {{json .Args}} {{json .Config.Cmd}} {{json .Config.Entrypoint}} {{json .ExecIDs}}", id).CombinedOutput()
		places["docker inspect "+id] = string(out)
		for _, exe := range strings.FieldsFunc(string(out), func(r rune) bool { return r == '"' || r == '[' || r == ']' || r == ',' || r == ' ' }) {
			if len(exe) == 64 && !strings.HasPrefix(id, exe[:12]) {
				rec, _ := exec.Command("docker", "inspect", exe).CombinedOutput()
				places["docker exec record "+exe[:12]] = string(rec)
			}
		}
	}
	places["moat.log"] = readFile(filepath.Join(s.dataDir, "moat.log"))
	status, _ := s.moat("status", "--json")
	places["moat status --json"] = status
	places["moat.db"] = dumpDB(t, filepath.Join(s.dataDir, state.FileName))
	for where, text := range places {
		for name, v := range needles {
			if strings.Contains(text, v) {
				t.Errorf("%s: secret %s appears in %s", when, name, where)
			}
		}
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// dumpDB is every row of every table, as text.
func dumpDB(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		r, err := db.Query("SELECT * FROM " + tbl)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			r.Scan(ptrs...)
			fmt.Fprintf(&b, "%s %v\n", tbl, vals)
		}
		r.Close()
	}
	if b.Len() == 0 {
		t.Fatal("moat.db holds no rows to scan")
	}
	return b.String()
}
