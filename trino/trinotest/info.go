package trinotest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// serverInfo is Trino's ServerInfo JSON (GET /v1/info).
type serverInfo struct {
	NodeID      string      `json:"nodeId"`
	State       string      `json:"state"`
	NodeVersion nodeVersion `json:"nodeVersion"`
	Environment string      `json:"environment"`
	Coordinator bool        `json:"coordinator"`
	Starting    bool        `json:"starting"`
	Uptime      string      `json:"uptime"`
}

type nodeVersion struct {
	Version string `json:"version"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, serverInfo{
		NodeID:      s.opts.NodeID,
		State:       s.State(),
		NodeVersion: nodeVersion{s.opts.Version},
		Environment: s.opts.Environment,
		Coordinator: s.opts.Coordinator,
		Starting:    s.starting.Load(),
		Uptime:      airliftDuration(time.Since(s.startTime)),
	})
}

func (s *Server) handleGetState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

func (s *Server) handleInfoCoordinator(w http.ResponseWriter, r *http.Request) {
	if !s.opts.Coordinator {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handlePutState is Trino's management-write endpoint: the caller must
// authenticate, may impersonate only as the rules allow, and must be allowed
// to write system information; an internal request (another node, signed
// with the shared secret) needs no authorization.
func (s *Server) handlePutState(w http.ResponseWriter, r *http.Request) {
	principal, aerr := s.authenticate(r)
	if aerr != nil {
		writeAuthError(w, aerr)
		return
	}
	user := sessionUser(r, principal)
	if principal == internalUser && isInternalRequest(r) {
		user = principal
	} else if (user != principal && !canImpersonate(s.opts.Impersonation, principal, user)) ||
		!canWriteSystemInformation(s.opts.SystemInformation, user) {
		http.Error(w, "Management only resource", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<10))
	var state string
	if err == nil {
		err = json.Unmarshal(body, &state)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("Invalid node state %q: want a JSON string such as \"SHUTTING_DOWN\"", body), http.StatusBadRequest)
		return
	}
	if cur := s.State(); state != cur && state != StateShuttingDown {
		http.Error(w, fmt.Sprintf("Invalid state transition %s to %s", cur, state), http.StatusBadRequest)
		return
	}
	if state == StateShuttingDown {
		s.requestShutdown(user)
	}
	w.WriteHeader(http.StatusOK)
}

// requestShutdown starts Trino's graceful shutdown once: the node reports
// SHUTTING_DOWN and stops announcing; GracefulShutdownHandler then waits the
// grace period before starting, once more so the coordinator sees the state,
// (drains tasks: trinotest has none) and once more so the coordinator sees
// the tasks end, then the process exits 0: Done is closed after three grace
// periods.
func (s *Server) requestShutdown(by string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateShuttingDown {
		return
	}
	s.state = StateShuttingDown
	s.log.Info("Shutdown requested", "user", by, "grace_period", s.opts.GracePeriod)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(3 * s.opts.GracePeriod)
		defer t.Stop()
		select {
		case <-t.C:
			s.log.Info("Graceful shutdown complete")
			close(s.done)
		case <-s.ctx.Done():
		}
	}()
}

// airliftDuration formats d as airlift's Duration.toString: the most succinct
// unit with two decimals, e.g. "6.40m".
func airliftDuration(d time.Duration) string {
	units := []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}}
	for _, u := range units {
		if d >= u.size {
			return fmt.Sprintf("%.2f%s", float64(d)/float64(u.size), u.name)
		}
	}
	return fmt.Sprintf("%.2fns", float64(d))
}

// sessionUser is the user a request asks to run as: X-Trino-User, or the
// authenticated principal.
func sessionUser(r *http.Request, principal string) string {
	if u := r.Header.Get("X-Trino-User"); u != "" {
		return u
	}
	return principal
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
