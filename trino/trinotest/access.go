package trinotest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// AccessControl is the part of Trino's file-based system access control
// (access-control.name=file, rules.json) that decides what a query may read:
// the catalogs, tables and queries sections, with table rules' privileges,
// column constraints (allow, mask) and row filters. Load it with
// LoadAccessControl or ParseAccessControl; a nil *AccessControl allows
// everything, as Trino does without access-control.properties.
//
// It decides as FileBasedSystemAccessControl does: in each section the first
// rule matching the user (and the object) wins and no match denies; an absent
// section allows everything. Every user may read the system catalog unless an
// earlier catalog rule says otherwise (Trino appends that rule). Rules naming
// a role or a group never match: trinotest has no roles and no group
// provider, so a user has none.
type AccessControl struct {
	catalogs []accessCatalogRule // nil: section absent
	tables   []accessTableRule   // nil: section absent
	queries  []accessQueryRule   // nil: section absent
}

// rulesClass is the Java class Trino names when a rules file does not parse.
const rulesClass = "class io.trino.plugin.base.security.FileBasedSystemAccessControlRules"

// rulesSections are the top-level keys of Trino's
// FileBasedSystemAccessControlRules, with the keys each rule may carry.
// Trino's JSON reader fails on unknown properties, so trinotest refuses them
// too.
var rulesSections = map[string][]string{
	"catalogs":                   {"user", "role", "group", "catalog", "allow"},
	"queries":                    {"user", "role", "group", "queryOwner", "allow"},
	"impersonation":              {"original_user", "original_role", "new_user", "allow"},
	"principals":                 {"principal", "user", "principal_to_user", "allow"},
	"system_information":         {"user", "role", "allow"},
	"authorization":              {"original_user", "original_group", "original_role", "new_user", "new_role", "allow"},
	"schemas":                    {"user", "role", "group", "catalog", "schema", "owner"},
	"tables":                     {"user", "role", "group", "catalog", "schema", "table", "privileges", "columns", "filter", "filter_environment"},
	"system_session_properties":  {"user", "role", "group", "property", "allow"},
	"catalog_session_properties": {"user", "role", "group", "catalog", "property", "allow"},
	"functions":                  {"user", "role", "group", "catalog", "schema", "function", "privileges"},
	"procedures":                 {"user", "role", "group", "catalog", "schema", "procedure", "privileges"},
}

// identityMatch is the user, role and group part of a rule.
type identityMatch struct {
	User        string  // regular expression; "" matches everyone
	Role, Group *string // set: the rule names a role or group pattern
}

// matches applies the user regular expression (default .*); a rule with a
// role or group pattern matches nobody, since no user has roles or groups.
func (m identityMatch) matches(user string) bool {
	if m.Role != nil || m.Group != nil {
		return false
	}
	_, ok := fullMatch(m.User, user)
	return ok
}

type accessCatalogRule struct {
	identityMatch
	Catalog string
	Allow   catalogAccess
}

// catalogAccess is a catalog rule's allow: none < read-only < all.
type catalogAccess int

const (
	accessNone catalogAccess = iota
	accessReadOnly
	accessAll
)

type accessTableRule struct {
	identityMatch
	Catalog, Schema, Table string
	Privileges             []string
	Columns                []columnConstraint
	Filter                 *string
	FilterEnvironment      *expressionEnvironment
	index                  int // position in the tables section, for messages
}

type columnConstraint struct {
	Name            string
	Allow           *bool
	Mask            *string
	MaskEnvironment *expressionEnvironment
}

type expressionEnvironment struct {
	User *string
}

type accessQueryRule struct {
	identityMatch
	QueryOwner *string
	Allow      []string
}

// LoadAccessControl reads the rules file named by security.config-file, with
// Trino's messages for a missing, unreadable or invalid file.
func LoadAccessControl(path string) (*AccessControl, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("File does not exist: %s", abs)
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("File is not readable: %s", abs)
	}
	ac, err := ParseAccessControl(b)
	if err != nil {
		return nil, fmt.Errorf("Invalid JSON file '%s' for '%s': %w", abs, rulesClass, err)
	}
	return ac, nil
}

