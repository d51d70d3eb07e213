package trinotest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RecordedQuery is what the server saw of one statement.
type RecordedQuery struct {
	ID        string
	Principal string // the authenticated user
	User      string // the session user (X-Trino-User, or the principal)
	Source    string
	Catalog   string
	Schema    string
	SQL       string
	State     string // QUEUED, RUNNING, FINISHED or FAILED
	Pages     int    // result pages (nextUri tokens) served so far
	ErrorName string // e.g. USER_CANCELED, TABLE_NOT_FOUND; empty unless FAILED
	Error     string // the error message; empty unless FAILED
}

// query is a statement's server-side state, guarded by Server.mu.
type query struct {
	rec      RecordedQuery
	slug     string
	sess     session
	prepared map[string]string // X-Trino-Prepared-Statement
	created  time.Time
	executed bool
	res      *result
	err      *trinoError
}

// queryResults is Trino's QueryResults JSON.
type queryResults struct {
	ID       string      `json:"id"`
	InfoURI  string      `json:"infoUri"`
	NextURI  string      `json:"nextUri,omitempty"`
	Columns  []column    `json:"columns,omitempty"`
	Data     [][]any     `json:"data,omitempty"`
	Stats    stats       `json:"stats"`
	Error    *queryError `json:"error,omitempty"`
	Warnings []any       `json:"warnings"`
}

type stats struct {
	State              string  `json:"state"`
	Queued             bool    `json:"queued"`
	Scheduled          bool    `json:"scheduled"`
	ProgressPercentage float64 `json:"progressPercentage"`
	Nodes              int     `json:"nodes"`
	TotalSplits        int     `json:"totalSplits"`
	QueuedSplits       int     `json:"queuedSplits"`
	RunningSplits      int     `json:"runningSplits"`
	CompletedSplits    int     `json:"completedSplits"`
	CPUTimeMillis      int64   `json:"cpuTimeMillis"`
	WallTimeMillis     int64   `json:"wallTimeMillis"`
	QueuedTimeMillis   int64   `json:"queuedTimeMillis"`
	ElapsedTimeMillis  int64   `json:"elapsedTimeMillis"`
	ProcessedRows      int64   `json:"processedRows"`
	ProcessedBytes     int64   `json:"processedBytes"`
	PhysicalInputBytes int64   `json:"physicalInputBytes"`
	PeakMemoryBytes    int64   `json:"peakMemoryBytes"`
	SpilledBytes       int64   `json:"spilledBytes"`
}

