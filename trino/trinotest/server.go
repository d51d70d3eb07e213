package trinotest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"moat/trino/internalauth"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is a worker; set Coordinator for
// a coordinator.
type Options struct {
	Coordinator bool
	NodeID      string // node.id; default a random id
	Environment string // node.environment; default "test"
	Version     string // node version; default "483"

	// Starting makes the server begin as Trino does right after launch:
	// /v1/info says "starting": true and statements fail with
	// SERVER_STARTING_UP until SetStarting(false).
	Starting bool

	// PasswordFile is a Trino password file (lines user:bcrypt-hash). With
	// it, HTTPS requests must authenticate with HTTP basic auth.
	PasswordFile []byte
	// DenyInsecureOverHTTP is http-server.authentication.allow-insecure-over-http=false:
	// plain HTTP requests are refused (403) instead of being authenticated
	// insecurely (user from X-Trino-User, passwords refused).
	DenyInsecureOverHTTP bool
	// SharedSecret is internal-communication.shared-secret. Every request a
	// node sends another carries a JWT signed with it
	// (X-Trino-Internal-Bearer), and a coordinator accepts announcements
	// only when signed with its own secret. Empty means the environment
	// name, as Trino falls back to when no authentication is configured.
	SharedSecret string
	// InternalHTTPS is Trino's automatic internal HTTPS:
	// http-server.https.enabled=true and
	// internal-communication.https.required=true without a keystore. The
	// server serves HTTPS too (ServeHTTPS) with a certificate derived from
	// SharedSecret (required), announces its https URI and talks to other
	// nodes over HTTPS, trusting only certificates derived from the same
	// secret and environment. Plain HTTP keeps serving.
	InternalHTTPS bool
	// ProcessForwarded is http-server.process-forwarded: X-Forwarded-Proto
	// https makes a request secure. Without it, any X-Forwarded-* header is
	// refused with 406, as Trino's HTTP server does.
	ProcessForwarded bool
	// Impersonation rules (rules.json "impersonation"); none denies every
	// impersonation.
	Impersonation []ImpersonationRule
	// SystemInformation rules (rules.json "system_information") decide who
	// may PUT /v1/info/state; none denies everyone.
	SystemInformation []SystemInformationRule

	PageSize    int           // rows per QueryResults page; default 1000
	GracePeriod time.Duration // shutdown.grace-period; default 2m

	// DiscoveryURI is discovery.uri: where a worker announces itself.
	DiscoveryURI string
	// DiscoveryType is discovery.type: "ANNOUNCE" (Trino's default since
	// 477: POST {discovery.uri}/v1/announce with the node's URI) or
	// "AIRLIFT_DISCOVERY" (PUT {discovery.uri}/v1/announcement/{nodeId}).
	DiscoveryType    string
	AnnounceInterval time.Duration // default 5s, as Trino
	AnnouncementTTL  time.Duration // default 30s, as Trino
	// InternalURI is the URI this node announces; default HTTPSURL with
	// InternalHTTPS, else URL.
	InternalURI string

	Logger *slog.Logger // default: discard
}

// Discovery types (discovery.type).
const (
	DiscoveryAnnounce = "ANNOUNCE"
	DiscoveryAirlift  = "AIRLIFT_DISCOVERY"
)

// Node states, as /v1/info/state reports them.
const (
	StateActive       = "ACTIVE"
	StateShuttingDown = "SHUTTING_DOWN"
)

// Server is a Trino node speaking Trino's REST protocol.
type Server struct {
	// URL is the base URL, http://ip:port, once the server is started.
	URL string
	// HTTPSURL is https://ip:port with InternalHTTPS, once started.
	HTTPSURL string

	opts          Options
	log           *slog.Logger
	passwords     *passwordFile
	engine        *engine
	client        *http.Client // internal: signs requests, trusts the cluster CA
	internalKey   []byte       // HMAC key of the internal JWTs
	tlsConfig     *tls.Config  // the automatic HTTPS certificate, with InternalHTTPS
	clientTLS     *tls.Config  // trusts the cluster's CA, with InternalHTTPS
	coordinatorID string
	serviceID     string // the airlift service announcement id, a UUID
	startTime     time.Time
	starting      atomic.Bool
	started       chan struct{} // closed when start-up ends
	startedOnce   sync.Once

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // serve, announce and shutdown goroutines
	http   *http.Server
	https  *http.Server

	mu        sync.Mutex
	state     string
	queries   map[string]*query
	order     []string
	seq       int
	failN     int
	failCode  int
	changed   chan struct{} // closed and replaced when a query record changes
	announced map[string]announcement
	done      chan struct{}
	closeOnce sync.Once
}

