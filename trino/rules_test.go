package trino

import (
	"strings"
	"testing"
)

func TestValidateRulesRejects(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"tabels": []}`, `rules.json: unknown section "tabels"`},
		{`{"tables": [{"user": "a", "privileges": ["SELECT"], "filtr": "x > 1"}]}`, `rules.json: tables[0]: unknown key "filtr"`},
		{`{"tables": [{"user": "a"}]}`, `rules.json: tables[0]: missing required key "privileges"`},
		{`{"tables": [{"privileges": ["READ"]}]}`, `rules.json: tables[0]: privileges: value "READ": want one of SELECT, INSERT, DELETE, UPDATE, OWNERSHIP, GRANT_SELECT`},
		{`{"tables": [{"privileges": [], "columns": [{"name": "a", "masc": "x"}]}]}`, `rules.json: tables[0]: columns: [0]: unknown key "masc"`},
		{`{"catalogs": [{"allow": "read"}]}`, `rules.json: catalogs[0]: allow: "read": want all, read-only or none`},
		{`{"functions": [{"function_kinds": ["TABLE"], "privileges": []}]}`, `rules.json: functions[0]: function_kinds: no longer supported`},
		{`{"impersonation": [{"original_user": "a"}]}`, `rules.json: impersonation[0]: missing required key "new_user"`},
		{`{"system_information": [{"user": "moat", "allow": ["shutdown"]}]}`, `rules.json: system_information[0]: allow: value "shutdown"`},
		{`{"queries": [{"queryOwner": "a", "allow": ["execute"]}]}`, `rules.json: queries[0]: a rule with queryOwner cannot allow execute`},
		{`{"catalogs": [{"user": "(", "allow": "all"}]}`, `rules.json: catalogs[0]: user: invalid regular expression "("`},
		{`{"catalogs": []} {}`, `rules.json: trailing data`},
		{`[]`, `rules.json: json: cannot unmarshal array`},
	} {
		err := ValidateRules([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateRules(%s):\n got  %v\n want %q", tc.doc, err, tc.want)
		}
	}
	if err := ValidateRules([]byte(`{"catalogs": [{"allow": true}], "queries": [{"queryOwner": "a", "allow": ["view"]}]}`)); err != nil {
		t.Errorf("valid document rejected: %v", err)
	}
}

func TestPoliciesValidate(t *testing.T) {
	sys := SystemUsers{Management: "moat", Orchestrator: "orchestrator"}
	for _, tc := range []struct {
		name   string
		change func(*Policies)
		want   string
	}{
		{"shadowed grant", func(p *Policies) {
			u := &p.Users[0]
			u.Tables = append([]TableGrant{{Catalog: "tpch", Schema: "*", Table: "*", Privileges: []string{"SELECT"}}}, u.Tables...)
		}, "policy for alice: table tpch.tiny.customer: an earlier grant (tpch.*.*) already matches every table this one does, so it never applies; put the specific grant first"},
		{"passthrough for a masked user", func(p *Policies) { p.Users[0].Passthrough = []string{"pg"} },
			"policy for alice: passthrough functions in catalog pg would bypass this user's masks and filters; remove one or the other"},
		{"mask and deny", func(p *Policies) { p.Users[0].Tables[0].Columns[1].Mask = "0" },
			"policy for alice: table tpch.tiny.customer: column acctbal is both denied and masked; choose one"},
		{"empty column rule", func(p *Policies) { p.Users[0].Tables[0].Columns[1].Deny = false },
			"policy for alice: table tpch.tiny.customer: column acctbal: give a mask expression or deny it"},
		{"table without catalog grant", func(p *Policies) {
			p.Users[2].Tables = append(p.Users[2].Tables, TableGrant{Catalog: "pg", Schema: "a", Table: "b", Privileges: []string{"SELECT"}})
		}, "policy for carol.d: table pg.a.b: the user has no grant on catalog pg, so this rule can never apply; add a catalog grant"},
		{"system user in policies", func(p *Policies) { p.Users[2].User = "moat" },
			`policy user "moat" is declared twice or is one of moat's own users`},
		{"bad access", func(p *Policies) { p.Users[2].Catalogs[0].Allow = "read" },
			`policy for carol.d: catalog tpch: allow "read" must be all, read-only or none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicies()
			tc.change(&p)
			_, err := Rules(p, sys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %v\nwant %q", err, tc.want)
			}
		})
	}
	if _, err := Rules(testPolicies(), SystemUsers{Management: "moat", Orchestrator: "moat"}); err == nil ||
		!strings.Contains(err.Error(), `trino management and orchestrator users are both "moat": they must differ`) {
		t.Errorf("same system users: %v", err)
	}
}
