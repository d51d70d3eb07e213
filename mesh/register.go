package mesh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

// Sidecar ports: Consul assigns public listener ports from this range when
// none is given, and reassignment has collided (hashicorp/consul#11630), so
// moat always sets them explicitly from the same range.
const (
	SidecarPortMin = 21000
	SidecarPortMax = 21255
)

// DefaultHealthTTL is how long a moat health report stays valid in Consul: a
// moat that stops reporting turns its services critical.
const DefaultHealthTTL = 90 * time.Second

// metaConfigHash is the service meta key holding the digest of the
// registration, so that registering the same thing twice is a no-op.
const metaConfigHash = "moat-config-hash"

// Upstream is a service the application reaches through its sidecar at
// LocalBindAddress:LocalBindPort.
type Upstream struct {
	DestinationName  string `json:"destination_name"`
	LocalBindAddress string `json:"local_bind_address,omitempty"` // default 127.0.0.1
	LocalBindPort    int    `json:"local_bind_port"`
}

// Registration is one service of the mesh and its sidecar.
type Registration struct {
	Service string // the name intentions use (and the SPIFFE identity)
	ID      string // default Service
	// Address and Port are where the application listens, as seen from its
	// sidecar (127.0.0.1 in a shared namespace, or the application's own
	// private address, for Trino bound to the trino network).
	Address string
	Port    int

	// Native marks a Connect-native service (moat's orchestrator): no
	// sidecar, the application speaks mTLS itself.
	Native bool

	// SidecarPort is the sidecar's public mTLS listener, SidecarAddress the
	// address other sidecars dial (the sidecar's address on the mesh
	// network), SidecarBindAddress what the listener binds (default
	// 0.0.0.0 in a container; 127.0.0.1 for local processes).
	SidecarPort        int
	SidecarAddress     string
	SidecarBindAddress string
	Upstreams          []Upstream

	// Protocol of the service for Envoy: "tcp" (default, L4) or "http"
	// (needed for HTTP path rules in intentions).
	Protocol string
	// LocalRequestTimeout raises Envoy's 15 s default timeout for HTTP
	// requests to the local application (local_request_timeout_ms), for
	// long Trino requests. Only meaningful with Protocol "http" and Envoy.
	LocalRequestTimeout time.Duration

	// HealthTTL is the TTL of the moat:<service> check (DefaultHealthTTL).
	HealthTTL time.Duration
	Tags      []string
	Meta      map[string]string
}

// HealthCheckID is the TTL check through which moat mirrors its own view of
// service's health into Consul.
func HealthCheckID(service string) string { return "moat:" + service }

// SidecarID is the ID Consul gives the sidecar of the service with this ID.
func SidecarID(serviceID string) string { return serviceID + "-sidecar-proxy" }

// Validate reports the first problem of r, naming the field to fix.
func (r Registration) Validate() error {
	switch {
	case r.Service == "":
		return errors.New("mesh: registration: Service is empty")
	case r.Port <= 0 || r.Port > 65535:
		return fmt.Errorf("mesh: registration of %s: application port %d is not a TCP port", r.Service, r.Port)
	case r.Native && (r.SidecarPort != 0 || len(r.Upstreams) > 0):
		return fmt.Errorf("mesh: registration of %s: a Connect-native service has no sidecar: drop SidecarPort and Upstreams", r.Service)
	case !r.Native && r.SidecarPort == 0:
		return fmt.Errorf("mesh: registration of %s: SidecarPort is not set: pick one in %d-%d (or the configured range)", r.Service, SidecarPortMin, SidecarPortMax)
	case r.Protocol != "" && r.Protocol != "tcp" && r.Protocol != "http":
		return fmt.Errorf("mesh: registration of %s: protocol %q: use \"tcp\" or \"http\"", r.Service, r.Protocol)
	}
	seen := map[int]string{}
	for _, u := range r.Upstreams {
		if u.DestinationName == "" || u.LocalBindPort <= 0 || u.LocalBindPort > 65535 {
			return fmt.Errorf("mesh: registration of %s: upstream %q needs a destination name and a local bind port (got %d)", r.Service, u.DestinationName, u.LocalBindPort)
		}
		if other, dup := seen[u.LocalBindPort]; dup {
			return fmt.Errorf("mesh: registration of %s: upstreams %s and %s both bind local port %d", r.Service, other, u.DestinationName, u.LocalBindPort)
		}
		seen[u.LocalBindPort] = u.DestinationName
	}
	return nil
}

// AgentRegistration is the body of PUT /v1/agent/service/register for r,
// with the digest of its content in Meta[moat-config-hash].
func (r Registration) AgentRegistration() (*api.AgentServiceRegistration, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	id := r.ID
	if id == "" {
		id = r.Service
	}
	ttl := r.HealthTTL
	if ttl == 0 {
		ttl = DefaultHealthTTL
	}
	reg := &api.AgentServiceRegistration{
		ID: id, Name: r.Service, Address: r.Address, Port: r.Port, Tags: r.Tags,
		Meta: map[string]string{},
		Checks: api.AgentServiceChecks{{
			CheckID: HealthCheckID(r.Service),
			Name:    "moat observes " + r.Service,
			Notes:   "TTL check updated by moat from its own probes",
			TTL:     ttl.String(),
			Status:  api.HealthCritical, // until moat has seen it healthy
		}},
		Connect: &api.AgentServiceConnect{Native: r.Native},
	}
	for k, v := range r.Meta {
		reg.Meta[k] = v
	}
	if !r.Native {
		reg.Connect.SidecarService = r.sidecar()
	}
	sum, err := json.Marshal(reg)
	if err != nil {
		return nil, fmt.Errorf("mesh: registration of %s: %w", r.Service, err)
	}
	h := sha256.Sum256(sum)
	reg.Meta[metaConfigHash] = hex.EncodeToString(h[:8])
	return reg, nil
}

