package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Decoding reports a wrong key or type at its line with what the schema
// wants there: the sections or the keys of the table when no known key is
// near, and the type the field needs, with a hint for quoted numbers and
// booleans.
func TestDecodeMessages(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[foo]\nx = 1\n",
			"d.toml:1: foo: unknown section: the sections are appliance, catalog, dashboard, intention, mesh, notebook, policy, report, service, trino, user"},
		{"[dashboard]\ncolour = \"red\"\n",
			"d.toml:2: dashboard.colour: unknown key: dashboard takes enabled, listen"},
		// The nearest key is found whatever the case written.
		{"[trino]\nWorkers = 2\n", "d.toml:2: trino.Workers: unknown key: did you mean workers?"},
		{"[dashboard]\nenabled = \"false\"\n",
			`d.toml:2: dashboard.enabled = "false": wrong type: it is a TOML string but must be true or false: remove the quotes (false)`},
		{"[trino]\nworkers = 1.5\n", "d.toml:2: trino.workers = 1.5: wrong type: it is a TOML float but must be an integer"},
		{"[notebook]\ncommand = \"jupyter\"\n",
			`d.toml:2: notebook.command = "jupyter": wrong type: it is a TOML string but must be an array of "quoted strings"`},
		{"[[service]]\nname = \"a\"\nimage = \"nginx:1\"\nports = \"8080:80\"\n",
			`d.toml:4: service[0].ports = "8080:80": wrong type: it is a TOML string but must be an array of "quoted strings"`},
		{"[[service]]\nname = \"a\"\nimage = \"nginx:1\"\nports = [8080]\n",
			`d.toml:4: service[0].ports = 8080: wrong type: it is a TOML integer but must be a "quoted string"`},
		{"user = \"x\"\n", `d.toml:1: user = "x": wrong type: it is a TOML string but must be an array of tables`},
		{"[appliance]\nstop_grace = 30\n", `d.toml:2: appliance.stop_grace: "30" is not a duration: write it like 30s, 2m or 1h30m`},
		{"[trino]\ncoordinator_heap = \"1 GB!\"\n", `d.toml:2: trino.coordinator_heap: "1 GB!" is not a size: write it like 512MB or 2GB`},
		// Keys are found however they are written: quoted, dotted, with a
		// comment after them, or after a multi-line string.
		{"[trino]\n\"workers\" = 0\n", "d.toml:2: trino.workers = 0: must be between 1 and 16"},
		{"trino.workers = 0\n", "d.toml:1: trino.workers = 0: must be between 1 and 16"},
		{"[trino]\nworkers = 0 # none\n", "d.toml:2: trino.workers = 0: must be between 1 and 16"},
		{"[[report]]\nname = \"r\"\nrun_as = \"analyst\"\nsql = '''\nSELECT\n  1\n'''\npage_size = 20000\n",
			"d.toml:1: report[0]: report r: page_size = 20000: must be between 1 and"},
	} {
		_, err := Parse([]byte(tc.toml), "d.toml")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.toml, err, tc.want)
		}
	}
}

// Load names a missing file with the way out, reads a file relative to its
// folder, and a bad file's errors name the path as given.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "nope.toml")); err == nil || !strings.Contains(err.Error(), "nope.toml does not exist: run `moat init`") {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "reading config") {
		t.Errorf("a folder instead of a file: %v", err)
	}
	sub := filepath.Join(dir, "stack")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "moat.toml")
	if err := os.WriteFile(path, []byte("[appliance]\ndata_dir = \"state\"\n[trino]\nworkers = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path || c.Dir != sub || c.DataDir() != filepath.Join(sub, "state") {
		t.Errorf("path %q dir %q data dir %q", c.Path, c.Dir, c.DataDir())
	}
	if c.Trino.Workers != 2 || c.Trino.Image == "" || c.Appliance.Project != "moat" {
		t.Errorf("the file's values on top of the defaults: workers %d, image %q, project %q", c.Trino.Workers, c.Trino.Image, c.Appliance.Project)
	}
	abs := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(path, []byte("[appliance]\ndata_dir = \""+abs+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path); err != nil || c.DataDir() != abs {
		t.Errorf("an absolute data dir: %v %v", c, err)
	}
	if err := os.WriteFile(path, []byte("[trino]\nworkers = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var errs ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != path || errs[0].Line != 2 {
		t.Errorf("a bad file: %v", err)
	}
}

// The embedded default is named as such, and the errors print as
// file:line: field: message, leaving out what is unknown.
func TestFieldErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "m.toml", Line: 3, Field: "trino.workers", Msg: "too many"}, "m.toml:3: trino.workers: too many"},
		{FieldError{File: "m.toml", Field: "trino.workers", Msg: "too many"}, "m.toml: trino.workers: too many"},
		{FieldError{File: "m.toml", Line: 7, Msg: "TOML syntax: oops"}, "m.toml:7: TOML syntax: oops"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v prints %q, want %q", tc.e, got, tc.want)
		}
	}
	both := ConfigErrors{{File: "a", Line: 1, Msg: "x"}, {File: "a", Line: 2, Msg: "y"}}
	if both.Error() != "a:1: x\na:2: y" {
		t.Errorf("ConfigErrors print %q", both.Error())
	}
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if def.Path != "" || configFile(def) != "moat.toml (embedded default)" {
		t.Errorf("the default is named %q (path %q)", configFile(def), def.Path)
	}
	// Errors about the default name it (FitsHost on a tiny host).
	if err := def.FitsHost(1 << 30); err == nil || !strings.HasPrefix(err.Error(), "moat.toml (embedded default):") {
		t.Errorf("FitsHost on the default: %v", err)
	}
}

