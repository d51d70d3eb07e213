package trinotest

import (
	"moat/trino/internalauth"
	"net/http"
	"time"
)

// Internal authentication, as Trino's InternalAuthenticationManager does it:
// every request one node sends another carries X-Trino-Internal-Bearer, a
// JWT signed HS256 with the SHA-256 of internal-communication.shared-secret
// (the environment name when no secret is configured), subject the sender's
// node.id, expiring 5 minutes after it was made.

// internalUser is the user of an internally authenticated request (Trino's
// Identity.forUser("<internal>") with an InternalPrincipal).
const internalUser = "<internal>"

// isInternalRequest reports whether r claims to come from another node.
func isInternalRequest(r *http.Request) bool {
	return r.Header.Get(internalauth.InternalBearerHeader) != ""
}

// authenticateInternal checks an internal request's JWT. A bad one is a 401
// with an empty body, and Trino logs "Internal authentication failed".
func (s *Server) authenticateInternal(r *http.Request) (string, *authError) {
	subject, err := internalauth.VerifyInternal(s.internalKey, r.Header.Get(internalauth.InternalBearerHeader), time.Now())
	if err != nil {
		s.log.Error("Internal authentication failed", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "err", err)
		return "", &authError{status: http.StatusUnauthorized, internal: true}
	}
	return subject, nil
}

// internalOnly guards Trino's INTERNAL_ONLY resources (node announcements):
// without the internal header 403 "Internal only resource"; with a bad JWT
// 401.
func (s *Server) internalOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !isInternalRequest(r) {
			http.Error(w, "Internal only resource", http.StatusForbidden)
			return
		}
		if _, aerr := s.authenticateInternal(r); aerr != nil {
			writeAuthError(w, aerr)
			return
		}
		next(w, r)
	}
}

// signRequest adds this node's internal bearer token to an outgoing request,
// as Trino's internal HTTP clients do on every request.
func (s *Server) signRequest(req *http.Request) {
	req.Header.Set(internalauth.InternalBearerHeader, internalauth.SignInternal(s.internalKey, s.opts.NodeID, time.Now()))
}