// ParseAccessControl parses a rules.json document strictly, as Trino's JSON
// reader does: unknown sections and keys, a missing required key, an
// unknown privilege or access mode and an invalid regular expression are
// errors.
func ParseAccessControl(rulesJSON []byte) (*AccessControl, error) {
	var doc map[string]json.RawMessage
	if err := strictJSON(rulesJSON, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("the document must be a JSON object")
	}
	names := make([]string, 0, len(doc))
	for name := range doc {
		names = append(names, name)
	}
	sort.Strings(names)
	rules := map[string][]map[string]json.RawMessage{}
	for _, name := range names {
		keys, ok := rulesSections[name]
		if !ok {
			return nil, fmt.Errorf("Unrecognized field %q (known: %s)", name, strings.Join(sortedKeys(rulesSections), ", "))
		}
		var list []map[string]json.RawMessage
		if err := strictJSON(doc[name], &list); err != nil {
			return nil, fmt.Errorf("%s: want a list of rules: %v", name, err)
		}
		for i, r := range list {
			for k := range r {
				if !slices.Contains(keys, k) {
					return nil, fmt.Errorf("%s[%d]: Unrecognized field %q (known: %s)", name, i, k, strings.Join(keys, ", "))
				}
			}
		}
		if list == nil {
			list = []map[string]json.RawMessage{}
		}
		rules[name] = list
	}
	ac := &AccessControl{}
	var err error
	if list, ok := rules["catalogs"]; ok {
		if ac.catalogs, err = parseCatalogRules(list); err != nil {
			return nil, err
		}
	}
	if list, ok := rules["tables"]; ok {
		if ac.tables, err = parseTableRules(list); err != nil {
			return nil, err
		}
	}
	if list, ok := rules["queries"]; ok {
		if ac.queries, err = parseQueryRules(list); err != nil {
			return nil, err
		}
	}
	return ac, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// ruleFields decodes one rule's fields, checking types and regular
// expressions.
type ruleFields struct {
	section string
	index   int
	raw     map[string]json.RawMessage
	err     error
}

func (f *ruleFields) fail(format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%s[%d]: %s", f.section, f.index, fmt.Sprintf(format, args...))
	}
}

// str returns the string field k, or nil when absent (or JSON null).
func (f *ruleFields) str(k string) *string {
	raw, ok := f.raw[k]
	if !ok || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail("%s: want a string", k)
		return nil
	}
	return &s
}

// regex returns the regular expression field k ("" when absent: .*).
func (f *ruleFields) regex(k string) string {
	s := f.str(k)
	if s == nil {
		return ""
	}
	if _, err := regexp.Compile(`^(?:` + *s + `)$`); err != nil {
		f.fail("%s: invalid regular expression %q: %v", k, *s, err)
	}
	return *s
}

func (f *ruleFields) optRegex(k string) *string {
	if _, ok := f.raw[k]; !ok {
		return nil
	}
	s := f.regex(k)
	return &s
}

func (f *ruleFields) identity() identityMatch {
	return identityMatch{User: f.regex("user"), Role: f.optRegex("role"), Group: f.optRegex("group")}
}

func (f *ruleFields) required(k string) json.RawMessage {
	raw, ok := f.raw[k]
	if !ok || string(raw) == "null" {
		f.fail("Missing required creator property '%s'", k)
	}
	return raw
}

