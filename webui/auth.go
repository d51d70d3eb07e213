package webui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Session policy. A browser sends a cookie to every port of its host (no
// cookie attribute limits it to one port), so whatever else listens on the
// dashboard's address can see it: sessions are short, bound to the Host
// they were made for, kept on the server so that signing out ends them, and
// the dashboard listens on a loopback address of its own (127.77.0.1 by
// default) so that nothing else receives the cookie at all. The __Host-
// prefix would not help: such a cookie still goes to every port of the host
// (Chromium sends it on), and it demands Secure, which over plain http only
// some browsers accept, and only because they deem loopback trustworthy.
const (
	cookieName  = "moat_dashboard"
	sessionIdle = 12 * time.Hour   // a session unused this long ends
	sessionMax  = 24 * time.Hour   // however busy, a session ends this long after login
	onceTTL     = 60 * time.Second // a one-time login link works once, this soon
	maxSessions = 64               // more logins end the least recently used session
	maxOnce     = 16               // more one-time links end the oldest
	csrfField   = "csrf"           // the hidden form field
	csrfHeader  = "X-CSRF-Token"   // or this header, for scripts
	tokenParam  = "token"          // ?token=T exchanges the token for a cookie
	onceParam   = "once"           // ?once=N exchanges a one-time link for a cookie
)

// secretKey is how auth keeps a secret it handed out: its hash, so that
// not even the process's memory holds a live cookie or link.
type secretKey [sha256.Size]byte

func keyOf(secret string) secretKey { return sha256.Sum256([]byte(secret)) }

// session is one signed-in browser. Only seen changes (under auth.mu).
type session struct {
	key     secretKey
	host    string // the Host header it was made for, lower case
	csrf    string
	created time.Time
	seen    time.Time
}

// auth checks the dashboard token and keeps the sessions and one-time
// links it issued, in memory: a restart of moat ends every session.
type auth struct {
	tokenSum secretKey
	now      func() time.Time

	mu       sync.Mutex
	sessions map[secretKey]*session
	once     map[secretKey]time.Time // when each one-time link expires
}

func newAuth(token string, now func() time.Time) *auth {
	return &auth{tokenSum: keyOf(token), now: now, sessions: map[secretKey]*session{}, once: map[secretKey]time.Time{}}
}

// randomSecret is 256 random bits, URL- and cookie-safe.
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenOK compares given with the token in constant time (hashing both first
// so that not even the length leaks).
func (a *auth) tokenOK(given string) bool {
	sum := keyOf(given)
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

func (s *session) expired(now time.Time) bool {
	return now.Sub(s.created) > sessionMax || now.Sub(s.seen) > sessionIdle
}

// pruneLocked forgets expired sessions and links, then makes room for one
// more of each.
func (a *auth) pruneLocked(now time.Time) {
	var lru *session
	for k, s := range a.sessions {
		if s.expired(now) {
			delete(a.sessions, k)
		} else if lru == nil || s.seen.Before(lru.seen) {
			lru = s
		}
	}
	if len(a.sessions) >= maxSessions {
		delete(a.sessions, lru.key)
	}
	var oldest secretKey
	var oldestExp time.Time
	for k, exp := range a.once {
		if !now.Before(exp) {
			delete(a.once, k)
		} else if oldestExp.IsZero() || exp.Before(oldestExp) {
			oldest, oldestExp = k, exp
		}
	}
	if len(a.once) >= maxOnce {
		delete(a.once, oldest)
	}
}

// newSession starts a session for host and returns its cookie value.
func (a *auth) newSession(host string) string {
	value := randomSecret()
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	s := &session{key: keyOf(value), host: strings.ToLower(host), csrf: randomSecret(), created: now, seen: now}
	a.sessions[s.key] = s
	return value
}

// session returns the live session of cookie value, presented with Host
// host, and counts this as a use.
func (a *auth) session(value, host string) (*session, bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[keyOf(value)]
	switch {
	case !ok:
		return nil, false
	case s.expired(now):
		delete(a.sessions, s.key)
		return nil, false
	case s.host != strings.ToLower(host):
		return nil, false
	}
	s.seen = now
	return s, true
}

// revoke ends session s: its cookie works nowhere any more.
func (a *auth) revoke(s *session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, s.key)
}

// live reports whether session s is neither revoked nor expired, without
// counting as a use (an open live stream is not the user).
func (a *auth) live(s *session) bool {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[s.key] == s && !s.expired(now)
}

// newOnce returns a one-time login secret, good once within onceTTL.
func (a *auth) newOnce() string {
	value := randomSecret()
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	a.once[keyOf(value)] = now.Add(onceTTL)
	return value
}

// redeemOnce reports whether value is a live one-time secret and ends it.
func (a *auth) redeemOnce(value string) bool {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	k := keyOf(value)
	exp, ok := a.once[k]
	delete(a.once, k)
	return ok && now.Before(exp)
}

func csrfOK(s *session, given string) bool {
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(s.csrf)) == 1
}

type sessionKey struct{}

// sessionFrom returns the session the request was authenticated with; nil
// for bearer-token requests.
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

func withSession(r *http.Request, s *session) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
}

