package trino

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Access is a catalog rule's allow value.
type Access string

const (
	AccessAll      Access = "all"
	AccessReadOnly Access = "read-only"
	AccessNone     Access = "none"
)

// Policies are the access rights of the human and report users.
type Policies struct {
	Users []UserPolicy
}

// UserPolicy is what one user may do. Rules keep the order given: within a
// user, the first matching table grant wins, so put specific tables before
// wildcards (Validate rejects a grant that an earlier one hides).
type UserPolicy struct {
	User     string
	Catalogs []CatalogGrant
	Schemas  []SchemaGrant
	Tables   []TableGrant
	// Passthrough lists catalogs where the user may run passthrough table
	// functions (system.query, system.raw_query). Refused for users with any
	// mask, filter or denied column.
	Passthrough []string
	// ReportOwner lets the orchestrator impersonate this user to run reports.
	ReportOwner bool
}

// CatalogGrant opens a catalog to a user.
type CatalogGrant struct {
	Catalog string // exact name, or "*"
	Allow   Access
}

// SchemaGrant makes a user owner of schemas (CREATE/DROP SCHEMA and tables).
type SchemaGrant struct {
	Catalog, Schema string // exact names, or "*"
	Owner           bool
}

// TableGrant gives privileges on tables, optionally with a row filter and
// column masks or denials.
type TableGrant struct {
	Catalog, Schema, Table string   // exact names, or "*"
	Privileges             []string // SELECT, INSERT, DELETE, UPDATE, OWNERSHIP, GRANT_SELECT
	Columns                []ColumnRule
	Filter                 string // SQL boolean expression; rows where it is false are hidden
}

// ColumnRule denies or masks one column.
type ColumnRule struct {
	Name string
	Deny bool   // the column cannot be read at all
	Mask string // SQL expression replacing the column's value
}

var (
	userNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)
	objectNameRE = regexp.MustCompile(`^[a-z0-9_]+$`)
)

var tablePrivileges = []string{"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"}

// passthroughFunctions are the table functions that send SQL to the source
// untouched: system.query (JDBC connectors, BigQuery, ...) and
// system.raw_query (Elasticsearch, OpenSearch).
const passthroughFunctions = "query|raw_query"

// restricted reports whether the user has any mask, filter or denied column.
func (u UserPolicy) restricted() bool {
	for _, t := range u.Tables {
		if t.Filter != "" || len(t.Columns) > 0 {
			return true
		}
	}
	return false
}

// validate checks the policies; catalogs, when not nil, are the declared
// catalogs every grant must name.
func (p Policies) validate(sys SystemUsers, catalogs []Catalog) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, u := range []string{sys.Management, sys.Orchestrator} {
		if !userNameRE.MatchString(u) {
			add("trino system user %q: use lowercase letters, digits, _, . and -", u)
		}
	}
	if sys.Management == sys.Orchestrator {
		add("trino management and orchestrator users are both %q: they must differ", sys.Management)
	}
	seen := map[string]bool{sys.Management: true, sys.Orchestrator: true}
	for _, u := range p.Users {
		if !userNameRE.MatchString(u.User) {
			add("policy user %q: use lowercase letters, digits, _, . and -, starting with a letter", u.User)
		}
		if seen[u.User] {
			add("policy user %q is declared twice or is one of moat's own users", u.User)
		}
		seen[u.User] = true
		errs = append(errs, u.validate(catalogs)...)
	}
	return errors.Join(errs...)
}

func (u UserPolicy) validate(catalogs []Catalog) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy for %s: "+format, append([]any{u.User}, args...)...))
	}
	known := func(name string) bool {
		return catalogs == nil || name == "*" || name == "system" ||
			slices.ContainsFunc(catalogs, func(c Catalog) bool { return c.Name == name })
	}
	for _, g := range u.Catalogs {
		if !validObject(g.Catalog) || !known(g.Catalog) {
			add("catalog %q is not a declared catalog", g.Catalog)
		}
		if !slices.Contains([]Access{AccessAll, AccessReadOnly, AccessNone}, g.Allow) {
			add("catalog %s: allow %q must be all, read-only or none", g.Catalog, g.Allow)
		}
	}
	for _, s := range u.Schemas {
		if !validObject(s.Catalog) || !validObject(s.Schema) || !known(s.Catalog) {
			add("schema %s.%s: use declared catalogs and lowercase names, or *", s.Catalog, s.Schema)
		}
	}
	for i, t := range u.Tables {
		errs = append(errs, u.validateTable(i, t, known)...)
	}
	for _, c := range u.Passthrough {
		if u.restricted() {
			add("passthrough functions in catalog %s would bypass this user's masks and filters; remove one or the other", c)
		}
		if u.catalogAccess(c) == AccessNone {
			add("passthrough functions in catalog %s need a catalog grant for it", c)
		}
	}
	return errs
}

