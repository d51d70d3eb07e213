package state

import (
	"context"
	"errors"
	"time"
)

// Event severities.
const (
	SeverityInfo  = "info"
	SeverityWarn  = "warn"
	SeverityError = "error"
)

// Event is one entry of moat's timeline.
type Event struct {
	ID       int64
	At       time.Time // zero means now
	Severity string    // info, warn or error
	Kind     string    // a short code: "service.start", "report.failed", ...
	Service  string    // "" when the event concerns no one service
	Message  string
}

// EventFilter selects events; zero fields select everything.
type EventFilter struct {
	Service  string
	Kind     string
	Severity string
	Since    time.Time // at or after
	Limit    int       // <= 0: no limit
	BeforeID int64     // > 0: only ids below it (paging backwards)
}

const eventCols = `id, at, severity, kind, coalesce(service, ''), message`

func scanEvent(s rowScanner) (e Event, err error) {
	err = s.Scan(&e.ID, msTime{&e.At}, &e.Severity, &e.Kind, &e.Service, &e.Message)
	return e, err
}

// RecordEvent stores e and returns its id. The event has committed when
// this returns: only then may the caller report it anywhere.
func (s *Store) RecordEvent(ctx context.Context, e Event) (int64, error) {
	if err := validEvent(e); err != nil {
		return 0, wrapf(err, "record event")
	}
	var service any
	if e.Service != "" {
		service = e.Service
	}
	id, err := s.insert(ctx, `INSERT INTO events (at, severity, kind, service, message) VALUES (?, ?, ?, ?, ?)`,
		orNow(e.At).UnixMilli(), e.Severity, e.Kind, service, e.Message)
	return id, wrapf(err, "record event %q", e.Kind)
}

func validEvent(e Event) error {
	if e.Kind == "" {
		return errors.New("event kind is empty")
	}
	return oneOf("event severity", e.Severity, SeverityInfo, SeverityWarn, SeverityError)
}

// Events returns the events f selects, newest first.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	var w where
	w.add(f.Service != "", "service = ?", f.Service)
	w.add(f.Kind != "", "kind = ?", f.Kind)
	w.add(f.Severity != "", "severity = ?", f.Severity)
	w.add(!f.Since.IsZero(), "at >= ?", f.Since.UnixMilli())
	w.add(f.BeforeID > 0, "id < ?", f.BeforeID)
	all, err := queryAll(ctx, s.r, scanEvent,
		`SELECT `+eventCols+` FROM events`+w.String()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, limitArg(f.Limit))...)
	return all, wrapf(err, "list events")
}
