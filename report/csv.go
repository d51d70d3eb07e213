package report

import (
	"bufio"
	"strings"
)

// csvWriter writes RFC 4180 records (CRLF line ends). A NULL is an empty
// unquoted field and an empty string a quoted one (""), so the two stay
// apart for readers that care; except that a record of a single NULL is
// written "" too, because readers skip blank lines.
type csvWriter struct {
	w *bufio.Writer
}

// field is one CSV value; ok is false for NULL.
type field struct {
	s  string
	ok bool
}

func (c csvWriter) writeRecord(fields []field) error {
	if len(fields) == 1 && !fields[0].ok {
		fields = []field{{"", true}}
	}
	for i, f := range fields {
		if i > 0 {
			c.w.WriteByte(',')
		}
		if f.ok {
			c.writeField(f.s)
		}
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

var csvSpecial = newByteSet(",\"\r\n")

func (c csvWriter) writeField(s string) {
	if s != "" && !csvSpecial.in(s) {
		c.w.WriteString(s)
		return
	}
	c.w.WriteByte('"')
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
