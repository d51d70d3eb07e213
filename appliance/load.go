package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	moatembed "moat/embed"
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
	if path != "" {
		// The embedded file holds the defaults: decode it first.
		if _, err := toml.Decode(string(moatembed.MoatTOML), &c); err != nil {
			return nil, fmt.Errorf("the embedded default moat.toml is broken: %w", err)
		}
		// A file that declares a list replaces the default list.
		for name, list := range map[string]func(){
			"catalog": func() { c.Catalogs = nil }, "user": func() { c.Users = nil },
			"policy": func() { c.Policies = nil }, "report": func() { c.Reports = nil },
		} {
			if declares(data, name) {
				list()
			}
		}
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return nil, decodeError(name, err)
	}
	lines := indexLines(data)
	var errs ConfigErrors
	for _, k := range md.Undecoded() {
		field := k.String()
		errs = append(errs, &FieldError{name, lines.line(field), field,
			"unknown key: check its spelling against `moat init`'s commented moat.toml"})
	}
	c.Path = path
	c.Dir = "."
	if path != "" {
		c.Dir = filepath.Dir(path)
	}
	errs = append(errs, validate(&c, name, lines)...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return &c, nil
}

// declares reports whether data has an array of tables [[name]].
func declares(data []byte, name string) bool {
	re := regexp.MustCompile(`(?m)^\s*\[\[\s*` + regexp.QuoteMeta(name) + `\s*\]\]`)
	return re.Match(data)
}

var tomlLineErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]+)"\): (.*)$`)

// decodeError turns the TOML library's errors into FieldErrors.
func decodeError(name string, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		if pe.LastKey != "" && !strings.Contains(pe.Message, "expected") {
			// A value the field's type refused (a duration, a size).
			return ConfigErrors{{File: name, Line: pe.Position.Line, Field: pe.LastKey, Msg: pe.Message}}
		}
		return ConfigErrors{{File: name, Line: pe.Position.Line, Msg: "TOML syntax: " + pe.Message}}
	}
	if m := tomlLineErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return ConfigErrors{{File: name, Line: line, Field: m[2], Msg: friendlyType(m[3])}}
	}
	return ConfigErrors{{File: name, Msg: err.Error()}}
}

var incompatible = regexp.MustCompile(`incompatible types: TOML value has type (\S+); destination has type (\S+)`)

func friendlyType(msg string) string {
	if m := incompatible.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("wrong type: it is a TOML %s but must be %s", m[1], article(m[2]))
	}
	return msg
}

func article(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "string"), strings.Contains(goType, "Duration"), strings.Contains(goType, "Bytes"):
		return `a "quoted string"`
	case strings.HasPrefix(goType, "[]"), strings.Contains(goType, "slice"):
		return "an array"
	case strings.Contains(goType, "map"), strings.Contains(goType, "struct"):
		return "a table"
	}
	return goType
}