func parseCatalogRules(list []map[string]json.RawMessage) ([]accessCatalogRule, error) {
	out := []accessCatalogRule{}
	for i, raw := range list {
		f := &ruleFields{section: "catalogs", index: i, raw: raw}
		r := accessCatalogRule{identityMatch: f.identity(), Catalog: f.regex("catalog")}
		if allow := f.required("allow"); f.err == nil {
			var b bool
			var s string
			switch {
			case json.Unmarshal(allow, &b) == nil: // legacy true/false
				r.Allow = map[bool]catalogAccess{true: accessAll, false: accessNone}[b]
			case json.Unmarshal(allow, &s) == nil && strings.EqualFold(s, "all"):
				r.Allow = accessAll
			case strings.EqualFold(s, "read-only"), strings.EqualFold(s, "read_only"):
				r.Allow = accessReadOnly
			case strings.EqualFold(s, "none"):
				r.Allow = accessNone
			default:
				f.fail("allow: %s: want all, read-only or none", allow)
			}
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, r)
	}
	return out, nil
}

var tablePrivileges = []string{"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"}

func parseTableRules(list []map[string]json.RawMessage) ([]accessTableRule, error) {
	out := []accessTableRule{}
	for i, raw := range list {
		f := &ruleFields{section: "tables", index: i, raw: raw}
		r := accessTableRule{identityMatch: f.identity(), Catalog: f.regex("catalog"), Schema: f.regex("schema"),
			Table: f.regex("table"), Filter: f.str("filter"), index: i}
		if privs := f.required("privileges"); f.err == nil {
			if err := json.Unmarshal(privs, &r.Privileges); err != nil {
				f.fail("privileges: want a list of %s", strings.Join(tablePrivileges, ", "))
			}
			for j, p := range r.Privileges {
				// Jackson reads enums case-insensitively here.
				r.Privileges[j] = strings.ToUpper(p)
				if !slices.Contains(tablePrivileges, r.Privileges[j]) {
					f.fail("privileges: %q is not one of %s", p, strings.Join(tablePrivileges, ", "))
				}
			}
		}
		r.FilterEnvironment = f.environment(raw["filter_environment"], "filter_environment")
		r.Columns = f.columns()
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *ruleFields) environment(raw json.RawMessage, field string) *expressionEnvironment {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		f.fail("%s: want an object", field)
		return nil
	}
	sub := &ruleFields{section: f.section, index: f.index, raw: m}
	for k := range m {
		if k != "user" {
			f.fail("%s: Unrecognized field %q (known: user)", field, k)
		}
	}
	env := &expressionEnvironment{User: sub.str("user")}
	if sub.err != nil {
		f.fail("%s: %v", field, sub.err)
	}
	return env
}

func (f *ruleFields) columns() []columnConstraint {
	raw, ok := f.raw["columns"]
	if !ok || string(raw) == "null" {
		return nil
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		f.fail("columns: want a list of column constraints")
		return nil
	}
	var out []columnConstraint
	seen := map[string]bool{}
	for j, m := range list {
		sub := &ruleFields{section: f.section, index: f.index, raw: m}
		for k := range m {
			if !slices.Contains([]string{"name", "allow", "mask", "mask_environment"}, k) {
				f.fail("columns[%d]: Unrecognized field %q (known: allow, mask, mask_environment, name)", j, k)
			}
		}
		c := columnConstraint{Mask: sub.str("mask"), MaskEnvironment: sub.environment(m["mask_environment"], "mask_environment")}
		if name := sub.required("name"); sub.err == nil {
			if err := json.Unmarshal(name, &c.Name); err != nil {
				sub.fail("name: want a string")
			}
		}
		if a, ok := m["allow"]; ok && string(a) != "null" {
			var b bool
			if err := json.Unmarshal(a, &b); err != nil {
				sub.fail("allow: want true or false")
			}
			c.Allow = &b
		}
		if sub.err != nil {
			f.fail("columns[%d]: %v", j, sub.err)
			return nil
		}
		// Trino indexes the constraints by name (Maps.uniqueIndex), which
		// fails on a duplicate.
		if seen[c.Name] {
			f.fail("columns: multiple entries with same key: %s", c.Name)
		}
		seen[c.Name] = true
		out = append(out, c)
	}
	return out
}

