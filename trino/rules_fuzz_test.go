package trino

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzRules renders rules.json from random policies: the golden files'
// policies (or none) edited by the operations ops encodes (see
// fuzzPolicies), text being a free string for names, filters and masks.
// Rules must never panic; when it refuses the policies it must say why,
// never that its own output is invalid; when it accepts them its output
// must be valid JSON that passes ValidateRules, keep every user's table
// grants in order with their privileges, filters and column rules as
// given, match each user by a regular expression that matches that name
// only, and end every section that has one with its deny-all default.
func FuzzRules(f *testing.F) {
	f.Add([]byte{}, "", "moat", "orchestrator")
	f.Add([]byte{1}, "", "moat", "orchestrator")
	// a dotted user with every table privilege, a quoting filter and a mask
	f.Add([]byte{1, 0, 3, 0, 0, 2, 6, 0, 0, 4, 6, 6, 6, 5, 31, 0, 0, 6, 19, 0, 0, 7, 11, 19, 2}, `x < 'a"b' AND y > 1`, "moat", "orchestrator")
	// the golden policies plus a user with a passthrough and a report owner
	f.Add([]byte{0, 0, 9, 0, 0, 2, 8, 1, 0, 8, 8, 0, 0, 9, 0, 0, 0, 11, 0, 0, 0}, "", "m.x", "o-1")
	// refused: both system users the same
	f.Add([]byte{0}, "", "moat", "moat")
	f.Fuzz(func(t *testing.T, ops []byte, text, mgmt, orch string) {
		p := fuzzPolicies(ops, text)
		sys := SystemUsers{Management: mgmt, Orchestrator: orch}
		out, err := Rules(p, sys)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "written by moat is invalid") {
				t.Fatalf("Rules refused the policies with %q", msg)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("rules.json is not valid JSON:\n%s", out)
		}
		if err := ValidateRules(out); err != nil {
			t.Fatalf("rules.json fails ValidateRules: %v\n%s", err, out)
		}
		var doc rulesFile
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("rules.json does not decode back: %v", err)
		}
		checkTableRules(t, p, sys, doc.Tables)
		if last := doc.Catalogs[len(doc.Catalogs)-1]; last != (catalogRule{Allow: AccessNone}) {
			t.Errorf("the last catalog rule is %+v, want the deny-all default", last)
		}
		if last := doc.Functions[len(doc.Functions)-1]; last.User != "" || len(last.Privileges) != 0 {
			t.Errorf("the last function rule is %+v, want the deny-all default", last)
		}
		if last := doc.Impersonation[len(doc.Impersonation)-1]; last != (impersonationRule{OriginalUser: ".*", NewUser: ".*"}) {
			t.Errorf("the last impersonation rule is %+v, want the deny-all default", last)
		}
	})
}

// fuzzNames are the names fuzzPolicies picks from; the last is the
// fuzzer's free text.
var fuzzNames = []string{"alice", "bob", "carol.d", "a.b", "moat", "orchestrator", "*", "tpch", "pg", "lake",
	"system", "tiny", "customer", "phone", "", "Bad", "a b", "x|y", ".*"}