// NewServer starts a server on 127.0.0.1 on a free port. It panics when the
// options are invalid, like httptest.NewServer panics when it cannot listen.
func NewServer(opts Options) *Server {
	s, err := NewUnstartedServer(opts)
	if err != nil {
		panic(err)
	}
	s.Start()
	return s
}

// NewUnstartedServer returns a server that Start or Serve starts; Handler
// gives its HTTP handler for embedding.
func NewUnstartedServer(opts Options) (*Server, error) {
	opts = withDefaults(opts)
	if opts.DiscoveryType != DiscoveryAnnounce && opts.DiscoveryType != DiscoveryAirlift {
		return nil, fmt.Errorf("trinotest: DiscoveryType %q: want %s or %s", opts.DiscoveryType, DiscoveryAnnounce, DiscoveryAirlift)
	}
	s := &Server{
		opts: opts, log: opts.Logger, startTime: time.Now(),
		coordinatorID: randomID(5),
		serviceID:     randomUUID(),
		state:         StateActive,
		queries:       map[string]*query{},
		changed:       make(chan struct{}),
		announced:     map[string]announcement{},
		done:          make(chan struct{}),
	}
	if err := s.setupInternal(); err != nil {
		return nil, err
	}
	s.starting.Store(opts.Starting)
	s.started = make(chan struct{})
	if !opts.Starting {
		s.startedOnce.Do(func() { close(s.started) })
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opts.PasswordFile != nil {
		pf, err := parsePasswordFile(opts.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("trinotest: %w", err)
		}
		s.passwords = pf
	}
	if opts.Coordinator {
		e, err := newEngine()
		if err != nil {
			return nil, err
		}
		s.engine = e
	}
	return s, nil
}

// setupInternal prepares internal authentication and, with InternalHTTPS,
// the automatic certificate and the client trusting the cluster's CA.
func (s *Server) setupInternal() error {
	secret := s.opts.SharedSecret
	if secret == "" {
		if s.opts.InternalHTTPS {
			return errors.New("trinotest: Internal shared secret must be set when internal HTTPS is enabled: set internal-communication.shared-secret (Options.SharedSecret)")
		}
		secret = s.opts.Environment
	}
	s.internalKey = internalauth.InternalKey(secret)
	if s.opts.InternalHTTPS {
		var err error
		s.tlsConfig, s.clientTLS, err = automaticTLS(secret, s.opts.Environment, localIPs(hostOf(s.opts.InternalURI)))
		if err != nil {
			return fmt.Errorf("trinotest: %w", err)
		}
	}
	s.client = newInternalClient(s.clientTLS)
	return nil
}

// Client returns a new HTTP client that trusts the server's automatic HTTPS
// certificate (and any other node's with the same secret and environment),
// like httptest.Server.Client. It does not sign requests as a node.
func (s *Server) Client() *http.Client {
	return newInternalClient(s.clientTLS)
}

// hostOf is the host of a URL, or "".
func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func withDefaults(o Options) Options {
	if o.NodeID == "" {
		o.NodeID = randomID(12)
	}
	if o.Environment == "" {
		o.Environment = "test"
	}
	if o.Version == "" {
		o.Version = "483"
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = 2 * time.Minute
	}
	if o.DiscoveryType == "" {
		o.DiscoveryType = DiscoveryAnnounce
	}
	if o.AnnounceInterval <= 0 {
		o.AnnounceInterval = 5 * time.Second
	}
	if o.AnnouncementTTL <= 0 {
		o.AnnouncementTTL = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// randomID returns n lowercase letters and digits.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// randomUUID returns a random (version 4) UUID.
func randomUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Start serves on 127.0.0.1 on a free port, and with InternalHTTPS serves
// HTTPS on another.
func (s *Server) Start() {
	l := listenLoopback()
	if !s.opts.InternalHTTPS {
		s.Serve(l)
		return
	}
	s.ServeHTTPS(l, listenLoopback())
}

func listenLoopback() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("trinotest: listen on 127.0.0.1: %v", err))
	}
	return l
}

// Serve serves plain HTTP on l until Close, and starts announcing when the
// server is a worker with a DiscoveryURI. With InternalHTTPS, use
// ServeHTTPS.
func (s *Server) Serve(l net.Listener) {
	if s.opts.InternalHTTPS {
		panic("trinotest: Options.InternalHTTPS needs an HTTPS listener too: call ServeHTTPS")
	}
	s.serve(l, nil)
}