func (u UserPolicy) validateTable(i int, t TableGrant, known func(string) bool) []error {
	var errs []error
	name := t.Catalog + "." + t.Schema + "." + t.Table
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy for %s: table %s: "+format, append([]any{u.User, name}, args...)...))
	}
	if !validObject(t.Catalog) || !validObject(t.Schema) || !validObject(t.Table) || !known(t.Catalog) {
		add("use declared catalogs and lowercase names, or *")
	}
	if t.Catalog != "*" && u.catalogAccess(t.Catalog) == AccessNone {
		add("the user has no grant on catalog %s, so this rule can never apply; add a catalog grant", t.Catalog)
	}
	// rules.json is JSON: text that is not UTF-8 would be written with
	// U+FFFD in place of its bad bytes, a filter other than the one given.
	if !utf8.ValidString(t.Filter) {
		add("row filter %q is not UTF-8 text", t.Filter)
	}
	for _, c := range t.Columns {
		if !utf8.ValidString(c.Mask) {
			add("column %s: mask %q is not UTF-8 text", c.Name, c.Mask)
		}
	}
	for _, pr := range t.Privileges {
		if !slices.Contains(tablePrivileges, pr) {
			add("privilege %q: want one of %s", pr, strings.Join(tablePrivileges, ", "))
		}
	}
	for _, c := range t.Columns {
		switch {
		case !objectNameRE.MatchString(c.Name):
			add("column %q: use its lowercase name", c.Name)
		case c.Deny && c.Mask != "":
			add("column %s is both denied and masked; choose one", c.Name)
		case !c.Deny && strings.TrimSpace(c.Mask) == "":
			add("column %s: give a mask expression or deny it", c.Name)
		}
	}
	for j := range i {
		if covers(u.Tables[j], t) {
			add("an earlier grant (%s.%s.%s) already matches every table this one does, so it never applies; put the specific grant first",
				u.Tables[j].Catalog, u.Tables[j].Schema, u.Tables[j].Table)
		}
	}
	return errs
}

func validObject(s string) bool { return s == "*" || objectNameRE.MatchString(s) }

func covers(a, b TableGrant) bool {
	part := func(x, y string) bool { return x == "*" || x == y }
	return part(a.Catalog, b.Catalog) && part(a.Schema, b.Schema) && part(a.Table, b.Table)
}

// catalogAccess is what the first matching catalog grant allows.
func (u UserPolicy) catalogAccess(catalog string) Access {
	for _, g := range u.Catalogs {
		if g.Catalog == "*" || g.Catalog == catalog {
			return g.Allow
		}
	}
	return AccessNone
}

// The rules.json document, in the order written.
type rulesFile struct {
	Catalogs          []catalogRule       `json:"catalogs"`
	Schemas           []schemaRule        `json:"schemas"`
	Tables            []tableRule         `json:"tables"`
	Functions         []functionRule      `json:"functions"`
	Queries           []queryRule         `json:"queries"`
	Impersonation     []impersonationRule `json:"impersonation"`
	SystemInformation []sysInfoRule       `json:"system_information"`
}

type catalogRule struct {
	User    string `json:"user,omitempty"`
	Catalog string `json:"catalog,omitempty"`
	Allow   Access `json:"allow"`
}

type schemaRule struct {
	User    string `json:"user,omitempty"`
	Catalog string `json:"catalog,omitempty"`
	Schema  string `json:"schema,omitempty"`
	Owner   bool   `json:"owner"`
}

type tableRule struct {
	User       string       `json:"user,omitempty"`
	Catalog    string       `json:"catalog,omitempty"`
	Schema     string       `json:"schema,omitempty"`
	Table      string       `json:"table,omitempty"`
	Privileges []string     `json:"privileges"`
	Columns    []columnRule `json:"columns,omitempty"`
	Filter     string       `json:"filter,omitempty"`
}

type columnRule struct {
	Name  string `json:"name"`
	Allow *bool  `json:"allow,omitempty"`
	Mask  string `json:"mask,omitempty"`
}

type functionRule struct {
	User       string   `json:"user,omitempty"`
	Catalog    string   `json:"catalog,omitempty"`
	Schema     string   `json:"schema,omitempty"`
	Function   string   `json:"function,omitempty"`
	Privileges []string `json:"privileges"`
}

type queryRule struct {
	User  string   `json:"user,omitempty"`
	Allow []string `json:"allow"`
}

type impersonationRule struct {
	OriginalUser string `json:"original_user"`
	NewUser      string `json:"new_user"`
	Allow        bool   `json:"allow"`
}

