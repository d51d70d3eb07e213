package config

import (
	"bytes"
	"encoding"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	moatembed "moat/embed"

	"github.com/BurntSushi/toml"
)

// FuzzParse loads moat.toml from arbitrary bytes: Parse must never panic
// and must return either a config or ConfigErrors, every one placed in the
// file (its name, a line no further than the file's last) and at least one
// with a line. A config it returns must come from a file whose tables fit
// the schema (see fits): nothing the file says may be dropped silently. The
// seeds are the embedded default and every config under testdata/.
func FuzzParse(f *testing.F) {
	f.Add(moatembed.MoatTOML)
	f.Add([]byte(""))
	seeds, _ := filepath.Glob("../../testdata/config/*/*.toml")
	more, _ := filepath.Glob("../../testdata/*.toml")
	for _, path := range append(seeds, more...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	const name = "fuzz/moat.toml"
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, name)
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			var doc map[string]any
			if _, derr := toml.Decode(string(data), &doc); derr != nil {
				t.Fatalf("Parse accepted a file the TOML decoder refuses: %v", derr)
			}
			if path, ok := fits(doc, reflect.TypeFor[Config]()); !ok {
				t.Fatalf("Parse accepted a file whose %s does not fit the schema (a table for a section, "+
					"an array of tables for a list, no unknown key):\n%s", path, data)
			}
			return
		}
		if c != nil {
			t.Errorf("Parse returned a config and an error: %v", err)
		}
		var errs ConfigErrors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %T is not a list of ConfigErrors: %v", err, err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		placed := false
		for _, e := range errs {
			if e.File != name || e.Line < 0 || e.Line > lines || e.Msg == "" {
				t.Errorf("error %q is not placed in %s (line %d of %d)", e, name, e.Line, lines)
			}
			placed = placed || e.Line > 0
		}
		if !placed {
			t.Errorf("no error names a line:\n%v", err)
		}
		if !strings.HasPrefix(err.Error(), name) {
			t.Errorf("error does not start with the file name: %v", err)
		}
	})
}

// fits reports whether the decoded TOML value v has the shape of the Go
// type t, and where it does not: a struct wants a table whose every key
// names a field (by its toml tag) and fits it, a slice of structs an array
// of tables, a map (env, properties) a table. Leaves (strings, numbers,
// durations, the values in a map) are left to Parse's own type checks.
func fits(v any, t reflect.Type) (path string, ok bool) {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "", true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return fits(v, t.Elem())
	case reflect.Map:
		_, isTable := v.(map[string]any)
		return "", isTable
	case reflect.Struct:
		table, isTable := v.(map[string]any)
		if !isTable {
			return "", false
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			if tag, _, _ := strings.Cut(f.Tag.Get("toml"), ","); tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for key, val := range table {
			ft, known := fields[key]
			if !known {
				return key, false
			}
			if sub, ok := fits(val, ft); !ok {
				return strings.TrimSuffix(key+"."+sub, "."), false
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Struct {
			return "", true
		}
		var items []any
		switch list := v.(type) {
		case []map[string]any:
			for _, m := range list {
				items = append(items, m)
			}
		case []any:
			items = list
		default:
			return "", false
		}
		for i, item := range items {
			if sub, ok := fits(item, t.Elem()); !ok {
				return strings.TrimSuffix("["+strconv.Itoa(i)+"]."+sub, "."), false
			}
		}
	}
	return "", true
}
