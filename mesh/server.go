package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"time"

	"github.com/hashicorp/consul/api"
)

// Defaults of the server agent.
const (
	DefaultDatacenter = "dc1"
	DefaultHTTPPort   = 8500
	// DefaultGRPCPort is the plaintext xDS port Envoy sidecars use on the
	// mesh network. Outside -dev Consul disables gRPC unless it is set.
	DefaultGRPCPort = 8502
	// ServerDataDir is the server's persistent data directory in its
	// container.
	ServerDataDir = "/consul/data"
)

// ServerOptions describe the one persistent Consul server of a project.
// Zero values take the defaults above; ports set to -1 are disabled.
type ServerOptions struct {
	Datacenter string
	NodeName   string
	DataDir    string // default ServerDataDir
	BindAddr   string // cluster (serf/raft) address; empty lets Consul pick the private IP
	ClientAddr string // HTTP/DNS/gRPC listeners; default 0.0.0.0

	HTTPPort    int
	GRPCPort    int
	DNSPort     int // 0 keeps Consul's 8600
	SerfLANPort int // 0 keeps 8301
	SerfWANPort int // 0 keeps 8302
	ServerPort  int // 0 keeps 8300

	// ManagementToken, when set, is the initial management token (and the
	// server agent's own token), so that moat knows it before Consul starts
	// instead of bootstrapping through the API. It is a secret: the rendered
	// config must be delivered as a private file.
	ManagementToken string

	// Seal, when set, closes every Consul port an application could reach
	// (see SealOptions). moat always sets it; tests of the API alone may not.
	Seal *SealOptions

	// LeafCertTTL is the lifetime of Connect leaf certificates (Consul's
	// default is 72h; its minimum is 1h). Zero keeps the default.
	LeafCertTTL time.Duration
	LogLevel    string // default "info"
}

// SealOptions seal the control plane. A sidecar shares its application's
// network namespace, so nothing a sidecar reaches over the network can be
// kept from the application. The sealed server therefore:
//   - serves plaintext HTTP and gRPC (xDS) only on unix sockets in
//     SocketDir, a volume mounted into Consul and the sidecars and into no
//     application (Docker gives each container its own mount namespace);
//   - serves HTTPS (for moat on the host, through a loopback-published
//     port) only to clients presenting a certificate signed by CAFile
//     (verify_incoming), which only moat holds;
//   - binds server RPC/Raft and LAN gossip to its own loopback (a single
//     server needs no peer), and turns WAN gossip and DNS off.
type SealOptions struct {
	SocketDir string // e.g. /consul/run
	HTTPSPort int    // default DefaultHTTPSPort
	// PEM files inside the container: moat's CA and the server's key pair.
	CAFile, CertFile, KeyFile string
}

// DefaultHTTPSPort is the sealed server's HTTPS port in its container.
const DefaultHTTPSPort = 8501

// HTTPSocket and GRPCSocket are the unix sockets of a sealed server, as
// Consul's CLI and Envoy address them.
func (o SealOptions) HTTPSocket() string { return "unix://" + path.Join(o.SocketDir, "http.sock") }
func (o SealOptions) GRPCSocket() string { return "unix://" + path.Join(o.SocketDir, "grpc.sock") }

// serverConfig is the JSON agent configuration (keys as in Consul's agent
// configuration file reference).
type serverConfig struct {
	Datacenter      string            `json:"datacenter"`
	NodeName        string            `json:"node_name"`
	DataDir         string            `json:"data_dir"`
	Server          bool              `json:"server"`
	BootstrapExpect int               `json:"bootstrap_expect"`
	BindAddr        string            `json:"bind_addr,omitempty"`
	AdvertiseAddr   string            `json:"advertise_addr,omitempty"`
	ClientAddr      string            `json:"client_addr"`
	Addresses       map[string]string `json:"addresses,omitempty"`
	UnixSockets     map[string]string `json:"unix_sockets,omitempty"`
	TLS             map[string]any    `json:"tls,omitempty"`
	LogLevel        string            `json:"log_level"`
	UIConfig        map[string]any    `json:"ui_config"`
	Connect         connectConfig     `json:"connect"`
	Ports           map[string]int    `json:"ports"`
	ACL             aclConfig         `json:"acl"`
	// DisableUpdateCheck: air-gapped hosts must not phone home.
	DisableUpdateCheck bool `json:"disable_update_check"`
}

type connectConfig struct {
	Enabled  bool           `json:"enabled"`
	CAConfig map[string]any `json:"ca_config,omitempty"`
}

type aclConfig struct {
	Enabled                bool              `json:"enabled"`
	DefaultPolicy          string            `json:"default_policy"`
	EnableTokenPersistence bool              `json:"enable_token_persistence"`
	DownPolicy             string            `json:"down_policy"`
	Tokens                 map[string]string `json:"tokens,omitempty"`
}