func (r Registration) sidecar() *api.AgentServiceRegistration {
	bind := r.SidecarBindAddress
	if bind == "" {
		bind = "0.0.0.0"
	}
	local := r.Address
	if local == "" {
		local = "127.0.0.1"
	}
	config := map[string]any{
		"bind_address":          bind,
		"bind_port":             r.SidecarPort,
		"local_service_address": net.JoinHostPort(local, strconv.Itoa(r.Port)),
	}
	if r.Protocol != "" {
		config["protocol"] = r.Protocol
	}
	if r.LocalRequestTimeout > 0 {
		config["local_request_timeout_ms"] = r.LocalRequestTimeout.Milliseconds()
	}
	proxy := &api.AgentServiceConnectProxyConfig{
		LocalServiceAddress: local, LocalServicePort: r.Port, Config: config,
	}
	for _, u := range r.Upstreams {
		addr := u.LocalBindAddress
		if addr == "" {
			addr = "127.0.0.1"
		}
		proxy.Upstreams = append(proxy.Upstreams, api.Upstream{
			DestinationType: api.UpstreamDestTypeService, DestinationName: u.DestinationName,
			LocalBindAddress: addr, LocalBindPort: u.LocalBindPort,
		})
	}
	// Consul's default sidecar checks dial the sidecar from the server, and
	// the sealed server can reach no application network: the sidecar's
	// health is its application's (moat's TTL check), by an alias check.
	id := r.ID
	if id == "" {
		id = r.Service
	}
	checks := api.AgentServiceChecks{{
		CheckID: HealthCheckID(r.Service) + ":sidecar", Name: "moat observes " + r.Service + " (alias)",
		AliasService: id,
	}}
	return &api.AgentServiceRegistration{Address: r.SidecarAddress, Port: r.SidecarPort, Proxy: proxy, Checks: checks}
}

// Register registers r (and its sidecar) with the agent behind client. When
// the agent already holds the same registration it does nothing (so the
// moat:<service> check keeps its status) and returns changed=false.
// client's token needs service:write on r.Service (its sidecar token or the
// management token); the agent keeps using that token for the service.
func Register(ctx context.Context, client *api.Client, r Registration) (changed bool, err error) {
	reg, err := r.AgentRegistration()
	if err != nil {
		return false, err
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	existing, _, err := client.Agent().Service(reg.ID, q)
	if err == nil && existing != nil && existing.Meta[metaConfigHash] == reg.Meta[metaConfigHash] {
		return false, pruneChecks(ctx, client, reg)
	}
	if err != nil && !isStatus(err, 404) {
		return false, fmt.Errorf("mesh: read registration of %s: %w", reg.ID, err)
	}
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := client.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return false, fmt.Errorf("mesh: register service %s: %w", reg.ID, err)
	}
	return true, pruneChecks(ctx, client, reg)
}

// PruneChecks removes the checks of r's service and sidecar that r does not
// define. A Consul agent restarted on its data dir (moat down, then up)
// gives a sidecar it reloaded from there Consul's default sidecar checks
// again, some time after start: a TCP dial from the server, which the sealed
// server cannot make, so the sidecar stayed critical, had no healthy
// instance, and no upstream reached it. Register prunes, and so does moat's
// health mirror, which runs on every transition and every few seconds.
func PruneChecks(ctx context.Context, client *api.Client, r Registration) error {
	reg, err := r.AgentRegistration()
	if err != nil {
		return err
	}
	return pruneChecks(ctx, client, reg)
}

func pruneChecks(ctx context.Context, client *api.Client, reg *api.AgentServiceRegistration) error {
	want := map[string]bool{}
	for _, c := range reg.Checks {
		want[c.CheckID] = true
	}
	if reg.Connect != nil && reg.Connect.SidecarService != nil {
		for _, c := range reg.Connect.SidecarService.Checks {
			want[c.CheckID] = true
		}
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	checks, err := client.Agent().ChecksWithFilterOpts("", q)
	if err != nil {
		return fmt.Errorf("mesh: read the checks of %s: %w", reg.ID, err)
	}
	for id, c := range checks {
		if (c.ServiceID == reg.ID || c.ServiceID == SidecarID(reg.ID)) && !want[id] {
			if err := client.Agent().CheckDeregisterOpts(id, q); err != nil {
				return fmt.Errorf("mesh: remove check %s of %s (not moat's): %w", id, c.ServiceID, err)
			}
		}
	}
	return nil
}

// HealthStatus is what moat observes of a service.
type HealthStatus string

const (
	Passing  HealthStatus = api.HealthPassing
	Warning  HealthStatus = api.HealthWarning
	Critical HealthStatus = api.HealthCritical
)

// UpdateHealth mirrors moat's view of service into its moat:<service> TTL
// check; output is shown in Consul's UI (keep secrets out of it).
func UpdateHealth(ctx context.Context, client *api.Client, service string, status HealthStatus, output string) error {
	switch status {
	case Passing, Warning, Critical:
	default:
		return fmt.Errorf("mesh: health of %s: status %q: use passing, warning or critical", service, status)
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	if err := client.Agent().UpdateTTLOpts(HealthCheckID(service), output, string(status), q); err != nil {
		return fmt.Errorf("mesh: update health check %s: %w", HealthCheckID(service), err)
	}
	return nil
}
