package trinotest

import (
	"context"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Tasks on workers. Trino's coordinator schedules the source stage of a
// query that reads a connector's tables on its active workers; a worker
// that dies while it holds a task fails the query with REMOTE_HOST_GONE
// (StreamingStageExecution.rewriteTransportFailure), the worker's address
// in the message. trinotest does the same in miniature: while the
// coordinator executes such a statement, it holds a task open on one
// active worker (chosen by the query id); if that worker stops answering
// before the statement ends, the query fails with Trino's error and the
// worker's address. Statements naming the system catalog
// (system.runtime.nodes) run on the coordinator alone, as in Trino; so does
// everything while no worker is announced.

// errRemoteHostGone is Trino's REMOTE_HOST_GONE (StandardErrorCode 65558).
var errRemoteHostGone = errorCode{65558, "REMOTE_HOST_GONE", "INTERNAL_ERROR"}

// remoteHostGone is the failure of a query whose task was on worker uri.
func remoteHostGone(uri string) *trinoError {
	host := uri
	if u, err := url.Parse(uri); err == nil && u.Host != "" {
		host = u.Host
	}
	return newError(errRemoteHostGone, "io.trino.spi.TrinoTransportException",
		"Could not communicate with the remote task. The node may have crashed or be under too much load. "+
			"This is probably a transient issue, so please retry your query in a few minutes. (%s)", host)
}

// onWorker runs exec (the statement on the coordinator's engine) while a
// task of query id is open on a worker, and fails the query when the worker
// goes away before the task ends.
func (s *Server) onWorker(ctx context.Context, id, sql string, exec func() (*result, *trinoError)) (*result, *trinoError) {
	uri := s.taskWorker(id, sql)
	if uri == "" {
		return exec()
	}
	body, end := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(uri, "/")+"/v1/task/"+id+".1.0", body)
	if err != nil {
		return nil, newError(errInternal, "", "%v", err)
	}
	s.signRequest(req)
	client := *s.client
	client.Timeout = 0 // a task lasts as long as its statement
	answered := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errTaskRefused
			}
		}
		answered <- err
	}()
	res, terr := exec()
	end.Close() // the statement is done: the task ends
	if err := <-answered; err != nil && ctx.Err() == nil {
		s.log.Warn("task failed: the worker does not answer", "query", id, "worker", uri, "err", err)
		return nil, remoteHostGone(uri)
	}
	return res, terr
}

type taskError string

func (e taskError) Error() string { return string(e) }

const errTaskRefused = taskError("the worker refused the task")

// taskWorker is the worker that holds query id's task: one of the active
// workers of system.runtime.nodes (announced within the TTL, answering
// /v1/info with this environment and version), by a hash of the id; "" when
// the statement runs on the coordinator alone.
func (s *Server) taskWorker(id, sql string) string {
	if !s.opts.Coordinator || namesSystemCatalog(sql) {
		return ""
	}
	var uris []string
	for _, n := range s.nodes() {
		if !n.Coordinator && n.State == "active" {
			uris = append(uris, n.HTTPURI)
		}
	}
	if len(uris) == 0 {
		return ""
	}
	sort.Strings(uris)
	h := fnv.New32a()
	h.Write([]byte(id))
	return uris[h.Sum32()%uint32(len(uris))]
}

// namesSystemCatalog reports whether sql names the system catalog.
func namesSystemCatalog(sql string) bool {
	for _, t := range tokenize(sql) {
		if (t.kind == tkIdent && strings.EqualFold(t.text, "system")) || (t.kind == tkQuoted && strings.EqualFold(t.text, `"system"`)) {
			return true
		}
	}
	return false
}

// handleTask is a worker's task: it lasts until the coordinator ends it
// (closes the request body), then reports it finished.
func (s *Server) handleTask(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"taskId": r.PathValue("taskId"), "state": "FINISHED"})
}
