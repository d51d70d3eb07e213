package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	moatembed "moat/embed"

	"github.com/BurntSushi/toml"
)

// DefaultFile is the config file `moat` looks for in the current folder.
const DefaultFile = "moat.toml"

// FieldError is one problem in moat.toml, placed at its file and line.
type FieldError struct {
	File  string // as given by the user, or "moat.toml (embedded default)"
	Line  int    // 0 when unknown
	Field string // e.g. trino.workers, service[1].depends_on
	Msg   string // what is wrong and how to fix it
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Field + ": " + e.Msg
}

// ConfigErrors is every problem found in one file, in line order.
type ConfigErrors []*FieldError

func (es ConfigErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Default returns the embedded default configuration.
func Default() (*Config, error) {
	return Parse(moatembed.MoatTOML, "")
}

// Load reads and validates the config at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: run `moat init` to write a commented one, or pass --config FILE", path)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes data on top of the embedded defaults and validates the
// result. path names the file in errors ("" for the embedded default).
func Parse(data []byte, path string) (*Config, error) {
	name := path
	if name == "" {
		name = DefaultFile + " (embedded default)"
	}
	var c Config
	var defaultNames map[string][]string
	if path != "" {
		// The embedded file holds the defaults: decode it first.
		if def := decode(&c, moatembed.MoatTOML, DefaultFile+" (embedded default)"); len(def.errs) > 0 {
			return nil, fmt.Errorf("the embedded default moat.toml is broken: %w", def.errs)
		}
		defaultNames = map[string][]string{}
		for _, u := range c.Users {
			defaultNames["user"] = append(defaultNames["user"], u.Name)
		}
		for _, x := range c.Catalogs {
			defaultNames["catalog"] = append(defaultNames["catalog"], x.Name)
		}
	}
	src := decode(&c, data, name)
	if src.syntax {
		return nil, src.errs
	}
	// A file that declares a list replaces the default list: note what it
	// replaced, so that defaults still naming those entries can say so.
	src.replaced = map[string][]string{}
	for list, names := range defaultNames {
		if src.set[list] {
			src.replaced[list] = names
		}
	}
	c.Path = path
	c.src = src
	c.Dir = "."
	if path != "" {
		c.Dir = filepath.Dir(path)
	}
	errs := append(src.errs, validate(&c, src)...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return &c, nil
}

// source is one decoded file: where its keys are, which ones it sets, and
// the problems decoding found.
type source struct {
	file  string
	lines lineIndex
	set   map[string]bool // key paths the file sets: "trino.workers", "user", "user[0].name"
	// replaced lists, by name, the default entries of each array of
	// tables the file replaced by declaring its own ("user" → analyst).
	replaced map[string][]string
	errs     ConfigErrors
	// wrong holds the paths whose value had the wrong type: reported
	// once, as such, and left out of validation (a list entry that is not
	// a table is no entry with every key missing).
	wrong  map[string]bool
	syntax bool // the file is not TOML: nothing else was checked
	md     toml.MetaData
}

// decode parses data and decodes it key by key into c, so that every wrong
// type and unknown key is reported, each at its line, instead of the first
// one only. A key the file sets replaces the value in c; an array of tables
// replaces the whole list.
func decode(c *Config, data []byte, name string) *source {
	src := &source{file: name, lines: indexLines(data), set: map[string]bool{}, wrong: map[string]bool{}}
	var top map[string]toml.Primitive
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&top)
	if err != nil {
		src.syntax = true
		src.errs = ConfigErrors{syntaxError(name, data, err)}
		return src
	}
	src.md = md
	src.table("", top, reflect.ValueOf(c).Elem())
	return src
}

// syntaxError places a TOML syntax error at its line. The line is counted
// from the error's byte offset: the decoder's own line number is one too
// many when it found the error at a line's end (`[broken` then a newline),
// having counted that newline already.
func syntaxError(name string, data []byte, err error) *FieldError {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line := pe.Position.Line
		if start := pe.Position.Start; start >= 0 && start <= len(data) {
			line = bytes.Count(data[:start], []byte("\n")) + 1
		}
		return &FieldError{File: name, Line: line, Msg: "TOML syntax: " + pe.Message}
	}
	return &FieldError{File: name, Msg: "TOML syntax: " + err.Error()}
}

