package trinotest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"moat/trino/internalauth"
	"net"
	"net/http"
	"net/url"
	"os"
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
	// HTTPDisabled is http-server.http.enabled=false: the server opens no
	// plaintext listener at all and URL is its HTTPS URL. It needs HTTPS
	// (KeystorePath or InternalHTTPS) and InternalHTTPS (nodes would
	// otherwise have no way to reach each other).
	HTTPDisabled bool
	// KeystorePath is http-server.https.keystore.path and turns HTTPS on
	// (http-server.https.enabled=true): a PEM file holding the unencrypted
	// private key and its certificate chain in one, read as Trino reads it.
	// A missing file, one with no key, no certificate or no certificate
	// matching the key stops the server with Trino's message.
	KeystorePath string
	// TruststorePath is http-server.https.truststore.path: PEM certificates
	// a client certificate is verified against when a client presents one
	// (Trino wants, never needs, one). Empty: the system roots, as the
	// JVM's cacerts; a node presenting a certificate from a private CA is
	// then refused at the handshake.
	TruststorePath string
	// SSLContextRefresh is http-server.https.ssl-context.refresh-time: the
	// keystore and truststore are read again this long after the last
	// read (default DefaultSSLContextRefresh), so a renewed certificate is
	// served without a restart, as airlift does.
	SSLContextRefresh time.Duration
	// InternalHTTPS is internal-communication.https.required=true (with
	// http-server.https.enabled=true): nodes talk to each other over HTTPS
	// only, announce their https URI and need SharedSecret. With neither
	// InternalKeystorePath nor InternalTruststorePath it is Trino's
	// automatic internal HTTPS: without KeystorePath the server serves a
	// certificate derived from SharedSecret, and other nodes are trusted
	// only with certificates derived from the same secret and environment.
	InternalHTTPS bool
	// InternalKeystorePath is internal-communication.https.keystore.path:
	// the PEM keystore this node presents as a client certificate when it
	// calls another node.
	InternalKeystorePath string
	// InternalTruststorePath is internal-communication.https.truststore.path:
	// the PEM certificates this node verifies other nodes' HTTPS
	// certificates against, host name included. Empty with
	// InternalKeystorePath set: the system roots.
	InternalTruststorePath string
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
	// AccessControl is the rest of a file-based access control's rules
	// (catalogs, tables with filters and masks, queries) that statements
	// are checked and rewritten against; nil allows everything, as Trino
	// without access-control.properties.
	AccessControl *AccessControl

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
	// URL is the base URL once the server is started: http://ip:port, or
	// the HTTPS URL with HTTPDisabled (as httptest's StartTLS).
	URL string
	// HTTPSURL is https://ip:port when HTTPS is on, once started.
	HTTPSURL string

	opts          Options
	log           *slog.Logger
	passwords     *passwordFile
	engine        *engine
	client        *http.Client   // internal: signs requests, trusts the cluster's CA
	internalKey   []byte         // HMAC key of the internal JWTs
	automatic     bool           // Trino's automatic internal HTTPS
	tlsConfig     *tls.Config    // the HTTPS server's, when HTTPS is on
	clientTLS     *tls.Config    // the internal client's
	trust         *x509.CertPool // what Client trusts
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
	if opts.SSLContextRefresh < 0 || opts.SSLContextRefresh > 0 && opts.SSLContextRefresh < time.Second {
		return nil, fmt.Errorf("trinotest: Invalid configuration property http-server.https.ssl-context.refresh-time: must be greater than or equal to 1.00s (Options.SSLContextRefresh = %s)", opts.SSLContextRefresh)
	}
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

// httpsEnabled is http-server.https.enabled.
func (o Options) httpsEnabled() bool { return o.InternalHTTPS || o.KeystorePath != "" }

// setupInternal checks the HTTP, HTTPS and internal communication settings
// as Trino does at start, and prepares internal authentication, the HTTPS
// server's certificate and the internal client's TLS.
func (s *Server) setupInternal() error {
	o := s.opts
	s.automatic = o.InternalHTTPS && o.InternalKeystorePath == "" && o.InternalTruststorePath == ""
	secret := o.SharedSecret
	switch {
	case s.automatic && secret == "":
		return errors.New("trinotest: Internal shared secret must be set when internal HTTPS is enabled: set internal-communication.shared-secret (Options.SharedSecret)")
	case o.InternalHTTPS && secret == "":
		return errors.New("trinotest: Invalid configuration property internal-communication.https.required: Internal shared secret is required when HTTPS is enabled for internal communications (Options.SharedSecret)")
	case o.HTTPDisabled && !o.httpsEnabled():
		return errors.New("trinotest: http-server.http.enabled=false without HTTPS: the server would open no port (set Options.KeystorePath or InternalHTTPS)")
	case o.HTTPDisabled && !o.InternalHTTPS:
		return errors.New("trinotest: http-server.http.enabled=false needs internal-communication.https.required=true: nodes would have no way to reach each other (Options.InternalHTTPS)")
	case o.httpsEnabled() && o.KeystorePath == "" && !s.automatic:
		return errors.New("trinotest: Invalid configuration property http-server.https.enabled: Keystore path or automatic HTTPS shared secret must be provided when HTTPS is enabled (Options.KeystorePath)")
	}
	if secret == "" {
		secret = o.Environment
	}
	s.internalKey = internalauth.InternalKey(secret)
	if err := s.setupServerTLS(secret); err != nil {
		return fmt.Errorf("trinotest: %w", err)
	}
	if err := s.setupClientTLS(); err != nil {
		return fmt.Errorf("trinotest: %w", err)
	}
	s.client = newInternalClient(s.clientTLS)
	return nil
}

