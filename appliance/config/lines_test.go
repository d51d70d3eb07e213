package config

import (
	"testing"
)

// keyPath turns a key as written into the path errors use: pieces joined
// by dots, whitespace around the dots dropped, a bare key as it is and any
// other quoted.
func TestKeyPath(t *testing.T) {
	for in, want := range map[string]string{
		"workers":                        "workers",
		"trino.workers":                  "trino.workers",
		"trino . workers":                "trino.workers",
		`"trino".'workers'`:              "trino.workers",
		`properties."connection-url"`:    "properties.connection-url",
		`properties."connection.url"`:    `properties."connection.url"`,
		`secrets.'pg password'`:          `secrets."pg password"`,
		`a."".b`:                         `a."".b`,
		`service-1.depends_on`:           "service-1.depends_on",
		`x.'single "double" inside'.y`:   `x."single \"double\" inside".y`,
		`catalog.properties."a=b".plain`: `catalog.properties."a=b".plain`,
	} {
		if got := keyPath(in); got != want {
			t.Errorf("keyPath(%s) = %s, want %s", in, got, want)
		}
	}
}

// indexLines finds every table, array entry and key at its line, counting
// array entries per parent, and skips the inside of multi-line strings.
func TestIndexLines(t *testing.T) {
	file := `# a comment
[appliance]
project = "p"

[[catalog]]
name = "a"
properties = { "connection-url" = "jdbc:x" }

[[catalog]]
name = "b"
[catalog.properties]
"connection-url" = "jdbc:y"

[[report]]
name = "r"
sql = """
SELECT 1
[trino]
"""
run_as = "x"
  [report.chart]
  kind = "bar"

[[policy]]
user = "u"
[[policy.column]]
name = "c0"
[[policy.column]]
name = "c1"
[[policy]]
user = "v"
[[policy.column]]
name = "d0"
trino.workers = 3
`
	idx := indexLines([]byte(file))
	for path, want := range map[string]int{
		"appliance":                            2,
		"appliance.project":                    3,
		"catalog":                              5, // the first entry declares the array
		"catalog[0]":                           5,
		"catalog[0].name":                      6,
		"catalog[0].properties":                7,
		"catalog[1]":                           9,
		"catalog[1].properties":                11,
		"catalog[1].properties.connection-url": 12,
		"report[0].sql":                        16,
		"report[0].run_as":                     20,
		"report[0].chart":                      21,
		"report[0].chart.kind":                 22,
		"policy[0].column[1].name":             29,
		"policy[1].user":                       31,
		"policy[1].column[0]":                  32,
		"policy[1].column[0].name":             33,
		// A dotted key under [[policy.column]] belongs to that entry.
		"policy[1].column[0].trino.workers": 34,
	} {
		if got := idx[path]; got != want {
			t.Errorf("%s at line %d, want %d", path, got, want)
		}
	}
	// "[trino]" inside the SQL string is no table header.
	if n, ok := idx["trino"]; ok {
		t.Errorf("a header inside a multi-line string was indexed at line %d", n)
	}
	// A path the file does not set is placed at its nearest table.
	for path, want := range map[string]int{
		"catalog[0].connector":          5,
		"catalog[1].properties.missing": 11,
		"report[0].chart.title":         21,
		"policy[0].column[0].mask":      26,
		"notebook.port":                 0,
	} {
		if got := idx.line(path); got != want {
			t.Errorf("line(%s) = %d, want %d", path, got, want)
		}
	}
}

// set keeps the first line of a path and fills in the tables it implies;
// indexed numbers entries of arrays of tables as they are declared.
func TestLineIndexSetAndIndexed(t *testing.T) {
	idx := lineIndex{}
	idx.set("service[1].ports", 9)
	idx.set("service[1].ports", 12)
	idx.set("service[1]", 7)
	for path, want := range map[string]int{"service[1].ports": 9, "service[1]": 9, "service": 9} {
		if idx[path] != want {
			t.Errorf("%s = %d, want %d", path, idx[path], want)
		}
	}
	counts := map[string]int{}
	var got []string
	for _, step := range []struct {
		name string
		new  bool
	}{{"report", true}, {"report.chart", false}, {"report", true}, {"report.chart", false}, {"mesh", false}} {
		got = append(got, indexed(step.name, counts, step.new))
	}
	want := []string{"report[0]", "report[0].chart", "report[1]", "report[1].chart", "mesh"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: %q, want %q", i, got[i], want[i])
		}
	}
}