// table decodes the keys of one TOML table into the struct rv.
func (s *source) table(path string, keys map[string]toml.Primitive, rv reflect.Value) {
	fields := tomlFields(rv.Type())
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		p := join(path, pathKey(key))
		s.set[p] = true
		i, ok := fields[key]
		if !ok {
			s.unknown(path, p, key, slices.Sorted(maps.Keys(fields)))
			continue
		}
		s.value(p, keys[key], rv.Field(i))
	}
}

// tomlFields maps the toml tags of struct type t to field indexes.
func tomlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if tag != "" && tag != "-" {
			out[tag] = i
		}
	}
	return out
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// value decodes prim into rv: tables and arrays of tables key by key,
// anything else in one piece.
func (s *source) value(path string, prim toml.Primitive, rv reflect.Value) {
	t := rv.Type()
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		s.leaf(path, prim, rv)
		return
	}
	switch {
	case t.Kind() == reflect.Slice && reflect.PointerTo(t.Elem()).Implements(textUnmarshaler):
		// A list of typed values ("8080:80", "data:/var/lib"): every bad
		// item is reported, each at the list's line.
		var items []toml.Primitive
		if err := s.md.PrimitiveDecode(prim, &items); err != nil {
			s.wrongType(path, prim, t)
			return
		}
		list := reflect.MakeSlice(t, 0, len(items))
		for _, item := range items {
			// The values are written as strings: TOML's decoder would
			// hand an integer to UnmarshalText as its digits.
			var raw any
			if _ = s.md.PrimitiveDecode(item, &raw); reflect.TypeOf(raw) != reflect.TypeFor[string]() {
				s.wrongType(path, item, t.Elem())
				continue
			}
			nv := reflect.New(t.Elem())
			if s.decodeLeaf(path, item, nv) {
				list = reflect.Append(list, nv.Elem())
			}
		}
		rv.Set(list)
	case t.Kind() == reflect.Struct:
		if keys, ok := s.tableOf(path, prim, rv); ok {
			s.table(path, keys, rv)
		}
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		nv := reflect.New(t.Elem())
		if keys, ok := s.tableOf(path, prim, nv.Elem()); ok {
			s.table(path, keys, nv.Elem())
			rv.Set(nv)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var items []toml.Primitive
		if err := s.md.PrimitiveDecode(prim, &items); err != nil {
			s.wrongType(path, prim, t)
			return
		}
		list := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			p := fmt.Sprintf("%s[%d]", path, i)
			s.set[p] = true
			if keys, ok := s.tableOf(p, item, list.Index(i)); ok {
				s.table(p, keys, list.Index(i))
			}
		}
		rv.Set(list)
	case t.Kind() == reflect.Map:
		s.mapOf(path, prim, rv)
	default:
		s.leaf(path, prim, rv)
	}
}

// tableOf returns the keys of prim, a table for the struct rv, or reports
// why it is not one. Data that is not a table decodes into a Go map
// without an error and without a key (BurntSushi/toml's PrimitiveDecode,
// unifyMap, returns nil for it): so tableOf, like mapOf, looks at the TOML
// type first, or `mesh = 5` would be dropped in silence.
func (s *source) tableOf(path string, prim toml.Primitive, rv reflect.Value) (map[string]toml.Primitive, bool) {
	var v any
	_ = s.md.PrimitiveDecode(prim, &v)
	switch v.(type) {
	case map[string]any:
	case []map[string]any:
		// [[trino]] where the schema has [trino].
		line := s.lines.line(path)
		if line == 0 {
			line = s.lines.line(path + "[0]")
		}
		s.errs = append(s.errs, &FieldError{s.file, line, path,
			fmt.Sprintf("%s is a table: write [%s], not [[%s]]", path, path, path)})
		return nil, false
	default:
		s.wrongTypeHint(path, prim, rv.Type(), tableHint(path, rv.Type()))
		return nil, false
	}
	var keys map[string]toml.Primitive
	if err := s.md.PrimitiveDecode(prim, &keys); err != nil {
		s.wrongType(path, prim, rv.Type())
		return nil, false
	}
	return keys, true
}

