package trinotest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Column masks and row filters are Trino SQL expressions. Trino analyses
// them with their table's columns in scope: a mask must have the column's
// type or one Trino coerces to it implicitly (varchar(3) to varchar(25), but
// not varchar(28) to varchar(25)), a filter must be boolean, and neither may
// contain aggregations or window functions. trinotest runs them on SQLite,
// which has no such types, so it infers the Trino type itself for the subset
// below and refuses, with a hint, any expression outside it: literals, NULL,
// the table's columns, current_user/current_catalog/current_schema,
// || and + - * /, CAST(… AS type), IF, searched CASE, comparisons, AND, OR,
// NOT, IS [NOT] NULL, [NOT] IN (…), [NOT] LIKE, [NOT] BETWEEN, and the
// functions in scalarFunctions.

// aggregateFunctions are Trino aggregate (and common window) functions.
var aggregateFunctions = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "count_if": true, "array_agg": true,
	"bool_and": true, "bool_or": true, "every": true, "approx_distinct": true, "arbitrary": true, "any_value": true,
	"stddev": true, "variance": true, "listagg": true, "max_by": true, "min_by": true, "row_number": true,
	"rank": true, "dense_rank": true, "lag": true, "lead": true, "grouping": true,
}

// exprError is why an expression cannot be used: a Trino error (code is
// Trino's) or, with errNotSupported, something trinotest cannot evaluate
// faithfully.
type exprError struct {
	code      errorCode
	aggregate string // with errExpressionNotScalar: the call, for Trino's message
	msg       string
}

type exprParser struct {
	toks []token // without spaces
	i    int
	cols map[string]string // column name -> Trino type
	err  *exprError
}

func newExprParser(expr string, cols map[string]string) *exprParser {
	p := &exprParser{cols: cols}
	for _, t := range tokenize(expr) {
		if t.kind != tkSpace {
			p.toks = append(p.toks, t)
		}
	}
	return p
}

// exprType returns the Trino type of expr (a mask or a filter) over cols.
func exprType(expr string, cols map[string]string) (string, *exprError) {
	p := newExprParser(expr, cols)
	typ := p.or()
	if p.err == nil && p.i < len(p.toks) {
		p.unsupported("%q", p.toks[p.i].text)
	}
	if p.err != nil {
		return "", p.err
	}
	return typ, nil
}

func (p *exprParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{kind: tkSpace}
}

func (p *exprParser) next() token { t := p.peek(); p.i++; return t }

func (p *exprParser) accept(words ...string) bool {
	for k, w := range words {
		if p.i+k >= len(p.toks) || !(p.toks[p.i+k].isWord(w) || p.toks[p.i+k].text == w) {
			return false
		}
	}
	p.i += len(words)
	return true
}

func (p *exprParser) expect(w string) {
	if p.err == nil && !p.accept(w) {
		p.unsupported("expected %s at %q", w, p.peek().text)
	}
}

func (p *exprParser) unsupported(format string, args ...any) {
	if p.err == nil {
		p.err = &exprError{code: errNotSupported, msg: "trinotest cannot infer its Trino type (" + fmt.Sprintf(format, args...) +
			"): write it with literals, columns, ||, + - * /, comparisons, AND/OR/NOT, IF, CASE WHEN, CAST(… AS type) and " + scalarList}
	}
}

func (p *exprParser) mismatch(format string, args ...any) string {
	if p.err == nil {
		p.err = &exprError{code: errTypeMismatch, msg: fmt.Sprintf(format, args...)}
	}
	return "unknown"
}

func (p *exprParser) or() string {
	t := p.and()
	for p.err == nil && p.accept("or") {
		p.boolean(t, "OR")
		t = p.boolean(p.and(), "OR")
	}
	return t
}

func (p *exprParser) and() string {
	t := p.not()
	for p.err == nil && p.accept("and") {
		p.boolean(t, "AND")
		t = p.boolean(p.not(), "AND")
	}
	return t
}

func (p *exprParser) boolean(t, op string) string {
	if t != "boolean" && t != "unknown" {
		return p.mismatch("%s operand must be boolean, but was %s", op, t)
	}
	return "boolean"
}

func (p *exprParser) not() string {
	if p.accept("not") {
		return p.boolean(p.not(), "NOT")
	}
	return p.predicate()
}

// predicate is a value, optionally compared: the comparison is boolean.
func (p *exprParser) predicate() string {
	left := p.value()
	if p.err != nil {
		return left
	}
	switch {
	case p.accept("is", "not", "null"), p.accept("is", "null"):
		return "boolean"
	case p.comparison():
		p.comparable(left, p.value())
		return "boolean"
	}
	p.accept("not")
	switch {
	case p.accept("in"):
		p.expect("(")
		for p.err == nil {
			p.comparable(left, p.value())
			if !p.accept(",") {
				break
			}
		}
		p.expect(")")
	case p.accept("like"):
		p.comparable(left, p.value())
	case p.accept("between"):
		p.comparable(left, p.value())
		p.expect("and")
		p.comparable(left, p.value())
	default:
		return left
	}
	return "boolean"
}