// ServeHTTPS serves plain HTTP on httpListener and HTTPS with the automatic
// certificate on httpsListener, as a Trino node with automatic internal
// HTTPS does on http-server.http.port and http-server.https.port. It needs
// Options.InternalHTTPS.
func (s *Server) ServeHTTPS(httpListener, httpsListener net.Listener) {
	if !s.opts.InternalHTTPS {
		panic("trinotest: ServeHTTPS needs Options.InternalHTTPS (and a SharedSecret)")
	}
	s.serve(httpListener, httpsListener)
}

func (s *Server) serve(l, tl net.Listener) {
	s.URL = "http://" + l.Addr().String()
	if tl != nil {
		s.HTTPSURL = "https://" + tl.Addr().String()
	}
	if s.opts.InternalURI == "" {
		s.opts.InternalURI = s.URL
		if tl != nil {
			s.opts.InternalURI = s.HTTPSURL
		}
	}
	errorLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog}
	s.goServe("HTTP", func() error { return s.http.Serve(l) })
	if tl != nil {
		s.https = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog, TLSConfig: s.tlsConfig.Clone()}
		s.goServe("HTTPS", func() error { return s.https.ServeTLS(tl, "", "") })
	}
	if !s.opts.Coordinator && s.opts.DiscoveryURI != "" {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.announceLoop()
		}()
	}
}

// goServe runs one listener's server until Close.
func (s *Server) goServe(name string, serve func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error(name+" server stopped", "err", err)
		}
	}()
}

// Close stops announcing, stops the HTTP and HTTPS servers and waits for
// every goroutine the server started.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		for _, srv := range []*http.Server{s.http, s.https} {
			if srv != nil {
				srv.Close()
			}
		}
		s.wg.Wait()
		s.client.CloseIdleConnections()
		if s.engine != nil {
			s.engine.close()
		}
	})
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", s.handleInfo)
	mux.HandleFunc("GET /v1/info/state", s.handleGetState)
	mux.HandleFunc("PUT /v1/info/state", s.handlePutState)
	mux.HandleFunc("GET /v1/info/coordinator", s.handleInfoCoordinator)
	if s.opts.Coordinator {
		mux.HandleFunc("POST /v1/statement", s.handlePostStatement)
		mux.HandleFunc("GET /v1/statement/{phase}/{id}/{slug}/{token}", s.handleGetResults)
		mux.HandleFunc("DELETE /v1/statement/{phase}/{id}/{slug}/{token}", s.handleCancelResults)
		mux.HandleFunc("DELETE /v1/query/{id}", s.handleCancelQuery)
		mux.HandleFunc("POST /v1/announce", s.internalOnly(s.handleAnnounce))
		mux.HandleFunc("PUT /v1/announcement/{nodeId}", s.internalOnly(s.handleAirliftAnnounce))
		mux.HandleFunc("DELETE /v1/announcement/{nodeId}", s.internalOnly(s.handleAirliftUnannounce))
	}
	return s.logRequests(s.rejectForwarded(mux))
}

// logRequests logs each request at debug level (never its headers, which
// may carry credentials).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

// rejectForwarded refuses X-Forwarded-* headers unless ProcessForwarded, as
// airlift's RejectForwardedRequestCustomizer does.
func (s *Server) rejectForwarded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.opts.ProcessForwarded {
			for name := range r.Header {
				if strings.HasPrefix(strings.ToLower(name), "x-forwarded-") {
					http.Error(w, fmt.Sprintf("Server configuration does not allow processing of the %s header", name), http.StatusNotAcceptable)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// SetStarting sets whether /v1/info reports "starting": true. A worker
// starts announcing once it is no longer starting, as Trino announces at the
// end of its start-up.
func (s *Server) SetStarting(starting bool) {
	s.starting.Store(starting)
	if !starting {
		s.startedOnce.Do(func() { close(s.started) })
		s.log.Info("======== SERVER STARTED ========")
	}
}

// State returns the node state: ACTIVE or SHUTTING_DOWN.
func (s *Server) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Done is closed when a graceful shutdown requested with PUT /v1/info/state
// has run its course, when Trino would exit 0.
func (s *Server) Done() <-chan struct{} { return s.done }

// FailNext makes the next n POST /v1/statement requests fail with HTTP
// status code (e.g. 502, 503, 504 as a gateway would send).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, code
}

// PendingFailures returns how many injected failures are left.
func (s *Server) PendingFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failN
}

// takeFailure consumes one injected failure, returning its status or 0.
func (s *Server) takeFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN <= 0 {
		return 0
	}
	s.failN--
	return s.failCode
}