var entryIndex = regexp.MustCompile(`\[[0-9]+\]`)

// tableHint says how to write the table the schema wants at path: a
// section ([trino]), an entry of a list ([[user]]) or a sub-table (chart).
func tableHint(path string, t reflect.Type) string {
	last := path[strings.LastIndexAny(path, ".")+1:]
	switch {
	case strings.HasSuffix(path, "]"):
		header := entryIndex.ReplaceAllString(path, "") // policy[0].column[1] → policy.column
		return fmt.Sprintf("write each entry as [[%s]], its keys on the lines below", header)
	case !strings.ContainsAny(path, ".["):
		return fmt.Sprintf("write [%s] on a line of its own, its keys on the lines below", path)
	}
	return fmt.Sprintf("write %s = { … } (%s takes %s)", last, last, strings.Join(slices.Sorted(maps.Keys(tomlFields(t))), ", "))
}

// mapOf decodes a table of values (env, properties, secrets) entry by
// entry, so that each entry the file sets is known (and placed) by its key
// and every bad one is reported; anything but a table is reported, never
// dropped (`env = ["A=1"]`, see tableOf). The file's table replaces the
// default's.
func (s *source) mapOf(path string, prim toml.Primitive, rv reflect.Value) {
	var v any
	_ = s.md.PrimitiveDecode(prim, &v)
	if _, ok := v.(map[string]any); !ok {
		s.wrongTypeHint(path, prim, rv.Type(), mapHint(path, v))
		return
	}
	var entries map[string]toml.Primitive
	if err := s.md.PrimitiveDecode(prim, &entries); err != nil {
		s.wrongType(path, prim, rv.Type())
		return
	}
	elem := rv.Type().Elem()
	m := reflect.MakeMapWithSize(rv.Type(), len(entries))
	ok := true
	for _, key := range slices.Sorted(maps.Keys(entries)) {
		p := join(path, pathKey(key))
		s.set[p] = true
		var raw any
		_ = s.md.PrimitiveDecode(entries[key], &raw)
		switch raw.(type) {
		case int64, float64, bool:
			if elem.Kind() == reflect.String { // PORT = 8080
				s.wrongTypeHint(p, entries[key], elem, fmt.Sprintf("quote it: %s = %q", pathKey(key), show(raw)))
				ok = false
				continue
			}
		}
		nv := reflect.New(elem)
		if !s.decodeLeaf(p, entries[key], nv) {
			ok = false
			continue
		}
		m.SetMapIndex(reflect.ValueOf(key).Convert(rv.Type().Key()), nv.Elem())
	}
	if ok {
		rv.Set(m)
	}
}

// mapHint says how to write the table of values at path; a list of
// "NAME=value" strings (docker-compose's env style) is written out as the
// table it means.
func mapHint(path string, v any) string {
	last := path[strings.LastIndexAny(path, ".")+1:]
	items, _ := v.([]any)
	var pairs []string
	for _, item := range items {
		str, _ := item.(string)
		name, value, found := strings.Cut(str, "=")
		if !found || name == "" {
			pairs = nil
			break
		}
		pairs = append(pairs, pathKey(name)+" = "+strconv.Quote(value))
	}
	switch {
	case len(pairs) > 3:
		return fmt.Sprintf("write %s = { %s, … }", last, strings.Join(pairs[:3], ", "))
	case len(pairs) > 0:
		return fmt.Sprintf("write %s = { %s }", last, strings.Join(pairs, ", "))
	}
	return fmt.Sprintf(`write %s = { NAME = "value" }`, last)
}

