package trinotest

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // the SQL engine behind the Trino protocol
)

// column is a result column as Trino sends it in QueryResults.
type column struct {
	Name          string        `json:"name"`
	Type          string        `json:"type"`
	TypeSignature typeSignature `json:"typeSignature"`
}

type typeSignature struct {
	RawType   string         `json:"rawType"`
	Arguments []typeArgument `json:"arguments"`
}

type typeArgument struct {
	Kind  string `json:"kind"`
	Value any    `json:"value"`
}

// nodeRow is one row of system.runtime.nodes.
type nodeRow struct {
	NodeID, HTTPURI, Version string
	Coordinator              bool
	State                    string // lowercase, as Trino prints it: active, shutting_down…
}

// schemas lists the catalogs and schemas the engine knows, with their tables.
var schemas = map[string]map[string][]string{
	"tpch":   {"tiny": {"customer", "nation", "region"}},
	"system": {"runtime": {"nodes"}},
}

var nodesTable = tableName{"system", "runtime", "nodes"}

// engine runs rewritten statements on an in-memory SQLite database. One
// statement runs at a time: the nodes table is refreshed for the statement
// that reads it.
type engine struct {
	mu sync.Mutex
	db *sql.DB
}

func newEngine() (*engine, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("trinotest: open SQLite: %w", err)
	}
	// One connection: an in-memory database lives and dies with it.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	e := &engine{db: db}
	if err := e.load(); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *engine) close() error { return e.db.Close() }

// load creates the tables with Trino's column types as declared types, so
// that result columns report them.
func (e *engine) load() error {
	tx, err := e.db.Begin()
	if err != nil {
		return fmt.Errorf("trinotest: load TPC-H: %w", err)
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TABLE "tpch.tiny.nation" (nationkey BIGINT, name VARCHAR(25), regionkey BIGINT, comment VARCHAR(152))`,
		`CREATE TABLE "tpch.tiny.region" (regionkey BIGINT, name VARCHAR(25), comment VARCHAR(152))`,
		`CREATE TABLE "tpch.tiny.customer" (custkey BIGINT, name VARCHAR(25), address VARCHAR(40), nationkey BIGINT, phone VARCHAR(15), acctbal DOUBLE, mktsegment VARCHAR(10), comment VARCHAR(117))`,
		`CREATE TABLE "system.runtime.nodes" (node_id VARCHAR, http_uri VARCHAR, node_version VARCHAR, coordinator BOOLEAN, state VARCHAR)`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s); err != nil {
			return fmt.Errorf("trinotest: %s: %w", s, err)
		}
	}
	for _, n := range tpchNations {
		if _, err := tx.Exec(`INSERT INTO "tpch.tiny.nation" VALUES (?, ?, ?, ?)`, n.key, n.name, n.region, n.note); err != nil {
			return fmt.Errorf("trinotest: load nation: %w", err)
		}
	}
	for _, r := range tpchRegions {
		if _, err := tx.Exec(`INSERT INTO "tpch.tiny.region" VALUES (?, ?, ?)`, r.key, r.name, r.note); err != nil {
			return fmt.Errorf("trinotest: load region: %w", err)
		}
	}
	for _, c := range tpchCustomers() {
		if _, err := tx.Exec(`INSERT INTO "tpch.tiny.customer" VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.custkey, c.name, c.address, c.nationkey, c.phone, c.acctbal, c.segment, c.comment); err != nil {
			return fmt.Errorf("trinotest: load customer: %w", err)
		}
	}
	return tx.Commit()
}

// knownTable reports whether a Trino table exists, as Trino's analyzer would.
func knownTable(n tableName) *trinoError {
	cat, ok := schemas[n.catalog]
	if !ok {
		return newError(errCatalogNotFnd, "", "Catalog '%s' not found", n.catalog)
	}
	tables, ok := cat[n.schema]
	if !ok {
		return newError(errSchemaNotFnd, "", "Schema '%s' does not exist", n.catalog+"."+n.schema)
	}
	for _, t := range tables {
		if t == n.table {
			return nil
		}
	}
	return newError(errTableNotFnd, "", "Table '%s' does not exist", n)
}

// result is a finished statement's columns and JSON-ready rows.
type result struct {
	columns []column
	rows    [][]any
}

// run executes a SELECT. nodes is called only when the statement reads
// system.runtime.nodes. With access control, the session user's row
// filters and column masks apply and the tables and columns the statement
// reads are checked (see restrict.go).
func (e *engine) run(ctx context.Context, stmt string, sess session, ac *AccessControl, nodes func() []nodeRow) (*result, *trinoError) {
	rewritten, refs, terr := rewrite(stmt, sess, knownTable)
	if terr != nil {
		return nil, terr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, newError(errInternal, "", "%v", err)
	}
	defer conn.Close()
	for _, t := range refs {
		if t.name == nodesTable {
			if err := setNodes(ctx, conn, nodes()); err != nil {
				return nil, newError(errInternal, "", "%v", err)
			}
			break
		}
	}
	if ac != nil {
		drop, terr := e.restrictTables(ctx, conn, ac, sess.user, refs)
		if terr != nil {
			return nil, terr
		}
		defer drop()
		read, err := columnsRead(ctx, conn, rewritten)
		if err != nil {
			return nil, sqliteError(stmt, err)
		}
		if terr := checkColumns(ac, sess.user, refs, read); terr != nil {
			return nil, terr
		}
	}
	rows, err := conn.QueryContext(ctx, rewritten)
	if err != nil {
		return nil, sqliteError(stmt, err)
	}
	defer rows.Close()
	return collect(stmt, rows)
}

