package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"moat/appliance/config"
	"moat/state"
	"moat/trino"
)

func cmdQuery() command {
	c := command{name: "query", args: `[--user U] [--format table|csv|json] "SQL"`, summary: "run SQL on Trino through the mesh",
		help: `
Runs one statement through the zero-trust mesh as moat's own identity
(orchestrator, mutual TLS to the coordinator's sidecar), impersonating --user
(default: notebook.user of moat.toml, analyst in the default), so that the
user's rights, masks and filters apply: the orchestrator itself may read no
table. Ctrl-C cancels the query on
the server. Every query is recorded (user, statement hash, duration, rows,
outcome; never a password).

Example:
  moat query --user analyst "SELECT count(*) FROM tpch.tiny.nation"`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		user := fs.String("user", "", "run as this [[user]] (default: notebook.user)")
		format := fs.String("format", "table", "output: table, csv or json")
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n == 1 })
			if err != nil {
				return err
			}
			w, ok := formatters[*format]
			if !ok {
				return usageError{fmt.Sprintf("invalid --format %q: must be table, csv or json", *format), `moat query --format csv "SELECT 1"`}
			}
			return query(ctx, env, *user, pos[0], w(env.stdout))
		})
	}
	return c
}

func query(ctx context.Context, env *cliEnv, user, sql string, out rowWriter) error {
	s, err := openStack(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	if !s.queriesTrino() {
		return errors.New("this config has no Trino (enable [mesh] and [trino])")
	}
	if user == "" && !s.cfg.HasUser(s.cfg.Notebook.User) {
		return usageError{fmt.Sprintf("no --user given, and notebook.user %q is not a [[user]] of %s", s.cfg.Notebook.User, configName(s.cfg)), "moat query --user NAME \"SELECT 1\" (a [[user]] of moat.toml)"}
	}
	if user == "" {
		user = s.cfg.Notebook.User
	}
	if !s.cfg.HasUser(user) {
		return usageError{fmt.Sprintf("--user %q is not a [[user]] of %s", user, configName(s.cfg)), "moat query --user analyst \"SELECT 1\""}
	}
	if err := s.requireRunning(ctx, config.ServiceCoordinator); err != nil {
		return err
	}
	start := time.Now()
	res, err := runQuery(ctx, s, user, sql, out)
	rec := state.Query{User: user, Source: "cli", Duration: time.Since(start), Rows: res.Rows, Outcome: state.OutcomeOK}
	rec.SetStatement(sql)
	if err != nil {
		rec.Outcome, rec.Error = state.OutcomeFailed, err.Error()
		if ctx.Err() != nil {
			rec.Outcome = state.OutcomeCancelled
		}
	}
	if _, rerr := s.store.RecordQuery(context.WithoutCancel(ctx), rec); rerr != nil {
		fmt.Fprintf(env.stderr, "warning: the query was not recorded: %v\n", rerr)
	}
	return err
}

func runQuery(ctx context.Context, s *stack, user, sql string, out rowWriter) (trino.Result, error) {
	db, err := s.control.DB(ctx, user, "moat-cli")
	if err != nil {
		return trino.Result{}, err
	}
	defer db.Close()
	res, err := trino.Query(ctx, db, sql, trino.Handler{Columns: out.header, Row: out.row})
	if err != nil {
		return res, err
	}
	return res, out.flush()
}

// rowWriter prints a result as it streams.
type rowWriter interface {
	header([]trino.Column) error
	row([]any) error
	flush() error
}

var formatters = map[string]func(io.Writer) rowWriter{
	"table": func(w io.Writer) rowWriter { return &tableWriter{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)} },
	"csv":   func(w io.Writer) rowWriter { return &csvWriter{w: csv.NewWriter(w)} },
	"json":  func(w io.Writer) rowWriter { return &jsonWriter{w: w} },
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

type tableWriter struct{ tw *tabwriter.Writer }

func (t *tableWriter) header(cols []trino.Column) error {
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, c.Name)
	}
	_, err := fmt.Fprintln(t.tw)
	return err
}

func (t *tableWriter) row(vals []any) error {
	for i, v := range vals {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		fmt.Fprint(t.tw, cell(v))
	}
	_, err := fmt.Fprintln(t.tw)
	return err
}

func (t *tableWriter) flush() error { return t.tw.Flush() }

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) header(cols []trino.Column) error {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
	}
	return c.w.Write(names)
}

func (c *csvWriter) row(vals []any) error {
	rec := make([]string, len(vals))
	for i, v := range vals {
		if v != nil {
			rec[i] = cell(v)
		}
	}
	return c.w.Write(rec)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonWriter prints one JSON object per row (JSON Lines).
type jsonWriter struct {
	w    io.Writer
	cols []trino.Column
}

func (j *jsonWriter) header(cols []trino.Column) error { j.cols = cols; return nil }

func (j *jsonWriter) row(vals []any) error {
	obj := make(map[string]any, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		obj[j.cols[i].Name] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(j.w, "%s\n", b)
	return err
}

func (j *jsonWriter) flush() error { return nil }
