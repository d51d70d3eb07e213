package trinotest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	sqlite "modernc.org/sqlite"
)

// Trino's StandardErrorCode values for access control and its expressions.
var (
	errTypeMismatch        = errorCode{58, "TYPE_MISMATCH", "USER_ERROR"}
	errExpressionNotScalar = errorCode{74, "EXPRESSION_NOT_SCALAR", "USER_ERROR"}
)

// tableRef is a table a statement reads, where it first names it.
type tableRef struct {
	name      tableName
	line, col int
}

// restrictTables applies the row filter and column masks of each table's
// first matching rule, as Trino's analyzer inlines them: a temporary table
// of the same name and declared types (SQLite resolves an unqualified name
// to temp before main) holds the rows the filter keeps, each masked column
// holding its mask's value, and each denied column NULL (a query that reads
// one is refused by checkColumns anyway). Filters and masks are evaluated on
// the unmasked row, as Trino does. It returns a function that drops the
// temporary tables.
func (e *engine) restrictTables(ctx context.Context, conn *sql.Conn, ac *AccessControl, user string, refs []tableRef) (func(), *trinoError) {
	var made []tableName
	drop := func() {
		for _, t := range made {
			conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE temp.`+sqliteTable(t))
		}
	}
	for _, ref := range refs {
		r, ok := ac.restrictions(user, ref.name)
		if !ok || slices.Contains(made, ref.name) {
			continue
		}
		if terr := restrictTable(ctx, conn, r, user, ref); terr != nil {
			drop()
			return nil, terr
		}
		made = append(made, ref.name)
	}
	return drop, nil
}

type tableColumn struct{ name, typ string }

func tableColumns(ctx context.Context, conn *sql.Conn, t tableName) ([]tableColumn, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?, 'main')`, t.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []tableColumn
	for rows.Next() {
		var c tableColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		c.typ = strings.ToLower(c.typ)
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func restrictTable(ctx context.Context, conn *sql.Conn, r *accessTableRule, user string, ref tableRef) *trinoError {
	t := ref.name
	cols, err := tableColumns(ctx, conn, t)
	if err != nil {
		return newError(errInternal, "", "trinotest: columns of %s: %v", t, err)
	}
	types := map[string]string{}
	var decl []string
	for _, c := range cols {
		types[c.name] = c.typ
		decl = append(decl, `"`+c.name+`" `+c.typ)
	}
	located := func(code errorCode, format string, args ...any) *trinoError {
		return newLocatedError(code, ref.line, ref.col, format, args...)
	}
	var selects []string
	for _, c := range cols {
		expr := `"` + c.name + `"`
		if cc := constraintOf(r, c.name); cc != nil {
			switch {
			case cc.Allow != nil && !*cc.Allow:
				expr = "NULL"
			case cc.Mask != nil:
				what := fmt.Sprintf("column mask for '%s.%s'", t, c.name)
				mask, typ, terr := checkExpression(ctx, conn, *cc.Mask, what, cc.MaskEnvironment, user, t, types, located)
				if terr != nil {
					return terr
				}
				if !canCoerce(typ, c.typ) {
					return located(errTypeMismatch, "Expected column mask for '%s.%s' to be of type %s, but was %s", t, c.name, c.typ, typ)
				}
				expr = "(" + mask + ")"
			}
		}
		selects = append(selects, expr)
	}
	where := ""
	if r.Filter != nil {
		what := fmt.Sprintf("row filter for '%s'", t)
		filter, typ, terr := checkExpression(ctx, conn, *r.Filter, what, r.FilterEnvironment, user, t, types, located)
		if terr != nil {
			return terr
		}
		if typ != "boolean" && typ != "unknown" {
			return located(errTypeMismatch, "Expected row filter for '%s' to be of type BOOLEAN, but was %s", t, typ)
		}
		where = " WHERE (" + filter + ")"
	}
	stmts := []string{
		`CREATE TEMP TABLE ` + sqliteTable(t) + ` (` + strings.Join(decl, ", ") + `)`,
		`INSERT INTO temp.` + sqliteTable(t) + ` SELECT ` + strings.Join(selects, ", ") + ` FROM main.` + sqliteTable(t) + ` AS "` + t.table + `"` + where,
	}
	for i, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			if i == 1 {
				conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE temp.`+sqliteTable(t))
			}
			return located(errGenericUser, "applying the access rules of %s: %s", t, sqliteError(s, err).message)
		}
	}
	return nil
}

func constraintOf(r *accessTableRule, column string) *columnConstraint {
	for i := range r.Columns {
		if r.Columns[i].Name == column {
			return &r.Columns[i]
		}
	}
	return nil
}

// checkExpression analyses a mask or filter as Trino does (no aggregations,
// columns that exist, a type trinotest can infer) and returns it rewritten
// for SQLite, in the session of its table's catalog and schema, with its
// Trino type.
func checkExpression(ctx context.Context, conn *sql.Conn, expr, what string, env *expressionEnvironment, user string,
	t tableName, types map[string]string, located func(errorCode, string, ...any) *trinoError) (string, string, *trinoError) {
	title := strings.ToUpper(what[:1]) + what[1:]
	typ, xerr := exprType(expr, types)
	switch {
	case xerr != nil && xerr.code == errExpressionNotScalar:
		return "", "", located(xerr.code, "%s cannot contain aggregations, window functions or grouping operations: [%s]", title, xerr.aggregate)
	case xerr != nil && xerr.code == errNotSupported:
		return "", "", located(xerr.code, "%s: %s", title, xerr.msg)
	case xerr != nil:
		return "", "", located(xerr.code, "Invalid %s: %s", what, xerr.msg)
	case env != nil && env.User != nil && mentionsCurrentUser(expr):
		return "", "", located(errNotSupported, "%s uses current_user with an environment user (%s): trinotest does not model which user current_user names there; drop one of them", title, *env.User)
	}
	sqlExpr, _, terr := rewrite(expr, session{user: user, catalog: t.catalog, schema: t.schema}, knownTable)
	if terr != nil {
		return "", "", located(terr.code, "Invalid %s: %s", what, terr.message)
	}
	// Compile it alone, so that an error names the expression it is in.
	probe := `SELECT (` + sqlExpr + `) FROM main.` + sqliteTable(t) + ` AS "` + t.table + `" WHERE 0`
	rows, err := conn.QueryContext(ctx, probe)
	if err != nil {
		terr := sqliteError(expr, err)
		msg := terr.message
		if terr.line > 0 {
			_, msg, _ = strings.Cut(msg, ": ")
		}
		return "", "", located(terr.code, "Invalid %s: %s", what, msg)
	}
	rows.Close()
	return sqlExpr, typ, nil
}

func mentionsCurrentUser(expr string) bool {
	for _, t := range tokenize(expr) {
		if t.isWord("current_user") {
			return true
		}
	}
	return false
}

// columnsRead compiles stmt with SQLite's authorizer recording every column
// it reads (all of them for *, none for count(*)), by table.
func columnsRead(ctx context.Context, conn *sql.Conn, stmt string) (map[string][]string, error) {
	read := map[string][]string{}
	record := func(action sqlite.AuthorizerActionCode, table, column, _, _ string) sqlite.AuthorizerReturnCode {
		if action == sqlite.AuthRead && column != "" && !slices.Contains(read[table], column) {
			read[table] = append(read[table], column)
		}
		return sqlite.AuthorizerOK
	}
	register := func(fn sqlite.AuthorizerFn) error {
		return conn.Raw(func(dc any) error {
			a, ok := dc.(sqlite.AuthorizerRegisterer)
			if !ok {
				return errors.New("the SQLite driver has no authorizer")
			}
			return a.RegisterAuthorizer(fn)
		})
	}
	if err := register(record); err != nil {
		return nil, err
	}
	defer register(nil)
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
	}
	rows.Close()
	return read, rows.Err()
}

// checkColumns is Trino's access check after analysis: every table the
// statement names, with the columns it reads.
func checkColumns(ac *AccessControl, user string, refs []tableRef, read map[string][]string) *trinoError {
	for _, ref := range refs {
		if terr := ac.checkSelect(user, ref.name, read[ref.name.String()]); terr != nil {
			return terr
		}
	}
	return nil
}