// The edit distance behind "did you mean": insertions, deletions and
// substitutions cost one each.
func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"workers", "wokers", 1}, {"image", "imgae", 2}, {"same", "same", 0},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
		if got := editDistance(tc.b, tc.a); got != tc.d {
			t.Errorf("not symmetric: editDistance(%q, %q) = %d", tc.b, tc.a, got)
		}
	}
	// A key of three letters or fewer is a typo of a known key only one
	// edit away; a longer one up to two.
	if got := closest("abc", []string{"xyz", "axc"}); got != "axc" {
		t.Errorf("closest(abc) = %q, want axc (one edit)", got)
	}
	if got := closest("abc", []string{"xyc"}); got != "" {
		t.Errorf("closest(abc) = %q, want none (two edits on a 3-letter key)", got)
	}
	if got := closest("abcdef", []string{"xycdef"}); got != "xycdef" {
		t.Errorf("closest(abcdef) = %q, want xycdef (two edits on a longer key)", got)
	}
}

// A value of the wrong TOML type where the schema has a table (a section,
// a map such as env, a sub-table such as chart) is reported at its line
// with the type found, the type wanted and how to write it; never dropped
// (BurntSushi/toml's PrimitiveDecode into a map decodes nothing, without
// an error, from data that is not a table).
func TestWrongTypeTableIsReported(t *testing.T) {
	svc := "[[service]]\nname = \"a\"\nimage = \"nginx:1\"\n"
	for _, tc := range []struct{ toml, want string }{
		{"trino = \"x\"\n", `b.toml:1: trino = "x": wrong type: it is a TOML string but must be a table: write [trino] on a line of its own, its keys on the lines below`},
		{"mesh = 5\n", `b.toml:1: mesh = 5: wrong type: it is a TOML integer but must be a table: write [mesh]`},
		{"notebook = [1]\n", `b.toml:1: notebook: wrong type: it is a TOML array but must be a table: write [notebook]`},
		// docker-compose's list style, turned into the table moat wants.
		{svc + "env = [\"A=1\", \"B=x y\"]\n", `b.toml:4: service[0].env: wrong type: it is a TOML array but must be a table of "quoted strings": write env = { A = "1", B = "x y" }`},
		{svc + "env = [\"A\"]\n", `b.toml:4: service[0].env: wrong type: it is a TOML array but must be a table of "quoted strings": write env = { NAME = "value" }`},
		{svc + "env = 5\n", `b.toml:4: service[0].env = 5: wrong type: it is a TOML integer but must be a table of "quoted strings": write env = { NAME = "value" }`},
		// An entry of a map: named by its key, with the quotes to add.
		{svc + "env = { A = \"1\", PORT = 8080 }\n", `b.toml:4: service[0].env.PORT = 8080: wrong type: it is a TOML integer but must be a "quoted string": quote it: PORT = "8080"`},
		{svc + "[service.env]\nA = \"1\"\nON = true\n", `b.toml:6: service[0].env.ON = true: wrong type: it is a TOML boolean but must be a "quoted string": quote it: ON = "true"`},
		{"[[catalog]]\nname = \"tpch\"\nconnector = \"tpch\"\nproperties = \"x\"\n", `b.toml:4: catalog[0].properties = "x": wrong type: it is a TOML string but must be a table of "quoted strings": write properties = { NAME = "value" }`},
		{"[[catalog]]\nname = \"tpch\"\nconnector = \"tpch\"\nsecrets = [\"pw\"]\n", `b.toml:4: catalog[0].secrets: wrong type: it is a TOML array but must be a table of "quoted strings"`},
		{"[[report]]\nname = \"r\"\nsql = \"SELECT 1\"\nrun_as = \"analyst\"\nchart = 3\n", `b.toml:5: report[0].chart = 3: wrong type: it is a TOML integer but must be a table: write chart = { … } (chart takes kind, title, x, y)`},
		{"user = [1]\n", `b.toml:1: user[0] = 1: wrong type: it is a TOML integer but must be a table: write each entry as [[user]], its keys on the lines below`},
		// Reported once, as the wrong type: not as an entry with every
		// key missing.
		{"[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nschema = \"tiny\"\ntable = \"nation\"\nprivileges = [\"SELECT\"]\ncolumn = [\"x\"]\n",
			`b.toml:7: policy[0].column[0] = "x": wrong type: it is a TOML string but must be a table: write each entry as [[policy.column]], its keys on the lines below`},
	} {
		_, err := Parse([]byte(tc.toml), "b.toml")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.toml, err, tc.want)
		}
	}
	// A list entry of the wrong type is reported once, as such: not as
	// an entry with every key missing.
	_, err := Parse([]byte("[[policy]]\nuser = \"analyst\"\ncatalog = \"tpch\"\nschema = \"tiny\"\ntable = \"nation\"\nprivileges = [\"SELECT\"]\ncolumn = [\"x\"]\n"), "b.toml")
	var errs ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Errorf("a column rule that is not a table: %v; want the one wrong type", err)
	}
	// The entries that are right are kept, as a whole map replacing the
	// default, keys and all.
	c, err := Parse([]byte(svc+"env = { A = \"1\", \"B.C\" = \"2\" }\n"), "b.toml")
	if err != nil || len(c.Services) != 1 || len(c.Services[0].Env) != 2 || c.Services[0].Env["A"] != "1" || c.Services[0].Env["B.C"] != "2" {
		t.Fatalf("a good env: %v, %+v", err, c)
	}
}

