package config

import (
	"regexp"
	"strings"
	"testing"
)

// Sizes and durations refuse what they cannot hold instead of wrapping.
func TestUnitLimits(t *testing.T) {
	for in, want := range map[string]string{
		"9999999TB": "too large: a size must be at most 1024TB",
		"1025TB":    "too large",
		"1e30GB":    "not a size",
		"InfGB":     "not a size",
		"NaNGB":     "not a size",
		"-1GB":      "not a size",
		"0x10GB":    "not a size",
	} {
		var b Bytes
		if err := b.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("size %s: %v; want %q", in, err, want)
		}
	}
	var b Bytes
	if err := b.UnmarshalText([]byte("1024TB")); err != nil || b != MaxBytes || b.String() != "1024TB" {
		t.Errorf("1024TB: %v, %s", err, b)
	}
	for in, want := range map[string]string{
		"99999999h": "too large: a duration must be at most 87600h",
		"87601h":    "too large",
		"1.5.5h":    "not a duration",
		"soon":      "not a duration",
		"":          "not a duration",
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("duration %q: %v; want %q", in, err, want)
		}
	}
}

// The host check names the one setting to lower, in MiB throughout.
func TestHostFit(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	src := decode(&Config{}, []byte("[trino]\nworkers = 8\n"), "moat.toml")
	c.Trino.Workers = 8
	for _, tc := range []struct {
		host int64
		want string
	}{
		{64 << 30, ""},
		{8 << 30, "moat.toml:2: trino.workers = 8: Trino needs 13824MiB of memory (coordinator 1536MiB + 8 × worker 1536MiB, each heap + JVM overhead) but this host has 8192MiB: lower it to at most 4"},
		{2<<30 + 12345, "trino.worker_heap = \"1GB\" (default): Trino needs 13824MiB"},
	} {
		k := &checker{source: src}
		k.hostFit(c, MemoryPlan(c), tc.host)
		got := k.errs.Error()
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("host %d: %q; want %q", tc.host, got, tc.want)
		}
		if sizes := sizeRe.FindAllString(got, -1); len(sizes) > 0 {
			t.Errorf("sizes not in MiB %v: %s", sizes, got)
		}
	}
}

// sizeRe finds sizes in a unit other than MiB (the config's own values,
// quoted, aside).
var sizeRe = regexp.MustCompile(`\b[0-9]+(B|KiB|GiB|TiB)\b`)

func TestClosestKey(t *testing.T) {
	known := []string{"enabled", "image", "version", "workers", "subnet"}
	for key, want := range map[string]string{"wokers": "workers", "Workers": "workers", "imgae": "image", "colour": "", "x": ""} {
		if got := closest(key, known); got != want {
			t.Errorf("closest(%q) = %q; want %q", key, got, want)
		}
	}
}

// Entries of a nested array of tables are counted per parent entry.
func TestNestedLines(t *testing.T) {
	idx := indexLines([]byte("[[policy]]\nuser = \"a\"\n[[policy.column]]\nname = \"x\"\n[[policy]]\nuser = \"b\"\n[[policy.column]]\nname = \"y\"\n"))
	for path, want := range map[string]int{"policy[0].column[0].name": 4, "policy[1].user": 6, "policy[1].column[0].name": 8} {
		if got := idx.line(path); got != want {
			t.Errorf("%s at line %d; want %d", path, got, want)
		}
	}
}

// A file replacing [[user]] that sets some of the references itself hears
// only about the ones it left to the defaults.
func TestReplacedListNamesOnlyDefaults(t *testing.T) {
	_, err := Parse([]byte("[notebook]\nuser = \"bob\"\n[[user]]\nname = \"bob\"\n[[policy]]\nuser = \"bob\"\ncatalog = \"tpch\"\nprivileges = [\"SELECT\"]\n"), "moat.toml")
	want := `moat.toml:3: user: declaring [[user]] replaces the default list (analyst), but defaults you did not write still name analyst: report[0].run_as = "analyst"; add [[user]] name = "analyst"`
	if err == nil || err.Error() != want+", or set those keys yourself" {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// Every problem of the declared intentions is reported at once, each at
// its line and field, from mesh's one validator.
func TestIntentionProblemsAtTheirLines(t *testing.T) {
	_, err := Parse([]byte(`[[intention]]
source = "notebook"
destination = "trino-coordinator"
action = "allow"
[[intention]]
source = "web"
destination = "trino-coordinator"
action = "permit"
[[intention]]
source = "notebook"
destination = "trino-coordinator"
action = "deny"
[[intention.http]]
path_prefix = "v1"
`), "moat.toml")
	want := []string{
		`moat.toml:6: intention[1].source = "web": must be one of orchestrator, workstation, trino-coordinator, notebook, *`,
		`moat.toml:8: intention[1].action = "permit": must be allow or deny`,
		`moat.toml:9: intention[2]: notebook → trino-coordinator is declared twice (first at intention[0]): keep one`,
		`moat.toml:13: intention[2].http: HTTP path rules narrow an allow; a deny takes none: drop the rules, or make the action allow`,
		`moat.toml:13: intention[2].http: HTTP path and method rules need mesh.proxy = "envoy" (the built-in proxy only sees TCP): set it, or drop the rules`,
		`moat.toml:13: intention[2].http: HTTP path and method rules cannot apply to trino-coordinator: its clients speak TLS to the application itself, carried by the sidecar at L4, so no proxy sees their HTTP; use an allow or deny intention, and [[policy]] for what a user may do in Trino`,
		`moat.toml:14: intention[2].http[0].path_prefix = "v1": must start with /, e.g. "/api/"`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("got:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// The supervisor's backoff rule lands at the moat.toml key its
// PolicyError names.
func TestBackoffProblemAtItsKey(t *testing.T) {
	_, err := Parse([]byte("[appliance]\nrestart_backoff_initial = \"2s\"\nrestart_backoff_max = \"1s\"\n"), "moat.toml")
	want := "moat.toml:3: appliance.restart_backoff_max: must be at least restart_backoff_initial (2s)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
