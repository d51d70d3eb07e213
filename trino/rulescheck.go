package trino

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// field kinds in a rule.
const (
	kRegex = iota // string holding a Java regular expression
	kString
	kBool
	kCatalogAllow // all | read-only | none | true | false
	kTablePrivs
	kFunctionPrivs
	kProcedurePrivs
	kQueryAllow
	kSysInfoAllow
	kColumns
	kEnvironment
	kGone // a key Trino rejects
)

type ruleSchema struct {
	keys     map[string]int
	required []string
}

var identity = map[string]int{"user": kRegex, "role": kRegex, "group": kRegex}

func withIdentity(extra map[string]int) map[string]int {
	m := maps.Clone(identity)
	maps.Copy(m, extra)
	return m
}

// rulesSchema is Trino's documented system-level rules.json (file-based
// access control), section by section.
var rulesSchema = map[string]ruleSchema{
	"catalogs": {withIdentity(map[string]int{"catalog": kRegex, "allow": kCatalogAllow}), []string{"allow"}},
	"schemas":  {withIdentity(map[string]int{"catalog": kRegex, "schema": kRegex, "owner": kBool}), []string{"owner"}},
	"tables": {withIdentity(map[string]int{"catalog": kRegex, "schema": kRegex, "table": kRegex, "privileges": kTablePrivs,
		"columns": kColumns, "filter": kString, "filter_environment": kEnvironment}), []string{"privileges"}},
	"system_session_properties":  {withIdentity(map[string]int{"property": kRegex, "allow": kBool}), []string{"allow"}},
	"catalog_session_properties": {withIdentity(map[string]int{"catalog": kRegex, "property": kRegex, "allow": kBool}), []string{"allow"}},
	"functions": {withIdentity(map[string]int{"catalog": kRegex, "schema": kRegex, "function": kRegex, "privileges": kFunctionPrivs,
		"function_kinds": kGone, "functionKinds": kGone}), []string{"privileges"}},
	"procedures": {withIdentity(map[string]int{"catalog": kRegex, "schema": kRegex, "procedure": kRegex, "privileges": kProcedurePrivs}), []string{"privileges"}},
	"queries":    {withIdentity(map[string]int{"queryOwner": kRegex, "allow": kQueryAllow}), []string{"allow"}},
	"impersonation": {map[string]int{"original_user": kRegex, "original_role": kRegex, "new_user": kString, "allow": kBool},
		[]string{"new_user"}},
	"principals":         {map[string]int{"principal": kRegex, "user": kRegex, "principal_to_user": kString, "allow": kBool}, []string{"principal", "allow"}},
	"system_information": {map[string]int{"user": kRegex, "role": kRegex, "allow": kSysInfoAllow}, []string{"allow"}},
	"authorization": {map[string]int{"original_user": kRegex, "original_group": kRegex, "original_role": kRegex,
		"new_user": kRegex, "new_role": kRegex, "allow": kBool}, nil},
}

var enumValues = map[int][]string{
	kTablePrivs:     tablePrivileges,
	kFunctionPrivs:  {"EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"},
	kProcedurePrivs: {"EXECUTE", "GRANT_EXECUTE"},
	kQueryAllow:     {"execute", "view", "kill"},
	kSysInfoAllow:   {"read", "write"},
}

// ValidateRules checks rules.json against Trino's documented schema: known
// sections, known keys per rule, required keys, allowed values, and regular
// expressions that compile. Trino silently ignores a misspelt key (a filter
// that is never applied), so this check is stricter than Trino.
func ValidateRules(data []byte) error {
	var doc map[string]json.RawMessage
	if err := strictUnmarshal(data, &doc); err != nil {
		return fmt.Errorf("rules.json: %w", err)
	}
	var errs []error
	for _, section := range slices.Sorted(maps.Keys(doc)) {
		schema, ok := rulesSchema[section]
		if !ok {
			errs = append(errs, fmt.Errorf("rules.json: unknown section %q (known: %s)", section, strings.Join(slices.Sorted(maps.Keys(rulesSchema)), ", ")))
			continue
		}
		var rules []map[string]json.RawMessage
		if err := strictUnmarshal(doc[section], &rules); err != nil {
			errs = append(errs, fmt.Errorf("rules.json: %s: want a list of rules: %w", section, err))
			continue
		}
		for i, r := range rules {
			for _, err := range checkRule(schema, r) {
				errs = append(errs, fmt.Errorf("rules.json: %s[%d]: %w", section, i, err))
			}
		}
		if section == "queries" {
			errs = append(errs, checkQueryOwner(rules)...)
		}
	}
	return errors.Join(errs...)
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

func checkRule(s ruleSchema, r map[string]json.RawMessage) []error {
	var errs []error
	for _, k := range s.required {
		if _, ok := r[k]; !ok {
			errs = append(errs, fmt.Errorf("missing required key %q", k))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r)) {
		kind, ok := s.keys[k]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown key %q (known: %s)", k, strings.Join(slices.Sorted(maps.Keys(s.keys)), ", ")))
			continue
		}
		if err := checkValue(kind, r[k]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	return errs
}

func checkValue(kind int, raw json.RawMessage) error {
	switch kind {
	case kGone:
		return errors.New("no longer supported: Trino refuses to start with it; remove it")
	case kRegex:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errors.New("want a string")
		}
		if _, err := regexp.Compile("^(?:" + s + ")$"); err != nil {
			return fmt.Errorf("invalid regular expression %q: %v", s, err)
		}
	case kString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errors.New("want a string")
		}
	case kBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return errors.New("want true or false")
		}
	case kCatalogAllow:
		var s string
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return nil
		}
		if json.Unmarshal(raw, &s) != nil || !slices.Contains([]string{"all", "read-only", "none"}, s) {
			return fmt.Errorf("%s: want all, read-only or none", raw)
		}
	case kColumns:
		return checkColumns(raw)
	case kEnvironment:
		var env map[string]json.RawMessage
		if err := strictUnmarshal(raw, &env); err != nil {
			return errors.New("want an object")
		}
		return errors.Join(checkRule(ruleSchema{keys: map[string]int{"user": kString}}, env)...)
	default:
		return checkEnumList(raw, enumValues[kind])
	}
	return nil
}

func checkEnumList(raw json.RawMessage, allowed []string) error {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("want a list of %s", strings.Join(allowed, ", "))
	}
	for _, v := range list {
		if !slices.Contains(allowed, v) {
			return fmt.Errorf("value %q: want one of %s", v, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func checkColumns(raw json.RawMessage) error {
	var cols []map[string]json.RawMessage
	if err := strictUnmarshal(raw, &cols); err != nil {
		return errors.New("want a list of column constraints")
	}
	schema := ruleSchema{keys: map[string]int{"name": kString, "allow": kBool, "mask": kString, "mask_environment": kEnvironment},
		required: []string{"name"}}
	var errs []error
	for i, c := range cols {
		for _, err := range checkRule(schema, c) {
			errs = append(errs, fmt.Errorf("[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// checkQueryOwner enforces Trino's rule that a rule with queryOwner may not
// grant execute.
func checkQueryOwner(rules []map[string]json.RawMessage) []error {
	var errs []error
	for i, r := range rules {
		var allow []string
		if _, ok := r["queryOwner"]; ok && json.Unmarshal(r["allow"], &allow) == nil && slices.Contains(allow, "execute") {
			errs = append(errs, fmt.Errorf("rules.json: queries[%d]: a rule with queryOwner cannot allow execute", i))
		}
	}
	return errs
}
