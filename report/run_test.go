package report

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html/atom"

	"moat/internal/golden"
)

var smallCols = []Column{{"nation", "VARCHAR"}, {"region", "VARCHAR"}, {"customers", "BIGINT"}, {"balance", "DOUBLE"}}

var smallRows = [][]any{
	{"ALGERIA", "AFRICA", int64(64), 312.5},
	{"ARGENTINA", "AMERICA", int64(52), nil},
	{"BRAZIL", "AMERICA", int64(61), -20.25},
	{"CANADA", "AMERICA", int64(0), 1e-9},
	{"EGYPT", "MIDDLE EAST", int64(45), 1234567.875},
}

func smallQuerier() *genQuerier {
	return &genQuerier{cols: smallCols, rows: int64(len(smallRows)), row: func(i int64) []any { return smallRows[i] }}
}

// TestGolden renders a small result (three pages of two rows, a bar chart)
// and compares every file of the site with testdata/golden/.
func TestGolden(t *testing.T) {
	r, _ := newTestRunner(t, smallQuerier())
	def := Definition{Name: "customers", SQL: "SELECT nation, region, count(*) AS customers, sum(balance) AS balance\nFROM customer GROUP BY 1, 2",
		RunAs: "alice", PageSize: 2, Chart: &Chart{Kind: ChartBar, X: "nation", Y: "customers"}}
	res, err := r.Run(context.Background(), def)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.RunKey != "20260102T150405Z" || res.Status != StatusOK || res.Meta.Rows != 5 || res.Meta.Pages != 3 {
		t.Fatalf("run = %+v", res)
	}
	r.Query = &genQuerier{queryErr: errors.New(`trino: query failed (200 OK): "USER_ERROR: line 1:8: Column 'nope' cannot be resolved"`)}
	if _, err := r.Run(context.Background(), Definition{Name: "broken", SQL: "SELECT nope", RunAs: "bob"}); err == nil {
		t.Fatal("the broken report ran")
	}
	files := []string{"index.html", "broken/index.html", "broken/20260102T150408Z/index.html", "broken/20260102T150408Z/meta.json",
		"customers/index.html", "customers/20260102T150405Z/index.html",
		"customers/20260102T150405Z/page-2.html", "customers/20260102T150405Z/page-3.html",
		"customers/20260102T150405Z/chart.svg", "customers/20260102T150405Z/data.csv",
		"customers/20260102T150405Z/meta.json"}
	for _, f := range files {
		golden.Check(t, filepath.Join("testdata", "golden", f), []byte(mustRead(t, filepath.Join(r.Dir, f))))
	}
	if n := checkLinks(t, r.Dir); n != 7 {
		t.Errorf("%d HTML files, want 7", n)
	}
	entries, _ := os.ReadDir(res.Path)
	if len(entries) != 6 {
		t.Errorf("run folder holds %d files, want 6 (no leftover temporary files): %v", len(entries), entries)
	}
}

