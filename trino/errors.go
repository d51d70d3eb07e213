package trino

import (
	"errors"
	"net/http"
	"strings"

	trinoclient "github.com/trinodb/trino-go-client/trino"
)

// QueryError is a query failure explained for a person: what happened and
// what to do. Err is the driver's error.
type QueryError struct {
	Name    string // Trino's error name (e.g. NO_NODES_AVAILABLE) or HTTP_<status>
	Message string // Trino's message
	Hint    string // what to do, "" when there is nothing to add
	Err     error
}

func (e *QueryError) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + ": " + e.Hint
}

func (e *QueryError) Unwrap() error { return e.Err }

// hints by Trino error name.
var hints = map[string]string{
	"NO_NODES_AVAILABLE":             "the coordinator has no active worker yet; wait until the workers have announced themselves (moat status), or check the workers' logs",
	"SERVER_STARTING_UP":             "Trino is still starting; try again in a few seconds",
	"SERVER_SHUTTING_DOWN":           "this Trino server is shutting down",
	"PERMISSION_DENIED":              "the user's policy in moat.toml does not allow this",
	"CATALOG_NOT_FOUND":              "the catalog is not configured or the user may not see it",
	"SCHEMA_NOT_FOUND":               "the schema does not exist or the user may not see it",
	"TABLE_NOT_FOUND":                "the table does not exist or the user may not see it",
	"EXCEEDED_LOCAL_MEMORY_LIMIT":    "the query needs more memory per worker than query.max-memory-per-node allows; raise the worker heap or simplify the query",
	"EXCEEDED_GLOBAL_MEMORY_LIMIT":   "the query needs more memory than query.max-memory allows",
	"CLUSTER_OUT_OF_MEMORY":          "the cluster ran out of memory; add workers or memory",
	"EXCEEDED_TIME_LIMIT":            "the query ran longer than allowed",
	"GENERIC_INSUFFICIENT_RESOURCES": "the cluster lacks resources for this query",
	"REMOTE_HOST_GONE":               "a worker left during the query; run it again",
	"TOO_MANY_REQUESTS_FAILED":       "workers stopped answering; check their health",
	"PAGE_TRANSPORT_TIMEOUT":         "workers stopped answering; check their health",
	"ADMINISTRATIVELY_KILLED":        "an administrator killed the query",
	"QUERY_REJECTED":                 "the cluster rejected the query (resource group limits)",
	"QUERY_QUEUE_FULL":               "too many queries are queued; try again later",
	"EXCEEDED_SCAN_LIMIT":            "the query reads more data than allowed",
	"EXCEEDED_WRITE_LIMIT":           "the query writes more data than allowed",
	"FUNCTION_NOT_FOUND":             "the function does not exist or the user may not execute it",
	"INSUFFICIENT_RESOURCES":         "the cluster lacks resources for this query",
	"EXCEEDED_CPU_LIMIT":             "the query used more CPU time than allowed",
	"EXCEEDED_SPILL_LIMIT":           "the query spilled more data than allowed",
	"REMOTE_TASK_ERROR":              "a worker failed; check its health",
	"COLUMN_NOT_FOUND":               "the column does not exist or the user may not see it",
}

// noNodesMessage is how Trino words NO_NODES_AVAILABLE.
const noNodesMessage = "No nodes available to run query"

// MapError turns a driver error into a *QueryError a person can act on;
// other errors (context cancelled, network) pass through.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	var te *trinoclient.ErrTrino
	if errors.As(err, &te) {
		name := te.ErrorName
		if strings.Contains(te.Message, noNodesMessage) {
			name = "NO_NODES_AVAILABLE"
		}
		return &QueryError{Name: name, Message: te.Message, Hint: hints[name], Err: err}
	}
	var qf *trinoclient.ErrQueryFailed
	if errors.As(err, &qf) {
		return httpError(qf, err)
	}
	return err
}

func httpError(qf *trinoclient.ErrQueryFailed, err error) error {
	body := ""
	if qf.Reason != nil {
		body = snippet([]byte(qf.Reason.Error()))
	}
	e := &QueryError{Name: "HTTP_" + http.StatusText(qf.StatusCode), Message: "Trino answered " + http.StatusText(qf.StatusCode) + ": " + body, Err: err}
	switch qf.StatusCode {
	case http.StatusUnauthorized:
		e.Hint = "the user or password was refused; check the user's secret (moat secrets show) and that the request reached Trino over TLS"
	case http.StatusForbidden:
		e.Hint = "access denied; an impersonated user needs an impersonation rule (report owners only)"
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		e.Hint = "the coordinator is not reachable or still starting; check moat status"
	}
	if strings.Contains(body, noNodesMessage) {
		e.Name, e.Hint = "NO_NODES_AVAILABLE", hints["NO_NODES_AVAILABLE"]
	}
	return e
}
