package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// memStore is an in-memory RunStore: a test double of this package's own
// interface (the lead's integration tests use moat's SQLite store).
type memStore struct {
	mu   sync.Mutex
	runs []storedRun
}

type storedRun struct {
	Report, RunKey, RunAs string
	Started               time.Time
	Status                string
	Rows, Bytes           int64
	Duration              time.Duration
	Error, Path           string
	EndCtxErr             error // the context's error when EndReportRun ran
}

var _ RunStore = (*memStore)(nil)

func (s *memStore) BeginReportRun(ctx context.Context, report, runKey, runAs string, started time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		if r.Report == report && r.RunKey == runKey {
			return 0, fmt.Errorf("run %s/%s exists", report, runKey)
		}
	}
	s.runs = append(s.runs, storedRun{Report: report, RunKey: runKey, RunAs: runAs, Started: started, Status: StatusRunning})
	return int64(len(s.runs)), nil
}

func (s *memStore) EndReportRun(ctx context.Context, id int64, status string, rows, bytes int64, dur time.Duration, errText, path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.runs) {
		return fmt.Errorf("no report run %d", id)
	}
	if status != StatusOK && status != StatusFailed {
		return fmt.Errorf("status %q: must be ok or failed", status)
	}
	r := &s.runs[id-1]
	r.Status, r.Rows, r.Bytes, r.Duration, r.Error, r.Path, r.EndCtxErr = status, rows, bytes, dur, errText, path, ctx.Err()
	return nil
}

func (s *memStore) run(t *testing.T, id int64) storedRun {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if id < 1 || int(id) > len(s.runs) {
		t.Fatalf("store has no run %d", id)
	}
	return s.runs[id-1]
}

// genQuerier produces rows computed by the test: no Trino involved.
type genQuerier struct {
	cols     []Column
	rows     int64                              // -1: endless
	row      func(i int64) []any                // the values of row i (0-based)
	queryErr error                              // returned by Query
	failAt   int64                              // > 0: Next fails at this row with failErr
	failErr  error                              //
	onRow    func(ctx context.Context, i int64) // called before row i is produced
	block    bool                               // Next waits for ctx instead of ending
	gotUser  *string                            // records runAs when set
}

func (q *genQuerier) Query(ctx context.Context, runAs, sql string) (Rows, error) {
	if q.gotUser != nil {
		*q.gotUser = runAs
	}
	if q.queryErr != nil {
		return nil, q.queryErr
	}
	return &genRows{q: q, ctx: ctx, i: -1}, nil
}

type genRows struct {
	q    *genQuerier
	ctx  context.Context
	i    int64
	vals []any
	err  error
}

func (r *genRows) Columns() []Column { return r.q.cols }

func (r *genRows) Next() bool {
	r.i++
	switch {
	case r.q.failAt > 0 && r.i == r.q.failAt:
		r.err = r.q.failErr
		return false
	case r.q.block:
		<-r.ctx.Done()
		r.err = r.ctx.Err()
		return false
	case r.q.rows >= 0 && r.i >= r.q.rows:
		return false
	}
	if r.q.onRow != nil {
		r.q.onRow(r.ctx, r.i)
	}
	r.vals = r.q.row(r.i)
	return true
}

func (r *genRows) Values() []any { return r.vals }
func (r *genRows) Err() error    { return r.err }
func (r *genRows) Close() error  { return nil }

// stepClock starts at t0 and moves on by step at every reading.
func stepClock(t0 time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	next := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(step)
		return t
	}
}

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func newTestRunner(t *testing.T, q Querier) (*Runner, *memStore) {
	t.Helper()
	store := &memStore{}
	return &Runner{Query: q, Store: store, Dir: t.TempDir(), Clock: stepClock(t0, 1500*time.Millisecond)}, store
}

// voidElements have no end tag.
var voidElements = map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true,
	"hr": true, "img": true, "input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}

// parsePage checks that path is well-formed HTML (every element closed in
// order, no tokenizer error) and returns its parse tree.
func parsePage(t *testing.T, path string) *html.Node {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	z := html.NewTokenizer(strings.NewReader(string(b)))
	var open []string
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				t.Fatalf("%s: tokenizer: %v", path, z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken:
			if !voidElements[tok.Data] {
				open = append(open, tok.Data)
			}
		case html.EndTagToken:
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				t.Fatalf("%s: </%s> closes %v", path, tok.Data, open)
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		t.Fatalf("%s: elements left open: %v", path, open)
	}
	doc, err := html.Parse(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func findAll(n *html.Node, a atom.Atom) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.DataAtom == a {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// bodyRows returns the text of every tbody row's cells, and the cells.
func bodyRows(doc *html.Node) (texts [][]string, cells [][]*html.Node) {
	for _, tb := range findAll(doc, atom.Tbody) {
		for _, tr := range findAll(tb, atom.Tr) {
			var ts []string
			tds := findAll(tr, atom.Td)
			for _, td := range tds {
				ts = append(ts, text(td))
			}
			texts, cells = append(texts, ts), append(cells, tds)
		}
	}
	return texts, cells
}

// checkLinks parses every HTML file under dir and checks that each href
// and src is relative and names a file that exists.
func checkLinks(t *testing.T, dir string) (pages int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		pages++
		doc := parsePage(t, path)
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode {
				continue
			}
			for _, key := range []string{"href", "src"} {
				v, ok := attr(n, key)
				if !ok {
					continue
				}
				u, err := url.Parse(v)
				if err != nil || u.IsAbs() || u.Host != "" || strings.HasPrefix(v, "/") {
					t.Errorf("%s: %s=%q is not a relative link", path, key, v)
					continue
				}
				target := filepath.Join(filepath.Dir(path), filepath.FromSlash(u.Path))
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: %s=%q: %v", path, key, v, err)
				}
			}
			if n.DataAtom == atom.Script || (n.DataAtom == atom.Link && slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == "rel" })) {
				t.Errorf("%s: has a <%s>: pages must be self-contained", path, n.Data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func slicesSort(keys []string) { slices.SortFunc(keys, newestFirst) }
