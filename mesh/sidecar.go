package mesh

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Command is a process to run: Args[0] is the executable. Env may hold
// secrets (the ACL token): hand it over as the environment, never log it.
type Command struct {
	Args []string          `json:"args"`
	Env  map[string]string `json:"env,omitempty"`
}

// TokenEnv is the variable Consul's CLI reads its ACL token from. Tokens go
// there and never into argv, which any user of the host can read in ps.
const TokenEnv = "CONSUL_HTTP_TOKEN"

// TokenFileEnv names a file holding the token instead (Consul's CLI reads
// it too): the token then lives in the sidecar's own filesystem only, not
// even in its container's environment.
const TokenFileEnv = "CONSUL_HTTP_TOKEN_FILE"

// SidecarOptions describe how a sidecar reaches Consul.
type SidecarOptions struct {
	ServiceID    string // the application's service ID (not the sidecar's)
	ConsulBinary string // default "consul"
	HTTPAddr     string // Consul's HTTP API, e.g. "http://consul:8500"
	Token        string // the service's sidecar token (SidecarToken)
	TokenFile    string // or a file in the sidecar holding it (preferred)
	LogLevel     string // default "info"
}

func (o SidecarOptions) check() error {
	switch {
	case o.ServiceID == "":
		return errors.New("mesh: sidecar: ServiceID is empty")
	case o.HTTPAddr == "":
		return fmt.Errorf("mesh: sidecar of %s: HTTPAddr (Consul's HTTP API) is empty", o.ServiceID)
	case o.Token == "" && o.TokenFile == "":
		return fmt.Errorf("mesh: sidecar of %s: no ACL token: create one with SidecarToken", o.ServiceID)
	}
	return nil
}

func (o SidecarOptions) binary() string {
	if o.ConsulBinary == "" {
		return "consul"
	}
	return o.ConsulBinary
}

// tokenEnv hands the token over by file when there is one.
func (o SidecarOptions) tokenEnv() map[string]string {
	if o.TokenFile != "" {
		return map[string]string{TokenFileEnv: o.TokenFile}
	}
	return map[string]string{TokenEnv: o.Token}
}

func (o SidecarOptions) logLevel() string {
	if o.LogLevel == "" {
		return "info"
	}
	return o.LogLevel
}

// BuiltinSidecar is the command of Consul's built-in proxy for the service:
// it reads its listeners, upstreams and leaf certificate from the agent and
// authorizes every inbound connection against the intentions.
func BuiltinSidecar(o SidecarOptions) (Command, error) {
	if err := o.check(); err != nil {
		return Command{}, err
	}
	return Command{
		Args: []string{o.binary(), "connect", "proxy",
			"-sidecar-for", o.ServiceID,
			"-http-addr", o.HTTPAddr,
			"-log-level", o.logLevel()},
		Env: o.tokenEnv(),
	}, nil
}

// EnvoyBootstrap is the command that prints the Envoy bootstrap for the
// service's sidecar (consul connect envoy -bootstrap). Its output contains
// the ACL token: store it as a secret file readable by Envoy only.
// grpcAddr is the agent's plaintext xDS address (e.g. "consul:8502");
// adminBind is the TCP admin address written into the bootstrap, which
// EnvoyCommand then moves to a unix socket (see EnvoyOverlay).
func EnvoyBootstrap(o SidecarOptions, grpcAddr, adminBind string) (Command, error) {
	if err := o.check(); err != nil {
		return Command{}, err
	}
	if grpcAddr == "" || adminBind == "" {
		return Command{}, fmt.Errorf("mesh: Envoy bootstrap of %s: gRPC address %q and admin bind %q must both be set", o.ServiceID, grpcAddr, adminBind)
	}
	return Command{
		Args: []string{o.binary(), "connect", "envoy",
			"-sidecar-for", o.ServiceID,
			"-bootstrap",
			"-admin-bind", adminBind,
			"-http-addr", o.HTTPAddr,
			"-grpc-addr", grpcAddr},
		Env: o.tokenEnv(),
	}, nil
}

// DefaultEnvoyAdminSocket is where Envoy's admin interface listens.
//
// Why a unix socket: a sidecar shares its application's network namespace,
// so an admin port on 127.0.0.1 (what -admin-bind gives) is reachable by
// the application — in the notebook, by any user code — which could then
// POST /quitquitquit, /drain_listeners or /runtime_modify, or read
// /config_dump. Abstract unix sockets ("@name") belong to the network
// namespace too. A socket file in Envoy's own filesystem is different:
// Docker gives every container its own mount namespace, so the application
// cannot reach a path in the Envoy container that no shared volume holds.
const DefaultEnvoyAdminSocket = "/tmp/moat-envoy-admin.sock"

// EnvoyOptions describe the Envoy process of one sidecar.
type EnvoyOptions struct {
	Binary        string // default "envoy"
	BootstrapPath string // the file holding EnvoyBootstrap's output
	AdminSocket   string // default DefaultEnvoyAdminSocket
	// ReadyAddress:ReadyPort is a listener that serves GET /ready and
	// nothing else (routed to the admin socket): moat's readiness probe.
	// It reveals only whether Envoy is ready, so it may listen on the mesh
	// address (default 0.0.0.0) and be published on host loopback.
	ReadyAddress string
	ReadyPort    int
	LogLevel     string // default "info"
}