func (s *Server) handlePostStatement(w http.ResponseWriter, r *http.Request) {
	if code := s.takeFailure(); code != 0 {
		http.Error(w, fmt.Sprintf("trinotest: injected failure %d", code), code)
		return
	}
	principal, aerr := s.authenticate(r)
	if aerr != nil {
		writeAuthError(w, aerr)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || strings.TrimSpace(string(body)) == "" {
		http.Error(w, "SQL statement is empty", http.StatusBadRequest)
		return
	}
	q := s.newQuery(r, principal, string(body))
	s.log.Info("query submitted", "query_id", q.rec.ID, "user", q.rec.User, "principal", principal, "source", q.rec.Source)
	writeJSON(w, http.StatusOK, queryResults{
		ID: q.rec.ID, InfoURI: s.infoURI(r, q), NextURI: s.nextURI(r, q, "queued", 1),
		Stats: stats{State: "QUEUED", Queued: true}, Warnings: []any{},
	})
}

// newQuery registers a statement with the session its headers carry.
func (s *Server) newQuery(r *http.Request, principal, sql string) *query {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	now := time.Now().UTC()
	q := &query{
		slug:     "x" + randomID(32),
		created:  now,
		prepared: preparedStatements(r.Header.Values("X-Trino-Prepared-Statement")),
		rec: RecordedQuery{
			ID:        fmt.Sprintf("%s_%05d_%s", now.Format("20060102_150405"), s.seq, s.coordinatorID),
			Principal: principal,
			User:      sessionUser(r, principal),
			Source:    r.Header.Get("X-Trino-Source"),
			Catalog:   r.Header.Get("X-Trino-Catalog"),
			Schema:    r.Header.Get("X-Trino-Schema"),
			SQL:       sql,
			State:     "QUEUED",
		},
	}
	q.sess = session{user: q.rec.User, catalog: q.rec.Catalog, schema: q.rec.Schema}
	s.queries[q.rec.ID] = q
	s.order = append(s.order, q.rec.ID)
	s.notifyLocked()
	return q
}

// preparedStatements decodes X-Trino-Prepared-Statement: name=urlencoded-sql
// entries, comma-separated.
func preparedStatements(values []string) map[string]string {
	m := map[string]string{}
	for _, v := range values {
		for _, entry := range strings.Split(v, ",") {
			name, enc, ok := strings.Cut(strings.TrimSpace(entry), "=")
			if !ok {
				continue
			}
			if sql, err := url.QueryUnescape(enc); err == nil {
				m[name] = sql
			}
		}
	}
	return m
}

// lookup returns the query a nextUri names, or nil.
func (s *Server) lookup(r *http.Request) *query {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries[r.PathValue("id")]
	if q == nil || q.slug != r.PathValue("slug") {
		return nil
	}
	return q
}

func (s *Server) handleGetResults(w http.ResponseWriter, r *http.Request) {
	q := s.lookup(r)
	token, err := strconv.Atoi(r.PathValue("token"))
	phase := r.PathValue("phase")
	if q == nil || err != nil || (phase != "queued" && phase != "executing") {
		http.Error(w, "Query not found", http.StatusNotFound)
		return
	}
	s.execute(q)
	if phase == "queued" {
		writeJSON(w, http.StatusOK, s.page(r, q, -1))
		return
	}
	writeJSON(w, http.StatusOK, s.page(r, q, token))
}

// execute runs the statement once: session checks, then the SQL.
func (s *Server) execute(q *query) {
	s.mu.Lock()
	if q.executed {
		s.mu.Unlock()
		return
	}
	q.executed = true
	q.rec.State = "RUNNING"
	s.notifyLocked()
	s.mu.Unlock()

	res, terr := s.run(q)

	s.mu.Lock()
	defer s.mu.Unlock()
	if q.rec.State != "RUNNING" { // cancelled meanwhile
		return
	}
	q.res = res
	if terr != nil {
		s.failLocked(q, terr)
	}
}

func (s *Server) run(q *query) (*result, *trinoError) {
	if s.starting.Load() {
		return nil, newError(errStartingUp, "", "Trino server is still initializing")
	}
	if q.rec.User != q.rec.Principal && !canImpersonate(s.opts.Impersonation, q.rec.Principal, q.rec.User) {
		e := newError(errPermission, "io.trino.spi.security.AccessDeniedException", "Access Denied: User %s cannot impersonate user %s", q.rec.Principal, q.rec.User)
		return nil, e
	}
	if !s.opts.AccessControl.canExecuteQuery(q.rec.User) {
		return nil, accessDenied("Cannot view query")
	}
	sql, terr := expandExecute(q.rec.SQL, q.prepared)
	if terr != nil {
		return nil, terr
	}
	if res, handled := showStatement(sql, q.sess); handled {
		if s.opts.AccessControl != nil {
			return nil, newError(errNotSupported, "", "trinotest does not filter SHOW output by file-based access control (Trino shows only what the user has a permission on): query the tables instead")
		}
		return res, nil
	}
	if terr := checkReadOnly(sql); terr != nil {
		return nil, terr
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
	defer cancel()
	return s.onWorker(ctx, q.rec.ID, sql, func() (*result, *trinoError) { // tasks.go
		return s.engine.run(ctx, sql, q.sess, s.opts.AccessControl, s.nodes)
	})
}

// page returns the QueryResults for a nextUri token: -1 is the answer to
// the queued URI, n >= 0 the n-th page of rows.
func (s *Server) page(r *http.Request, q *query, token int) queryResults {
	s.mu.Lock()
	defer s.mu.Unlock()
	qr := queryResults{ID: q.rec.ID, InfoURI: s.infoURI(r, q), Warnings: []any{}}
	elapsed := time.Since(q.created).Milliseconds()
	if q.err != nil {
		qr.Error = q.err.toJSON()
		qr.Stats = stats{State: "FAILED", ElapsedTimeMillis: elapsed}
		return qr
	}
	qr.Columns = q.res.columns
	if token < 0 {
		qr.NextURI = s.nextURI(r, q, "executing", 0)
		qr.Stats = stats{State: "RUNNING", Scheduled: true, Nodes: 1, ElapsedTimeMillis: elapsed}
		return qr
	}
	ps := s.opts.PageSize
	from, to := min(token*ps, len(q.res.rows)), min((token+1)*ps, len(q.res.rows))
	qr.Data = q.res.rows[from:to]
	if token+1 > q.rec.Pages {
		q.rec.Pages = token + 1
		s.notifyLocked()
	}
	st := stats{State: "RUNNING", Scheduled: true, Nodes: 1, ElapsedTimeMillis: elapsed, ProcessedRows: int64(to)}
	if to < len(q.res.rows) {
		qr.NextURI = s.nextURI(r, q, "executing", token+1)
		st.ProgressPercentage = 100 * float64(to) / float64(len(q.res.rows))
	} else {
		st.State, st.ProgressPercentage = "FINISHED", 100
		if q.rec.State == "RUNNING" {
			q.rec.State = "FINISHED"
			s.notifyLocked()
		}
	}
	qr.Stats = st
	return qr
}

func (s *Server) handleCancelResults(w http.ResponseWriter, r *http.Request) {
	q := s.lookup(r)
	if q == nil {
		http.Error(w, "Query not found", http.StatusNotFound)
		return
	}
	s.cancelQuery(q)
	w.WriteHeader(http.StatusNoContent)
}

// handleCancelQuery is DELETE /v1/query/{id}, which the Go client sends when
// its context ends.
func (s *Server) handleCancelQuery(w http.ResponseWriter, r *http.Request) {
	if _, aerr := s.authenticate(r); aerr != nil {
		writeAuthError(w, aerr)
		return
	}
	s.mu.Lock()
	q := s.queries[r.PathValue("id")]
	s.mu.Unlock()
	if q != nil {
		s.cancelQuery(q)
	}
	w.WriteHeader(http.StatusNoContent)
}

// cancelQuery fails an unfinished query with USER_CANCELED, as Trino does.
func (s *Server) cancelQuery(q *query) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q.rec.State == "FINISHED" || q.rec.State == "FAILED" {
		return
	}
	s.failLocked(q, newError(errUserCanceled, "", "Query was canceled"))
	s.log.Info("query canceled", "query_id", q.rec.ID)
}

func (s *Server) failLocked(q *query, e *trinoError) {
	q.err = e
	q.rec.State, q.rec.ErrorName, q.rec.Error = "FAILED", e.code.name, e.message
	s.notifyLocked()
}

// baseURL is the URL clients reached this server at: with ProcessForwarded,
// X-Forwarded-Proto and X-Forwarded-Host win, as in Trino.
func (s *Server) baseURL(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.opts.ProcessForwarded {
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			scheme = strings.ToLower(p)
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	return scheme + "://" + host
}

func (s *Server) nextURI(r *http.Request, q *query, phase string, token int) string {
	return fmt.Sprintf("%s/v1/statement/%s/%s/%s/%d", s.baseURL(r), phase, q.rec.ID, q.slug, token)
}

func (s *Server) infoURI(r *http.Request, q *query) string {
	return s.baseURL(r) + "/ui/query.html?" + q.rec.ID
}

// Queries returns every statement received, oldest first.
func (s *Server) Queries() []RecordedQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordedQuery, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.queries[id].rec)
	}
	return out
}

