package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// RunStore records report runs (moat's SQLite store, adapted by the caller).
type RunStore interface {
	// BeginReportRun records a run as running and returns its id.
	BeginReportRun(ctx context.Context, report, runKey, runAs string, started time.Time) (int64, error)
	// EndReportRun records how run id ended: status is StatusOK or
	// StatusFailed, path the run's folder.
	EndReportRun(ctx context.Context, id int64, status string, rows, bytes int64, dur time.Duration, errText, path string) error
}

// Runner runs report definitions and renders each run under Dir. Its
// zero value is not usable: set Query, Store and Dir. A Runner may run
// several reports at once.
type Runner struct {
	Query   Querier
	Store   RunStore
	Dir     string           // the reports directory, e.g. <data_dir>/reports
	Clock   func() time.Time // nil: time.Now
	Timeout time.Duration    // per run; 0: no limit
	// RawCSV also writes each run's values unneutralised to data-raw.csv
	// (data.csv has formula-leading cells neutralised: see the package
	// documentation), linked from the run's page as raw. Only for whoever
	// asks for it explicitly: a spreadsheet opening it may run formulas.
	RawCSV bool

	mu sync.Mutex // serialises rebuilding the history pages
}

// RunResult is how a run went.
type RunResult struct {
	ID     int64  // the RunStore's id
	Path   string // the run's folder, <Dir>/<name>/<runKey>
	Meta   Meta   // as written to meta.json
	Status string // StatusOK or StatusFailed
}

// endTimeout bounds recording the end of a run once its context is done.
const endTimeout = 30 * time.Second

// Run runs def once: the query as def.RunAs, streamed into a new run
// folder, then the report's history and the all-reports index. A query or
// rendering failure still leaves a failed run (page, meta.json, RunStore
// record) and is returned as the error; so are a cancelled ctx and the
// Timeout running out.
func (r *Runner) Run(ctx context.Context, def Definition) (RunResult, error) {
	if err := def.Validate(); err != nil {
		return RunResult{}, err
	}
	started := r.now()
	key, path, err := r.claimRunDir(def.Name, started)
	if err != nil {
		return RunResult{}, err
	}
	res := RunResult{Path: path, Meta: Meta{Name: def.Name, RunKey: key, Started: started.UTC(),
		Status: StatusRunning, Columns: []Column{}, RunAs: def.RunAs, SQL: def.SQL}}
	res.ID, err = r.Store.BeginReportRun(ctx, def.Name, key, def.RunAs, started)
	if err != nil {
		os.Remove(path)
		return RunResult{}, fmt.Errorf("report %s: record the run's start: %w", def.Name, err)
	}
	if err := writeMeta(path, res.Meta); err != nil {
		return r.end(ctx, res, runView{}, err)
	}
	view, err := r.execute(ctx, def, path, &res.Meta)
	return r.end(ctx, res, view, err)
}

func (r *Runner) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock()
}

// claimRunDir creates the run's folder, named after its start time in UTC
// with a suffix when a run of the same second exists.
func (r *Runner) claimRunDir(name string, started time.Time) (key, path string, err error) {
	reportDir := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return "", "", fmt.Errorf("report %s: create its folder: %w", name, err)
	}
	base := started.UTC().Format(runKeyLayout)
	for n := 1; n <= 1000; n++ {
		key = base
		if n > 1 {
			key += "-" + strconv.Itoa(n)
		}
		path = filepath.Join(reportDir, key)
		err = os.Mkdir(path, 0o755)
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("report %s: create the run folder: %w", name, err)
	}
	return key, path, nil
}

// errTimeout is the cause of a run's context ending at Runner.Timeout.
type errTimeout time.Duration

func (e errTimeout) Error() string {
	return fmt.Sprintf("timed out after %s (raise the report timeout or make the query cheaper)", time.Duration(e))
}

// execute runs the query and streams its rows into the run folder; it
// returns the view of index.html.
func (r *Runner) execute(ctx context.Context, def Definition, path string, meta *Meta) (runView, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.Timeout, errTimeout(r.Timeout))
		defer cancel()
	}
	rows, err := r.Query.Query(ctx, def.RunAs, def.SQL)
	if err != nil {
		return runView{}, ctxCause(ctx, err)
	}
	defer rows.Close()
	meta.Columns = rows.Columns()
	w, err := newRunWriter(path, def, meta, r.RawCSV)
	if err != nil {
		return runView{}, err
	}
	if err := stream(ctx, rows, w); err != nil {
		w.abort()
		return runView{}, ctxCause(ctx, err)
	}
	view, err := w.finish()
	if err != nil {
		w.abort()
	}
	return view, err
}

// stream copies every row of rows into w, stopping when ctx is done.
func stream(ctx context.Context, rows Rows, w *runWriter) error {
	for n := 0; rows.Next(); n++ {
		if n%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := w.add(rows.Values()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

// ctxCause prefers why ctx ended (cancelled, timed out) over err, which is
// often just its echo from the client.
func ctxCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		if errors.Is(cause, context.Canceled) {
			return fmt.Errorf("cancelled: %w", err)
		}
		return cause
	}
	return err
}

// end writes the run's index.html (view, or the failure) and final
// meta.json, records the end in the RunStore and rebuilds the history pages.
func (r *Runner) end(ctx context.Context, res RunResult, view runView, runErr error) (RunResult, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	m := &res.Meta
	m.Finished = r.now().UTC()
	m.Status = StatusOK
	if runErr != nil {
		m.Status, m.Error, m.Chart, m.RawCSV, m.Pages, m.Bytes = StatusFailed, runErr.Error(), false, false, 0, 0
		view = runView{}
	}
	view.Meta = *m
	n, err := writeFile(filepath.Join(res.Path, "index.html"), func(w io.Writer) error {
		return templates.ExecuteTemplate(w, "run", view)
	})
	m.Bytes += n
	errs := []error{runErr, err}
	res.Status = m.Status
	if err := writeMeta(res.Path, *m); err != nil {
		errs = append(errs, err)
	}
	dur := m.Finished.Sub(m.Started)
	if err := r.Store.EndReportRun(ctx, res.ID, m.Status, m.Rows, m.Bytes, dur, m.Error, res.Path); err != nil {
		errs = append(errs, fmt.Errorf("record the run's end: %w", err))
	}
	if err := r.RebuildIndexes(m.Name); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("report %s run %s: %w", m.Name, m.RunKey, err)
	}
	return res, nil
}

// RebuildIndexes rewrites report name's history page and the all-reports
// index from the run folders' meta.json files.
func (r *Runner) RebuildIndexes(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	runs, err := ListRuns(r.Dir, name)
	if err != nil {
		return err
	}
	_, err = writeFile(filepath.Join(r.Dir, name, "index.html"), func(w io.Writer) error {
		return templates.ExecuteTemplate(w, "history", historyView{Name: name, Runs: runs})
	})
	if err != nil {
		return err
	}
	reports, err := listReports(r.Dir)
	if err != nil {
		return err
	}
	_, err = writeFile(filepath.Join(r.Dir, "index.html"), func(w io.Writer) error {
		return templates.ExecuteTemplate(w, "root", reports)
	})
	return err
}