// requireAuth lets a GET through with a valid session cookie or bearer
// token; a ?token= or ?once= query is exchanged for a cookie first.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Has(tokenParam) || q.Has(onceParam) {
			s.exchange(w, r)
			return
		}
		if sess, ok := s.cookieSession(r); ok {
			next.ServeHTTP(w, withSession(r, sess))
			return
		}
		if given, ok := bearer(r); ok && s.auth.tokenOK(given) {
			next.ServeHTTP(w, r)
			return
		}
		s.unauthorized(w, r)
	})
}

// requireCSRF guards a mutating request: a session cookie (never a bearer
// token alone), a same-origin request, and the session's CSRF token.
func (s *Server) requireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.cookieSession(r)
		if !ok {
			s.unauthorized(w, r)
			return
		}
		if err := sameOrigin(s.cop, r); err != nil {
			s.forbidden(w, r, "cross-origin request refused")
			return
		}
		given := r.Header.Get(csrfHeader)
		if given == "" {
			given = r.PostFormValue(csrfField)
		}
		if !csrfOK(sess, given) {
			s.forbidden(w, r, "missing or stale CSRF token: reload the page and try again")
			return
		}
		next.ServeHTTP(w, withSession(r, sess))
	})
}

// sameOrigin refuses cross-origin browser requests: Sec-Fetch-Site and
// Origin (net/http's CrossOriginProtection), and a Referer, when sent, must
// name this host.
func sameOrigin(cop *http.CrossOriginProtection, r *http.Request) error {
	if err := cop.Check(r); err != nil {
		return err
	}
	for _, h := range []string{"Origin", "Referer"} {
		v := r.Header.Get(h)
		if v == "" || v == "null" {
			continue
		}
		if u, err := url.Parse(v); err != nil || !strings.EqualFold(u.Host, r.Host) {
			return errors.New(h + " names another host")
		}
	}
	return nil
}

func (s *Server) cookieSession(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	return s.auth.session(c.Value, r.Host)
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

// exchange turns a valid ?token= or an unused ?once= into a session for
// this Host and redirects to the same URL without it, so that it stays out
// of history and bookmarks. Neither value is ever logged.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ok := r.Method == http.MethodGet &&
		(q.Has(tokenParam) && s.auth.tokenOK(q.Get(tokenParam)) || q.Has(onceParam) && s.auth.redeemOnce(q.Get(onceParam)))
	if !ok {
		s.log.Warn("dashboard: refused a login with a wrong token or a used or expired one-time link", "remote", r.RemoteAddr)
		s.unauthorized(w, r)
		return
	}
	s.setCookie(w, s.auth.newSession(r.Host), sessionMax)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, withoutCredentials(r.URL), http.StatusSeeOther)
}

// logout ends the request's session on the server and in the browser, and
// wakes the live streams so that the session's own end too.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.revoke(sessionFrom(r.Context()))
	s.changed.broadcast()
	s.setCookie(w, "", -1)
	s.render(w, r, http.StatusOK, page{Title: "Signed out"}, signedOutBody(s.URL()))
}

// setCookie sets (maxAge > 0) or clears (maxAge < 0) the session cookie:
// host-only (no Domain), HttpOnly, SameSite=Strict.
func (s *Server) setCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: age})
}

// withoutCredentials is u's path and query without the token and one-time
// parameters; /login leads to the overview.
func withoutCredentials(u *url.URL) string {
	p := u.EscapedPath()
	if p == "/login" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		p = "/"
	}
	q := u.Query()
	q.Del(tokenParam)
	q.Del(onceParam)
	if len(q) > 0 {
		return p + "?" + q.Encode()
	}
	return p
}
