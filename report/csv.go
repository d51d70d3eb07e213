package report

import (
	"bufio"
	"strings"
)

// csvWriter writes RFC 4180 records (CRLF line ends). A NULL is an empty
// unquoted field and an empty string a quoted one (""), so the two stay
// apart for readers that care; except that a record of a single NULL is
// written "" too, because readers skip blank lines.
//
// With safe set, a cell is written with formulaPrefix before it where
// formulaCell says so, and no spreadsheet opening the file runs a cell as
// a formula; without it (data-raw.csv), every cell is written as it is.
type csvWriter struct {
	w    *bufio.Writer
	safe bool
}

// field is one CSV value; ok is false for NULL, num true for a value of a
// numeric column (see formulaCell).
type field struct {
	s   string
	ok  bool
	num bool
}

func (c csvWriter) writeRecord(fields []field) error {
	if len(fields) == 1 && !fields[0].ok {
		fields = []field{{s: "", ok: true}}
	}
	for i, f := range fields {
		if i > 0 {
			c.w.WriteByte(',')
		}
		if !f.ok {
			continue
		}
		prefix := ""
		if c.safe && formulaCell(f.s, f.num) {
			prefix = formulaPrefix
		}
		c.writeField(prefix, f.s)
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

var csvSpecial = newByteSet(",\"\r\n")

// writeField writes prefix+s as one field, quoted when s needs it (prefix
// is formulaPrefix or empty, neither of which does).
func (c csvWriter) writeField(prefix, s string) {
	if (prefix != "" || s != "") && !csvSpecial.in(s) {
		c.w.WriteString(prefix)
		c.w.WriteString(s)
		return
	}
	c.w.WriteByte('"')
	c.w.WriteString(prefix)
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		c.w.WriteString(s[:i+1])
		c.w.WriteByte('"')
		s = s[i+1:]
	}
	c.w.WriteString(s)
	c.w.WriteByte('"')
}

// formulaPrefix is what formulaCell asks for before a formula-leading cell.
const formulaPrefix = "'"

// formulaLead are the first bytes that make a spreadsheet (Excel,
// LibreOffice Calc, Google Sheets) read a cell as a formula: the OWASP
// CSV-injection list.
var formulaLead = newByteSet("=+-@\t\r")

// formulaCell is the CSV-injection rule of data.csv (OWASP): it reports
// whether the cell s must be written with formulaPrefix before it. A cell
// whose first byte is '=', '+', '-', '@', a tab or a carriage return gets a
// single quote put before it, so that a spreadsheet shows it as text
// instead of running it ("=HYPERLINK(…)" becomes "'=HYPERLINK(…)"), and is
// then quoted like any other field when it needs to be. The one exception
// is a plain negative number in a numeric column (num: TINYINT, SMALLINT,
// INTEGER, BIGINT, REAL, DOUBLE, DECIMAL, NUMBER; see numericType), such
// as "-3", "-20.25" or "-1.5e-07": it is a number to every spreadsheet, not
// a formula, and stays as is. Anything else from a numeric column ("-Inf")
// and every cell of any other column, the header's column names included
// ("-3" as a VARCHAR, "-3+cmd"), is neutralised. data-raw.csv (Runner.RawCSV)
// has every cell as it is.
func formulaCell(s string, num bool) bool {
	if s == "" || !formulaLead[s[0]] {
		return false
	}
	return !num || !plainNumber(s)
}

// plainNumber reports whether s is a decimal number as formatValue writes
// one: an optional '-', digits, an optional fraction and an optional
// exponent ("-12", "-0.5", "-1e-09", "-1.5E+20").
func plainNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	s, ok := digits(s)
	if !ok {
		return false
	}
	if rest, found := strings.CutPrefix(s, "."); found {
		if s, ok = digits(rest); !ok {
			return false
		}
	}
	if s == "" {
		return true
	}
	if s[0] != 'e' && s[0] != 'E' {
		return false
	}
	s = s[1:]
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	s, ok = digits(s)
	return ok && s == ""
}

// digits strips the leading ASCII digits of s; ok is false when there
// are none.
func digits(s string) (rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[i:], i > 0
}
