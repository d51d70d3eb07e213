package webui

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"moat/state"
)

// The /api/ JSON shapes: the state rows with snake_case names.

type verifyJSON struct {
	At          time.Time `json:"at"`
	Source      string    `json:"source"`
	Destination string    `json:"destination"`
	Expected    string    `json:"expected"`
	Observed    string    `json:"observed"`
	OK          bool      `json:"ok"`
	Detail      string    `json:"detail,omitempty"`
}

func toVerifyJSON(v state.VerifyResult) verifyJSON {
	return verifyJSON{At: v.At, Source: v.Source, Destination: v.Destination, Expected: v.Expected,
		Observed: v.Observed, OK: v.OK, Detail: v.Detail}
}

type eventJSON struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Severity string    `json:"severity"`
	Kind     string    `json:"kind"`
	Service  string    `json:"service,omitempty"`
	Message  string    `json:"message"`
}

type runJSON struct {
	RunKey     string    `json:"run_key"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	RunAs      string    `json:"run_as"`
	Rows       int64     `json:"rows"`
	Bytes      int64     `json:"bytes"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	URL        string    `json:"url"` // where the dashboard serves the run
}

func toRunJSON(r state.ReportRun) runJSON {
	return runJSON{RunKey: r.RunKey, Status: r.Status, StartedAt: r.StartedAt, EndedAt: r.EndedAt, RunAs: r.RunAs,
		Rows: r.Rows, Bytes: r.Bytes, DurationMS: r.Duration.Milliseconds(), Error: r.Error,
		URL: runPath(r.Report, r.RunKey)}
}

type snapshotJSON struct {
	Snapshot
	Verify []verifyJSON `json:"verify"` // shadows Snapshot.Verify
}

type reportJSON struct {
	ReportInfo
	Runs []runJSON `json:"runs"` // shadows ReportInfo.Runs
}

func (s *Server) apiSnapshot(w http.ResponseWriter, r *http.Request) {
	snap, err := s.src.Snapshot(r.Context())
	if err != nil {
		s.apiError(w, err)
		return
	}
	writeJSON(w, snapshotJSONOf(snap))
}

func snapshotJSONOf(snap Snapshot) snapshotJSON {
	out := snapshotJSON{Snapshot: snap, Verify: make([]verifyJSON, 0, len(snap.Verify))}
	for _, v := range snap.Verify {
		out.Verify = append(out.Verify, toVerifyJSON(v))
	}
	return out
}

func (s *Server) apiMesh(w http.ResponseWriter, r *http.Request) {
	snap, err := s.src.Snapshot(r.Context())
	if err != nil {
		s.apiError(w, err)
		return
	}
	writeJSON(w, buildMatrix(snap))
}

func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	f := eventFilter(r)
	events, err := s.src.Events(r.Context(), f)
	if err != nil {
		s.apiError(w, err)
		return
	}
	out := struct {
		Events     []eventJSON `json:"events"`
		NextBefore int64       `json:"next_before,omitempty"` // pass as ?before= for the next (older) page
	}{Events: make([]eventJSON, 0, len(events)), NextBefore: nextBefore(events, f.Limit)}
	for _, e := range events {
		out.Events = append(out.Events, eventJSON{ID: e.ID, At: e.At, Severity: e.Severity, Kind: e.Kind,
			Service: e.Service, Message: e.Message})
	}
	writeJSON(w, out)
}

func (s *Server) apiReports(w http.ResponseWriter, r *http.Request) {
	reports, err := s.src.Reports(r.Context())
	if err != nil {
		s.apiError(w, err)
		return
	}
	out := make([]reportJSON, 0, len(reports))
	for _, rep := range reports {
		j := reportJSON{ReportInfo: rep, Runs: make([]runJSON, 0, len(rep.Runs))}
		for _, run := range rep.Runs {
			j.Runs = append(j.Runs, toRunJSON(run))
		}
		out = append(out, j)
	}
	writeJSON(w, out)
}

func (s *Server) apiLogs(w http.ResponseWriter, r *http.Request) {
	l, err := s.logsTail(r.Context(), r.PathValue("name"))
	if err != nil {
		s.apiError(w, err)
		return
	}
	writeJSON(w, l)
}

// Events pages hold this many events.
const eventsPerPage = 100

// eventFilter reads ?service=&kind=&severity=&before=&limit=.
func eventFilter(r *http.Request) state.EventFilter {
	q := r.URL.Query()
	f := state.EventFilter{Service: q.Get("service"), Kind: q.Get("kind"), Severity: q.Get("severity"),
		Limit: eventsPerPage}
	f.BeforeID, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 1000 {
		f.Limit = n
	}
	return f
}

// nextBefore is the ?before= of the next page, 0 when this one was the last.
func nextBefore(events []state.Event, limit int) int64 {
	if len(events) < limit || len(events) == 0 {
		return 0
	}
	return events[len(events)-1].ID
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away
}

// jsonInto writes v as one line of JSON.
func jsonInto(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// apiError answers a Source failure; errors are the Source's, which carry
// no secrets, and they name what failed.
func (s *Server) apiError(w http.ResponseWriter, err error) {
	code := http.StatusServiceUnavailable
	if nf := notFound(""); errors.As(err, &nf) {
		code = http.StatusNotFound
	}
	s.log.Warn("dashboard: request failed", "err", err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// notFound is an error for an unknown service, report or run: 404, not 503.
type notFound string

func (n notFound) Error() string { return string(n) }
