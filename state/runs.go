package state

import (
	"context"
	"time"
)

// Status of a run or a report run.
const (
	StatusRunning = "running"
	StatusOK      = "ok"
	StatusFailed  = "failed"
)

// Run is one invocation of a moat command ("up", "down", "report run", ...).
type Run struct {
	ID         int64
	Command    string
	ConfigPath string
	ConfigHash string
	PID        int
	StartedAt  time.Time
	EndedAt    time.Time // zero while running
	Status     string
	Error      string
}

const runCols = `id, command, config_path, config_hash, pid, started_at, ended_at, status, error`

func scanRun(s rowScanner) (r Run, err error) {
	err = s.Scan(&r.ID, &r.Command, &r.ConfigPath, &r.ConfigHash, &r.PID,
		msTime{&r.StartedAt}, msTime{&r.EndedAt}, &r.Status, &r.Error)
	return r, err
}

// BeginRun records r as running (StartedAt defaults to now) and returns its id.
func (s *Store) BeginRun(ctx context.Context, r Run) (int64, error) {
	id, err := s.insert(ctx, `INSERT INTO runs (command, config_path, config_hash, pid, started_at, status)
		VALUES (?, ?, ?, ?, ?, 'running')`,
		r.Command, r.ConfigPath, r.ConfigHash, r.PID, orNow(r.StartedAt).UnixMilli())
	return id, wrapf(err, "begin run %q", r.Command)
}

// EndRun marks run id finished now with status "ok" or "failed".
func (s *Store) EndRun(ctx context.Context, id int64, status, errText string) error {
	if err := oneOf("status", status, StatusOK, StatusFailed); err != nil {
		return wrapf(err, "end run %d", id)
	}
	err := s.updateOne(ctx, "run", `UPDATE runs SET ended_at = ?, status = ?, error = ? WHERE id = ?`,
		time.Now().UnixMilli(), status, errText, id)
	return wrapf(err, "end run %d", id)
}

// Runs returns the newest limit runs (all when limit <= 0), newest first.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	runs, err := queryAll(ctx, s.r, scanRun, `SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT ?`, limitArg(limit))
	return runs, wrapf(err, "list runs")
}

// LastRun returns the newest run; ok is false when there is none.
func (s *Store) LastRun(ctx context.Context) (r Run, ok bool, err error) {
	r, ok, err = queryFirst(ctx, s.r, scanRun, `SELECT `+runCols+` FROM runs ORDER BY id DESC LIMIT 1`)
	return r, ok, wrapf(err, "last run")
}
