package state

import (
	"context"
	"time"
)

// ReportRun is one run of a report: its folder is
// <data_dir>/reports/<Report>/<RunKey>/.
type ReportRun struct {
	ID        int64
	Report    string
	RunKey    string // the run's folder name, unique per report
	StartedAt time.Time
	EndedAt   time.Time // zero while running
	Status    string    // running, ok or failed
	RunAs     string    // the Trino user the report ran as
	Rows      int64
	Bytes     int64
	Duration  time.Duration
	Error     string
	Path      string
}

// ReportRunEnd is how a report run finished.
type ReportRunEnd struct {
	Status   string // ok or failed
	Rows     int64
	Bytes    int64
	Duration time.Duration // zero: the time from start to At
	Error    string
	At       time.Time // zero means now
}

const reportRunCols = `id, report, run_key, started_at, ended_at, status, run_as, rows, bytes, duration_ms, error, path`

func scanReportRun(s rowScanner) (r ReportRun, err error) {
	var ms int64
	err = s.Scan(&r.ID, &r.Report, &r.RunKey, msTime{&r.StartedAt}, msTime{&r.EndedAt}, &r.Status,
		&r.RunAs, &r.Rows, &r.Bytes, &ms, &r.Error, &r.Path)
	r.Duration = time.Duration(ms) * time.Millisecond
	return r, err
}

// BeginReportRun records r as running (StartedAt defaults to now) and
// returns its id. (Report, RunKey) must be new.
func (s *Store) BeginReportRun(ctx context.Context, r ReportRun) (int64, error) {
	id, err := s.insert(ctx, `INSERT INTO report_runs (report, run_key, started_at, status, run_as, path)
		VALUES (?, ?, ?, 'running', ?, ?)`, r.Report, r.RunKey, orNow(r.StartedAt).UnixMilli(), r.RunAs, r.Path)
	return id, wrapf(err, "begin report run %s/%s", r.Report, r.RunKey)
}

// EndReportRun records how report run id finished.
func (s *Store) EndReportRun(ctx context.Context, id int64, end ReportRunEnd) error {
	if err := oneOf("status", end.Status, StatusOK, StatusFailed); err != nil {
		return wrapf(err, "end report run %d", id)
	}
	var duration any // NULL: computed from started_at
	if end.Duration > 0 {
		duration = end.Duration.Milliseconds()
	}
	at := orNow(end.At).UnixMilli()
	err := s.updateOne(ctx, "report run", `UPDATE report_runs SET ended_at = ?, status = ?, rows = ?, bytes = ?,
			duration_ms = coalesce(?, max(? - started_at, 0)), error = ? WHERE id = ?`,
		at, end.Status, end.Rows, end.Bytes, duration, at, end.Error, id)
	return wrapf(err, "end report run %d", id)
}

// ReportRuns returns the newest limit runs of report ("" = every report;
// limit <= 0 = all), newest first.
func (s *Store) ReportRuns(ctx context.Context, report string, limit int) ([]ReportRun, error) {
	var w where
	w.add(report != "", "report = ?", report)
	all, err := queryAll(ctx, s.r, scanReportRun,
		`SELECT `+reportRunCols+` FROM report_runs`+w.String()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, limitArg(limit))...)
	return all, wrapf(err, "list report runs")
}

// LatestReportRun returns the newest run of report; ok is false when there is none.
func (s *Store) LatestReportRun(ctx context.Context, report string) (r ReportRun, ok bool, err error) {
	r, ok, err = queryFirst(ctx, s.r, scanReportRun,
		`SELECT `+reportRunCols+` FROM report_runs WHERE report = ? ORDER BY id DESC LIMIT 1`, report)
	return r, ok, wrapf(err, "latest run of report %q", report)
}