// ServerConfig renders the server agent's JSON configuration: one server
// (bootstrap_expect 1), Connect on, gRPC for Envoy, ACLs on with default
// deny. With ManagementToken set, the rendering holds that token (a secret:
// deliver it as a private file); without, it holds no secret.
func ServerConfig(o ServerOptions) ([]byte, error) {
	o = o.withDefaults()
	if o.NodeName == "" {
		return nil, fmt.Errorf("mesh: server config: NodeName is empty: give the Consul node a name (for example \"consul\")")
	}
	if o.LeafCertTTL != 0 && o.LeafCertTTL < time.Hour {
		return nil, fmt.Errorf("mesh: server config: leaf certificate TTL %s is below Consul's minimum of 1h", o.LeafCertTTL)
	}
	ports := map[string]int{"http": o.HTTPPort, "grpc": o.GRPCPort, "grpc_tls": -1, "https": -1}
	for name, p := range map[string]int{"dns": o.DNSPort, "serf_lan": o.SerfLANPort, "serf_wan": o.SerfWANPort, "server": o.ServerPort} {
		if p != 0 {
			ports[name] = p
		}
	}
	c := serverConfig{
		Datacenter: o.Datacenter, NodeName: o.NodeName, DataDir: o.DataDir,
		Server: true, BootstrapExpect: 1,
		BindAddr: o.BindAddr, ClientAddr: o.ClientAddr, LogLevel: o.LogLevel,
		UIConfig: map[string]any{"enabled": true},
		Connect:  connectConfig{Enabled: true},
		Ports:    ports,
		ACL: aclConfig{Enabled: true, DefaultPolicy: "deny", EnableTokenPersistence: true,
			DownPolicy: "extend-cache"},
		DisableUpdateCheck: true,
	}
	if o.ManagementToken != "" {
		c.ACL.Tokens = map[string]string{"initial_management": o.ManagementToken, "agent": o.ManagementToken}
	}
	if o.Seal != nil {
		if err := seal(&c, *o.Seal); err != nil {
			return nil, err
		}
	}
	if o.LeafCertTTL != 0 {
		c.Connect.CAConfig = map[string]any{"leaf_cert_ttl": o.LeafCertTTL.String()}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("mesh: server config: %w", err)
	}
	return append(b, '\n'), nil
}

// seal applies SealOptions to c (see there for why each line).
func seal(c *serverConfig, o SealOptions) error {
	if o.SocketDir == "" || o.CAFile == "" || o.CertFile == "" || o.KeyFile == "" {
		return fmt.Errorf("mesh: sealed server config: SocketDir, CAFile, CertFile and KeyFile must all be set")
	}
	if o.HTTPSPort == 0 {
		o.HTTPSPort = DefaultHTTPSPort
	}
	c.BindAddr, c.AdvertiseAddr = "127.0.0.1", "127.0.0.1"
	c.Addresses = map[string]string{"http": o.HTTPSocket(), "grpc": o.GRPCSocket(), "https": c.ClientAddr}
	c.UnixSockets = map[string]string{"mode": "600"}
	c.Ports["https"] = o.HTTPSPort
	c.Ports["grpc_tls"] = -1
	c.Ports["dns"] = -1
	c.Ports["serf_wan"] = -1
	c.TLS = map[string]any{"https": map[string]any{
		"ca_file": o.CAFile, "cert_file": o.CertFile, "key_file": o.KeyFile,
		"verify_incoming": true, "tls_min_version": "TLSv1_2",
	}}
	return nil
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.Datacenter == "" {
		o.Datacenter = DefaultDatacenter
	}
	if o.DataDir == "" {
		o.DataDir = ServerDataDir
	}
	if o.ClientAddr == "" {
		o.ClientAddr = "0.0.0.0"
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = DefaultHTTPPort
	}
	if o.GRPCPort == 0 {
		o.GRPCPort = DefaultGRPCPort
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	return o
}

// AgentInfo is what moat reads from a running agent's /v1/agent/self.
type AgentInfo struct {
	Version    string
	Datacenter string
	NodeName   string
	// EnvoyVersions are the Envoy versions this Consul supports
	// (xDS.SupportedProxies.envoy), newest first as Consul lists them.
	EnvoyVersions []string
}

// ReadAgentInfo asks the agent behind client who it is. It needs a token
// with agent:read (the management token, or the agent's own node identity).
func ReadAgentInfo(ctx context.Context, client *api.Client) (AgentInfo, error) {
	var self struct {
		Config struct{ Version, Datacenter, NodeName string }
		XDS    struct{ SupportedProxies map[string][]string } `json:"xDS"`
	}
	req := &api.QueryOptions{}
	// api.Agent().Self drops the context; go through the raw endpoint.
	if _, err := client.Raw().Query("/v1/agent/self", &self, req.WithContext(ctx)); err != nil {
		return AgentInfo{}, fmt.Errorf("mesh: read Consul agent info (/v1/agent/self): %w", err)
	}
	if self.Config.Version == "" {
		return AgentInfo{}, fmt.Errorf("mesh: Consul agent info (/v1/agent/self) has no Config.Version")
	}
	return AgentInfo{
		Version: self.Config.Version, Datacenter: self.Config.Datacenter, NodeName: self.Config.NodeName,
		EnvoyVersions: self.XDS.SupportedProxies["envoy"],
	}, nil
}