func parseQueryRules(list []map[string]json.RawMessage) ([]accessQueryRule, error) {
	out := []accessQueryRule{}
	for i, raw := range list {
		f := &ruleFields{section: "queries", index: i, raw: raw}
		r := accessQueryRule{identityMatch: f.identity(), QueryOwner: f.optRegex("queryOwner")}
		if allow := f.required("allow"); f.err == nil {
			if err := json.Unmarshal(allow, &r.Allow); err != nil {
				f.fail("allow: want a list of execute, view, kill")
			}
			for j, a := range r.Allow {
				r.Allow[j] = strings.ToLower(a)
				if !slices.Contains([]string{"execute", "view", "kill"}, r.Allow[j]) {
					f.fail("allow: %q is not one of execute, view, kill", a)
				}
			}
			if r.QueryOwner != nil && slices.Contains(r.Allow, "execute") {
				f.fail("A valid query rule cannot combine an queryOwner condition with access mode 'execute'")
			}
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, r)
	}
	return out, nil
}

// catalogAccess is what the first catalog rule matching user and catalog
// allows; Trino appends a rule giving everyone the system catalog.
func (ac *AccessControl) catalogAccess(user, catalog string) catalogAccess {
	if ac.catalogs == nil {
		return accessAll
	}
	for _, r := range ac.catalogs {
		if _, ok := fullMatch(r.Catalog, catalog); ok && r.matches(user) {
			return r.Allow
		}
	}
	if catalog == "system" {
		return accessAll
	}
	return accessNone
}

// tableRule is the first table rule matching user and table, or nil when
// none does (deny). With the section absent it is Trino's ALLOW_ALL rule.
func (ac *AccessControl) tableRule(user string, t tableName) *accessTableRule {
	if ac.tables == nil {
		return &accessTableRule{Privileges: tablePrivileges, index: -1}
	}
	for i := range ac.tables {
		r := &ac.tables[i]
		if !r.matches(user) {
			continue
		}
		_, c := fullMatch(r.Catalog, t.catalog)
		_, s := fullMatch(r.Schema, t.schema)
		_, n := fullMatch(r.Table, t.table)
		if c && s && n {
			return r
		}
	}
	return nil
}

// canExecuteQuery applies the queries section to running a query: the first
// rule matching the user decides; a rule with queryOwner applies only to
// other users' queries.
func (ac *AccessControl) canExecuteQuery(user string) bool {
	if ac == nil || ac.queries == nil {
		return true
	}
	for _, r := range ac.queries {
		if r.QueryOwner == nil && r.matches(user) {
			return slices.Contains(r.Allow, "execute")
		}
	}
	return false
}

func accessDenied(format string, args ...any) *trinoError {
	return newError(errPermission, "io.trino.spi.security.AccessDeniedException", "Access Denied: "+format, args...)
}

// checkSelect is checkCanSelectFromColumns: read-only access to the catalog,
// then the first matching table rule must grant SELECT (or GRANT_SELECT)
// and restrict none of the columns the query reads.
func (ac *AccessControl) checkSelect(user string, t tableName, columns []string) *trinoError {
	if ac.catalogAccess(user, t.catalog) < accessReadOnly {
		return accessDenied("Cannot select from table %s", t)
	}
	r := ac.tableRule(user, t)
	if r == nil || !(slices.Contains(r.Privileges, "SELECT") || slices.Contains(r.Privileges, "GRANT_SELECT")) {
		return accessDenied("Cannot select from table %s", t)
	}
	for _, c := range r.Columns {
		if c.Allow != nil && !*c.Allow && slices.Contains(columns, c.Name) {
			return accessDenied("Cannot select from table %s", t)
		}
	}
	return nil
}

// restrictions returns the first table rule matching user and t when it
// carries a row filter or column constraints (masks, denied columns).
func (ac *AccessControl) restrictions(user string, t tableName) (r *accessTableRule, ok bool) {
	if ac == nil {
		return nil, false
	}
	r = ac.tableRule(user, t)
	if r == nil || (r.Filter == nil && len(r.Columns) == 0) {
		return nil, false
	}
	return r, true
}