// leaf decodes one value; rv keeps its old value when it fails.
func (s *source) leaf(path string, prim toml.Primitive, rv reflect.Value) {
	nv := reflect.New(rv.Type())
	if s.decodeLeaf(path, prim, nv) {
		rv.Set(nv.Elem())
	}
}

// decodeLeaf decodes prim into the pointer nv, reporting at path's line
// why it cannot.
func (s *source) decodeLeaf(path string, prim toml.Primitive, nv reflect.Value) bool {
	err := s.md.PrimitiveDecode(prim, nv.Interface())
	var pe toml.ParseError
	switch {
	case err == nil:
		return true
	case errors.As(err, &pe):
		// A value the field's type refused (a duration, a size, a port).
		s.errs = append(s.errs, &FieldError{s.file, s.lines.line(path), path, pe.Message})
	default:
		s.wrongType(path, prim, nv.Elem().Type())
	}
	return false
}

// wrongType reports a value whose TOML type does not fit the field.
func (s *source) wrongType(path string, prim toml.Primitive, want reflect.Type) {
	s.wrongTypeHint(path, prim, want, "")
}

// wrongTypeHint is wrongType with how to write it instead ("" for none).
func (s *source) wrongTypeHint(path string, prim toml.Primitive, want reflect.Type, hint string) {
	s.wrong[path] = true
	var v any
	_ = s.md.PrimitiveDecode(prim, &v)
	field := path
	switch v.(type) {
	case string, int64, float64, bool:
		field += " = " + show(v)
	}
	msg := fmt.Sprintf("wrong type: it is a TOML %s but must be %s", tomlType(v), expected(want))
	if str, ok := v.(string); ok {
		if _, err := strconv.ParseInt(str, 10, 64); err == nil && strings.Contains(expected(want), "integer") {
			msg += fmt.Sprintf(": remove the quotes (%s)", str)
		} else if (str == "true" || str == "false") && want.Kind() == reflect.Bool {
			msg += fmt.Sprintf(": remove the quotes (%s)", str)
		}
	}
	if hint != "" {
		msg += ": " + hint
	}
	s.errs = append(s.errs, &FieldError{s.file, s.lines.line(path), field, msg})
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case map[string]any:
		return "table"
	case []map[string]any:
		return "array of tables"
	case []any:
		return "array"
	}
	return "date or time"
}

func expected(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[Duration]():
		return `a "quoted duration" such as "30s"`
	case t == reflect.TypeFor[Bytes]():
		return `a "quoted size" such as "512MB"`
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		return `a "quoted string"`
	case t.Kind() == reflect.Slice && reflect.PointerTo(t.Elem()).Implements(textUnmarshaler):
		return `an array of "quoted strings"`
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return `a "quoted string"`
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "an array of tables"
		}
		return `an array of "quoted strings"`
	case reflect.Map:
		return `a table of "quoted strings"`
	}
	return "a table"
}

// unknown reports a key the schema does not have, with the closest known
// key of its table when one is near.
func (s *source) unknown(table, path, key string, known []string) {
	if why, ok := removedKeys[path]; ok {
		s.errs = append(s.errs, &FieldError{s.file, s.lines.line(path), path, why})
		return
	}
	msg := "unknown key: "
	if table == "" {
		msg = "unknown section: "
	}
	if near := closest(key, known); near != "" {
		msg += "did you mean " + near + "?"
	} else if table == "" {
		msg += "the sections are " + strings.Join(known, ", ")
	} else {
		msg += fmt.Sprintf("%s takes %s", table, strings.Join(known, ", "))
	}
	s.errs = append(s.errs, &FieldError{s.file, s.lines.line(path), path, msg})
}

// removedKeys are keys earlier versions had, with what replaced them.
var removedKeys = map[string]string{
	"mesh.http_port": "was removed: Consul's plaintext API is now a unix socket only the sidecars mount, " +
		"and moat reaches Consul by HTTPS with its client certificate: set mesh.https_port instead (default 8501)",
}

// closest is the known key within a small edit distance of key, or "".
func closest(key string, known []string) string {
	best, bestD := "", 3
	if len(key) <= 3 {
		bestD = 2
	}
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
