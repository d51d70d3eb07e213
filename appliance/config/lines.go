package config

import (
	"regexp"
	"strconv"
	"strings"
)

// lineIndex maps key paths to the line that sets them, so that validation
// errors can point at a line. Paths look like "trino.workers",
// "service[1].name" and "policy[0].column[1].mask".
type lineIndex map[string]int

// keyRe is a TOML key: bare or quoted pieces joined by dots.
const keyRe = `(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*`

var (
	arrayHeader = regexp.MustCompile(`^\[\[\s*(` + keyRe + `)\s*\]\]`)
	tableHeader = regexp.MustCompile(`^\[\s*(` + keyRe + `)\s*\]`)
	keyLine     = regexp.MustCompile(`^(` + keyRe + `)\s*=`)
	keyPiece    = regexp.MustCompile(`"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)`)
)

// keyPath turns a TOML key as written (a . "b" . 'c') into a path (a.b.c).
func keyPath(key string) string {
	var parts []string
	for _, m := range keyPiece.FindAllStringSubmatch(key, -1) {
		parts = append(parts, pathKey(m[1]+m[2]+m[3]))
	}
	return strings.Join(parts, ".")
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// pathKey is one key in a path: as it is when bare, else quoted ("").
func pathKey(k string) string {
	if bareKey.MatchString(k) {
		return k
	}
	return strconv.Quote(k)
}

// indexLines scans TOML text for table headers and keys. It is not a parser:
// it only needs to find where things are in files the decoder accepted.
func indexLines(data []byte) lineIndex {
	idx := lineIndex{}
	counts := map[string]int{} // array-of-tables path → entries so far
	prefix := ""
	inMulti := false
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if strings.Count(line, `"""`)%2 == 1 || strings.Count(line, `'''`)%2 == 1 {
			inMulti = !inMulti
			if !inMulti {
				continue
			}
		}
		if inMulti && !keyLine.MatchString(line) {
			continue
		}
		switch {
		case arrayHeader.MatchString(line):
			name := keyPath(arrayHeader.FindStringSubmatch(line)[1])
			prefix = indexed(name, counts, true)
			idx.set(prefix, n)
		case tableHeader.MatchString(line):
			name := keyPath(tableHeader.FindStringSubmatch(line)[1])
			prefix = indexed(name, counts, false)
			idx.set(prefix, n)
		case keyLine.MatchString(line):
			key := keyPath(keyLine.FindStringSubmatch(line)[1])
			idx.set(join(prefix, key), n)
		}
	}
	return idx
}

// indexed turns "report.chart" into "report[2].chart" when report is an
// array of tables, counting a new entry when newEntry is set. Entries of a
// nested array are counted per parent entry: policy[1].column[0].
func indexed(name string, counts map[string]int, newEntry bool) string {
	parts := strings.Split(name, ".")
	out := ""
	for i, seg := range parts {
		path := join(out, seg)
		if i == len(parts)-1 && newEntry {
			counts[path]++
		}
		if c, ok := counts[path]; ok {
			seg += "[" + strconv.Itoa(c-1) + "]"
		}
		out = join(out, seg)
	}
	return out
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// set records the line of path and, where not yet known, of the tables
// and arrays it implies ("service" for "service[0]", "a" for "a.b").
func (idx lineIndex) set(path string, n int) {
	for p := path; p != ""; {
		if _, ok := idx[p]; !ok {
			idx[p] = n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
}

// line finds the line of path, or of the nearest enclosing table.
func (idx lineIndex) line(path string) int {
	for p := path; p != ""; {
		if n, ok := idx[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}
