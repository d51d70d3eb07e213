package trinotest

import (
	"fmt"
	"strings"
)

// tokKind classifies a lexical token of a SQL statement.
type tokKind int

const (
	tkSpace  tokKind = iota // whitespace and comments
	tkString                // 'literal'
	tkQuoted                // "identifier"
	tkIdent                 // identifier or keyword
	tkNumber
	tkPunct
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the statement
}

// tokenize splits sql into tokens; concatenating their text gives sql back.
func tokenize(sql string) []token {
	var toks []token
	for i := 0; i < len(sql); {
		start := i
		kind := tkPunct
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			for i < len(sql) && strings.IndexByte(" \t\n\r", sql[i]) >= 0 {
				i++
			}
			kind = tkSpace
		case strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			kind = tkSpace
		case strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			i = len(sql)
			if end >= 0 {
				i = start + 2 + end + 2
			}
			kind = tkSpace
		case c == '\'' || c == '"':
			i = quotedEnd(sql, i)
			kind = tkString
			if c == '"' {
				kind = tkQuoted
			}
		case isIdentStart(c):
			for i < len(sql) && isIdentPart(sql[i]) {
				i++
			}
			kind = tkIdent
		case c >= '0' && c <= '9':
			for i < len(sql) && (isIdentPart(sql[i]) || sql[i] == '.') {
				i++
			}
			kind = tkNumber
		default:
			i++
		}
		toks = append(toks, token{kind: kind, text: sql[start:i], pos: start})
	}
	return toks
}