// TestEveryRow renders 1,050 rows in pages of 100 and finds every row, in
// order, across index.html and page-2..11.html, with working links.
func TestEveryRow(t *testing.T) {
	const n = 1050
	q := &genQuerier{cols: []Column{{"i", "BIGINT"}, {"label", "VARCHAR"}}, rows: n,
		row: func(i int64) []any { return []any{i, "row " + strconv.FormatInt(i, 10)} }}
	r, store := newTestRunner(t, q)
	res, err := r.Run(context.Background(), Definition{Name: "big", SQL: "SELECT 1", RunAs: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Pages != 11 || res.Meta.Rows != n {
		t.Fatalf("pages=%d rows=%d, want 11 and %d", res.Meta.Pages, res.Meta.Rows, n)
	}
	next := int64(0)
	for page := 1; page <= 11; page++ {
		doc := parsePage(t, filepath.Join(res.Path, pageFile(page)))
		rows, _ := bodyRows(doc)
		if want := min(100, n-100*(page-1)); len(rows) != want {
			t.Fatalf("page %d has %d rows, want %d", page, len(rows), want)
		}
		for _, row := range rows {
			if want := []string{strconv.FormatInt(next, 10), "row " + strconv.FormatInt(next, 10)}; strings.Join(row, "|") != strings.Join(want, "|") {
				t.Fatalf("page %d: row %v, want %v", page, row, want)
			}
			next++
		}
	}
	index := parsePage(t, filepath.Join(res.Path, "index.html"))
	var pageLinks int
	for _, a := range findAll(index, atom.A) {
		if href, _ := attr(a, "href"); strings.HasPrefix(href, "page-") {
			pageLinks++
		}
	}
	if pageLinks != 2*10 { // the page index above and below the table
		t.Errorf("index.html links %d pages, want 20 (pages 2-11, twice)", pageLinks)
	}
	if !strings.Contains(mustRead(t, filepath.Join(res.Path, "page-11.html")), `href="page-10.html"`) ||
		strings.Contains(mustRead(t, filepath.Join(res.Path, "page-11.html")), "Next page") {
		t.Error("page-11.html should link back to page 10 and have no next page")
	}
	checkLinks(t, r.Dir)
	records := readCSV(t, filepath.Join(res.Path, "data.csv"))
	if len(records) != n+1 || records[n][1] != "row 1049" {
		t.Errorf("data.csv has %d records (last %v), want %d", len(records), records[len(records)-1], n+1)
	}
	got := store.run(t, res.ID)
	if got.Status != StatusOK || got.Rows != n || got.RunAs != "bob" || got.Path != res.Path || got.Bytes != res.Meta.Bytes || got.Bytes == 0 {
		t.Errorf("store run = %+v", got)
	}
	if got.Bytes != folderSize(t, res.Path)-int64(len(mustRead(t, filepath.Join(res.Path, "meta.json")))) {
		t.Errorf("recorded %d bytes, folder holds %d besides meta.json", got.Bytes, folderSize(t, res.Path))
	}
}

func folderSize(t *testing.T, dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		info, _ := e.Info()
		n += info.Size()
	}
	return n
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return records
}

// TestHostileValues checks that markup, quotes, ampersands, unicode, NULL
// and a 100 KB string come out escaped in HTML and exact in CSV.
func TestHostileValues(t *testing.T) {
	long := strings.Repeat("é<x>&\"", 100_000/8) // 100 KB of two-byte runes and markup
	values := []any{
		"<script>alert(1)</script>",
		`"double" and 'single' quotes`,
		"fish & chips &amp; more",
		"日本語 ✓ 🎉 \u202e reversed",
		nil,
		long,
		"",
		"two\nlines, with a comma",
	}
	q := &genQuerier{cols: []Column{{"v", "VARCHAR"}, {`<b>"col"</b>`, "VARCHAR"}}, rows: int64(len(values)),
		row: func(i int64) []any { return []any{values[i], "x"} }}
	r, _ := newTestRunner(t, q)
	def := Definition{Name: "hostile", SQL: "SELECT '<script>alert(1)</script>' AS v -- & \"", RunAs: `eve"<`}
	res, err := r.Run(context.Background(), def)
	if err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(res.Path, "index.html")
	raw := mustRead(t, index)
	if strings.Contains(raw, "<script") || strings.Contains(raw, "<b>") || strings.Contains(raw, `eve"<`) {
		t.Fatal("index.html carries unescaped markup")
	}
	doc := parsePage(t, index)
	if got := text(findAll(doc, atom.Pre)[0]); got != def.SQL {
		t.Errorf("SQL shown as %q", got)
	}
	if got := text(findAll(doc, atom.Th)[1]); got != `<b>"col"</b>` {
		t.Errorf("column name shown as %q", got)
	}
	rows, cells := bodyRows(doc)
	if len(rows) != len(values) {
		t.Fatalf("table has %d rows, want %d", len(rows), len(values))
	}
	for i, v := range values {
		got, td := rows[i][0], cells[i][0]
		class, _ := attr(td, "class")
		if v != nil && class != "" {
			t.Errorf("row %d: a text cell has class %q", i, class)
		}
		title, hasTitle := attr(td, "title")
		switch {
		case v == nil:
			if got != "NULL" || class != "null" {
				t.Errorf("NULL shown as %q class %q", got, class)
			}
		case v == long:
			runes := []rune(long)
			if want := string(runes[:MaxCellRunes]) + "…"; got != want {
				t.Errorf("long value shown as %d runes, want %d and an ellipsis", len([]rune(got)), MaxCellRunes)
			}
			if title != long {
				t.Errorf("long value's title has %d bytes, want the whole %d", len(title), len(long))
			}
		default:
			if got != v || hasTitle {
				t.Errorf("row %d shown as %q (title %v), want %q", i, got, hasTitle, v)
			}
		}
	}
	records := readCSV(t, filepath.Join(res.Path, "data.csv"))
	for i, v := range values {
		want, _ := v.(string)
		if got := records[i+1][0]; got != want {
			t.Errorf("csv row %d = %.40q, want %.40q", i+1, got, want)
		}
	}
	csvRaw := mustRead(t, filepath.Join(res.Path, "data.csv"))
	if !strings.Contains(csvRaw, "\r\n,x\r\n") || !strings.Contains(csvRaw, "\r\n\"\",x\r\n") {
		t.Error(`data.csv should write NULL as an empty field and "" as a quoted empty string`)
	}
	checkLinks(t, r.Dir)
	for _, page := range []string{filepath.Join(r.Dir, "hostile", "index.html"), filepath.Join(r.Dir, "index.html")} {
		if strings.Contains(mustRead(t, page), `eve"<`) {
			t.Errorf("%s carries the run-as user unescaped", page)
		}
	}
}

// TestFailingQuery: a query error gives a failed run with the error in the
// store, meta.json and the run page, and no data files.
func TestFailingQuery(t *testing.T) {
	trinoErr := errors.New(`trino: query failed (200 OK): "USER_ERROR: line 1:8: Column 'nope' cannot be resolved"`)
	r, store := newTestRunner(t, &genQuerier{queryErr: trinoErr})
	res, err := r.Run(context.Background(), Definition{Name: "broken", SQL: "SELECT nope", RunAs: "alice"})
	if err == nil || !strings.Contains(err.Error(), "Column 'nope' cannot be resolved") {
		t.Fatalf("Run error = %v, want the Trino error", err)
	}
	checkFailed(t, r, store, res, "Column 'nope' cannot be resolved")
}

// TestFailureMidStream: rows that fail after some pages leave a failed
// run and remove the partial data.
func TestFailureMidStream(t *testing.T) {
	q := &genQuerier{cols: []Column{{"i", "BIGINT"}}, rows: -1, row: func(i int64) []any { return []any{i} },
		failAt: 450, failErr: errors.New("trino: query failed: EXCEEDED_LOCAL_MEMORY_LIMIT")}
	r, store := newTestRunner(t, q)
	res, err := r.Run(context.Background(), Definition{Name: "oom", SQL: "SELECT i", RunAs: "alice", PageSize: 50})
	if err == nil {
		t.Fatal("Run succeeded; want the stream's error")
	}
	checkFailed(t, r, store, res, "EXCEEDED_LOCAL_MEMORY_LIMIT")
	if res.Meta.Rows != 450 {
		t.Errorf("rows = %d, want the 450 read before the failure", res.Meta.Rows)
	}
}

// TestChartColumnMissing: a chart naming a column the result lacks fails
// the run and says which columns there are.
func TestChartColumnMissing(t *testing.T) {
	r, store := newTestRunner(t, smallQuerier())
	def := Definition{Name: "chart", SQL: "SELECT 1", RunAs: "alice", Chart: &Chart{Kind: ChartLine, X: "nation", Y: "total"}}
	res, err := r.Run(context.Background(), def)
	if err == nil {
		t.Fatal("Run succeeded; want a chart error")
	}
	checkFailed(t, r, store, res, `chart.y = "total": the result has no such column (columns: nation, region, customers, balance)`)
}

// TestCancelMidStream cancels the run's context while rows stream: the run
// stops and is recorded failed (cancelled), with a live context for the store.
func TestCancelMidStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := &genQuerier{cols: []Column{{"i", "BIGINT"}}, rows: -1, row: func(i int64) []any { return []any{i} },
		onRow: func(_ context.Context, i int64) {
			if i == 1000 {
				cancel()
			}
		}}
	r, store := newTestRunner(t, q)
	res, err := r.Run(ctx, Definition{Name: "endless", SQL: "SELECT i", RunAs: "alice"})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("Run error = %v, want cancelled", err)
	}
	checkFailed(t, r, store, res, "cancelled")
	if res.Meta.Rows < 1000 || res.Meta.Rows > 1000+256 {
		t.Errorf("read %d rows; want the run to stop soon after row 1000", res.Meta.Rows)
	}
	if got := store.run(t, res.ID); got.EndCtxErr != nil {
		t.Errorf("EndReportRun ran with a done context: %v", got.EndCtxErr)
	}
}