// WaitQuery returns the first recorded query match accepts, waiting for
// records to change until ctx ends.
func (s *Server) WaitQuery(ctx context.Context, match func(RecordedQuery) bool) (RecordedQuery, error) {
	for {
		s.mu.Lock()
		changed := s.changed
		for _, id := range s.order {
			if rec := s.queries[id].rec; match(rec) {
				s.mu.Unlock()
				return rec, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return RecordedQuery{}, fmt.Errorf("trinotest: no matching query: %w", ctx.Err())
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var executeRE = regexp.MustCompile(`(?is)^\s*EXECUTE\s+(\w+)(?:\s+USING\s+(.*))?$`)

// expandExecute turns "EXECUTE name USING args", which the Go client sends
// for a query with arguments, into the prepared statement with the argument
// literals in place of its ? markers.
func expandExecute(sql string, prepared map[string]string) (string, *trinoError) {
	m := executeRE.FindStringSubmatch(strings.TrimRight(strings.TrimSpace(sql), ";"))
	if m == nil {
		return sql, nil
	}
	stmt, ok := prepared[m[1]]
	if !ok {
		return "", newLocatedError(errNotFound, 1, 1, "Prepared statement not found: %s", m[1])
	}
	args := splitArgs(m[2])
	var out strings.Builder
	n := 0
	for _, t := range tokenize(stmt) {
		if t.kind == tkPunct && t.text == "?" {
			if n >= len(args) {
				return "", newError(errInvalidParameter, "", "Incorrect number of parameters: expected %d but found %d", n+1, len(args))
			}
			out.WriteString(sqliteLiteral(args[n]))
			n++
			continue
		}
		out.WriteString(t.text)
	}
	return out.String(), nil
}

// splitArgs splits a USING list on commas outside quotes and parentheses.
func splitArgs(s string) []string {
	var args []string
	depth, start := 0, 0
	toks := tokenize(s)
	for _, t := range toks {
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 && t.kind == tkPunct {
				args = append(args, strings.TrimSpace(s[start:t.pos]))
				start = t.pos + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		args = append(args, rest)
	}
	return args
}

var typedLiteral = regexp.MustCompile(`(?is)^(DATE|TIMESTAMP|TIME|DECIMAL|REAL|DOUBLE|INTERVAL)\s+('.*')$`)

// sqliteLiteral drops the type of a typed Trino literal such as DATE '…'.
func sqliteLiteral(lit string) string {
	if m := typedLiteral.FindStringSubmatch(lit); m != nil {
		return m[2]
	}
	return lit
}

// otherStatements are Trino statements trinotest does not run.
var otherStatements = map[string]bool{
	"insert": true, "update": true, "delete": true, "merge": true, "create": true, "drop": true,
	"alter": true, "truncate": true, "comment": true, "call": true, "grant": true, "revoke": true,
	"deny": true, "set": true, "reset": true, "use": true, "start": true, "commit": true,
	"rollback": true, "explain": true, "describe": true, "prepare": true, "deallocate": true,
	"analyze": true, "refresh": true, "show": true,
}

// checkReadOnly allows what the tpch and system catalogs allow: queries.
func checkReadOnly(sql string) *trinoError {
	for _, t := range tokenize(sql) {
		if t.kind == tkSpace || t.text == "(" {
			continue
		}
		word := strings.ToLower(t.text)
		switch {
		case word == "select" || word == "with" || word == "values":
			return nil
		case otherStatements[word]:
			l, c := position(sql, t.pos)
			return newLocatedError(errNotSupported, l, c, "trinotest runs only SELECT, WITH, VALUES and SHOW CATALOGS/SCHEMAS/TABLES, not this %s statement", strings.ToUpper(word))
		}
		l, c := position(sql, t.pos)
		return newLocatedError(errSyntax, l, c, "mismatched input '%s'", t.text)
	}
	return newLocatedError(errSyntax, 1, 1, "mismatched input '<EOF>'")
}

var (
	showCatalogsRE = regexp.MustCompile(`(?is)^\s*SHOW\s+CATALOGS\s*;?\s*$`)
	showSchemasRE  = regexp.MustCompile(`(?is)^\s*SHOW\s+SCHEMAS(?:\s+(?:FROM|IN)\s+(\w+))?\s*;?\s*$`)
	showTablesRE   = regexp.MustCompile(`(?is)^\s*SHOW\s+TABLES(?:\s+(?:FROM|IN)\s+(?:(\w+)\.)?(\w+))?\s*;?\s*$`)
)

// showStatement answers SHOW CATALOGS, SHOW SCHEMAS and SHOW TABLES.
func showStatement(sql string, sess session) (*result, bool) {
	var name string
	var values []string
	switch {
	case showCatalogsRE.MatchString(sql):
		name = "Catalog"
		for c := range schemas {
			values = append(values, c)
		}
	case showSchemasRE.MatchString(sql):
		cat := strings.ToLower(showSchemasRE.FindStringSubmatch(sql)[1])
		if cat == "" {
			cat = sess.catalog
		}
		name = "Schema"
		for sch := range schemas[cat] {
			values = append(values, sch)
		}
	case showTablesRE.MatchString(sql):
		m := showTablesRE.FindStringSubmatch(sql)
		cat, sch := strings.ToLower(m[1]), strings.ToLower(m[2])
		if cat == "" {
			cat = sess.catalog
		}
		if sch == "" {
			sch = sess.schema
		}
		name = "Table"
		values = append(values, schemas[cat][sch]...)
	default:
		return nil, false
	}
	sort.Strings(values)
	res := &result{columns: []column{newColumn(name, "varchar")}}
	for _, v := range values {
		res.rows = append(res.rows, []any{v})
	}
	return res, true
}
