package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAccessControlRefusedAtStart: what Trino refuses at start in
// access-control.properties and rules.json stops trinotestd with Trino's
// message and the file named.
func TestAccessControlRefusedAtStart(t *testing.T) {
	const rulesFile = "rules.json"
	for _, tc := range []struct{ name, props, rules, want string }{
		{"unknown property", "access-control.name=file\nsecurity.config-file=RULES\nsecurity.refresh=5s\n", `{}`,
			"access-control.properties: Configuration property 'security.refresh' was not used"},
		{"no rules file named", "access-control.name=file\n", `{}`,
			"access-control.properties: Invalid configuration property security.config-file: must not be null"},
		{"bad refresh period", "access-control.name=file\nsecurity.config-file=RULES\nsecurity.refresh-period=soon\n", `{}`,
			"Invalid configuration property security.refresh-period"},
		{"json pointer", "access-control.name=file\nsecurity.config-file=RULES\nsecurity.json-pointer=/data\n", `{}`,
			"security.json-pointer=/data: trinotestd reads a rules file whose top level is the rules object"},
		{"missing rules file", "access-control.name=file\nsecurity.config-file=RULES.missing\n", `{}`,
			"access-control.properties: security.config-file: File does not exist: "},
		{"invalid JSON", "access-control.name=file\nsecurity.config-file=RULES\n", `{"tables": [`,
			"Invalid JSON file '"},
		{"misspelt key", "access-control.name=file\nsecurity.config-file=RULES\n", `{"tables": [{"privileges": ["SELECT"], "filtr": "x > 1"}]}`,
			`for 'class io.trino.plugin.base.security.FileBasedSystemAccessControlRules': tables[0]: Unrecognized field "filtr"`},
		{"unknown plugin", "access-control.name=ranger\n", `{}`, `access-control.name="ranger": trinotestd supports file and allow-all`},
	} {
		dir := t.TempDir()
		rules := filepath.Join(dir, rulesFile)
		writeFiles(t, dir, map[string]string{
			"node.properties":           "node.environment=moat\n",
			"config.properties":         "coordinator=true\n",
			"access-control.properties": strings.ReplaceAll(tc.props, "RULES", rules),
			rulesFile:                   tc.rules,
		})
		_, err := loadConfig(dir, lookup(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// The files moat writes load, with the rules enforced.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"node.properties":           "node.environment=moat\n",
		"config.properties":         "coordinator=true\n",
		"access-control.properties": "access-control.name=file\nsecurity.config-file=" + filepath.Join(dir, rulesFile) + "\nsecurity.refresh-period=5s\n",
		rulesFile:                   `{"catalogs": [{"allow": "none"}]}`,
	})
	c, err := loadConfig(dir, lookup(nil))
	if err != nil || c.opts.AccessControl == nil {
		t.Fatalf("moat's access control files: %v %+v", err, c)
	}
}
