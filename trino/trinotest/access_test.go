package trinotest_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trinodb/trino-go-client/trino"

	"moat/trino/trinotest"
)

// ruledServer is a coordinator enforcing rulesJSON.
func ruledServer(t *testing.T, rulesJSON string) *trinotest.Server {
	t.Helper()
	ac, err := trinotest.ParseAccessControl([]byte(rulesJSON))
	if err != nil {
		t.Fatalf("ParseAccessControl: %v", err)
	}
	return coordinator(t, trinotest.Options{AccessControl: ac})
}

// rows runs sql as user and returns every row as strings joined by "|".
func rows(t *testing.T, s *trinotest.Server, user, query string) ([]string, error) {
	t.Helper()
	db := open(t, trino.Config{ServerURI: userURL(s, user), Catalog: "tpch", Schema: "tiny"})
	rs, err := db.Query(query)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		var parts []string
		for _, v := range vals {
			if v.Valid {
				parts = append(parts, v.String)
			} else {
				parts = append(parts, "NULL")
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rs.Err()
}

func mustRows(t *testing.T, s *trinotest.Server, user, query string) []string {
	t.Helper()
	out, err := rows(t, s, user, query)
	if err != nil {
		t.Fatalf("%s as %s: %v", query, user, err)
	}
	return out
}

func wantError(t *testing.T, s *trinotest.Server, user, query, want string) {
	t.Helper()
	out, err := rows(t, s, user, query)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%s as %s: %v %v, want an error containing %q", query, user, out, err, want)
	}
}

const maskRules = `{
  "catalogs": [{"user": "admin", "allow": "all"}, {"user": "alice|bob|dave", "catalog": "tpch", "allow": "read-only"}, {"allow": "none"}],
  "tables": [
    {"user": "admin", "privileges": ["SELECT"]},
    {"user": "alice", "catalog": "tpch", "schema": "tiny", "table": "nation", "privileges": ["SELECT"],
     "filter": "regionkey = 1",
     "columns": [{"name": "name", "mask": "CAST(substr(name, 1, 1) || '***' AS varchar(25))"}, {"name": "comment", "allow": false}]},
    {"user": "alice", "catalog": "tpch", "schema": "tiny", "table": "customer", "privileges": ["SELECT"],
     "filter": "nationkey < 3 AND mktsegment = current_user OR custkey = 1",
     "columns": [{"name": "phone", "mask": "'***'"}, {"name": "acctbal", "mask": "IF(acctbal > 0, 0, -1)"}]},
    {"user": "alice", "catalog": "tpch", "privileges": []},
    {"user": "bob", "catalog": "tpch", "schema": "tiny", "privileges": ["GRANT_SELECT"]},
    {"user": "dave", "privileges": ["INSERT"]}
  ]
}`

func TestColumnMaskAndRowFilter(t *testing.T) {
	s := ruledServer(t, maskRules)
	got := mustRows(t, s, "alice", "SELECT nationkey, name FROM nation ORDER BY nationkey")
	if want := "1|A*** 2|B*** 3|C*** 17|P*** 24|U***"; strings.Join(got, " ") != want {
		t.Errorf("alice's nations: %v, want %s (filtered to region 1, names masked in each row's context)", got, want)
	}
	if got := mustRows(t, s, "alice", "SELECT count(*) FROM tpch.tiny.nation"); got[0] != "5" {
		t.Errorf("count(*) as alice = %v, want the filtered 5", got)
	}
	// The filter sees the unmasked row: names are masked, but filtering on
	// the real name still finds nothing outside region 1.
	if got := mustRows(t, s, "alice", "SELECT name FROM nation WHERE name = 'ALGERIA' OR name = 'A***'"); len(got) != 1 || got[0] != "A***" {
		t.Errorf("the query's own WHERE sees masked values: %v, want [A***]", got)
	}
	// A join reads the restricted copy wherever the table appears.
	if got := mustRows(t, s, "alice", "SELECT n.name, m.name FROM nation n JOIN tpch.tiny.nation m ON n.nationkey = m.nationkey WHERE n.nationkey = 3"); strings.Join(got, " ") != "C***|C***" {
		t.Errorf("self-join as alice: %v", got)
	}
	// The unrestricted user sees the real values, on the same server.
	if got := mustRows(t, s, "admin", "SELECT name FROM tpch.tiny.nation WHERE nationkey = 1"); got[0] != "ARGENTINA" {
		t.Errorf("admin sees %v, want the real ARGENTINA", got)
	}
	// Types stay Trino's: the mask coerces to the column's varchar(25).
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	rs, err := db.Query("SELECT name FROM tpch.tiny.nation")
	if err != nil {
		t.Fatal(err)
	}
	types, _ := rs.ColumnTypes()
	rs.Close()
	if n, ok := types[0].Length(); !ok || n != 25 {
		t.Errorf("masked name column length %d %v, want varchar(25)", n, ok)
	}
	// current_user in a filter is the session user; IF masks in row context.
	got = mustRows(t, s, "alice", "SELECT custkey, phone, acctbal FROM customer ORDER BY custkey")
	if len(got) != 1 || got[0] != "1|***|0" && got[0] != "1|***|-1" {
		t.Errorf("alice's customers: %v, want only custkey 1 (no segment is named alice), phone and acctbal masked", got)
	}
}

func TestDeniedTablesAndColumns(t *testing.T) {
	s := ruledServer(t, maskRules)
	for _, tc := range []struct{ user, sql, want string }{
		// The denied comment column: any statement reading it, * included.
		{"alice", "SELECT * FROM nation", "Access Denied: Cannot select from table tpch.tiny.nation"},
		{"alice", "SELECT name FROM nation WHERE comment LIKE '%a%'", "Access Denied: Cannot select from table tpch.tiny.nation"},
		{"alice", "SELECT name FROM (SELECT * FROM nation) x", "Access Denied: Cannot select from table tpch.tiny.nation"},
		// A rule with no privileges, matched before any other.
		{"alice", "SELECT count(*) FROM region", "Access Denied: Cannot select from table tpch.tiny.region"},
		{"alice", "SELECT n.name FROM nation n JOIN region r ON n.regionkey = r.regionkey", "Access Denied: Cannot select from table tpch.tiny.region"},
		// No catalog access: system is denied by the catch-all none rule
		// that comes before Trino's implicit system rule.
		{"alice", "SELECT count(*) FROM system.runtime.nodes", "Access Denied: Cannot select from table system.runtime.nodes"},
		// INSERT alone does not grant SELECT; no catalog rule either.
		{"dave", "SELECT count(*) FROM tpch.tiny.nation", "Access Denied: Cannot select from table tpch.tiny.nation"},
		// No matching rule at all.
		{"eve", "SELECT 1 FROM tpch.tiny.nation", "Access Denied: Cannot select from table tpch.tiny.nation"},
		// Table existence is checked first, as Trino's analyzer does.
		{"eve", "SELECT 1 FROM tpch.tiny.nope", "Table 'tpch.tiny.nope' does not exist"},
		// SHOW is not filtered by trinotest: refused rather than shown.
		{"admin", "SHOW TABLES FROM tpch.tiny", "trinotest does not filter SHOW output"},
	} {
		wantError(t, s, tc.user, tc.sql, tc.want)
	}
	// GRANT_SELECT implies SELECT; no table needed for a constant.
	if got := mustRows(t, s, "bob", "SELECT count(*) FROM tpch.tiny.region"); got[0] != "5" {
		t.Errorf("bob (GRANT_SELECT) counts %v", got)
	}
	if got := mustRows(t, s, "eve", "SELECT 1"); got[0] != "1" {
		t.Errorf("SELECT 1 needs no table rule: %v", got)
	}
	// alice may read every allowed column of nation.
	if got := mustRows(t, s, "alice", "SELECT nationkey, name, regionkey FROM nation WHERE nationkey = 2"); got[0] != "2|B***|1" {
		t.Errorf("alice's allowed columns: %v", got)
	}
}

// TestFirstMatchingRuleWins: rule order decides, not specificity.
func TestFirstMatchingRuleWins(t *testing.T) {
	s := ruledServer(t, `{
	  "tables": [
	    {"user": "alice", "catalog": "tpch", "privileges": ["SELECT"]},
	    {"user": "alice", "table": "nation", "privileges": ["SELECT"], "filter": "nationkey = 0"},
	    {"table": "nation", "privileges": ["SELECT"], "filter": "nationkey < 2", "columns": [{"name": "name", "mask": "'x'"}]},
	    {"role": "admin", "privileges": ["SELECT"]},
	    {"group": "staff", "privileges": ["SELECT"]}
	  ]
	}`)
	if got := mustRows(t, s, "alice", "SELECT count(*) FROM tpch.tiny.nation"); got[0] != "25" {
		t.Errorf("alice: the first rule (all of tpch, no filter) must win: %v", got)
	}
	if got := mustRows(t, s, "bob", "SELECT name FROM tpch.tiny.nation ORDER BY nationkey"); strings.Join(got, " ") != "x x" {
		t.Errorf("bob: the catch-all nation rule with its filter and mask: %v", got)
	}
	// Role and group patterns never match: trinotest users have neither.
	wantError(t, s, "bob", "SELECT count(*) FROM tpch.tiny.region", "Access Denied: Cannot select from table tpch.tiny.region")
	// No catalogs section opens every catalog, but a table still needs a
	// matching table rule: alice's rules name tpch and nation only.
	wantError(t, s, "alice", "SELECT count(*) FROM system.runtime.nodes", "Access Denied: Cannot select from table system.runtime.nodes")
}

func TestImplicitSystemCatalogRule(t *testing.T) {
	// Trino appends "everyone may use system" after the catalog rules.
	s := ruledServer(t, `{"catalogs": [{"user": "alice", "catalog": "tpch", "allow": "read-only"}],
	  "tables": [{"privileges": ["SELECT"]}]}`)
	if got := mustRows(t, s, "bob", "SELECT count(*) FROM system.runtime.nodes"); got[0] != "1" {
		t.Errorf("system.runtime.nodes with no matching catalog rule: %v", got)
	}
	wantError(t, s, "bob", "SELECT count(*) FROM tpch.tiny.nation", "Access Denied: Cannot select from table tpch.tiny.nation")
}

func TestQueriesSectionExecute(t *testing.T) {
	s := ruledServer(t, `{"queries": [{"user": "alice", "allow": ["execute"]}, {"queryOwner": "bob", "allow": ["view"]}]}`)
	if got := mustRows(t, s, "alice", "SELECT 1"); got[0] != "1" {
		t.Errorf("alice may execute: %v", got)
	}
	wantError(t, s, "bob", "SELECT 1", "Access Denied: Cannot view query")
}

// TestMaskAndFilterAnalysis: what Trino's analyzer refuses in a mask or
// filter, and what trinotest cannot evaluate faithfully, fail the query
// with the rule's table and column named.
func TestMaskAndFilterAnalysis(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{`"columns": [{"name": "name", "mask": "substr(name, 1, 2) || '***'"}]`,
			"line 1:15: Expected column mask for 'tpch.tiny.nation.name' to be of type varchar(25), but was varchar(28)"},
		{`"columns": [{"name": "nationkey", "mask": "'foo'"}]`,
			"Expected column mask for 'tpch.tiny.nation.nationkey' to be of type bigint, but was varchar(3)"},
		{`"columns": [{"name": "name", "mask": "unknown_column"}]`,
			"line 1:15: Invalid column mask for 'tpch.tiny.nation.name': Column 'unknown_column' cannot be resolved"},
		{`"filter": "1"`, "line 1:15: Expected row filter for 'tpch.tiny.nation' to be of type BOOLEAN, but was integer"},
		{`"filter": "count(*) > 0"`,
			"Row filter for 'tpch.tiny.nation' cannot contain aggregations, window functions or grouping operations: [count(*)]"},
		{`"filter": "nationkey IN (SELECT regionkey FROM region)"`, "trinotest cannot infer its Trino type (a subquery)"},
		{`"filter": "regexp_like(name, 'A.*')"`, "trinotest cannot infer its Trino type (function regexp_like)"},
		{`"filter": "name = current_user", "filter_environment": {"user": "svc"}`, "uses current_user with an environment user (svc)"},
	} {
		s := ruledServer(t, `{"tables": [{"table": "nation", "privileges": ["SELECT"], `+tc.rule+`}]}`)
		wantError(t, s, "alice", "SELECT * FROM tpch.tiny.nation", tc.want)
	}
}

func TestParseAccessControlRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"tabels": []}`, `Unrecognized field "tabels"`},
		{`{"tables": [{"privileges": ["SELECT"], "filtr": "x > 1"}]}`, `tables[0]: Unrecognized field "filtr"`},
		{`{"tables": [{"user": "a"}]}`, `tables[0]: Missing required creator property 'privileges'`},
		{`{"tables": [{"privileges": ["READ"]}]}`, `"READ" is not one of SELECT`},
		{`{"tables": [{"privileges": [], "columns": [{"name": "a", "masc": "x"}]}]}`, `columns[0]: Unrecognized field "masc"`},
		{`{"tables": [{"privileges": [], "columns": [{"allow": false}]}]}`, `Missing required creator property 'name'`},
		{`{"tables": [{"privileges": [], "columns": [{"name": "a"}, {"name": "a", "allow": false}]}]}`, `multiple entries with same key: a`},
		{`{"tables": [{"privileges": [], "filter_environment": {"usr": "x"}}]}`, `filter_environment: Unrecognized field "usr"`},
		{`{"catalogs": [{"allow": "read"}]}`, `catalogs[0]: allow: "read": want all, read-only or none`},
		{`{"catalogs": [{"catalog": "tpch"}]}`, `Missing required creator property 'allow'`},
		{`{"catalogs": [{"user": "(", "allow": "all"}]}`, `catalogs[0]: user: invalid regular expression "("`},
		{`{"queries": [{"queryOwner": "a", "allow": ["execute"]}]}`, `cannot combine an queryOwner condition with access mode 'execute'`},
		{`{"catalogs": []} {}`, `trailing data`},
		{`[]`, `cannot unmarshal array`},
		{`{"catalogs": [`, `unexpected EOF`},
	} {
		if _, err := trinotest.ParseAccessControl([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseAccessControl(%s): %v, want %q", tc.doc, err, tc.want)
		}
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "rules.json")
	if _, err := trinotest.LoadAccessControl(missing); err == nil || err.Error() != "File does not exist: "+missing {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(missing, []byte(`{"tables": [{"privileges": ["SELECT"], "filtr": "x"}]}`), 0o600)
	want := "Invalid JSON file '" + missing + "' for 'class io.trino.plugin.base.security.FileBasedSystemAccessControlRules'"
	if _, err := trinotest.LoadAccessControl(missing); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("invalid file: %v, want %q", err, want)
	}
}

// TestMasksApplyToTheSessionUser: a principal impersonating a user gets
// that user's filters and masks, as a report run by the orchestrator does.
func TestMasksApplyToTheSessionUser(t *testing.T) {
	ac, err := trinotest.ParseAccessControl([]byte(maskRules))
	if err != nil {
		t.Fatal(err)
	}
	allow := true
	s := coordinator(t, trinotest.Options{AccessControl: ac,
		Impersonation: []trinotest.ImpersonationRule{{OriginalUser: "admin", NewUser: "alice", Allow: &allow}}})
	db := open(t, trino.Config{ServerURI: userURL(s, "admin")})
	var n int
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation", sql.Named("X-Trino-User", "alice")).Scan(&n); err != nil || n != 5 {
		t.Errorf("admin as alice counts %d nations (%v), want alice's filtered 5", n, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil || n != 25 {
		t.Errorf("admin as itself counts %d nations (%v), want 25", n, err)
	}
}
