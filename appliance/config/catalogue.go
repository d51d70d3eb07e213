package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"moat/trino"

	"github.com/distribution/reference"
)

// The catalogue is the one table of what moat runs itself: every built-in
// service with its role, sidecar and fixed address, and every mesh
// identity with its doors. The plan, the control plane, verify, status and
// the dashboard read it; none of them switches on service names.

// Role is what a built-in service is to moat.
type Role string

const (
	RoleConsul      Role = "consul"
	RoleCoordinator Role = "trino-coordinator"
	RoleWorker      Role = "trino-worker"
	RoleNotebook    Role = "notebook"
	// RoleSidecar is a mesh proxy in its application's network namespace.
	RoleSidecar Role = "sidecar"
)

// Builtin is one service moat runs itself.
type Builtin struct {
	Name string
	Role Role
	// App is the application a sidecar serves; Sidecar is an
	// application's sidecar ("" when it has none).
	App, Sidecar string
	// IP is the service's fixed address (Trino nodes: on the trino
	// network; Consul and the notebook: on the mesh network).
	IP netip.Addr
}

// Identity is a mesh identity: a name intentions may use.
type Identity struct {
	Name string
	// Native identities are held by moat itself (orchestrator, the host
	// endpoint's workstation); the others are applications behind a
	// sidecar.
	Native bool
	// HostPort is the sidecar's public mTLS listener published on host
	// loopback, where moat's own identities (and verify) reach it.
	HostPort int
	// AppAddress and AppPort are where the sidecar finds its application
	// (Consul's registration); SidecarAddress is the sidecar's own
	// address on the mesh network.
	AppAddress     string
	AppPort        int
	SidecarAddress string
	// Upstreams are the identity's localhost doors to others.
	Upstreams []Upstream
	// RequestTimeout is the sidecar's limit on one request to its
	// application (0: the proxy's default).
	RequestTimeout time.Duration
	// OpaqueTLS: clients speak TLS to the application itself, through
	// the sidecar at L4, so no sidecar can read their HTTP (Trino).
	OpaqueTLS bool
}

// Upstream is a mesh service's localhost door to another one.
type Upstream struct {
	Destination string
	LocalBind   string // "127.0.0.1:8080"
}

func (u Upstream) String() string { return u.Destination + "@" + u.LocalBind }

// Catalogue is the table of c's built-in services and mesh identities.
type Catalogue struct {
	Services   []Builtin // in the order the plan lists them
	Identities []Identity
}

// CatalogueOf is the catalogue of what c makes moat run.
func CatalogueOf(c *Config) Catalogue {
	var k Catalogue
	addr := PlanAddresses(c)
	mesh, trinoOn, notebook := c.Mesh.Enabled, c.Trino.Enabled, c.Notebook.Enabled
	if mesh {
		k.Services = append(k.Services, Builtin{Name: ServiceConsul, Role: RoleConsul, IP: addr.Consul})
	}
	if trinoOn {
		coord := Builtin{Name: ServiceCoordinator, Role: RoleCoordinator, IP: addr.Coordinator}
		if mesh {
			coord.Sidecar = ServiceCoordinator + SidecarSuffix
		}
		k.Services = append(k.Services, coord)
		for i, ip := range addr.Workers {
			k.Services = append(k.Services, Builtin{Name: ServiceWorker + "-" + strconv.Itoa(i+1), Role: RoleWorker, IP: ip})
		}
		if mesh {
			k.Services = append(k.Services, Builtin{Name: coord.Sidecar, Role: RoleSidecar, App: ServiceCoordinator})
		}
	}
	if notebook {
		k.Services = append(k.Services,
			Builtin{Name: ServiceNotebook, Role: RoleNotebook, Sidecar: ServiceNotebook + SidecarSuffix, IP: addr.Notebook},
			Builtin{Name: ServiceNotebook + SidecarSuffix, Role: RoleSidecar, App: ServiceNotebook})
	}

	toCoordinator := func(port int) []Upstream {
		if !trinoOn {
			return nil
		}
		return []Upstream{{ServiceCoordinator, "127.0.0.1:" + strconv.Itoa(port)}}
	}
	orchestrator := Identity{Name: OrchestratorUser, Native: true}
	if mesh {
		orchestrator.Upstreams = toCoordinator(c.Mesh.CoordinatorPort)
	}
	k.Identities = append(k.Identities, orchestrator)
	if HasWorkstation(c) {
		// The host endpoint: tools on the host reach the coordinator at
		// this door, as workstation.
		k.Identities = append(k.Identities, Identity{Name: WorkstationIdentity, Native: true, Upstreams: toCoordinator(c.Mesh.WorkstationPort)})
	}
	if trinoOn {
		k.Identities = append(k.Identities, Identity{Name: ServiceCoordinator, HostPort: c.Mesh.CoordinatorPort,
			AppAddress: addr.Coordinator.String(), AppPort: TrinoHTTPSPort, SidecarAddress: addr.CoordinatorMesh.String(),
			RequestTimeout: 10 * time.Minute, OpaqueTLS: true}) // queries' long polls
	}
	if notebook {
		k.Identities = append(k.Identities, Identity{Name: ServiceNotebook, HostPort: c.Mesh.NotebookSidecarPort,
			AppAddress: "127.0.0.1", AppPort: 8888, SidecarAddress: addr.Notebook.String(),
			Upstreams: toCoordinator(NotebookUpstreamPort)})
	}
	return k
}

