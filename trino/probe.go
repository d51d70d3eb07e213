package trino

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"moat/trino/internalauth"
)

// NodeInfo is a node's GET /v1/info: public, no authentication.
type NodeInfo struct {
	Version     string
	Environment string
	Coordinator bool
	Starting    bool
	Uptime      string
}

type infoJSON struct {
	NodeVersion struct {
		Version string `json:"version"`
	} `json:"nodeVersion"`
	Environment string `json:"environment"`
	Coordinator bool   `json:"coordinator"`
	Starting    bool   `json:"starting"`
	Uptime      string `json:"uptime"`
}

// maxBody bounds what is read from a small Trino answer.
const maxBody = 64 << 10

// Info reads baseURL/v1/info. A node is ready for work when Starting is false.
func Info(ctx context.Context, client *http.Client, baseURL string) (NodeInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/v1/info", nil)
	if err != nil {
		return NodeInfo{}, fmt.Errorf("trino info: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return NodeInfo{}, fmt.Errorf("trino info at %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return NodeInfo{}, fmt.Errorf("trino info at %s: reading the answer: %w", baseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return NodeInfo{}, fmt.Errorf("trino info at %s: %s: %s", baseURL, resp.Status, snippet(body))
	}
	var j infoJSON
	if err := json.Unmarshal(body, &j); err != nil {
		return NodeInfo{}, fmt.Errorf("trino info at %s: not Trino's /v1/info answer: %w", baseURL, err)
	}
	return NodeInfo{Version: j.NodeVersion.Version, Environment: j.Environment, Coordinator: j.Coordinator, Starting: j.Starting, Uptime: j.Uptime}, nil
}

// ActiveWorkersSQL counts the workers the coordinator can schedule on.
const ActiveWorkersSQL = "SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'"

// ActiveWorkers runs ActiveWorkersSQL; the cluster is ready when it equals
// the number of workers.
func ActiveWorkers(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, ActiveWorkersSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting active Trino workers: %w", MapError(err))
	}
	return n, nil
}

// NodeStatesSQL lists every node the coordinator knows: a worker appears
// once it has finished starting and announced itself, and the coordinator
// reaches its /v1/info.
const NodeStatesSQL = "SELECT node_id, state FROM system.runtime.nodes"

// NodeStates runs NodeStatesSQL: node ID → state ("active",
// "shutting_down", …, lowercase as Trino prints it).
func NodeStates(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, NodeStatesSQL)
	if err != nil {
		return nil, fmt.Errorf("reading Trino's nodes: %w", MapError(err))
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("reading Trino's nodes: %w", MapError(err))
		}
		out[id] = state
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading Trino's nodes: %w", MapError(err))
	}
	return out, nil
}

// WorkerReady says whether the coordinator lists worker id as active, as
// NodeStates read it; the error says what it lists instead.
func WorkerReady(states map[string]string, id string) error {
	switch st, ok := states[id]; {
	case !ok:
		return fmt.Errorf("the coordinator does not list %s yet (a worker is listed once it has started and announced itself)", id)
	case st != "active":
		return fmt.Errorf("the coordinator lists %s as %s, not active", id, st)
	}
	return nil
}

// Shutdown asks the node at baseURL to shut down gracefully: it stops taking
// tasks, finishes the running ones within shutdown.grace-period and exits.
// user needs system_information write (the management user). baseURL must be
// https: Trino refuses a password over plain HTTP, and it must not travel in
// clear text anyway.
func Shutdown(ctx context.Context, client *http.Client, baseURL, user, password string) error {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("trino shutdown: %q is not a URL", baseURL)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("trino shutdown: refusing to send the password of %s over %s to %s; use https", user, u.Scheme, u.Host)
	}
	return putShutdown(ctx, client, u, user, func(req *http.Request) {
		req.Header.Set("X-Trino-User", user)
		req.SetBasicAuth(user, password)
	})
}

// ShutdownInternal asks a node to shut down gracefully as a member of the
// cluster: the request is signed with the shared secret (Trino's internal
// authentication, accepted before any password check), so no password is
// needed. baseURL is the node's HTTPS port (its only one) and client must
// verify it against moat's CA. subject names the sender in the token (e.g.
// "moat").
func ShutdownInternal(ctx context.Context, client *http.Client, baseURL, sharedSecret, subject string) error {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("trino shutdown: %q is not a URL", baseURL)
	}
	return putShutdown(ctx, client, u, subject, bearer(signShutdown(sharedSecret, subject, time.Now())))
}

func signShutdown(sharedSecret, subject string, now time.Time) string {
	return internalauth.SignInternal(internalauth.InternalKey(sharedSecret), subject, now)
}

func bearer(token string) func(*http.Request) {
	return func(req *http.Request) { req.Header.Set(internalauth.InternalBearerHeader, token) }
}

// ShutdownRequest is ShutdownInternal prepared in one place and sent from
// another: moat signs it on the host and sends it from inside the worker's
// network namespace, the only place that reaches the worker's private
// address. It holds a signed internal token (valid for
// internalauth.InternalJWTLifetime), not the shared secret; it is a
// credential all the same, so it travels as a 0600 file, never in argv.
type ShutdownRequest struct {
	URL     string `json:"url"`     // the node's HTTPS base URL
	Subject string `json:"subject"` // the sender named in the token
	Token   string `json:"token"`
	CAPEM   []byte `json:"ca_pem"` // the issuer of the node's certificate
}

// NewShutdownRequest signs a graceful shutdown of the node at baseURL.
func NewShutdownRequest(baseURL, sharedSecret, subject string, caPEM []byte, now time.Time) ShutdownRequest {
	return ShutdownRequest{URL: baseURL, Subject: subject, Token: signShutdown(sharedSecret, subject, now), CAPEM: caPEM}
}

// Send puts the node in SHUTTING_DOWN, verifying it against CAPEM.
func (r ShutdownRequest) Send(ctx context.Context) error {
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" || u.Scheme != "https" {
		return fmt.Errorf("trino shutdown: %q is not an https URL", r.URL)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(r.CAPEM) {
		return errors.New("trino shutdown: no CA certificate to verify the node with")
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	return putShutdown(ctx, client, u, r.Subject, bearer(r.Token))
}

func putShutdown(ctx context.Context, client *http.Client, u *url.URL, user string, authorize func(*http.Request)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimSuffix(u.String(), "/")+"/v1/info/state", strings.NewReader(`"SHUTTING_DOWN"`))
	if err != nil {
		return fmt.Errorf("trino shutdown: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	authorize(req)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("trino shutdown of %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("trino shutdown of %s: %s: %s: check %s's credentials (password file, shared secret)", u.Host, resp.Status, snippet(body), user)
	case http.StatusForbidden:
		return fmt.Errorf("trino shutdown of %s: %s: user %s needs system_information write in rules.json (%s)", u.Host, resp.Status, user, snippet(body))
	default:
		return fmt.Errorf("trino shutdown of %s: %s: %s", u.Host, resp.Status, snippet(body))
	}
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty answer)"
	}
	return s
}
