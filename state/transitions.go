package state

import (
	"context"
	"fmt"
	"time"
)

// Transition is one change of a service's health.
type Transition struct {
	ID      int64
	Service string
	From    string
	To      string
	Reason  string
	At      time.Time // zero means now
}

const transitionCols = `id, service, from_state, to_state, reason, at`

func scanTransition(s rowScanner) (t Transition, err error) {
	err = s.Scan(&t.ID, &t.Service, &t.From, &t.To, &t.Reason, msTime{&t.At})
	return t, err
}

// RecordTransition stores t; it has committed when this returns.
func (s *Store) RecordTransition(ctx context.Context, t Transition) error {
	if t.Service == "" {
		return wrapf(fmt.Errorf("service is empty"), "record transition")
	}
	_, err := s.insert(ctx, `INSERT INTO health_transitions (service, from_state, to_state, reason, at)
		VALUES (?, ?, ?, ?, ?)`, t.Service, t.From, t.To, t.Reason, orNow(t.At).UnixMilli())
	return wrapf(err, "record transition of %q", t.Service)
}

// Transitions returns the newest limit transitions of service ("" = every
// service; limit <= 0 = all), newest first.
func (s *Store) Transitions(ctx context.Context, service string, limit int) ([]Transition, error) {
	var w where
	w.add(service != "", "service = ?", service)
	all, err := queryAll(ctx, s.r, scanTransition,
		`SELECT `+transitionCols+` FROM health_transitions`+w.String()+` ORDER BY id DESC LIMIT ?`,
		append(w.args, limitArg(limit))...)
	return all, wrapf(err, "list transitions")
}