// comparison consumes =, <>, !=, <, <=, >, >= (the tokenizer splits them
// into single characters).
func (p *exprParser) comparison() bool {
	for _, op := range [][]string{{"<", ">"}, {"!", "="}, {"<", "="}, {">", "="}, {"="}, {"<"}, {">"}} {
		if p.accept(op...) {
			return true
		}
	}
	return false
}

func (p *exprParser) comparable(a, b string) {
	if _, ok := commonType(a, b); !ok {
		p.mismatch("cannot compare %s with %s", a, b)
	}
}

// value is || and arithmetic over terms.
func (p *exprParser) value() string {
	t := p.term()
	for p.err == nil {
		switch {
		case p.accept("|", "|"):
			t = concatType(p, t, p.term())
		case p.accept("+"), p.accept("-"), p.accept("*"), p.accept("/"), p.accept("%"):
			r := p.term()
			ct, ok := commonType(t, r)
			if !ok || !isNumeric(ct) || strings.HasPrefix(ct, "decimal") {
				if ok && strings.HasPrefix(ct, "decimal") {
					p.unsupported("decimal arithmetic")
				}
				return p.mismatch("arithmetic on %s and %s", t, r)
			}
			t = ct
		default:
			return t
		}
	}
	return t
}

func concatType(p *exprParser, a, b string) string {
	an, aok := varcharLen(a)
	bn, bok := varcharLen(b)
	if a == "unknown" {
		an, aok = 0, true
	}
	if b == "unknown" {
		bn, bok = 0, true
	}
	if !aok || !bok {
		return p.mismatch("|| needs varchar operands, not %s and %s", a, b)
	}
	if an < 0 || bn < 0 {
		return "varchar"
	}
	return fmt.Sprintf("varchar(%d)", an+bn)
}

var scalarFunctions = map[string]func(p *exprParser, args []string) string{
	"substr":    sameAsFirst(true),
	"substring": sameAsFirst(true),
	"upper":     sameAsFirst(true),
	"lower":     sameAsFirst(true),
	"trim":      sameAsFirst(true),
	"ltrim":     sameAsFirst(true),
	"rtrim":     sameAsFirst(true),
	"abs":       sameAsFirst(false),
	"length":    func(*exprParser, []string) string { return "bigint" },
	"concat": func(p *exprParser, args []string) string {
		t := "varchar(0)"
		for _, a := range args {
			t = concatType(p, t, a)
		}
		return t
	},
	"coalesce": func(p *exprParser, args []string) string { return p.common(args...) },
	"if": func(p *exprParser, args []string) string {
		if len(args) < 2 || len(args) > 3 {
			return p.mismatch("IF takes 2 or 3 arguments")
		}
		p.boolean(args[0], "IF condition")
		return p.common(args[1:]...)
	},
}

const scalarList = "substr, substring, upper, lower, trim, ltrim, rtrim, abs, length, concat, coalesce"

func sameAsFirst(varchar bool) func(*exprParser, []string) string {
	return func(p *exprParser, args []string) string {
		if len(args) == 0 {
			return p.mismatch("missing argument")
		}
		if _, ok := varcharLen(args[0]); varchar && !ok {
			return p.mismatch("want a varchar argument, not %s", args[0])
		}
		return args[0]
	}
}

func (p *exprParser) common(types ...string) string {
	t := "unknown"
	for _, u := range types {
		c, ok := commonType(t, u)
		if !ok {
			return p.mismatch("no common type for %s and %s", t, u)
		}
		t = c
	}
	return t
}