func setNodes(ctx context.Context, conn *sql.Conn, nodes []nodeRow) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM "system.runtime.nodes"`); err != nil {
		return err
	}
	for _, n := range nodes {
		if _, err := conn.ExecContext(ctx, `INSERT INTO "system.runtime.nodes" VALUES (?, ?, ?, ?, ?)`,
			n.NodeID, n.HTTPURI, n.Version, n.Coordinator, n.State); err != nil {
			return err
		}
	}
	return nil
}

// collect reads every row and types the columns: a table column keeps its
// declared Trino type, an expression gets the type of its values.
func collect(stmt string, rows *sql.Rows) (*result, *trinoError) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, sqliteError(stmt, err)
	}
	var raw [][]any
	for rows.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, sqliteError(stmt, err)
		}
		raw = append(raw, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteError(stmt, err)
	}
	res := &result{columns: make([]column, len(types))}
	for i, ct := range types {
		res.columns[i] = newColumn(columnName(ct.Name(), ct.DatabaseTypeName(), i), trinoType(ct.DatabaseTypeName(), raw, i))
	}
	for _, vals := range raw {
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i] = jsonValue(res.columns[i].TypeSignature.RawType, v)
		}
		res.rows = append(res.rows, row)
	}
	return res, nil
}

var plainName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// columnName is Trino's name for result column i: the column or alias name,
// or _colN for an unnamed expression.
func columnName(name, decl string, i int) string {
	name = strings.ToLower(name)
	if decl == "" && !plainName.MatchString(name) {
		return "_col" + strconv.Itoa(i)
	}
	return name
}

// trinoType returns the Trino type of column i.
func trinoType(decl string, rows [][]any, i int) string {
	if decl != "" {
		return strings.ToLower(decl)
	}
	typ := "unknown"
	for _, r := range rows {
		switch r[i].(type) {
		case int64:
			if typ == "unknown" {
				typ = "bigint"
			}
		case float64:
			typ = "double"
		case string:
			return "varchar"
		case []byte:
			return "varbinary"
		}
	}
	return typ
}

var typeWithArgs = regexp.MustCompile(`^([a-z ]+)\((\d+)(?:,\s*(\d+))?\)$`)

// newColumn builds the column with the typeSignature Trino sends: varchar
// without a length carries the unbounded length 2147483647.
func newColumn(name, typ string) column {
	sig := typeSignature{RawType: typ, Arguments: []typeArgument{}}
	if m := typeWithArgs.FindStringSubmatch(typ); m != nil {
		sig.RawType = m[1]
		for _, a := range m[2:] {
			if a != "" {
				n, _ := strconv.ParseInt(a, 10, 64)
				sig.Arguments = append(sig.Arguments, typeArgument{Kind: "LONG", Value: n})
			}
		}
	} else if typ == "varchar" {
		sig.Arguments = append(sig.Arguments, typeArgument{Kind: "LONG", Value: int64(math.MaxInt32)})
	}
	return column{Name: name, Type: typ, TypeSignature: sig}
}

// jsonValue encodes a SQLite value as Trino encodes a value of rawType.
func jsonValue(rawType string, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int64:
		switch rawType {
		case "boolean":
			return x != 0
		case "double", "real":
			return float64(x)
		case "decimal":
			return strconv.FormatInt(x, 10)
		}
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		case rawType == "decimal":
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
	case []byte:
		return x // encoding/json writes base64, as Trino sends varbinary
	}
	return v
}

var (
	sqliteNear     = regexp.MustCompile(`near "((?:[^"]|"")*)": syntax error`)
	sqliteNoColumn = regexp.MustCompile(`no such column: (\S+)`)
	sqliteNoFunc   = regexp.MustCompile(`no such function: (\S+)`)
	sqliteNoTable  = regexp.MustCompile(`no such table: (\S+)`)
	sqliteSuffix   = regexp.MustCompile(`^(?:SQL logic error: )?(.*?)(?: \(\d+\))?$`)
)

// sqliteError turns a SQLite failure into the Trino error a Trino analyzer
// or parser would raise for the same statement.
func sqliteError(stmt string, err error) *trinoError {
	msg := sqliteSuffix.FindStringSubmatch(err.Error())[1]
	at := func(word string) (int, int) {
		if i := strings.Index(strings.ToLower(stmt), strings.ToLower(word)); i >= 0 {
			return position(stmt, i)
		}
		return 1, 1
	}
	if m := sqliteNear.FindStringSubmatch(msg); m != nil {
		l, c := at(m[1])
		return newLocatedError(errSyntax, l, c, "mismatched input '%s'", m[1])
	}
	if strings.Contains(msg, "incomplete input") {
		l, c := position(stmt, len(stmt))
		return newLocatedError(errSyntax, l, c, "mismatched input '<EOF>'")
	}
	if m := sqliteNoColumn.FindStringSubmatch(msg); m != nil {
		l, c := at(m[1])
		return newLocatedError(errColumnNotFnd, l, c, "Column '%s' cannot be resolved", strings.ToLower(m[1]))
	}
	if m := sqliteNoFunc.FindStringSubmatch(msg); m != nil {
		l, c := at(m[1])
		return newLocatedError(errFunctionNotFnd, l, c, "Function '%s' not registered", strings.ToLower(m[1]))
	}
	if m := sqliteNoTable.FindStringSubmatch(msg); m != nil {
		l, c := at(m[1])
		return newLocatedError(errTableNotFnd, l, c, "Table '%s' does not exist", m[1])
	}
	return newError(errGenericUser, "", "%s", msg)
}