// setupServerTLS loads the HTTPS server's certificate: the keystore when
// configured (Trino prefers it to automatic certificates), else with
// automatic internal HTTPS the derived one.
func (s *Server) setupServerTLS(secret string) error {
	o := s.opts
	var autoClient *tls.Config
	if s.automatic {
		var err error
		s.tlsConfig, autoClient, err = automaticTLS(secret, o.Environment, localIPs(hostOf(o.InternalURI)))
		if err != nil {
			return err
		}
		s.clientTLS, s.trust = autoClient, autoClient.RootCAs
	}
	if o.KeystorePath == "" {
		return nil
	}
	conf, err := serverTLS(o.KeystorePath, o.TruststorePath)
	if err != nil {
		return err
	}
	r := &reloadingTLS{keystore: o.KeystorePath, truststore: o.TruststorePath, log: s.log,
		refresh: cmp.Or(o.SSLContextRefresh, DefaultSSLContextRefresh), conf: conf, loaded: time.Now()}
	s.tlsConfig = conf.Clone()
	s.tlsConfig.GetConfigForClient = r.configForClient
	if s.trust == nil {
		s.trust = chainPool(conf.Certificates[0])
	}
	return nil
}

// setupClientTLS prepares the internal client's TLS outside automatic
// HTTPS: internal-communication.https.keystore.path as its client
// certificate, internal-communication.https.truststore.path as its roots,
// host names verified.
func (s *Server) setupClientTLS() error {
	o := s.opts
	if s.automatic {
		return nil
	}
	s.clientTLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if o.InternalKeystorePath != "" {
		if _, err := os.Stat(o.InternalKeystorePath); err != nil {
			return fmt.Errorf("Invalid configuration property internal-communication.https.keystore.path: file does not exist: %s", o.InternalKeystorePath)
		}
		cert, err := loadKeystore(o.InternalKeystorePath)
		if err != nil {
			return err
		}
		s.clientTLS.Certificates = []tls.Certificate{cert}
	}
	if o.InternalTruststorePath != "" {
		if _, err := os.Stat(o.InternalTruststorePath); err != nil {
			return fmt.Errorf("Invalid configuration property internal-communication.https.truststore.path: file does not exist: %s", o.InternalTruststorePath)
		}
		pool, err := loadTruststore(o.InternalTruststorePath)
		if err != nil {
			return err
		}
		s.clientTLS.RootCAs, s.trust = pool, pool
	}
	return nil
}

// Client returns a new HTTP client that trusts the server's HTTPS
// certificate, like httptest.Server.Client: with automatic HTTPS the
// cluster's derived CA, else InternalTruststorePath, else the CA in the
// keystore's chain. It presents no client certificate and does not sign
// requests as a node.
func (s *Server) Client() *http.Client {
	return newInternalClient(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.trust})
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

// Start serves on 127.0.0.1 on free ports: plain HTTP unless HTTPDisabled,
// and HTTPS on another port when HTTPS is on.
func (s *Server) Start() {
	var l, tl net.Listener
	if !s.opts.HTTPDisabled {
		l = listenLoopback()
	}
	if s.opts.httpsEnabled() {
		tl = listenLoopback()
	}
	s.serve(l, tl)
}

func listenLoopback() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("trinotest: listen on 127.0.0.1: %v", err))
	}
	return l
}

// Serve serves plain HTTP on l until Close, and starts announcing when the
// server is a worker with a DiscoveryURI. With HTTPS on, use ServeHTTPS.
func (s *Server) Serve(l net.Listener) {
	if s.opts.httpsEnabled() {
		panic("trinotest: HTTPS is on (Options.KeystorePath or InternalHTTPS): call ServeHTTPS")
	}
	s.serve(l, nil)
}

// ServeHTTPS serves plain HTTP on httpListener and HTTPS on httpsListener,
// as a Trino node does on http-server.http.port and http-server.https.port.
// With HTTPDisabled httpListener must be nil: there is no plaintext port.
// It needs HTTPS on (Options.KeystorePath or InternalHTTPS).
func (s *Server) ServeHTTPS(httpListener, httpsListener net.Listener) {
	switch {
	case !s.opts.httpsEnabled():
		panic("trinotest: ServeHTTPS needs HTTPS: Options.KeystorePath or InternalHTTPS (and a SharedSecret)")
	case httpsListener == nil:
		panic("trinotest: ServeHTTPS needs an HTTPS listener")
	case s.opts.HTTPDisabled && httpListener != nil:
		panic("trinotest: Options.HTTPDisabled: pass a nil HTTP listener, there is no plaintext port")
	case !s.opts.HTTPDisabled && httpListener == nil:
		panic("trinotest: ServeHTTPS needs an HTTP listener unless Options.HTTPDisabled")
	}
	s.serve(httpListener, httpsListener)
}

func (s *Server) serve(l, tl net.Listener) {
	if tl != nil {
		s.HTTPSURL = "https://" + tl.Addr().String()
	}
	s.URL = s.HTTPSURL
	if l != nil {
		s.URL = "http://" + l.Addr().String()
	}
	if s.opts.InternalURI == "" {
		s.opts.InternalURI = s.URL
		if s.opts.InternalHTTPS {
			s.opts.InternalURI = s.HTTPSURL
		}
	}
	errorLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	if l != nil {
		s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog}
		s.goServe("HTTP", func() error { return s.http.Serve(l) })
	}
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
	} else {
		mux.HandleFunc("POST /v1/task/{taskId}", s.internalOnly(s.handleTask)) // tasks.go
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
