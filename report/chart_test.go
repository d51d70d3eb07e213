package report

import (
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgCounts parses path strictly as XML and counts elements by class, and
// collects the text of <text> elements.
func svgCounts(t *testing.T, path string) (classes map[string]int, texts []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	d.Strict = true
	classes = map[string]int{}
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			for _, a := range tok.Attr {
				if a.Name.Local == "class" {
					classes[a.Value]++
				}
			}
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return classes, texts
}

func runChart(t *testing.T, chart *Chart, cols []Column, n int64, row func(int64) []any) RunResult {
	t.Helper()
	r, _ := newTestRunner(t, &genQuerier{cols: cols, rows: n, row: row})
	res, err := r.Run(context.Background(), Definition{Name: "chart", SQL: "SELECT 1", RunAs: "alice", Chart: chart})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestBarChart(t *testing.T) {
	labels := []string{`<script>alert(1)</script>`, `a & "b"`, "日本", "x", "y", "z", "w"}
	cols := []Column{{"label", "VARCHAR"}, {"amount", "DECIMAL"}}
	res := runChart(t, &Chart{Kind: ChartBar, X: "label", Y: "amount", Title: `<Totals> & "more"`}, cols, 9, func(i int64) []any {
		switch i {
		case 7:
			return []any{"null y", nil}
		case 8:
			return []any{nil, "3.5"}
		}
		return []any{labels[i], strconv.FormatInt(i*10-20, 10) + ".25"} // DECIMAL arrives as text; one is negative
	})
	classes, texts := svgCounts(t, filepath.Join(res.Path, "chart.svg"))
	if classes["bar"] != len(labels) {
		t.Errorf("%d bars, want %d (rows with NULL x or y left out)", classes["bar"], len(labels))
	}
	all := strings.Join(texts, "|")
	for _, want := range append(labels[1:], `<script>alert(1)…`, `<Totals> & "more"`, "-20", "40") { // long labels are cut at 16 runes
		if !strings.Contains(all, want) {
			t.Errorf("chart text lacks %q: %s", want, all)
		}
	}
	page := mustRead(t, filepath.Join(res.Path, "index.html"))
	if !strings.Contains(page, "2 rows are left out of the chart: label is NULL or amount is not a number.") {
		t.Error("index.html does not say which rows the chart leaves out")
	}
}

func TestLineChartBounded(t *testing.T) {
	const n = 2500
	cols := []Column{{"x", "BIGINT"}, {"y", "DOUBLE"}}
	res := runChart(t, &Chart{Kind: ChartLine, X: "x", Y: "y"}, cols, n, func(i int64) []any {
		return []any{n - i, float64(i % 37)} // x descending: the line is drawn in x order
	})
	classes, _ := svgCounts(t, filepath.Join(res.Path, "chart.svg"))
	if classes["point"] != MaxChartPoints || classes["line"] != 1 {
		t.Errorf("%d points and %d lines, want %d and 1", classes["point"], classes["line"], MaxChartPoints)
	}
	svg := mustRead(t, filepath.Join(res.Path, "chart.svg"))
	first, _, _ := strings.Cut(svg[strings.Index(svg, `points="`)+8:], ",")
	if x, _ := strconv.ParseFloat(first, 64); x > plotL+1 {
		t.Errorf("the line starts at x=%v; sorted by x it starts at the left edge", x)
	}
	if !strings.Contains(mustRead(t, filepath.Join(res.Path, "index.html")), "The chart shows the first 1000 of 2500 rows.") {
		t.Error("index.html does not say the chart is cut")
	}
}

func TestLineChartTime(t *testing.T) {
	cols := []Column{{"day", "DATE"}, {"n", "BIGINT"}}
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	res := runChart(t, &Chart{Kind: ChartLine, X: "day", Y: "n"}, cols, 30, func(i int64) []any {
		return []any{day0.AddDate(0, 0, int(i)), i * i}
	})
	classes, texts := svgCounts(t, filepath.Join(res.Path, "chart.svg"))
	if classes["point"] != 30 {
		t.Errorf("%d points, want 30", classes["point"])
	}
	all := strings.Join(texts, "|")
	if !strings.Contains(all, "2026-03-01") || !strings.Contains(all, "2026-03-30") {
		t.Errorf("time axis labels %s, want the first and last day", all)
	}
	rows, _ := bodyRows(parsePage(t, filepath.Join(res.Path, "index.html")))
	if rows[0][0] != "2026-03-01" {
		t.Errorf("a DATE shows as %q, want 2026-03-01", rows[0][0])
	}
}

func TestNiceScale(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0, 64, "0 10 20 30 40 50 60 70"},
		{-20.25, 40.25, "-30 -20 -10 0 10 20 30 40 50"},
		{0, 1, "0 0.2 0.4 0.6 0.8 1.0"},
		{0, 2_500_000, "0 0.5M 1.0M 1.5M 2.0M 2.5M"},
		{5, 5, "2 3 4 5 6 7 8"},
	}
	for _, tt := range tests {
		s := niceScale(tt.lo, tt.hi, 6, 0, 100)
		var got []string
		for _, tick := range s.ticks {
			got = append(got, s.label(tick))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("niceScale(%v, %v) ticks %q, want %q", tt.lo, tt.hi, strings.Join(got, " "), tt.want)
		}
	}
}