func (p *exprParser) term() string {
	t := p.next()
	switch {
	case p.err != nil:
		return "unknown"
	case t.kind == tkString:
		return fmt.Sprintf("varchar(%d)", utf8.RuneCountInString(strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'")))
	case t.kind == tkNumber:
		return numberType(t.text)
	case t.text == "(":
		if p.peek().isWord("select") {
			p.unsupported("a subquery")
			return "unknown"
		}
		typ := p.or()
		p.expect(")")
		return typ
	case t.text == "-" || t.text == "+":
		typ := p.term()
		if !isNumeric(typ) && typ != "unknown" {
			return p.mismatch("unary %s on %s", t.text, typ)
		}
		return typ
	case t.isWord("select"), t.isWord("exists"), t.isWord("with"):
		p.unsupported("a subquery")
		return "unknown"
	case t.isWord("null"):
		return "unknown"
	case t.isWord("true"), t.isWord("false"):
		return "boolean"
	case t.isWord("current_user"), t.isWord("current_catalog"), t.isWord("current_schema"):
		return "varchar"
	case t.isWord("cast"):
		return p.cast()
	case t.isWord("case"):
		return p.caseWhen()
	case t.isName() && p.peek().text == "(":
		return p.call(t)
	case t.isName():
		name := t.name()
		for p.peek().text == "." && p.i+1 < len(p.toks) && p.toks[p.i+1].isName() {
			p.i++
			name = p.next().name()
		}
		typ, ok := p.cols[name]
		if !ok {
			p.err = &exprError{code: errColumnNotFnd, msg: fmt.Sprintf("Column '%s' cannot be resolved", name)}
			return "unknown"
		}
		return typ
	}
	p.unsupported("%q", t.text)
	return "unknown"
}

func (p *exprParser) call(fn token) string {
	name := fn.name()
	if aggregateFunctions[name] {
		start := p.i
		depth := 0
		for p.i < len(p.toks) {
			tx := p.next().text
			if tx == "(" {
				depth++
			} else if tx == ")" {
				if depth--; depth == 0 {
					break
				}
			}
		}
		var b strings.Builder
		for _, t := range p.toks[start:p.i] {
			b.WriteString(t.text)
		}
		p.err = &exprError{code: errExpressionNotScalar, aggregate: name + b.String()}
		return "unknown"
	}
	f, ok := scalarFunctions[name]
	if !ok {
		p.unsupported("function %s", name)
		return "unknown"
	}
	p.expect("(")
	var args []string
	for p.err == nil && !p.accept(")") {
		args = append(args, p.or())
		if !p.accept(",") {
			p.expect(")")
			break
		}
	}
	if p.peek().isWord("over") {
		p.err = &exprError{code: errExpressionNotScalar, aggregate: name + "(…) OVER (…)"}
	}
	if p.err != nil {
		return "unknown"
	}
	return f(p, args)
}

func (p *exprParser) cast() string {
	p.expect("(")
	p.or()
	p.expect("as")
	var b strings.Builder
	depth := 0
	for p.err == nil && p.i < len(p.toks) {
		t := p.peek()
		if t.text == ")" && depth == 0 {
			break
		}
		if t.text == "(" {
			depth++
		} else if t.text == ")" {
			depth--
		}
		if b.Len() > 0 && t.kind == tkIdent {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ToLower(p.next().text))
	}
	p.expect(")")
	typ := strings.ReplaceAll(b.String(), " (", "(")
	if typ == "int" {
		typ = "integer"
	}
	return typ
}

func (p *exprParser) caseWhen() string {
	var results []string
	for p.err == nil && p.accept("when") {
		p.boolean(p.or(), "WHEN")
		p.expect("then")
		results = append(results, p.or())
	}
	if len(results) == 0 {
		p.unsupported("a simple CASE: write CASE WHEN … THEN …")
	}
	if p.accept("else") {
		results = append(results, p.or())
	}
	p.expect("end")
	return p.common(results...)
}

func numberType(s string) string {
	switch {
	case strings.ContainsAny(s, "eE"):
		return "double"
	case strings.Contains(s, "."):
		intPart, frac, _ := strings.Cut(s, ".")
		digits := len(strings.TrimLeft(intPart, "0")) + len(frac)
		return fmt.Sprintf("decimal(%d,%d)", max(digits, 1), len(frac))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n <= 1<<31-1 {
		return "integer"
	}
	return "bigint"
}

// varcharLen returns a varchar type's length (-1 unbounded).
func varcharLen(t string) (int, bool) {
	if t == "varchar" {
		return -1, true
	}
	if rest, ok := strings.CutPrefix(t, "varchar("); ok {
		n, err := strconv.Atoi(strings.TrimSuffix(rest, ")"))
		return n, err == nil
	}
	return 0, false
}

var numericRank = map[string]int{"integer": 1, "bigint": 2, "double": 4}

func isNumeric(t string) bool {
	return numericRank[t] > 0 || strings.HasPrefix(t, "decimal")
}

// canCoerce reports whether Trino coerces from to to implicitly.
func canCoerce(from, to string) bool {
	if from == to || from == "unknown" {
		return true
	}
	if fn, ok := varcharLen(from); ok {
		tn, ok := varcharLen(to)
		return ok && (tn < 0 || (fn >= 0 && fn <= tn))
	}
	if strings.HasPrefix(from, "decimal") {
		return to == "double"
	}
	return numericRank[from] > 0 && numericRank[to] > numericRank[from]
}

// commonType is the type both coerce to, as Trino picks for IF, CASE,
// COALESCE and comparisons.
func commonType(a, b string) (string, bool) {
	switch {
	case canCoerce(a, b):
		return b, true
	case canCoerce(b, a):
		return a, true
	}
	an, aok := varcharLen(a)
	bn, bok := varcharLen(b)
	if aok && bok {
		return fmt.Sprintf("varchar(%d)", max(an, bn)), true
	}
	if isNumeric(a) && isNumeric(b) {
		return "double", true
	}
	return "", false
}
