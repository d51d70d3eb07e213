package appliance

import (
	"regexp"
	"strconv"
	"strings"
)

// lineIndex maps key paths to the line that sets them, so that validation
// errors can point at a line. Paths look like "trino.workers",
// "service[1].name" and, for the first occurrence, "service.name".
type lineIndex map[string]int

var (
	arrayHeader = regexp.MustCompile(`^\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]`)
	tableHeader = regexp.MustCompile(`^\[\s*([A-Za-z0-9_.-]+)\s*\]`)
	keyLine     = regexp.MustCompile(`^("[^"]*"|[A-Za-z0-9_-]+)(\s*\.\s*("[^"]*"|[A-Za-z0-9_-]+))*\s*=`)
)

// indexLines scans TOML text for table headers and keys. It is not a parser:
// it only needs to find where things are in files the decoder accepted.
func indexLines(data []byte) lineIndex {
	idx := lineIndex{}
	counts := map[string]int{} // array-of-tables path → entries so far
	prefix, plain := "", ""
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
			name := arrayHeader.FindStringSubmatch(line)[1]
			prefix, plain = indexed(name, counts, true), name
			idx.set(prefix, plain, n)
		case tableHeader.MatchString(line):
			name := tableHeader.FindStringSubmatch(line)[1]
			prefix, plain = indexed(name, counts, false), name
			idx.set(prefix, plain, n)
		case keyLine.MatchString(line):
			key := strings.TrimSpace(strings.SplitN(line, "=", 2)[0])
			key = strings.ReplaceAll(strings.ReplaceAll(key, " ", ""), `"`, "")
			idx.set(join(prefix, key), join(plain, key), n)
		}
	}
	return idx
}

// indexed turns "report.chart" into "report[2].chart" when report is an
// array of tables, counting a new entry when newEntry is set.
func indexed(name string, counts map[string]int, newEntry bool) string {
	parts := strings.Split(name, ".")
	var out []string
	for i := range parts {
		path := strings.Join(parts[:i+1], ".")
		seg := parts[i]
		if i == len(parts)-1 && newEntry {
			counts[path]++
		}
		if c, ok := counts[path]; ok {
			seg += "[" + strconv.Itoa(c-1) + "]"
		}
		out = append(out, seg)
	}
	return strings.Join(out, ".")
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (idx lineIndex) set(path, plain string, n int) {
	if _, ok := idx[path]; !ok {
		idx[path] = n
	}
	if _, ok := idx[plain]; !ok {
		idx[plain] = n
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
