package report

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxCellRunes is how much of a value an HTML table cell shows; the full
// value is in the cell's title attribute and in data.csv.
const MaxCellRunes = 200

// formatValue is v as text; ok is false for SQL NULL.
func formatValue(v any, sqlType string) (s string, ok bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []byte:
		return "0x" + hex.EncodeToString(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case float64:
		return formatFloat(v, 64), true
	case float32:
		return formatFloat(float64(v), 32), true
	case bool:
		return strconv.FormatBool(v), true
	case time.Time:
		return formatTime(v, sqlType), true
	case fmt.Stringer:
		return v.String(), true
	case []any, map[string]any:
		b, err := json.Marshal(v)
		if err == nil {
			return string(b), true
		}
	}
	return fmt.Sprint(v), true
}

// formatFloat writes plain decimals for everyday magnitudes and exponents
// for the rest, always round-tripping the value.
func formatFloat(f float64, bits int) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e15) {
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// formatTime follows the column's SQL type: a DATE shows no clock, a TIME
// no date, and only zoned types show the zone.
func formatTime(t time.Time, sqlType string) string {
	switch {
	case sqlType == "DATE":
		return t.Format(time.DateOnly)
	case strings.HasPrefix(sqlType, "TIME WITH"):
		return t.Format("15:04:05.999999999 -07:00")
	case strings.HasPrefix(sqlType, "TIMESTAMP WITH"):
		return t.Format("2006-01-02 15:04:05.999999999 -07:00")
	case strings.HasPrefix(sqlType, "TIMESTAMP"):
		return t.Format("2006-01-02 15:04:05.999999999")
	case strings.HasPrefix(sqlType, "TIME"):
		return t.Format("15:04:05.999999999")
	}
	return t.Format(time.RFC3339Nano)
}

// numericType reports whether values of sqlType are numbers (right-aligned).
func numericType(sqlType string) bool {
	base, _, _ := strings.Cut(sqlType, "(")
	switch base {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "REAL", "DOUBLE", "DECIMAL", "NUMBER":
		return true
	}
	return false
}

// writeCell appends one table cell holding s (ok false: NULL) to b. Every
// text is escaped with template.HTMLEscapeString, as html/template would;
// rows are rendered here rather than in a template because reflection per
// cell would make the renderer several times slower.
func writeCell(b *bytes.Buffer, s string, ok, num bool) {
	if !ok {
		b.WriteString(`<td class="null">NULL</td>`)
		return
	}
	b.WriteString("<td")
	if num {
		b.WriteString(` class="num"`)
	}
	short := shortText(s)
	if short != s {
		b.WriteString(` title="`)
		b.WriteString(escapeHTML(s))
		b.WriteString(`"`)
	}
	b.WriteString(">")
	b.WriteString(escapeHTML(short))
	b.WriteString("</td>")
}

// byteSet is a set of ASCII bytes, for scanning values without allocating.
type byteSet [256]bool

func newByteSet(chars string) *byteSet {
	var s byteSet
	for i := range len(chars) {
		s[chars[i]] = true
	}
	return &s
}

func (set *byteSet) in(s string) bool {
	for i := range len(s) {
		if set[s[i]] {
			return true
		}
	}
	return false
}

var htmlSpecial = newByteSet("'\"&<>\x00")

// escapeHTML is template.HTMLEscapeString, without its per-call set-up
// for the common value that needs no escaping.
func escapeHTML(s string) string {
	if !htmlSpecial.in(s) {
		return s
	}
	return template.HTMLEscapeString(s)
}

// truncateRunes returns the first n runes of s and whether it cut anything.
func truncateRunes(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j], true
		}
		i++
	}
	return s, false
}