// HasWorkstation reports whether moat offers the host endpoint.
func HasWorkstation(c *Config) bool {
	return c.Mesh.Enabled && c.Trino.Enabled && c.Mesh.WorkstationPort != 0
}

// Names are the built-in services' names.
func (k Catalogue) Names() []string {
	out := make([]string, len(k.Services))
	for i, b := range k.Services {
		out[i] = b.Name
	}
	return out
}

// Service is the built-in service name.
func (k Catalogue) Service(name string) (Builtin, bool) {
	i := slices.IndexFunc(k.Services, func(b Builtin) bool { return b.Name == name })
	if i < 0 {
		return Builtin{}, false
	}
	return k.Services[i], true
}

// Identity is the mesh identity name.
func (k Catalogue) Identity(name string) (Identity, bool) {
	i := slices.IndexFunc(k.Identities, func(id Identity) bool { return id.Name == name })
	if i < 0 {
		return Identity{}, false
	}
	return k.Identities[i], true
}

// IdentityNames are the names intentions may use.
func (k Catalogue) IdentityNames() []string {
	out := make([]string, len(k.Identities))
	for i, id := range k.Identities {
		out[i] = id.Name
	}
	return out
}

// Sidecared are the identities behind a sidecar: the destinations a mesh
// connection can reach.
func (k Catalogue) Sidecared() []Identity {
	var out []Identity
	for _, id := range k.Identities {
		if !id.Native {
			out = append(out, id)
		}
	}
	return out
}

// SidecarOf returns the application whose sidecar service is.
func (k Catalogue) SidecarOf(service string) (string, bool) {
	b, ok := k.Service(service)
	return b.App, ok && b.Role == RoleSidecar
}

// Networks, volumes and fixed addresses of the built-in services.
const (
	MeshNetwork = "mesh" // the coordinator's namespace, the notebook, [[service]]s
	// ControlNetwork holds Consul alone: no application can route to it
	// (Docker isolates bridges from each other). It exists only so that
	// Consul's HTTPS API can be published on host loopback for moat; Docker
	// picks its subnet, since nothing addresses Consul by IP.
	ControlNetwork = "control"
	TrinoNetwork   = "trino" // internal: coordinator and workers only
	ConsulVolume   = "consul-data"
	// TrinoHTTPSPort is Trino's only port: HTTPS with a certificate from
	// moat's CA (there is no plaintext port).
	TrinoHTTPSPort = 8443
	// SidecarPort is the public (mTLS) listener of every sidecar inside
	// its application's namespace.
	SidecarPort = 21000
	// NotebookUpstreamPort is where the notebook reaches Trino: its
	// sidecar's upstream on 127.0.0.1.
	NotebookUpstreamPort = 8080
	ConsulConfigPath     = "/consul/config/server.json"
)

