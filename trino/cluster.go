package trino

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"time"
)

// Paths inside a Trino container.
const (
	ConfigDir        = "/etc/trino"
	DataDir          = "/data/trino"
	KeystorePath     = ConfigDir + "/tls/keystore.pem" // KeystorePEM's output: the node's key and chain, written by the caller
	TruststorePath   = ConfigDir + "/tls/ca.pem"       // moat's CA certificate (PEM), written by the caller
	PasswordFilePath = ConfigDir + "/password.db"      // PasswordFile's output, written by the caller
	RulesPath        = ConfigDir + "/rules.json"
	SharedSecretEnv  = "TRINO_SHARED_SECRET"
)

// MinVersion is the oldest Trino release whose configuration RenderNode
// writes (announce discovery, JDK 24+ flags, every catalog on every node).
const MinVersion = 477

// Defaults for zero fields of Cluster.
const (
	DefaultHTTPSPort   = 8443            // Trino's only port: http-server.http.enabled=false
	DefaultGracePeriod = 2 * time.Minute // Trino's own default for shutdown.grace-period
)

// Node is one Trino server.
type Node struct {
	ID string     // node.id: unique and stable across restarts
	IP netip.Addr // its address on the private trino network
}

// SystemUsers are moat's own Trino users.
type SystemUsers struct {
	Management   string // readiness, graceful shutdown, query management ("moat")
	Orchestrator string // runs reports as their owners ("orchestrator")
}

// User is a Trino user with a password (a secret).
type User struct {
	Name     string
	Password string
}

// Cluster is moat's view of one Trino cluster.
type Cluster struct {
	Environment string // node.environment: lowercase letters, digits, _
	Version     int    // Trino release of the image, e.g. 483
	Coordinator Node
	Workers     []Node
	HTTPSPort   int // http-server.https.port, the only port a node opens; 0: DefaultHTTPSPort
	Memory      MemoryPlan
	Catalogs    []Catalog
	Policies    Policies
	System      SystemUsers
	GracePeriod time.Duration // shutdown.grace-period; 0: DefaultGracePeriod
	LogLevel    string        // io.trino in log.properties; "": INFO
}

var (
	environmentRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)
	nodeIDRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	logLevels     = []string{"DEBUG", "INFO", "WARN", "ERROR"}
)

func (c Cluster) httpsPort() int            { return orDefault(c.HTTPSPort, DefaultHTTPSPort) }
func (c Cluster) logLevel() string          { return orDefaultString(c.LogLevel, "INFO") }
func (c Cluster) nodes() []Node             { return append([]Node{c.Coordinator}, c.Workers...) }
func (c Cluster) isCoordinator(n Node) bool { return n.ID == c.Coordinator.ID }

func (c Cluster) gracePeriod() time.Duration {
	if c.GracePeriod == 0 {
		return DefaultGracePeriod
	}
	return c.GracePeriod
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orDefaultString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Validate checks everything RenderNode relies on and reports every problem.
// It does not check memory against the host: see MemoryPlan.Validate.
func (c Cluster) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !environmentRE.MatchString(c.Environment) {
		add("trino environment %q: use lowercase letters, digits and _ (node.environment)", c.Environment)
	}
	if c.Version < MinVersion {
		add("trino version %d: moat writes configuration for Trino %d or newer; use a newer image", c.Version, MinVersion)
	}
	errs = append(errs, c.validateNodes()...)
	if p := c.httpsPort(); p < 1 || p > 65535 {
		add("trino https port %d: want a port in 1-65535", p)
	}
	if c.GracePeriod < 0 {
		add("trino grace period %s: must not be negative", c.GracePeriod)
	}
	if !slices.Contains(logLevels, c.logLevel()) {
		add("trino log level %q: want one of %v", c.LogLevel, logLevels)
	}
	if c.Memory.Workers != len(c.Workers) {
		add("trino memory plan is for %d workers but the cluster has %d", c.Memory.Workers, len(c.Workers))
	}
	errs = append(errs, validateCatalogs(c.Catalogs)...)
	if err := c.Policies.validate(c.System, c.Catalogs); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Cluster) validateNodes() []error {
	var errs []error
	if len(c.Workers) == 0 {
		errs = append(errs, errors.New("trino cluster has no workers: add at least one"))
	}
	ids, ips := map[string]bool{}, map[netip.Addr]bool{}
	for _, n := range c.nodes() {
		if !nodeIDRE.MatchString(n.ID) {
			errs = append(errs, fmt.Errorf("trino node id %q: use letters, digits, - and _, starting with a letter or digit", n.ID))
		}
		if !n.IP.IsValid() {
			errs = append(errs, fmt.Errorf("trino node %s has no IP address on the private network", n.ID))
		}
		if ids[n.ID] {
			errs = append(errs, fmt.Errorf("trino node id %q is used twice: node ids must be unique", n.ID))
		}
		if n.IP.IsValid() && ips[n.IP] {
			errs = append(errs, fmt.Errorf("trino node %s: address %s is used twice", n.ID, n.IP))
		}
		ids[n.ID], ips[n.IP] = true, true
	}
	return errs
}