// A syntax error the decoder finds at a line's end (an unterminated table
// header) is placed on that line, like one found mid-line.
func TestSyntaxErrorLine(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[trino]\nworkers = 2\n[broken\n[mesh]\n", "s.toml:3: TOML syntax"},
		{"[trino]\nworkers = 2\n[broken", "s.toml:3: TOML syntax"}, // at the end of the file
		{"[trino]\nworkers = = 2\n", "s.toml:2: TOML syntax"},      // mid-line
		{"[trino]\nworkers = \"two\n[mesh]\n", "s.toml:2: TOML syntax"},
		{"a = 1\n\n\nb = [1,\n", "s.toml:4: TOML syntax"},
		{"[[service]\nname = \"a\"\n", "s.toml:1: TOML syntax"},
	} {
		_, err := Parse([]byte(tc.toml), "s.toml")
		var errs ConfigErrors
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.As(err, &errs) || len(errs) != 1 ||
			errs[0].Line < 1 || errs[0].Line > strings.Count(tc.toml, "\n")+1 {
			t.Errorf("%q:\n got %v\nwant %s", tc.toml, err, tc.want)
		}
	}
}

// A bad secret name in a catalog's inline secrets table is the file's own
// value, at its line: not labelled as missing from the file.
func TestCatalogSecretSetInFile(t *testing.T) {
	cat := "[[catalog]]\nname = \"tpch\"\nconnector = \"tpch\"\n"
	for _, tc := range []struct{ toml, want string }{
		{cat + "secrets = { \"connection-password\" = \"Bad Secret\" }\n",
			`s.toml:4: catalog[0].secrets.connection-password = "Bad Secret": must name a secret`},
		{cat + "[catalog.secrets]\n\"hive.metastore.password\" = \"Bad\"\n",
			`s.toml:5: catalog[0].secrets."hive.metastore.password" = "Bad": must name a secret`},
	} {
		_, err := Parse([]byte(tc.toml), "s.toml")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.toml, err, tc.want)
		}
	}
}
