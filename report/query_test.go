package report

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// sqliteQuerier runs queries on a real database/sql driver (SQLite) through
// SQLRows; DBQuerier's Trino header is exercised by the lead's trinotest
// end-to-end tests.
type sqliteQuerier struct{ db *sql.DB }

func (q sqliteQuerier) Query(ctx context.Context, runAs, query string) (Rows, error) {
	rows, err := q.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return SQLRows(rows)
}

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (name TEXT, n INTEGER, x REAL);
		INSERT INTO t VALUES ('a<b', 1, 1.5), (NULL, 2, NULL), ('c', NULL, -3)`)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSQLRows(t *testing.T) {
	db := openSQLite(t)
	rows, err := sqliteQuerier{db}.Query(context.Background(), "alice", "SELECT name, n, x FROM t ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for _, c := range rows.Columns() {
		cols = append(cols, c.Name+":"+c.Type)
	}
	if got := strings.Join(cols, " "); got != "name:TEXT n:INTEGER x:REAL" {
		t.Errorf("columns %s", got)
	}
	var got []string
	for rows.Next() {
		var cells []string
		for i, v := range rows.Values() {
			s, ok := formatValue(v, rows.Columns()[i].Type)
			if !ok {
				s = "NULL"
			}
			cells = append(cells, s)
		}
		got = append(got, strings.Join(cells, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "c,NULL,-3 a<b,1,1.5 NULL,2,NULL"; strings.Join(got, " ") != want {
		t.Errorf("rows %q, want %q", strings.Join(got, " "), want)
	}
}

func TestSQLRowsRun(t *testing.T) {
	r, store := newTestRunner(t, sqliteQuerier{openSQLite(t)})
	res, err := r.Run(context.Background(), Definition{Name: "sqlite", SQL: "SELECT * FROM t", RunAs: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if got := store.run(t, res.ID); got.Rows != 3 || got.Status != StatusOK {
		t.Errorf("store run %+v", got)
	}
	_, err = r.Run(context.Background(), Definition{Name: "sqlite", SQL: "SELECT nope FROM t", RunAs: "alice"})
	if err == nil || !strings.Contains(err.Error(), "no such column: nope") {
		t.Errorf("Run error = %v, want SQLite's error", err)
	}
}
