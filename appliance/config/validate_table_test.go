package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Each rule of validate.go and validate_net.go that the bad files under
// testdata/config/bad do not already exercise, as one snippet on top of the
// embedded defaults and the complete error it must give (file:line: field
// = value: message). A snippet that must load is listed with want "".
func TestValidationRules(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		want       []string
	}{
		{"project name", "[appliance]\nproject = \"Moat\"\n",
			[]string{`v.toml:2: appliance.project = "Moat": must be lowercase letters, digits and -, starting with a letter, at most 30 characters`}},
		{"project name too long", "[appliance]\nproject = \"a234567890123456789012345678901\"\n",
			[]string{`v.toml:2: appliance.project = "a234567890123456789012345678901": must be lowercase`}},
		{"crash loop failures", "[appliance]\ncrash_loop_failures = 0\n",
			[]string{`v.toml:2: appliance.crash_loop_failures = 0: must be between 1 and 100`}},
		{"crash loop failures high", "[appliance]\ncrash_loop_failures = 101\n",
			[]string{`v.toml:2: appliance.crash_loop_failures = 101: must be between 1 and 100`}},
		// The supervisor's own Backoff rule, placed at the key it names.
		{"backoff max below initial", "[appliance]\nrestart_backoff_initial = \"2s\"\nrestart_backoff_max = \"1s\"\n",
			[]string{`v.toml:3: appliance.restart_backoff_max: must be at least restart_backoff_initial (2s)`}},
		{"backoff initial zero", "[appliance]\nrestart_backoff_initial = \"0s\"\n",
			[]string{`v.toml:2: appliance.restart_backoff_initial: must be positive`}},
		{"durations positive", "[appliance]\nstable_after = \"0s\"\nreport_timeout = \"-1m\"\n",
			[]string{
				`v.toml:2: appliance.stable_after = "0s": must be a positive duration such as 30s`,
				`v.toml:3: appliance.report_timeout = "-1m0s": must be a positive duration such as 30s`,
			}},
		{"datacenter", "[mesh]\ndatacenter = \"DC1\"\n",
			[]string{`v.toml:2: mesh.datacenter = "DC1": must be lowercase letters, digits, - and _`}},
		{"leaf cert ttl", "[mesh]\nleaf_cert_ttl = \"30m\"\n",
			[]string{`v.toml:2: mesh.leaf_cert_ttl = "30m0s": must be at least 1h (Consul's minimum)`}},
		{"workstation port range", "[mesh]\nworkstation_port = 65536\n",
			[]string{`v.toml:2: mesh.workstation_port = 65536: must be a port between 1 and 65535`}},
		{"workstation port off", "[mesh]\nworkstation_port = 0\n", nil},
		{"mesh subnet too small", "[mesh]\nsubnet = \"10.0.0.0/30\"\n",
			[]string{`v.toml:2: mesh.subnet = "10.0.0.0/30": must be an IPv4 CIDR of at least 16 addresses such as 172.28.0.0/24`}},
		{"mesh subnet IPv6", "[mesh]\nsubnet = \"fd00::/64\"\n",
			[]string{`v.toml:2: mesh.subnet = "fd00::/64": must be an IPv4 CIDR`}},
		// 16 workers take .11 to .26: a /28 (16 addresses) is too small,
		// and the smallest that holds .26 plus broadcast is a /27.
		{"trino subnet for 16 workers", "[trino]\nworkers = 16\nsubnet = \"172.29.0.0/28\"\n",
			[]string{`v.toml:3: trino.subnet = "172.29.0.0/28": holds 16 addresses, too few for the fixed addresses moat gives up to .26: use a /27 or larger`}},
		{"16 workers fit a /27", "[trino]\nworkers = 16\nsubnet = \"172.29.0.0/27\"\n", nil},
		{"trino version", "[trino]\nversion = 399\n",
			[]string{`v.toml:2: trino.version = 399: must be the Trino release the image runs (400 or later), e.g. 483`}},
		{"heap headroom", "[trino]\nheap_headroom_percent = 91\n",
			[]string{`v.toml:2: trino.heap_headroom_percent = 91: must be between 0 and 90`}},
		{"shutdown grace", "[trino]\nshutdown_grace = \"0s\"\n",
			[]string{`v.toml:2: trino.shutdown_grace = "0s": must be a positive duration`}},
		{"catalogs", "[[catalog]]\nname = \"tpch\"\nconnector = \"tpch\"\n[[catalog]]\nname = \"tpch\"\nconnector = \"oracle-ish\"\n[[catalog]]\nname = \"My-Cat\"\nconnector = \"memory\"\n",
			[]string{
				`v.toml:5: catalog[1].name = "tpch": is declared twice: catalog names must be unique`,
				`v.toml:6: catalog[1].connector = "oracle-ish": must be one of `,
				`v.toml:8: catalog[2].name = "My-Cat": must be lowercase letters, digits and _, starting with a letter`,
			}},
		{"duplicate user", "[[user]]\nname = \"analyst\"\n[[user]]\nname = \"analyst\"\n",
			[]string{`v.toml:4: user[1].name = "analyst": is declared twice: user names must be unique`}},
		{"user name", "[[user]]\nname = \"analyst\"\n[[user]]\nname = \"Bob\"\n",
			[]string{`v.toml:4: user[1].name = "Bob": must be lowercase letters, digits, _, . and -, starting with a letter`}},
		{"reserved orchestrator", "[[user]]\nname = \"analyst\"\n[[user]]\nname = \"orchestrator\"\n",
			[]string{`v.toml:4: user[1].name = "orchestrator": is reserved for moat itself; choose another name`}},
		{"unknown privilege", "[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nprivileges = [\"SELECT\", \"DROP\"]\n",
			[]string{`v.toml:4: policy[0].privileges = ["SELECT", "DROP"]: "DROP" is not a privilege: use SELECT, INSERT, DELETE, UPDATE, OWNERSHIP, GRANT_SELECT`}},
		{"catalog star", "[[policy]]\nuser = \"analyst\"\ncatalog = \"*\"\nprivileges = [\"SELECT\"]\n", nil},
		{"policy catalog unknown", "[[policy]]\nuser = \"analyst\"\ncatalog = \"pg\"\nprivileges = [\"SELECT\"]\n",
			[]string{`v.toml:3: policy[0].catalog = "pg": is not a [[catalog]] (or "*" for all)`}},
		{"row filter without table", "[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nprivileges = [\"SELECT\"]\nrow_filter = \"nationkey < 3\"\n",
			[]string{`v.toml:1: policy[0].table = "" (not set in policy[0]): row_filter and column rules need a table (and schema)`}},
		{"column rules", "[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nschema = \"tiny\"\ntable = \"nation\"\nprivileges = [\"SELECT\"]\n[[policy.column]]\ndeny = false\n",
			[]string{
				`v.toml:7: policy[0].column[0].name = "" (not set in policy[0].column[0]): must name a column`,
				`v.toml:7: policy[0].column[0]: set exactly one of mask (an SQL expression) or deny = true`,
			}},
		{"column mask", "[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nschema = \"tiny\"\ntable = \"nation\"\nprivileges = [\"SELECT\"]\n[[policy.column]]\nname = \"comment\"\nmask = \"'***'\"\n", nil},
		{"notebook user", "[notebook]\nuser = \"ghost\"\n",
			[]string{`v.toml:2: notebook.user = "ghost": is not a [[user]]; the notebook connects to Trino as this user`}},
		{"notebook without trino (default on)", "[trino]\nenabled = false\n",
			[]string{`v.toml:2: trino.enabled = false: the notebook (on by default) exists to query Trino: set notebook.enabled = false too, or enable Trino`}},
		{"notebook without trino (written)", "[trino]\nenabled = false\n[notebook]\nenabled = true\n",
			[]string{`v.toml:4: notebook.enabled = true: the notebook exists to query Trino: enable [trino], or set notebook.enabled = false`}},
		{"consul alone", "[trino]\nenabled = false\n[notebook]\nenabled = false\n", nil},
		{"mesh off, trino written on", "[mesh]\nenabled = false\n[trino]\nenabled = true\n[notebook]\nenabled = false\n",
			[]string{`v.toml:4: trino.enabled = true: Trino is reached only through the mesh: enable [mesh] too, or set trino.enabled = false`}},
		{"mesh off, notebook by default", "[mesh]\nenabled = false\n[trino]\nenabled = false\n",
			[]string{`v.toml:2: mesh.enabled = false: the notebook (on by default) is reached only through the mesh: set notebook.enabled = false too, or enable the mesh`}},
		{"reports", "[[report]]\nname = \"Nations\"\nsql = \"SELECT 1\"\nrun_as = \"analyst\"\n[[report]]\nname = \"a\"\nsql = \" \"\nrun_as = \"analyst\"\n[[report]]\nname = \"a\"\nsql = \"SELECT 1;\"\nrun_as = \"analyst\"\n",
			[]string{
				`v.toml:2: report[0].name = "Nations": must be lowercase letters, digits and -, starting with a letter (it names a folder)`,
				`v.toml:7: report[1].sql = " ": must be an SQL query`,
				`v.toml:10: report[2].name = "a": is declared twice: report names must be unique`,
				`v.toml:9: report[2]: report a: sql ends with ';': remove it (Trino rejects a trailing semicolon)`,
			}},
		{"intentions", "[[intention]]\nsource = \"web\"\ndestination = \"notebook\"\naction = \"permit\"\n",
			[]string{
				`v.toml:2: intention[0].source = "web": must be one of orchestrator, workstation, trino-coordinator, notebook, *`,
				`v.toml:4: intention[0].action = "permit": must be allow or deny`,
			}},
		// workstation is an identity only while the host endpoint is on.
		{"intention from workstation when it is off", "[mesh]\nworkstation_port = 0\n[[intention]]\nsource = \"workstation\"\ndestination = \"trino-coordinator\"\naction = \"deny\"\n",
			[]string{`v.toml:4: intention[0].source = "workstation": must be one of orchestrator, trino-coordinator, notebook, *`}},
		{"intention wildcard", "[[intention]]\nsource = \"*\"\ndestination = \"notebook\"\naction = \"deny\"\n", nil},
		{"service restart and retries", "[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nrestart = \"sometimes\"\nhealth_retries = -1\n",
			[]string{
				`v.toml:4: service[0].restart = "sometimes": must be always, on-failure or never`,
				`v.toml:5: service[0].health_retries = -1: must be 0 or more`,
			}},
		{"service name", "[[service]]\nname = \"Web\"\nimage = \"nginx:1.27\"\n",
			[]string{`v.toml:2: service[0].name = "Web": must be lowercase letters, digits and -, starting with a letter`}},
		// A worker that only exists with more workers is no reserved name.
		{"name of a worker that is not planned", "[[service]]\nname = \"trino-worker-2\"\nimage = \"nginx:1.27\"\n", nil},
		{"name of a planned worker", "[trino]\nworkers = 2\n[[service]]\nname = \"trino-worker-2\"\nimage = \"nginx:1.27\"\n",
			[]string{`v.toml:4: service[0].name = "trino-worker-2": is the name of a service moat runs itself; choose another`}},
		{"depends on a built-in service", "[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\ndepends_on = [\"trino-coordinator\", \"consul:started\"]\n", nil},
		// Host ports: the error lands on the key the file wrote.
		{"workstation port on the notebook's", "[mesh]\nworkstation_port = 8888\n",
			[]string{`v.toml:2: mesh.workstation_port = 8888: host port 127.0.0.1:8888 is also published by notebook.port (the default): give each its own port`}},
		{"dashboard on the notebook's port", "[dashboard]\nlisten = \"127.0.0.1:8888\"\n",
			[]string{`v.toml:2: dashboard.listen = "127.0.0.1:8888": host port 127.0.0.1:8888 is also published by notebook.port (the default): give each its own port`}},
		{"any address takes the port on every address", "[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nports = [\"0.0.0.0:7700:80\"]\n",
			[]string{`v.toml:4: service[0].ports = "0.0.0.0:7700:80": host port 0.0.0.0:7700 is also published by dashboard.listen (the default): give each its own port`}},
		{"same port on another loopback address", "[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nports = [\"127.0.0.2:8888:80\"]\n", nil},
		{"notebook off frees its ports", "[notebook]\nenabled = false\n[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nports = [\"8888:80\", \"21001:81\"]\n", nil},
		{"two sidecar ports", "[mesh]\nnotebook_sidecar_port = 21000\n",
			[]string{`v.toml:2: mesh.notebook_sidecar_port = 21000: host port 127.0.0.1:21000 is also published by mesh.coordinator_port (the default)`}},
		// Envoy's /ready ports are derived (+500): two derived ports
		// clash only through their keys, reported once.
		{"envoy ready port on a service's", "[mesh]\nproxy = \"envoy\"\n[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nports = [\"21501:80\"]\n",
			[]string{`v.toml:6: service[0].ports = "127.0.0.1:21501:80": host port 127.0.0.1:21501 is also published by mesh.notebook_sidecar_port + 500, the Envoy /ready port of notebook-sidecar (the default)`}},
		// The Envoy version is the image's tag: a reference without one
		// (a digest alone, or Docker's implicit latest) cannot be checked
		// against Consul's supported versions.
		{"envoy by digest alone", "[mesh]\nproxy = \"envoy\"\nenvoy_image = \"envoyproxy/envoy@sha256:" + strings.Repeat("ab", 32) + "\"\n",
			[]string{`v.toml:3: mesh.envoy_image = "envoyproxy/envoy@sha256:` + strings.Repeat("ab", 32) + `": has a digest but no tag: moat reads the Envoy version from the tag to check that Consul supports it: write the tag before the digest, e.g. envoyproxy/envoy:v1.31.5@sha256:` + strings.Repeat("ab", 32)}},
		{"envoy without a tag", "[mesh]\nproxy = \"envoy\"\nenvoy_image = \"registry:5000/envoy\"\n",
			[]string{`v.toml:3: mesh.envoy_image = "registry:5000/envoy": has no tag (Docker would take latest, which names no version): moat reads the Envoy version from the tag to check that Consul supports it: write it, e.g. registry:5000/envoy:v1.31.5`}},
		{"envoy by tag and digest", "[mesh]\nproxy = \"envoy\"\nenvoy_image = \"envoyproxy/envoy:v1.31.5@sha256:" + strings.Repeat("ab", 32) + "\"\n", nil},
		{"envoy on a registry with a port", "[mesh]\nproxy = \"envoy\"\nenvoy_image = \"registry:5000/envoyproxy/envoy:v1.31.5\"\n", nil},
		{"envoy image unused by the builtin proxy", "[mesh]\nenvoy_image = \"registry:5000/envoy\"\n", nil},
		{"builtin proxy has no ready ports", "[[service]]\nname = \"web\"\nimage = \"nginx:1.27\"\nports = [\"21501:80\"]\n", nil},
		// Overlapping subnets matter only when both networks exist.
		{"overlap with trino off", "[trino]\nenabled = false\nsubnet = \"172.28.0.0/24\"\n[notebook]\nenabled = false\n", nil},
		{"overlap reported at the later line", "[trino]\nsubnet = \"172.28.0.0/25\"\n[mesh]\nsubnet = \"172.28.0.0/24\"\n",
			[]string{`v.toml:4: mesh.subnet = "172.28.0.0/24": overlaps trino.subnet = "172.28.0.0/25" (v.toml:2): the mesh and trino networks need separate ranges`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "v.toml")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused a good config:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want %q", tc.want)
			}
			var errs ConfigErrors
			if !errors.As(err, &errs) {
				t.Fatalf("a %T, not ConfigErrors: %v", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, want := range tc.want {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, want)
				}
				if !found {
					t.Errorf("no line starts with\n  %s\nin\n%v", want, err)
				}
			}
			for _, e := range errs {
				if e.File != "v.toml" || e.Line < 1 || e.Line > strings.Count(tc.toml, "\n") {
					t.Errorf("error not placed on a line of the file: %+v", e)
				}
			}
		})
	}
}

