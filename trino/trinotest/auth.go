package trinotest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// authenticateHeader is the challenge Trino's password and insecure
// authenticators send (BasicAuthCredentials.AUTHENTICATE_HEADER).
const authenticateHeader = `Basic realm="Trino"`

// passwordFile holds a Trino password file: user -> bcrypt hash.
type passwordFile struct {
	hashes map[string][]byte
	mu     sync.Mutex
	valid  map[[32]byte]bool // successful logins, as Trino's auth-token cache keeps them
}

// parsePasswordFile reads lines "user:hash" with a bcrypt hash ($2a, $2b or
// $2y, cost >= 8, as Trino requires); blank lines are skipped.
func parsePasswordFile(b []byte) (*passwordFile, error) {
	pf := &passwordFile{hashes: map[string][]byte{}, valid: map[[32]byte]bool{}}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("password file line %d: want user:bcrypt-hash", i+1)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil || !(strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")) {
			return nil, fmt.Errorf("password file line %d: user %s: the hash is not a bcrypt hash ($2a$, $2b$ or $2y$)", i+1, user)
		}
		if cost < 8 {
			return nil, fmt.Errorf("password file line %d: user %s: bcrypt cost %d is below 8, which Trino rejects", i+1, user, cost)
		}
		pf.hashes[user] = []byte(hash)
	}
	return pf, nil
}

// check reports whether password is user's password.
func (pf *passwordFile) check(user, password string) bool {
	key := sha256.Sum256([]byte(user + "\x00" + password))
	pf.mu.Lock()
	ok := pf.valid[key]
	pf.mu.Unlock()
	if ok {
		return true
	}
	hash, found := pf.hashes[user]
	if !found || bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	pf.mu.Lock()
	pf.valid[key] = true
	pf.mu.Unlock()
	return true
}

// authError is an HTTP-level authentication failure: 401 with Trino's
// challenge, or 403.
type authError struct {
	status   int
	message  string
	internal bool // a failed internal authentication: no body, no challenge
}

// isSecure reports whether the request reached Trino over HTTPS, directly or
// (with http-server.process-forwarded) through a TLS-terminating proxy.
func (s *Server) isSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.opts.ProcessForwarded && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// authenticate returns the authenticated principal, as Trino's
// AuthenticationFilter does: an internal request (X-Trino-Internal-Bearer)
// is authenticated by its JWT alone, before any HTTP/HTTPS check, as
// internalUser; over HTTPS with a password file, HTTP basic auth
// checked against it; otherwise (plain HTTP with
// http-server.authentication.allow-insecure-over-http, Trino's default, or no
// password authentication at all) the insecure authenticator, which takes the
// user from basic auth or X-Trino-User and refuses any password.
func (s *Server) authenticate(r *http.Request) (string, *authError) {
	if isInternalRequest(r) {
		if _, aerr := s.authenticateInternal(r); aerr != nil {
			return "", aerr
		}
		return internalUser, nil
	}
	if s.passwords != nil && s.isSecure(r) {
		return s.passwordAuth(r)
	}
	if s.passwords != nil && s.opts.DenyInsecureOverHTTP {
		return "", &authError{status: http.StatusForbidden, message: "Authentication over HTTP is not enabled"}
	}
	user, pass, ok := r.BasicAuth()
	if ok && pass != "" {
		return "", &authError{status: http.StatusUnauthorized, message: "Password not allowed for insecure authentication"}
	}
	if !ok {
		user = r.Header.Get("X-Trino-User")
	}
	if user == "" {
		return "", &authError{status: http.StatusUnauthorized, message: "Basic authentication or X-Trino-User must be sent"}
	}
	return user, nil
}

func (s *Server) passwordAuth(r *http.Request) (string, *authError) {
	user, pass, ok := r.BasicAuth()
	switch {
	case !ok:
		return "", &authError{status: http.StatusUnauthorized, message: "Unauthorized"}
	case user == "":
		return "", &authError{status: http.StatusUnauthorized, message: "Malformed credentials: user is empty"}
	case pass == "":
		return "", &authError{status: http.StatusUnauthorized, message: "Malformed credentials: password is empty"}
	case !s.passwords.check(user, pass):
		return "", &authError{status: http.StatusUnauthorized, message: "Access Denied: Invalid credentials"}
	}
	return user, nil
}

