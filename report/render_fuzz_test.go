package report

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// FuzzRender runs a report of two rows over three columns (a fuzzed name
// and SQL type each, fuzzed values) and checks the site: it renders
// without panic or error, its HTML is well-formed and shows every name and
// value as text (no element or attribute comes from the data), data.csv
// and data-raw.csv read back with encoding/csv to the same number of
// fields, data-raw.csv holds every value as it is and data.csv only
// differs by the formula prefix, never leaving a formula-leading cell
// other than a plain number in a numeric column.
func FuzzRender(f *testing.F) {
	for _, r := range smallRows {
		s, _ := r[0].(string)
		f.Add(smallCols[0].Name, "VARCHAR", s, smallCols[2].Name, "BIGINT", "-3", "balance", int64(61), -20.25)
	}
	f.Add(`<b>"col"</b>`, "VARCHAR", "<script>alert(1)</script>", "&amp;", "DECIMAL(10,2)", "-3+cmd", "@x", int64(-1), 1e-9)
	f.Add("=cmd", "TIMESTAMP(3)", `=HYPERLINK("http://evil","x")`, "\t", "DOUBLE", "two\r\nlines, \"q\"", "\r", int64(0), -1.5e20)
	f.Add("", "", "", "x\x00y", "BIGINT", "\xff\xfe", "é", int64(-9223372036854775808), 0.0)
	f.Fuzz(func(t *testing.T, name1, type1, s1, name2, type2, s2, name3 string, n int64, x float64) {
		cols := []Column{{name1, type1}, {name2, type2}, {name3, "DOUBLE"}}
		rows := [][]any{{s1, s2, x}, {s2 + s1, nil, -x}}
		q := &genQuerier{cols: cols, rows: int64(len(rows)), row: func(i int64) []any { return rows[i] }}
		r, _ := newTestRunner(t, q)
		r.RawCSV = true
		res, err := r.Run(context.Background(), Definition{Name: "fuzz", SQL: "/* " + s2 + " */ SELECT " + strconv.Quote(s1), RunAs: "u" + name1})
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{name1, name2, name3}}
		for _, row := range rows {
			var rec []string
			for i, v := range row {
				s, _ := formatValue(v, cols[i].Type)
				rec = append(rec, s)
			}
			want = append(want, rec)
		}
		checkRenderedHTML(t, filepath.Join(res.Path, "index.html"), want)
		raw := readFuzzCSV(t, filepath.Join(res.Path, rawCSV), len(want), len(cols))
		safe := readFuzzCSV(t, filepath.Join(res.Path, dataCSV), len(want), len(cols))
		for i := range want {
			for j, w := range want[i] {
				w = csvNewlines(w)
				if raw[i][j] != w {
					t.Errorf("data-raw.csv record %d field %d = %q, want %q", i, j, raw[i][j], w)
				}
				got := safe[i][j]
				if got != w && got != formulaPrefix+w {
					t.Errorf("data.csv record %d field %d = %q, want %q or it neutralised", i, j, got, w)
				}
				if got != "" && strings.ContainsRune("=+-@\t\r", rune(got[0])) {
					if _, err := strconv.ParseFloat(got, 64); i == 0 || !numericType(cols[j].Type) || err != nil {
						t.Errorf("data.csv record %d field %d = %q: a formula-leading cell left as is", i, j, got)
					}
				}
			}
		}
	})
}

// csvNewlines is s as encoding/csv reads it back: a CRLF inside a quoted
// field comes back as LF.
func csvNewlines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func readFuzzCSV(t *testing.T, path string, records, fields int) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = fields
	got, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(got) != records {
		t.Fatalf("%s has %d records, want %d", path, len(got), records)
	}
	return got
}

// runPageElements are the elements the run page's template writes.
var runPageElements = map[atom.Atom]bool{atom.Html: true, atom.Head: true, atom.Meta: true, atom.Title: true,
	atom.Style: true, atom.Body: true, atom.Nav: true, atom.A: true, atom.H1: true, atom.H2: true, atom.Dl: true,
	atom.Dt: true, atom.Dd: true, atom.Pre: true, atom.Table: true, atom.Thead: true, atom.Tbody: true,
	atom.Tr: true, atom.Th: true, atom.Td: true, atom.P: true}

// checkRenderedHTML checks the run page at path: well-formed, no element
// but the template's, a header cell per name of want[0] and a cell per
// value of the rows want[1:], each showing its text.
func checkRenderedHTML(t *testing.T, path string, want [][]string) {
	t.Helper()
	doc := parsePage(t, path)
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && !runPageElements[n.DataAtom] {
			t.Fatalf("%s: a <%s> element the template does not write", path, n.Data)
		}
	}
	ths := findAll(doc, atom.Th)
	if len(ths) != len(want[0]) {
		t.Fatalf("%s: %d header cells, want %d", path, len(ths), len(want[0]))
	}
	for i, th := range ths {
		if got := text(th); got != htmlText(want[0][i]) {
			t.Errorf("header %d shows %q, want %q", i, got, htmlText(want[0][i]))
		}
		checkAttrs(t, th, "title")
	}
	rows, cells := bodyRows(doc)
	if len(rows) != len(want)-1 {
		t.Fatalf("%s: %d rows, want %d", path, len(rows), len(want)-1)
	}
	for i, row := range rows {
		if len(row) != len(want[i+1]) {
			t.Fatalf("row %d has %d cells, want %d", i, len(row), len(want[i+1]))
		}
		for j, got := range row {
			checkAttrs(t, cells[i][j], "class", "title")
			if c, _ := attr(cells[i][j], "class"); c == "null" {
				continue
			}
			if w := htmlText(shortText(want[i+1][j])); got != w {
				t.Errorf("row %d cell %d shows %q, want %q", i, j, got, w)
			}
		}
	}
}

// checkAttrs fails when n has an attribute not in keys.
func checkAttrs(t *testing.T, n *html.Node, keys ...string) {
	t.Helper()
	for _, a := range n.Attr {
		if !strings.Contains(" "+strings.Join(keys, " ")+" ", " "+a.Key+" ") {
			t.Errorf("<%s> has an attribute %q from the data", n.Data, a.Key)
		}
	}
}

// htmlText is s as an HTML parser reads it back from escaped text: NUL
// becomes U+FFFD and line ends become LF.
func htmlText(s string) string {
	return strings.NewReplacer("\x00", "\uFFFD", "\r\n", "\n", "\r", "\n").Replace(s)
}
