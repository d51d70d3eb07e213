package report

import (
	"context"
	"database/sql"
	"fmt"
)

// Querier runs sql as the Trino user runAs and streams the result.
type Querier interface {
	Query(ctx context.Context, runAs, sql string) (Rows, error)
}

// Rows is a streamed query result, read once from start to end.
type Rows interface {
	Columns() []Column
	// Next advances to the next row; false at the end or on error (see Err).
	Next() bool
	// Values is the current row, one value per column; nil is SQL NULL.
	// The slice is only valid until the next call to Next.
	Values() []any
	Err() error
	Close() error
}

// Column is a result column: its name and its SQL type as the database
// names it (e.g. "VARCHAR", "BIGINT", "TIMESTAMP").
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// DBQuerier runs queries through one database/sql pool of the official
// trino-go-client, impersonating runAs on every query by sending the
// X-Trino-User header (the pool's own user must be allowed to impersonate
// runAs by Trino's access control). The caller owns and closes DB.
type DBQuerier struct {
	DB *sql.DB
}

var _ Querier = DBQuerier{}

// Query runs query as runAs.
func (q DBQuerier) Query(ctx context.Context, runAs, query string) (Rows, error) {
	rows, err := q.DB.QueryContext(ctx, query, sql.Named("X-Trino-User", runAs))
	if err != nil {
		return nil, err
	}
	return SQLRows(rows)
}

// SQLRows adapts a *sql.Rows to Rows; on error it closes rows.
func SQLRows(rows *sql.Rows) (Rows, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, fmt.Errorf("read result columns: %w", err)
	}
	r := &sqlRows{rows: rows, cols: make([]Column, len(types))}
	r.vals = make([]any, len(types))
	r.ptrs = make([]any, len(types))
	for i, t := range types {
		r.cols[i] = Column{Name: t.Name(), Type: t.DatabaseTypeName()}
		r.ptrs[i] = &r.vals[i]
	}
	return r, nil
}

type sqlRows struct {
	rows *sql.Rows
	cols []Column
	vals []any
	ptrs []any
	err  error
}

func (r *sqlRows) Columns() []Column { return r.cols }

func (r *sqlRows) Next() bool {
	if r.err != nil || !r.rows.Next() {
		return false
	}
	clear(r.vals)
	if err := r.rows.Scan(r.ptrs...); err != nil {
		r.err = fmt.Errorf("read row: %w", err)
		return false
	}
	return true
}

func (r *sqlRows) Values() []any { return r.vals }

func (r *sqlRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *sqlRows) Close() error { return r.rows.Close() }