// fuzzPolicies builds policies from ops: its first byte picks the start
// (even: the golden files' testPolicies, odd: none), then every four
// bytes are an operation on the last user or its last table grant and
// three arguments picking names, access and privileges (text standing in
// for the last name).
func fuzzPolicies(ops []byte, text string) Policies {
	var p Policies
	if len(ops) == 0 || ops[0]%2 == 0 {
		p = testPolicies()
	}
	if len(ops) > 0 {
		ops = ops[1:]
	}
	name := func(b byte) string {
		if i := int(b) % (len(fuzzNames) + 1); i < len(fuzzNames) {
			return fuzzNames[i]
		}
		return text
	}
	access := []Access{AccessAll, AccessReadOnly, AccessNone, "read"}
	privs := append(slices.Clone(tablePrivileges), "READ")
	for ; len(ops) >= 4; ops = ops[4:] {
		op, a, b, c := ops[0]%12, ops[1], ops[2], ops[3]
		if op == 0 {
			p.Users = append(p.Users, UserPolicy{User: name(a)})
			continue
		}
		if len(p.Users) == 0 {
			continue
		}
		u := &p.Users[len(p.Users)-1]
		var g *TableGrant
		if len(u.Tables) > 0 {
			g = &u.Tables[len(u.Tables)-1]
		}
		switch {
		case op == 1:
			p.Users[int(a)%len(p.Users)].User = name(b)
		case op == 2:
			u.Catalogs = append(u.Catalogs, CatalogGrant{Catalog: name(a), Allow: access[b%4]})
		case op == 3:
			u.Schemas = append(u.Schemas, SchemaGrant{Catalog: name(a), Schema: name(b), Owner: c%2 == 0})
		case op == 4:
			u.Tables = append(u.Tables, TableGrant{Catalog: name(a), Schema: name(b), Table: name(c), Privileges: []string{"SELECT"}})
		case op == 5 && g != nil:
			g.Privileges = nil
			for i, pr := range privs {
				if a&(1<<i) != 0 {
					g.Privileges = append(g.Privileges, pr)
				}
			}
		case op == 6 && g != nil:
			g.Filter = name(a)
		case op == 7 && g != nil:
			col := ColumnRule{Name: name(a), Deny: c%3 == 0}
			if c%3 != 1 {
				col.Mask = name(b)
			}
			g.Columns = append(g.Columns, col)
		case op == 8:
			u.Passthrough = append(u.Passthrough, name(a))
		case op == 9:
			u.ReportOwner = !u.ReportOwner
		case op == 10:
			i := int(a) % len(p.Users)
			p.Users = slices.Delete(p.Users, i, i+1)
		case op == 11 && len(u.Tables) > 1:
			i := int(a) % (len(u.Tables) - 1)
			u.Tables[i], u.Tables[i+1] = u.Tables[i+1], u.Tables[i]
		}
	}
	return p
}

// checkTableRules checks the tables section: the management user's system
// rule, then every user's grants in order, then the deny-all default.
func checkTableRules(t *testing.T, p Policies, sys SystemUsers, rules []tableRule) {
	t.Helper()
	want := 3 // the management user's, the orchestrator's nodes table, the final deny
	for _, u := range p.Users {
		want += len(u.Tables)
	}
	if len(rules) != want {
		t.Fatalf("%d table rules, want %d", len(rules), want)
	}
	checkNameRegex(t, "management user", rules[0].User, sys.Management)
	checkNameRegex(t, "orchestrator", rules[1].User, sys.Orchestrator)
	if r := rules[1]; r.Catalog != "system" || r.Schema != "runtime" || r.Table != "nodes" || !slices.Equal(r.Privileges, []string{"SELECT"}) {
		t.Errorf("the orchestrator's rule is %+v, want SELECT on system.runtime.nodes only", r)
	}
	i := 2
	for _, u := range p.Users {
		for _, g := range u.Tables {
			r := rules[i]
			i++
			checkNameRegex(t, "user", r.User, u.User)
			for _, part := range [][2]string{{r.Catalog, g.Catalog}, {r.Schema, g.Schema}, {r.Table, g.Table}} {
				if part[1] != "*" {
					checkNameRegex(t, "table", part[0], part[1])
				} else if part[0] != ".*" {
					t.Errorf("grant on * written as %q", part[0])
				}
			}
			if !slices.Equal(r.Privileges, g.Privileges) || r.Filter != g.Filter || len(r.Columns) != len(g.Columns) {
				t.Fatalf("grant %+v of %s written as %+v", g, u.User, r)
			}
			for j, c := range g.Columns {
				rc := r.Columns[j]
				if rc.Name != c.Name || rc.Mask != c.Mask || (rc.Allow != nil) != c.Deny || (rc.Allow != nil && *rc.Allow) {
					t.Errorf("column rule %+v of %s written as %+v", c, u.User, rc)
				}
			}
		}
	}
	if last := rules[i]; last.User != "" || last.Catalog != "" || len(last.Privileges) != 0 || last.Filter != "" {
		t.Errorf("the last table rule is %+v, want the deny-all default", last)
	}
}

// checkNameRegex checks that the rule's regular expression re matches name
// and no other name (tried: name with each '.' as another character).
func checkNameRegex(t *testing.T, what, re, name string) {
	t.Helper()
	m, err := regexp.Compile(`^(?:` + re + `)$`)
	if err != nil {
		t.Fatalf("%s %q written as an invalid regular expression %q: %v", what, name, re, err)
	}
	if !m.MatchString(name) {
		t.Errorf("%s %q written as %q, which does not match it", what, name, re)
	}
	if other := strings.ReplaceAll(name, ".", "x"); other != name && m.MatchString(other) {
		t.Errorf("%s %q written as %q, which also matches %q", what, name, re, other)
	}
}