// Addresses are the fixed IPs the plan gives the built-in services.
type Addresses struct {
	Consul, CoordinatorMesh, Notebook netip.Addr // on the mesh network
	Coordinator                       netip.Addr // on the trino network
	Workers                           []netip.Addr
}

// Nth returns the n-th address of prefix.
func Nth(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// PlanAddresses derives the fixed IPs from the configured subnets.
func PlanAddresses(c *Config) Addresses {
	m, _ := netip.ParsePrefix(c.Mesh.Subnet)
	t, _ := netip.ParsePrefix(c.Trino.Subnet)
	a := Addresses{Consul: Nth(m, 2), CoordinatorMesh: Nth(m, 3), Notebook: Nth(m, 4), Coordinator: Nth(t, 10)}
	// Validation refuses more than maxWorkers, and must itself be able
	// to ask for the addresses of a config it is about to refuse.
	for i := 1; i <= min(c.Trino.Workers, maxWorkers); i++ {
		a.Workers = append(a.Workers, Nth(t, 10+i))
	}
	return a
}

// MemoryPlan is the memory of each Trino node: heap and query memory.
func MemoryPlan(c *Config) trino.MemoryPlan {
	t := c.Trino
	return trino.PlanMemory(trino.MemoryInput{
		Workers: t.Workers, CoordinatorHeap: int64(t.CoordinatorHeap), WorkerHeap: int64(t.WorkerHeap),
		QueryMaxMemoryPerNode: int64(t.QueryMaxMemoryPerNode), QueryMaxMemory: int64(t.QueryMaxMemory),
		HeadroomPercent: t.HeapHeadroomPercent,
		Fields: trino.MemoryFields{
			CoordinatorHeap: "trino.coordinator_heap", WorkerHeap: "trino.worker_heap",
			QueryMaxMemoryPerNode: "trino.query_max_memory_per_node", QueryMaxMemory: "trino.query_max_memory",
			Workers: "trino.workers",
		},
	})
}

// EnvoyReadyPort is the host loopback port of a sidecar's Envoy /ready
// listener: the sidecar's own published port + 500.
func EnvoyReadyPort(c *Config, service string) int {
	if service == ServiceNotebook {
		return c.Mesh.NotebookSidecarPort + 500
	}
	return c.Mesh.CoordinatorPort + 500
}

// EnvoyImageVersion is the Envoy version an image reference names: its
// tag (v1.31.5 in envoyproxy/envoy:v1.31.5@sha256:…), which moat checks
// against the versions Consul supports. A reference without a tag (a
// digest alone, or Docker's implicit latest) names no version: the error
// says so and how to write one.
func EnvoyImageVersion(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	if tagged, ok := named.(reference.Tagged); ok {
		return tagged.Tag(), nil
	}
	const why = "moat reads the Envoy version from the tag to check that Consul supports it"
	example := reference.FamiliarName(named) + ":v1.31.5"
	if d, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("has a digest but no tag: %s: write the tag before the digest, e.g. %s@%s", why, example, d.Digest())
	}
	return "", fmt.Errorf("has no tag (Docker would take latest, which names no version): %s: write it, e.g. %s", why, example)
}

// moat's own Trino users and mesh identities.
const (
	ManagementUser   = "moat"         // system_information write; graceful worker shutdown
	OrchestratorUser = "orchestrator" // runs queries and reports, impersonating their users
	// WorkstationIdentity is the mesh identity of the host endpoint
	// (mesh.workstation_port): tools on the host reach Trino as it.
	WorkstationIdentity = "workstation"
)

// Names of the services moat runs itself.
const (
	ServiceConsul      = "consul"
	ServiceCoordinator = "trino-coordinator"
	ServiceNotebook    = "notebook"
	ServiceWorker      = "trino-worker" // + "-N"
	SidecarSuffix      = "-sidecar"
)

// AppsNetwork is the network of [[service]] containers.
const AppsNetwork = "apps"