// writeAuthError answers as Trino's ServletSecurityUtils does: the message as
// text/plain body and status reason, with the challenge on a 401.
func writeAuthError(w http.ResponseWriter, e *authError) {
	if e.internal {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(e.status)
		return
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", authenticateHeader)
	}
	http.Error(w, e.message, e.status)
}

// ImpersonationRule is one rule of the impersonation section of a Trino
// file-based access control rules.json.
type ImpersonationRule struct {
	// OriginalUser is a regular expression the authenticated user must match
	// entirely (default ".*"). Its groups can be referenced from NewUser as
	// $1, $2…
	OriginalUser string `json:"original_user"`
	// NewUser is a regular expression the requested session user must match
	// entirely. Required.
	NewUser string `json:"new_user"`
	// Allow defaults to true; false denies matching impersonations.
	Allow *bool `json:"allow"`
}

// SystemInformationRule is one rule of the system_information section of a
// Trino rules.json: which users may read or write system information (the
// latter includes PUT /v1/info/state).
type SystemInformationRule struct {
	User  string   `json:"user"`  // regular expression, default ".*"
	Allow []string `json:"allow"` // "read", "write"
}

type rulesFile struct {
	Impersonation     []ImpersonationRule     `json:"impersonation"`
	SystemInformation []SystemInformationRule `json:"system_information"`
}

// LoadRules returns the impersonation section of a Trino rules.json. An
// absent section gives no rules, which denies every impersonation, as Trino
// does.
func LoadRules(rulesJSON []byte) ([]ImpersonationRule, error) {
	rf, err := parseRules(rulesJSON)
	if err != nil {
		return nil, err
	}
	return rf.Impersonation, nil
}

// LoadSystemInformationRules returns the system_information section of a
// Trino rules.json, as a non-nil slice: an absent section denies everyone.
func LoadSystemInformationRules(rulesJSON []byte) ([]SystemInformationRule, error) {
	rf, err := parseRules(rulesJSON)
	if err != nil {
		return nil, err
	}
	if rf.SystemInformation == nil {
		return []SystemInformationRule{}, nil
	}
	return rf.SystemInformation, nil
}

func parseRules(b []byte) (*rulesFile, error) {
	var rf rulesFile
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("rules.json: %w", err)
	}
	for i, r := range rf.Impersonation {
		if r.NewUser == "" {
			return nil, fmt.Errorf("rules.json: impersonation rule %d: new_user is required", i+1)
		}
		for _, re := range []string{r.OriginalUser, r.NewUser} {
			if _, err := regexp.Compile(re); err != nil {
				return nil, fmt.Errorf("rules.json: impersonation rule %d: %w", i+1, err)
			}
		}
	}
	for i, r := range rf.SystemInformation {
		if _, err := regexp.Compile(r.User); err != nil {
			return nil, fmt.Errorf("rules.json: system_information rule %d: %w", i+1, err)
		}
		for _, a := range r.Allow {
			if a != "read" && a != "write" {
				return nil, fmt.Errorf("rules.json: system_information rule %d: allow %q: want read or write", i+1, a)
			}
		}
	}
	return &rf, nil
}

// fullMatch matches s against the whole of regular expression re, as Java's
// Matcher.matches does.
func fullMatch(re, s string) ([]string, bool) {
	if re == "" {
		re = ".*"
	}
	m := regexp.MustCompile(`^(?:` + re + `)$`).FindStringSubmatch(s)
	return m, m != nil
}

// canImpersonate applies the rules as Trino's file-based access control
// does: the first rule matching both users decides; no match denies.
func canImpersonate(rules []ImpersonationRule, original, newUser string) bool {
	for _, r := range rules {
		groups, ok := fullMatch(r.OriginalUser, original)
		if !ok {
			continue
		}
		want := r.NewUser
		for i := len(groups) - 1; i >= 1; i-- {
			want = strings.ReplaceAll(want, "$"+strconv.Itoa(i), regexp.QuoteMeta(groups[i]))
		}
		if _, ok := fullMatch(want, newUser); ok {
			return r.Allow == nil || *r.Allow
		}
	}
	return false
}

// canWriteSystemInformation applies the system_information rules: the first
// rule matching the user decides.
func canWriteSystemInformation(rules []SystemInformationRule, user string) bool {
	for _, r := range rules {
		if _, ok := fullMatch(r.User, user); ok {
			for _, a := range r.Allow {
				if a == "write" {
					return true
				}
			}
			return false
		}
	}
	return false
}
