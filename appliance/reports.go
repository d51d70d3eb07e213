package appliance

import (
	"context"
	"path/filepath"
	"time"

	"moat/report"
	"moat/state"
)

// ReportStore records report runs in moat's state database.
type ReportStore struct {
	Store *state.Store
	Dir   string
}

var _ report.RunStore = ReportStore{}

func (r ReportStore) BeginReportRun(ctx context.Context, name, runKey, runAs string, started time.Time) (int64, error) {
	return r.Store.BeginReportRun(ctx, state.ReportRun{
		Report: name, RunKey: runKey, RunAs: runAs, StartedAt: started, Status: state.StatusRunning,
		Path: filepath.Join(r.Dir, name, runKey),
	})
}

func (r ReportStore) EndReportRun(ctx context.Context, id int64, status string, rows, bytes int64, dur time.Duration, errText, _ string) error {
	return r.Store.EndReportRun(ctx, id, state.ReportRunEnd{Status: status, Rows: rows, Bytes: bytes, Duration: dur, Error: errText})
}
