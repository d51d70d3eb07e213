package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	trinoclient "github.com/trinodb/trino-go-client/trino"

	"moat/appliance"
	moatconfig "moat/appliance/config"
	moatembed "moat/embed"
	"moat/internal/testenv"
	moattrino "moat/trino"
	"moat/trino/trinotest"
)

// policyServer is a coordinator reading the access control files moat
// renders for the moat.toml text, as trinotestd reads them from /etc/trino.
func policyServer(t *testing.T, moatTOML []byte) *trinotest.Server {
	t.Helper()
	cfg, err := moatconfig.Parse(moatTOML, "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := appliance.OpenSecrets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cl := appliance.TrinoCluster(cfg, sec)
	files, err := moattrino.RenderNode(cl, cl.Coordinator)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"access-control.properties", "rules.json"} {
		body := strings.ReplaceAll(string(files[name]), moattrino.ConfigDir, dir)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &config{}
	if err := c.accessControl(dir, os.LookupEnv); err != nil {
		t.Fatalf("trinotestd refuses moat's access control: %v", err)
	}
	if c.opts.AccessControl == nil {
		t.Fatal("no access control loaded from moat's files")
	}
	c.opts.Coordinator = true
	s := trinotest.NewServer(c.opts)
	t.Cleanup(s.Close)
	return s
}

// query runs stmt as user and returns each row's one or two columns joined
// by "|".
func query(t *testing.T, s *trinotest.Server, user, stmt string) ([]string, error) {
	t.Helper()
	conn, err := trinoclient.NewConnector(&trinoclient.Config{ServerURI: strings.Replace(s.URL, "http://", "http://"+user+"@", 1)})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	rows, err := db.Query(stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		var a, b sql.NullString
		if err := rows.Scan([]any{&a, &b}[:len(cols)]...); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimSuffix(a.String+"|"+b.String, "|"))
	}
	return out, rows.Err()
}

func TestMeshStackPoliciesEnforced(t *testing.T) {
	toml, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "mesh-stack.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := policyServer(t, toml)
	must := func(user, sql string) []string {
		t.Helper()
		out, err := query(t, s, user, sql)
		if err != nil {
			t.Fatalf("%s as %s: %v", sql, user, err)
		}
		return out
	}
	denied := func(user, sql, want string) {
		t.Helper()
		if out, err := query(t, s, user, sql); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s as %s: %v %v, want %q", sql, user, out, err, want)
		}
	}
	if got := must("analyst", "SELECT count(*) FROM tpch.tiny.nation"); got[0] != "25" {
		t.Errorf("analyst counts %v nations", got)
	}
	if got := must("analyst", "SELECT nationkey, name FROM tpch.tiny.nation WHERE nationkey = 1"); got[0] != "1|ARGENTINA" {
		t.Errorf("analyst sees %v, want the real name", got)
	}
	got := must("carol", "SELECT nationkey, name FROM tpch.tiny.nation ORDER BY nationkey")
	if want := "1|A*** 2|B*** 3|C*** 17|P*** 24|U***"; strings.Join(got, " ") != want {
		t.Errorf("carol sees %v, want %s", got, want)
	}
	denied("carol", "SELECT count(*) FROM tpch.tiny.region", "Access Denied: Cannot select from table tpch.tiny.region")
	denied("carol", "SELECT count(*) FROM tpch.tiny.customer", "Access Denied: Cannot select from table tpch.tiny.customer")
	// The orchestrator's readiness query, and nothing of the data.
	if got := must("orchestrator", moattrino.ActiveWorkersSQL); got[0] != "0" {
		t.Errorf("orchestrator's readiness query: %v", got)
	}
	denied("orchestrator", "SELECT count(*) FROM tpch.tiny.nation", "Access Denied: Cannot select from table tpch.tiny.nation")
	if got := must("moat", "SELECT count(*) FROM system.runtime.nodes"); got[0] != "1" {
		t.Errorf("moat reads the nodes: %v", got)
	}
	denied("analyst", moattrino.ActiveWorkersSQL, "Access Denied: Cannot select from table system.runtime.nodes")
}

// TestDefaultPolicyExampleEnforced uncomments the [[policy]] example of
// the embedded moat.toml: a row filter and a column mask on customer.
func TestDefaultPolicyExampleEnforced(t *testing.T) {
	toml := string(moatembed.MoatTOML)
	for _, line := range []string{`schema = "tiny"`, `table = "customer"`, `row_filter = "nationkey < 10"`, `[[policy.column]]`, `name = "phone"`, `mask = "'***'"`} {
		if !strings.Contains(toml, "# "+line+"\n") {
			t.Fatalf("embed/moat.toml no longer has the example line %q", line)
		}
		toml = strings.Replace(toml, "# "+line+"\n", line+"\n", 1)
	}
	s := policyServer(t, []byte(toml))
	rows, err := query(t, s, "analyst", "SELECT DISTINCT phone FROM tpch.tiny.customer")
	if err != nil || len(rows) != 1 || rows[0] != "***" {
		t.Errorf("analyst's phones: %v %v, want only the mask ***", rows, err)
	}
	n, err := query(t, s, "analyst", "SELECT count(*) FROM tpch.tiny.customer WHERE nationkey >= 10")
	if err != nil || n[0] != "0" {
		t.Errorf("customers outside the filter: %v %v, want 0", n, err)
	}
	all := trinotest.NewServer(trinotest.Options{Coordinator: true})
	defer all.Close()
	want, _ := query(t, all, "x", "SELECT count(*) FROM tpch.tiny.customer WHERE nationkey < 10")
	if got, err := query(t, s, "analyst", "SELECT count(*) FROM tpch.tiny.customer"); err != nil || got[0] != want[0] || want[0] == "0" {
		t.Errorf("analyst counts %v customers (%v), want the %v with nationkey < 10", got, err, want)
	}
	if _, err := query(t, s, "analyst", "SELECT count(*) FROM tpch.tiny.nation"); err == nil || !strings.Contains(err.Error(), "Access Denied: Cannot select from table tpch.tiny.nation") {
		t.Errorf("the example grants only customer; nation: %v", err)
	}
}