// A password is a secret: the error about a short one names the key, never
// the value.
func TestShortPasswordIsNotQuoted(t *testing.T) {
	_, err := Parse([]byte("[[user]]\nname = \"analyst\"\npassword = \"hunter2-x\"\n"), "v.toml")
	if err == nil {
		t.Fatal("a 9-character password was accepted")
	}
	want := "v.toml:3: user[0].password: is shorter than 12 characters; leave it empty to have moat generate one"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the error quotes the password")
	}
	if _, err := Parse([]byte("[[user]]\nname = \"analyst\"\npassword = \"twelve-chars\"\n"), "v.toml"); err != nil {
		t.Errorf("a 12-character password: %v", err)
	}
}

// Every problem of a file is reported at once, in line order, whatever
// order the checks run in (services are checked after the appliance, but
// written first here), and a syntax error stops everything else.
func TestEveryProblemAtOnceInLineOrder(t *testing.T) {
	file := "[[service]]\nname = \"Web\"\nimage = \"nginx:1.27\"\n" + // 2: service name
		"[trino]\nworkers = 0\nwokers = 2\n" + // 5: range, 6: unknown key
		"[mesh]\nproxy = \"istio\"\n" + // 8: proxy
		"[appliance]\npull = \"sometimes\"\nstop_grace = \"soon\"\n" // 10: pull, 11: duration
	_, err := Parse([]byte(file), "all.toml")
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("want ConfigErrors, got %v", err)
	}
	var got []int
	for _, e := range errs {
		got = append(got, e.Line)
	}
	want := []int{2, 5, 6, 8, 10, 11}
	if !slices.Equal(got, want) {
		t.Errorf("errors at lines %v, want %v:\n%v", got, want, err)
	}
	for i, field := range []string{"service[0].name", "trino.workers", "trino.wokers", "mesh.proxy", "appliance.pull", "appliance.stop_grace"} {
		if i < len(errs) && !strings.HasPrefix(errs[i].Field, field) {
			t.Errorf("error %d is about %q, want %s", i, errs[i].Field, field)
		}
	}
	// The same problems after a syntax error: only the syntax error.
	_, err = Parse([]byte(file+"crash_loop = = \"stop\"\n"), "all.toml")
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 12 || !strings.Contains(errs[0].Msg, "TOML syntax") {
		t.Errorf("a file that is not TOML: %v", err)
	}
}