type sysInfoRule struct {
	User  string   `json:"user,omitempty"`
	Allow []string `json:"allow"`
}

// Rules writes rules.json for Trino's file-based system access control (see
// the package documentation for the decisions it encodes).
func Rules(p Policies, sys SystemUsers) ([]byte, error) {
	if err := p.validate(sys, nil); err != nil {
		return nil, err
	}
	mgmt, orch := quoteRegex(sys.Management), quoteRegex(sys.Orchestrator)
	f := rulesFile{
		// The orchestrator's readiness gate reads system.runtime.nodes
		// through the mesh: that table and no data.
		Catalogs: []catalogRule{{User: mgmt, Catalog: "system", Allow: AccessReadOnly}, {User: orch, Catalog: "system", Allow: AccessReadOnly}},
		Tables: []tableRule{{User: mgmt, Catalog: "system", Privileges: []string{"SELECT"}},
			{User: orch, Catalog: "system", Schema: "runtime", Table: "nodes", Privileges: []string{"SELECT"}}},
		Queries:           []queryRule{{User: mgmt, Allow: []string{"execute", "view", "kill"}}, {Allow: []string{"execute"}}},
		SystemInformation: []sysInfoRule{{User: mgmt, Allow: []string{"read", "write"}}, {Allow: []string{}}},
	}
	var restricted, owners []string
	for _, u := range p.Users {
		f.addUser(u)
		if u.restricted() {
			restricted = append(restricted, u.User)
		}
		if u.ReportOwner {
			owners = append(owners, u.User)
		}
	}
	f.Catalogs = append(f.Catalogs, catalogRule{Allow: AccessNone})
	f.Schemas = append(f.Schemas, schemaRule{Owner: false})
	f.Tables = append(f.Tables, tableRule{Privileges: []string{}})
	if len(restricted) > 0 {
		f.Functions = append([]functionRule{{User: usersRegex(restricted), Privileges: []string{}}}, f.Functions...)
	}
	f.Functions = append(f.Functions, functionRule{Privileges: []string{}})
	if len(owners) > 0 {
		f.Impersonation = append(f.Impersonation, impersonationRule{OriginalUser: quoteRegex(sys.Orchestrator), NewUser: usersRegex(owners), Allow: true})
	}
	f.Impersonation = append(f.Impersonation, impersonationRule{OriginalUser: ".*", NewUser: ".*", Allow: false})
	out, err := marshalRules(f)
	if err != nil {
		return nil, err
	}
	if err := ValidateRules(out); err != nil {
		return nil, fmt.Errorf("rules.json written by moat is invalid (a bug): %w", err)
	}
	return out, nil
}

func (f *rulesFile) addUser(u UserPolicy) {
	user := quoteRegex(u.User)
	for _, g := range u.Catalogs {
		f.Catalogs = append(f.Catalogs, catalogRule{User: user, Catalog: objectRegex(g.Catalog), Allow: g.Allow})
	}
	for _, s := range u.Schemas {
		f.Schemas = append(f.Schemas, schemaRule{User: user, Catalog: objectRegex(s.Catalog), Schema: objectRegex(s.Schema), Owner: s.Owner})
	}
	for _, t := range u.Tables {
		r := tableRule{User: user, Catalog: objectRegex(t.Catalog), Schema: objectRegex(t.Schema), Table: objectRegex(t.Table),
			Privileges: append([]string{}, t.Privileges...), Filter: t.Filter}
		for _, c := range t.Columns {
			cr := columnRule{Name: c.Name, Mask: c.Mask}
			if c.Deny {
				cr.Allow = new(bool)
			}
			r.Columns = append(r.Columns, cr)
		}
		f.Tables = append(f.Tables, r)
	}
	for _, c := range u.Passthrough {
		f.Functions = append(f.Functions, functionRule{User: user, Catalog: objectRegex(c), Schema: "system",
			Function: passthroughFunctions, Privileges: []string{"EXECUTE"}})
	}
}

func marshalRules(f rulesFile) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // masks and filters use < and >
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("writing rules.json: %w", err)
	}
	return b.Bytes(), nil
}

// quoteRegex makes a name a Java regular expression matching only itself
// (names are validated to letters, digits, _, . and -).
func quoteRegex(name string) string { return strings.ReplaceAll(name, ".", `\.`) }

func objectRegex(name string) string {
	if name == "*" {
		return ".*"
	}
	return quoteRegex(name)
}

func usersRegex(users []string) string {
	q := make([]string, len(users))
	for i, u := range users {
		q[i] = quoteRegex(u)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "(" + strings.Join(q, "|") + ")"
}
