package webui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// cookieName holds the session; sessionTTL bounds how long a cookie works.
const (
	cookieName = "moat_dashboard"
	sessionTTL = 7 * 24 * time.Hour
	csrfField  = "csrf"         // the hidden form field
	csrfHeader = "X-CSRF-Token" // or this header, for scripts
	tokenParam = "token"        // ?token=T exchanges the token for a cookie
	macDomain  = "moat dashboard session v1"
)

// auth checks the dashboard token and signs sessions. Sessions are
// stateless: a cookie is issue time, a random id and an HMAC over both, with
// a key derived from the token, so a new token ends every session and
// nothing grows in memory.
type auth struct {
	tokenSum [sha256.Size]byte
	key      []byte
	now      func() time.Time
}

func newAuth(token string, now func() time.Time) *auth {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(macDomain))
	return &auth{tokenSum: sha256.Sum256([]byte(token)), key: m.Sum(nil), now: now}
}

// tokenOK compares given with the token in constant time (hashing both first
// so that not even the length leaks).
func (a *auth) tokenOK(given string) bool {
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

func (a *auth) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession returns a fresh signed cookie value.
func (a *auth) newSession() string {
	id := make([]byte, 18)
	rand.Read(id) // never fails (crypto/rand)
	body := strconv.FormatInt(a.now().Unix(), 10) + "." + base64.RawURLEncoding.EncodeToString(id)
	return body + "." + a.mac("session", body)
}

// session returns the session id of a valid, unexpired cookie value.
func (a *auth) session(value string) (string, bool) {
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return "", false
	}
	body, sig := value[:i], value[i+1:]
	if !hmac.Equal([]byte(sig), []byte(a.mac("session", body))) {
		return "", false
	}
	issued, _, ok := strings.Cut(body, ".")
	sec, err := strconv.ParseInt(issued, 10, 64)
	if !ok || err != nil {
		return "", false
	}
	if age := a.now().Sub(time.Unix(sec, 0)); age < 0 || age > sessionTTL {
		return "", false
	}
	return body, true
}

// csrf is the CSRF token of session sid.
func (a *auth) csrf(sid string) string { return a.mac("csrf", sid) }

func (a *auth) csrfOK(sid, given string) bool {
	return given != "" && hmac.Equal([]byte(given), []byte(a.csrf(sid)))
}

type sessionKey struct{}

// sessionFrom returns the session id the request was authenticated with;
// "" for bearer-token requests.
func sessionFrom(ctx context.Context) string {
	sid, _ := ctx.Value(sessionKey{}).(string)
	return sid
}

// requireAuth lets a GET through with a valid session cookie or bearer
// token; a ?token= query is exchanged for a cookie first.
func (s *Server) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has(tokenParam) {
			s.exchangeToken(w, r)
			return
		}
		if sid, ok := s.cookieSession(r); ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sid)))
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
		sid, ok := s.cookieSession(r)
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
		if !s.auth.csrfOK(sid, given) {
			s.forbidden(w, r, "missing or stale CSRF token: reload the page and try again")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sid)))
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
		if u, err := url.Parse(v); err != nil || u.Host != r.Host {
			return errors.New(h + " names another host")
		}
	}
	return nil
}

func (s *Server) cookieSession(r *http.Request) (string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", false
	}
	return s.auth.session(c.Value)
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

// exchangeToken turns a valid ?token= into a session cookie and redirects to
// the same URL without the token, so it stays out of history and bookmarks.
func (s *Server) exchangeToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !s.auth.tokenOK(r.URL.Query().Get(tokenParam)) {
		s.log.Warn("dashboard: refused a login with a wrong token", "remote", r.RemoteAddr)
		s.unauthorized(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: s.auth.newSession(), Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second),
	})
	http.Redirect(w, r, withoutToken(r.URL), http.StatusSeeOther)
}

// withoutToken is u's path and query without the token parameter; /login
// leads to the overview.
func withoutToken(u *url.URL) string {
	p := u.EscapedPath()
	if p == "/login" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		p = "/"
	}
	q := u.Query()
	q.Del(tokenParam)
	if len(q) > 0 {
		return p + "?" + q.Encode()
	}
	return p
}
