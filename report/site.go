package report

import (
	"bufio"
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
)

// runWriter writes one run's folder while the rows stream by. It holds at
// most three table pages (the first, which index.html shows at the end, the
// last full one, written once it is known whether another follows, and the
// one filling up) and the chart's points.
type runWriter struct {
	dir      string
	meta     *Meta
	num      []bool // right-align column i
	pageSize int

	csvs   []*csvFile // data.csv, then data-raw.csv when asked for
	fields []field

	first, pending, cur *tablePage
	spare               *bytes.Buffer // the body of the last page written, for reuse
	chart               *chartData
	bytes               int64 // written so far
}

// tablePage is one page of the table: its rows rendered as HTML.
type tablePage struct {
	n    int
	rows int
	body *bytes.Buffer
}

// The run folder's CSV files: data.csv has formula-leading cells
// neutralised (see formulaCell), data-raw.csv, written only on request
// (Runner.RawCSV), has every value as it is.
const (
	dataCSV = "data.csv"
	rawCSV  = "data-raw.csv"
)

// csvFile is one CSV file of a run, written while the rows stream by.
type csvFile struct {
	name string
	f    *os.File
	out  *countingWriter
	csv  csvWriter
}

func createCSV(dir, name string, safe bool) (*csvFile, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	c := &csvFile{name: name, f: f, out: &countingWriter{w: f}}
	c.csv = csvWriter{w: bufio.NewWriterSize(c.out, 256<<10), safe: safe}
	return c, nil
}

func (c *csvFile) writeRecord(fields []field) error {
	if err := c.csv.writeRecord(fields); err != nil {
		return fmt.Errorf("write %s: %w", c.name, err)
	}
	return nil
}

func (c *csvFile) close() error {
	err := c.csv.w.Flush()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", c.name, err)
	}
	return nil
}

func (c *csvFile) remove() {
	c.f.Close()
	os.Remove(c.f.Name())
}

// newRunWriter starts the run folder's data.csv (and data-raw.csv when raw
// is set) and table pages for the result columns in meta.
func newRunWriter(dir string, def Definition, meta *Meta, raw bool) (*runWriter, error) {
	w := &runWriter{dir: dir, meta: meta, pageSize: def.pageSize(), fields: make([]field, len(meta.Columns))}
	if def.Chart != nil {
		c, err := newChartData(def.Chart, meta.Columns)
		if err != nil {
			return nil, err
		}
		w.chart = c
	}
	w.num = make([]bool, len(meta.Columns))
	header := make([]field, len(meta.Columns))
	for i, c := range meta.Columns {
		w.num[i] = numericType(c.Type)
		header[i] = field{s: c.Name, ok: true}
	}
	w.cur = &tablePage{n: 1, body: new(bytes.Buffer)}
	names := []string{dataCSV}
	if raw {
		names = append(names, rawCSV)
	}
	for _, name := range names {
		c, err := createCSV(dir, name, name == dataCSV)
		if err == nil {
			w.csvs = append(w.csvs, c)
			err = c.writeRecord(header)
		}
		if err != nil {
			w.abort()
			return nil, err
		}
	}
	return w, nil
}

// add writes one row.
func (w *runWriter) add(values []any) error {
	if len(values) != len(w.meta.Columns) {
		return fmt.Errorf("row %d has %d values for %d columns", w.meta.Rows+1, len(values), len(w.meta.Columns))
	}
	body := w.cur.body
	body.WriteString("<tr>")
	for i, v := range values {
		s, ok := formatValue(v, w.meta.Columns[i].Type)
		writeCell(body, s, ok, w.num[i])
		w.fields[i] = field{s: s, ok: ok, num: w.num[i]}
	}
	body.WriteString("</tr>\n")
	for _, c := range w.csvs {
		if err := c.writeRecord(w.fields); err != nil {
			return err
		}
	}
	if w.chart != nil {
		w.chart.add(values)
	}
	w.meta.Rows++
	w.cur.rows++
	if w.cur.rows == w.pageSize {
		return w.turnPage()
	}
	return nil
}

// turnPage sets the full current page aside and starts the next one.
func (w *runWriter) turnPage() error {
	full := w.cur
	body := w.spare
	if body == nil {
		body = new(bytes.Buffer)
	}
	w.spare = nil
	body.Reset()
	w.cur = &tablePage{n: full.n + 1, body: body}
	if full.n == 1 {
		w.first = full
		return nil
	}
	if err := w.flushPending(true); err != nil {
		return err
	}
	w.pending = full
	return nil
}

// flushPending writes the page set aside, if any.
func (w *runWriter) flushPending(hasNext bool) error {
	p := w.pending
	if p == nil {
		return nil
	}
	w.pending = nil
	v := runView{Meta: *w.meta, Rows: template.HTML(p.body.String()), Page: p.n, HasNext: hasNext}
	w.spare = p.body
	return w.writePage(pageFile(p.n), "page", v)
}

// writePage writes a table page in place: nothing links the run's pages
// before its index.html, which is written last (through writeFile).
func (w *runWriter) writePage(name, tmpl string, v any) error {
	path := filepath.Join(w.dir, name)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 64<<10)
	err = templates.ExecuteTemplate(bw, tmpl, v)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	w.bytes += cw.n
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// finish writes what is left (the last pages, chart.svg), sets meta's
// page count, chart flag and bytes, and returns the view of the first page
// for the run's index.html, which the caller writes once the run's status
// is known.
func (w *runWriter) finish() (runView, error) {
	for _, c := range w.csvs {
		if err := c.close(); err != nil {
			return runView{}, err
		}
		w.bytes += c.out.n
	}
	w.meta.RawCSV = len(w.csvs) > 1
	if w.cur.rows > 0 || w.first == nil {
		if err := w.turnPage(); err != nil {
			return runView{}, err
		}
	}
	if err := w.flushPending(false); err != nil {
		return runView{}, err
	}
	w.meta.Pages = w.cur.n - 1
	var notes []string
	if w.chart != nil && len(w.chart.points) > 0 {
		n, err := writeFile(filepath.Join(w.dir, "chart.svg"), w.chart.writeSVG)
		w.bytes += n
		if err != nil {
			return runView{}, err
		}
		w.meta.Chart, notes = true, w.chart.notes()
	}
	pages := make([]int, w.meta.Pages)
	for i := range pages {
		pages[i] = i + 1
	}
	w.meta.Bytes = w.bytes
	return runView{Rows: template.HTML(w.first.body.String()), Page: 1, Pages: pages, ChartNote: notes}, nil
}

// abort removes the data files written so far: a failed run keeps only
// its index.html and meta.json, never a partial result that looks whole.
func (w *runWriter) abort() {
	for _, c := range w.csvs {
		c.remove()
	}
	os.Remove(filepath.Join(w.dir, "chart.svg"))
	for n := 2; n <= w.cur.n; n++ {
		os.Remove(filepath.Join(w.dir, pageFile(n)))
	}
}