// TestTimeout: a query outliving Runner.Timeout fails with a timeout.
func TestTimeout(t *testing.T) {
	q := &genQuerier{cols: []Column{{"i", "BIGINT"}}, block: true}
	r, store := newTestRunner(t, q)
	r.Timeout = 20 * time.Millisecond
	res, err := r.Run(context.Background(), Definition{Name: "slow", SQL: "SELECT i", RunAs: "alice"})
	if err == nil || !strings.Contains(err.Error(), "timed out after 20ms") {
		t.Fatalf("Run error = %v, want a timeout", err)
	}
	checkFailed(t, r, store, res, "timed out after 20ms (raise the report timeout")
}

func checkFailed(t *testing.T, r *Runner, store *memStore, res RunResult, wantErr string) {
	t.Helper()
	got := store.run(t, res.ID)
	if got.Status != StatusFailed || !strings.Contains(got.Error, wantErr) {
		t.Errorf("store: status %q error %q, want failed with %q", got.Status, got.Error, wantErr)
	}
	meta, err := ReadMeta(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Status != StatusFailed || !strings.Contains(meta.Error, wantErr) || meta.Finished.IsZero() {
		t.Errorf("meta.json: %+v", meta)
	}
	doc := parsePage(t, filepath.Join(res.Path, "index.html"))
	pre := findAll(doc, atom.Pre)
	if len(pre) == 0 || !strings.Contains(text(pre[0]), wantErr) || len(findAll(doc, atom.Table)) != 0 {
		t.Error("the run page should show the error and no table")
	}
	for _, f := range []string{dataCSV, rawCSV, "page-2.html", "chart.svg"} {
		if exists(filepath.Join(res.Path, f)) {
			t.Errorf("failed run left %s", f)
		}
	}
	history := mustRead(t, filepath.Join(filepath.Dir(res.Path), "index.html"))
	if !strings.Contains(history, `class="status-failed">failed<`) {
		t.Error("history page does not show the failed run")
	}
	checkLinks(t, r.Dir)
}

// TestHistoryNewestFirst runs a report four times (two in the same second)
// and checks the history and the all-reports index.
func TestHistoryNewestFirst(t *testing.T) {
	r, _ := newTestRunner(t, smallQuerier())
	times := []time.Time{t0, t0, t0, t0.Add(time.Hour)}
	var calls int
	r.Clock = func() time.Time { calls++; return times[(calls-1)/2] } // start and end of each run
	fail := &genQuerier{queryErr: errors.New("boom")}
	for i := range 4 {
		if i == 2 {
			r.Query = fail
		} else {
			r.Query = smallQuerier()
		}
		r.Run(context.Background(), Definition{Name: "daily", SQL: "SELECT 1", RunAs: "alice"})
	}
	r.Query = smallQuerier()
	r.Clock = func() time.Time { return t0.Add(-time.Hour) }
	if _, err := r.Run(context.Background(), Definition{Name: "other", SQL: "SELECT 1", RunAs: "bob"}); err != nil {
		t.Fatal(err)
	}

	doc := parsePage(t, filepath.Join(r.Dir, "daily", "index.html"))
	rows, _ := bodyRows(doc)
	var got []string
	for _, row := range rows {
		got = append(got, row[0]+" "+row[1])
	}
	want := []string{"20260102T160405Z ok", "20260102T150405Z-3 failed", "20260102T150405Z-2 ok", "20260102T150405Z ok"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("history lists %v, want %v", got, want)
	}

	root := parsePage(t, filepath.Join(r.Dir, "index.html"))
	rows, _ = bodyRows(root)
	if len(rows) != 2 || rows[0][0] != "daily" || rows[0][1] != "4" || rows[0][2] != "20260102T160405Z" ||
		rows[1][0] != "other" || rows[1][1] != "1" {
		t.Errorf("all-reports index = %v", rows)
	}
	checkLinks(t, r.Dir)
}

// TestRunKeyOrder: collision suffixes sort numerically.
func TestRunKeyOrder(t *testing.T) {
	keys := []string{"20260102T150405Z-2", "20260102T150405Z", "20260102T150405Z-10", "20250102T150405Z"}
	want := "20260102T150405Z-10 20260102T150405Z-2 20260102T150405Z 20250102T150405Z"
	sorted := append([]string(nil), keys...)
	slicesSort(sorted)
	if got := strings.Join(sorted, " "); got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// TestRunAsReachesQuerier: the querier is asked to run as the report's user.
func TestRunAsReachesQuerier(t *testing.T) {
	var user string
	q := smallQuerier()
	q.gotUser = &user
	r, _ := newTestRunner(t, q)
	if _, err := r.Run(context.Background(), Definition{Name: "x", SQL: "SELECT 1", RunAs: "carol"}); err != nil {
		t.Fatal(err)
	}
	if user != "carol" {
		t.Errorf("query ran as %q, want carol", user)
	}
}

// TestConcurrentRuns runs one report four times at once in the same second:
// four distinct run folders, all recorded, all in the history.
func TestConcurrentRuns(t *testing.T) {
	r, store := newTestRunner(t, nil)
	r.Query = &genQuerier{cols: []Column{{"i", "BIGINT"}}, rows: 500, row: func(i int64) []any { return []any{i} }}
	r.Clock = func() time.Time { return t0 }
	errs := make(chan error)
	for range 4 {
		go func() {
			_, err := r.Run(context.Background(), Definition{Name: "same", SQL: "SELECT i", RunAs: "alice"})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	runs, err := ListRuns(r.Dir, "same")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range runs {
		keys = append(keys, m.RunKey)
		if m.Status != StatusOK || m.Rows != 500 {
			t.Errorf("run %s: %s with %d rows", m.RunKey, m.Status, m.Rows)
		}
	}
	if want := "20260102T150405Z-4 20260102T150405Z-3 20260102T150405Z-2 20260102T150405Z"; strings.Join(keys, " ") != want {
		t.Errorf("runs %v, want %s", keys, want)
	}
	if len(store.runs) != 4 {
		t.Errorf("store has %d runs, want 4", len(store.runs))
	}
	rows, _ := bodyRows(parsePage(t, filepath.Join(r.Dir, "same", "index.html")))
	if len(rows) != 4 {
		t.Errorf("history lists %d runs, want 4", len(rows))
	}
}