// quotedEnd returns the offset after the quoted token starting at i; a
// doubled quote character escapes itself.
func quotedEnd(sql string, i int) int {
	q := sql[i]
	for j := i + 1; j < len(sql); j++ {
		if sql[j] != q {
			continue
		}
		if j+1 < len(sql) && sql[j+1] == q {
			j++
			continue
		}
		return j + 1
	}
	return len(sql)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// name returns the identifier a token names, as Trino folds it (lowercase).
func (t token) name() string {
	if t.kind == tkQuoted {
		return strings.ToLower(strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`))
	}
	return strings.ToLower(t.text)
}

func (t token) isWord(w string) bool { return t.kind == tkIdent && strings.EqualFold(t.text, w) }

func (t token) isName() bool { return t.kind == tkIdent || t.kind == tkQuoted }

// position returns the 1-based line and column of byte offset pos in sql.
func position(sql string, pos int) (line, col int) {
	before := sql[:pos]
	line = 1 + strings.Count(before, "\n")
	return line, pos - strings.LastIndexByte(before, '\n')
}

// notAlias lists the words that may follow a table name without being its
// alias.
var notAlias = map[string]bool{
	"where": true, "join": true, "inner": true, "left": true, "right": true, "full": true,
	"cross": true, "natural": true, "on": true, "using": true, "group": true, "order": true,
	"limit": true, "offset": true, "fetch": true, "having": true, "union": true,
	"except": true, "intersect": true, "window": true, "tablesample": true,
}

// fromListEnd lists the words that end a FROM list.
var fromListEnd = map[string]bool{
	"where": true, "group": true, "order": true, "limit": true, "having": true, "union": true,
	"except": true, "intersect": true, "on": true, "using": true, "offset": true,
	"fetch": true, "window": true, "select": true,
}

// session is what a statement's names resolve against.
type session struct {
	user, catalog, schema string
}

// tableName is a fully qualified Trino table name.
type tableName struct{ catalog, schema, table string }

func (n tableName) String() string { return n.catalog + "." + n.schema + "." + n.table }

// rewriter turns a Trino statement into one SQLite runs: table names
// (1-, 2- or 3-part, resolved with the session's catalog and schema) become
// SQLite tables, and current_user/current_catalog/current_schema become
// literals.
type rewriter struct {
	sql    string
	toks   []token
	sess   session
	known  func(tableName) *trinoError // nil when the table exists
	out    strings.Builder
	tables []tableRef
}

// rewrite returns the SQLite statement and the tables it reads, each where
// the statement names it.
func rewrite(sql string, sess session, known func(tableName) *trinoError) (string, []tableRef, *trinoError) {
	r := &rewriter{sql: sql, toks: tokenize(sql), sess: sess, known: known}
	if err := r.run(); err != nil {
		return "", nil, err
	}
	return r.out.String(), r.tables, nil
}

func (r *rewriter) run() *trinoError {
	prev := token{kind: tkSpace}
	inFrom := false
	for i := 0; i < len(r.toks); i++ {
		t := r.toks[i]
		if t.kind == tkSpace {
			r.out.WriteString(t.text)
			continue
		}
		tablePos := prev.isWord("from") || prev.isWord("join") || (inFrom && prev.text == ",")
		switch {
		case t.isName() && tablePos && r.nextSig(i).text != "(":
			next, err := r.table(i)
			if err != nil {
				return err
			}
			i = next - 1
		case t.kind == tkIdent && prev.text != "." && r.nextSig(i).text != "(" && r.literal(t):
			// literal wrote the session value
		default:
			r.out.WriteString(t.text)
		}
		switch {
		case t.isWord("from"):
			inFrom = true
		case t.kind == tkIdent && fromListEnd[strings.ToLower(t.text)], t.text == ")":
			inFrom = false
		}
		prev = t
	}
	return nil
}

// literal writes the value of a session function and reports whether t was
// one.
func (r *rewriter) literal(t token) bool {
	var v string
	switch strings.ToLower(t.text) {
	case "current_user":
		v = r.sess.user
	case "current_catalog":
		v = r.sess.catalog
	case "current_schema":
		v = r.sess.schema
	default:
		return false
	}
	r.out.WriteString("'" + strings.ReplaceAll(v, "'", "''") + "'")
	return true
}

// nextSig returns the first non-space token after index i.
func (r *rewriter) nextSig(i int) token {
	for j := i + 1; j < len(r.toks); j++ {
		if r.toks[j].kind != tkSpace {
			return r.toks[j]
		}
	}
	return token{kind: tkSpace}
}

// table resolves the dotted name starting at token i, writes its SQLite
// table (with an alias so that table.column keeps working) and returns the
// index after the name.
func (r *rewriter) table(i int) (int, *trinoError) {
	start := r.toks[i].pos
	parts := []string{r.toks[i].name()}
	j := i + 1
	for j+1 < len(r.toks) && r.toks[j].text == "." && r.toks[j+1].isName() {
		parts = append(parts, r.toks[j+1].name())
		j += 2
	}
	line, col := position(r.sql, start)
	name, err := r.qualify(parts, line, col)
	if err != nil {
		return 0, err
	}
	if err := r.known(name); err != nil {
		err.line, err.col = line, col
		err.message = fmt.Sprintf("line %d:%d: %s", line, col, err.message)
		return 0, err
	}
	r.tables = append(r.tables, tableRef{name: name, line: line, col: col})
	r.out.WriteString(sqliteTable(name))
	if next := r.nextSig(j - 1); !next.isWord("as") && !(next.isName() && !notAlias[next.name()]) {
		r.out.WriteString(` AS "` + name.table + `"`)
	}
	return j, nil
}

// qualify completes a 1- or 2-part name with the session catalog and schema.
func (r *rewriter) qualify(parts []string, line, col int) (tableName, *trinoError) {
	switch len(parts) {
	case 3:
		return tableName{parts[0], parts[1], parts[2]}, nil
	case 2:
		if r.sess.catalog == "" {
			return tableName{}, newLocatedError(errMissingCatalog, line, col, "Catalog must be specified when session catalog is not set")
		}
		return tableName{r.sess.catalog, parts[0], parts[1]}, nil
	case 1:
		if r.sess.catalog == "" {
			return tableName{}, newLocatedError(errMissingCatalog, line, col, "Catalog must be specified when session catalog is not set")
		}
		if r.sess.schema == "" {
			return tableName{}, newLocatedError(errMissingSchema, line, col, "Schema must be specified when session schema is not set")
		}
		return tableName{r.sess.catalog, r.sess.schema, parts[0]}, nil
	}
	return tableName{}, newLocatedError(errSyntax, line, col, "Too many dots in table name: %s", strings.Join(parts, "."))
}

// sqliteTable is the SQLite table holding a Trino table.
func sqliteTable(n tableName) string { return `"` + n.String() + `"` }
