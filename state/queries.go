package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Query outcomes.
const (
	OutcomeOK        = "ok"
	OutcomeFailed    = "failed"
	OutcomeCancelled = "cancelled"
)

// previewRunes is how much of a statement the queries table keeps.
const previewRunes = 200

// Query is one SQL statement moat ran or relayed. It never holds a
// password; set the statement fields with SetStatement.
type Query struct {
	ID               int64
	At               time.Time // zero means now
	User             string    // the authenticated Trino user
	StatementHash    string    // StatementHash of the SQL
	StatementPreview string    // the SQL's first 200 characters
	Source           string    // "cli", "report:nations", "dashboard", ...
	Duration         time.Duration
	Rows             int64
	Outcome          string // ok, failed or cancelled
	Error            string
}

// StatementHash is the hex SHA-256 of sql: a statement's identity in the
// queries table.
func StatementHash(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(sum[:])
}

// StatementPreview is the first 200 characters (runes) of sql.
func StatementPreview(sql string) string {
	n := 0
	for i := range sql {
		if n == previewRunes {
			return sql[:i]
		}
		n++
	}
	return sql
}

// SetStatement fills StatementHash and StatementPreview from sql.
func (q *Query) SetStatement(sql string) {
	q.StatementHash = StatementHash(sql)
	q.StatementPreview = StatementPreview(sql)
}

const queryCols = `id, at, user, statement_hash, statement_preview, source, duration_ms, rows, outcome, error`

func scanQuery(s rowScanner) (q Query, err error) {
	var ms int64
	err = s.Scan(&q.ID, msTime{&q.At}, &q.User, &q.StatementHash, &q.StatementPreview, &q.Source,
		&ms, &q.Rows, &q.Outcome, &q.Error)
	q.Duration = time.Duration(ms) * time.Millisecond
	return q, err
}

// RecordQuery stores q and returns its id; it has committed when this returns.
func (s *Store) RecordQuery(ctx context.Context, q Query) (int64, error) {
	if err := validQuery(q); err != nil {
		return 0, wrapf(err, "record query")
	}
	id, err := s.insert(ctx, `INSERT INTO queries (at, user, statement_hash, statement_preview, source,
			duration_ms, rows, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		orNow(q.At).UnixMilli(), q.User, q.StatementHash, StatementPreview(q.StatementPreview), q.Source,
		q.Duration.Milliseconds(), q.Rows, q.Outcome, q.Error)
	return id, wrapf(err, "record query by %q", q.User)
}

func validQuery(q Query) error {
	if q.StatementHash == "" {
		return errors.New("statement hash is empty: fill it with Query.SetStatement")
	}
	return oneOf("query outcome", q.Outcome, OutcomeOK, OutcomeFailed, OutcomeCancelled)
}

// Queries returns the newest limit queries (all when limit <= 0), newest first.
func (s *Store) Queries(ctx context.Context, limit int) ([]Query, error) {
	all, err := queryAll(ctx, s.r, scanQuery, `SELECT `+queryCols+` FROM queries ORDER BY id DESC LIMIT ?`, limitArg(limit))
	return all, wrapf(err, "list queries")
}