// EnvoyCommand is the command of the Envoy container: Consul's bootstrap,
// with EnvoyOverlay merged over it by --config-yaml (admin on a unix
// socket, plus the /ready listener).
func EnvoyCommand(o EnvoyOptions) (Command, error) {
	if o.BootstrapPath == "" {
		return Command{}, errors.New("mesh: Envoy: BootstrapPath is empty: where does the bootstrap file go?")
	}
	overlay, err := EnvoyOverlay(o)
	if err != nil {
		return Command{}, err
	}
	bin, level := o.Binary, o.LogLevel
	if bin == "" {
		bin = "envoy"
	}
	if level == "" {
		level = "info"
	}
	return Command{Args: []string{bin,
		"--config-path", o.BootstrapPath,
		"--config-yaml", string(overlay),
		"--disable-hot-restart",
		"--log-level", level}}, nil
}

// EnvoyOverlay is the bootstrap fragment (JSON, which Envoy's --config-yaml
// accepts) that moves the admin interface to a unix socket and adds the
// moat_ready listener: GET /ready only, proxied to the admin socket.
// Merging sets admin.address's oneof to pipe (replacing Consul's
// socket_address) and appends the listener and cluster, whose names do not
// collide with Consul's.
func EnvoyOverlay(o EnvoyOptions) ([]byte, error) {
	sock := o.AdminSocket
	if sock == "" {
		sock = DefaultEnvoyAdminSocket
	}
	if !strings.HasPrefix(sock, "/") {
		return nil, fmt.Errorf("mesh: Envoy admin socket %q must be an absolute path (not an abstract socket, which the application's network namespace could reach)", sock)
	}
	if o.ReadyPort <= 0 || o.ReadyPort > 65535 {
		return nil, fmt.Errorf("mesh: Envoy ready port %d: pick a free port for the /ready listener", o.ReadyPort)
	}
	readyAddr := o.ReadyAddress
	if readyAddr == "" {
		readyAddr = "0.0.0.0"
	}
	pipe := func(mode bool) map[string]any {
		p := map[string]any{"path": sock}
		if mode {
			p["mode"] = 0o600
		}
		return map[string]any{"pipe": p}
	}
	overlay := map[string]any{
		"admin": map[string]any{"address": pipe(true)},
		"static_resources": map[string]any{
			"clusters": []any{map[string]any{
				"name": "moat_envoy_admin", "type": "STATIC", "connect_timeout": "1s",
				"load_assignment": map[string]any{"cluster_name": "moat_envoy_admin",
					"endpoints": []any{map[string]any{"lb_endpoints": []any{
						map[string]any{"endpoint": map[string]any{"address": pipe(false)}}}}}},
			}},
			"listeners": []any{map[string]any{
				"name":    "moat_ready",
				"address": map[string]any{"socket_address": map[string]any{"address": readyAddr, "port_value": o.ReadyPort}},
				"filter_chains": []any{map[string]any{"filters": []any{map[string]any{
					"name": "envoy.filters.network.http_connection_manager",
					"typed_config": map[string]any{
						"@type":       "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
						"stat_prefix": "moat_ready",
						"route_config": map[string]any{"name": "moat_ready", "virtual_hosts": []any{map[string]any{
							"name": "moat_ready", "domains": []any{"*"},
							"routes": []any{map[string]any{
								"match": map[string]any{"path": "/ready", "headers": []any{map[string]any{
									"name": ":method", "string_match": map[string]any{"exact": "GET"}}}},
								"route": map[string]any{"cluster": "moat_envoy_admin"},
							}},
						}}},
						"http_filters": []any{map[string]any{"name": "envoy.filters.http.router",
							"typed_config": map[string]any{"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}},
					},
				}}}},
			}},
		},
	}
	b, err := json.Marshal(overlay)
	if err != nil {
		return nil, fmt.Errorf("mesh: Envoy overlay: %w", err)
	}
	return b, nil
}

// EnvoyReadyURL is the readiness URL of a sidecar whose /ready listener is
// reachable at host:port (200 "LIVE" when Envoy is ready).
func EnvoyReadyURL(host string, port int) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/ready"
}

// PickEnvoy returns the newest Envoy version that Consul supports (from
// AgentInfo.EnvoyVersions) and that is available (image tags on the host,
// with or without a leading "v"). The result has no "v".
func PickEnvoy(supported, available []string) (string, error) {
	have := map[string]bool{}
	for _, a := range available {
		have[strings.TrimPrefix(a, "v")] = true
	}
	var both []string
	for _, s := range supported {
		if have[strings.TrimPrefix(s, "v")] {
			both = append(both, strings.TrimPrefix(s, "v"))
		}
	}
	if len(both) == 0 {
		return "", fmt.Errorf("mesh: no available Envoy version is supported by this Consul: Consul supports %s, available are %s: load an envoyproxy/envoy image of a supported version (moat images load) or use mesh.proxy = \"builtin\"",
			listOrNone(supported), listOrNone(available))
	}
	sort.Slice(both, func(i, j int) bool { return versionLess(both[j], both[i]) })
	return both[0], nil
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// versionLess compares dotted numeric versions (1.31.5 < 1.31.10).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		if errA != nil || errB != nil {
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
			continue
		}
		if na != nb {
			return na < nb
		}
	}
	return len(pa) < len(pb)
}
