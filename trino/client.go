package trino

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	trinoclient "github.com/trinodb/trino-go-client/trino"
)

// Endpoint says how to reach the coordinator and as whom.
type Endpoint struct {
	URL         string // https://host:port: the coordinator's TLS port, reached through the mesh
	User        string // the authenticated principal
	Password    string
	SessionUser string // the user the queries run as ("" = User); needs an impersonation rule
	// HTTPClient carries every request; its transport must speak TLS to
	// Trino verified against moat's CA (for moat: TLS inside the mesh mTLS
	// connection). nil = http.DefaultClient.
	HTTPClient *http.Client
	Source     string // X-Trino-Source, e.g. "moat-report"
	Catalog    string // optional default catalog
	Schema     string // optional default schema
}

// Open returns a database/sql handle on the official Trino driver whose
// requests all go through ep.HTTPClient, marked, when ep.SessionUser is set,
// X-Trino-User: ep.SessionUser (see the package documentation). It does not contact the server; errors never contain the
// password.
func Open(ctx context.Context, ep Endpoint) (*sql.DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := url.Parse(ep.URL)
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return nil, fmt.Errorf("trino endpoint %q: want https://host:port (passwords travel only over TLS)", redactURL(ep.URL))
	}
	if ep.User == "" || ep.Password == "" {
		return nil, errors.New("trino endpoint: a user and a password are required")
	}
	base := ep.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	client := *base
	if ep.SessionUser != "" {
		client.Transport = &headerTransport{base: base.Transport, sessionUser: ep.SessionUser}
	}
	server := url.URL{Scheme: u.Scheme, Host: u.Host, User: url.UserPassword(ep.User, ep.Password)}
	conf := &trinoclient.Config{
		ServerURI:  server.String(),
		Source:     ep.Source,
		Catalog:    ep.Catalog,
		Schema:     ep.Schema,
		HTTPClient: &client,
	}
	conn, err := trinoclient.NewConnector(conf)
	if err != nil {
		return nil, fmt.Errorf("trino endpoint %s: %s", u.Host, redact(err.Error(), ep.Password))
	}
	return sql.OpenDB(conn), nil
}

// headerTransport sets the session user on every request to the coordinator.
type headerTransport struct {
	base        http.RoundTripper
	sessionUser string
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("X-Trino-User", t.sessionUser)
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	s = strings.ReplaceAll(s, secret, "xxxxx")
	return strings.ReplaceAll(s, url.QueryEscape(secret), "xxxxx")
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Column is a result column.
type Column struct {
	Name string
	Type string // Trino's type name without parameters, lower case: "varchar", "bigint"
}

// Result describes a finished query.
type Result struct {
	Columns []Column
	Rows    int64
}

// Handler receives a query's result as it streams.
type Handler struct {
	Columns func(cols []Column) error // once, before the first row (optional)
	Row     func(values []any) error  // per row; values are reused between calls (optional)
}

// Query runs sql and streams its rows through h, holding one row at a time in
// memory whatever the result size. A handler error stops the query (the
// driver cancels it on the server) and is returned as is.
func Query(ctx context.Context, db *sql.DB, query string, h Handler) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return Result{}, MapError(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return Result{}, MapError(err)
	}
	res := Result{Columns: make([]Column, len(types))}
	for i, t := range types {
		res.Columns[i] = Column{Name: t.Name(), Type: strings.ToLower(t.DatabaseTypeName())}
	}
	if h.Columns != nil {
		if err := h.Columns(res.Columns); err != nil {
			return res, err
		}
	}
	values := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range values {
		ptrs[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return res, MapError(err)
		}
		res.Rows++
		if h.Row != nil {
			if err := h.Row(values); err != nil {
				return res, err
			}
		}
	}
	return res, MapError(rows.Err())
}
