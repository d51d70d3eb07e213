package supervisor

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ServiceStatus is one service at one moment, in the one shape every part of
// moat uses: Engine.Status returns it, moat's state store records it at each
// transition and returns it, and `moat status --json` and the dashboard show
// it, each adding beside it (by embedding) only what it knows and the
// supervisor does not (where the service sits in the topology, the runtime's
// view). The JSON names are those of `moat status --json`.
type ServiceStatus struct {
	Name       string    `json:"name"`
	Phase      Phase     `json:"phase"`
	Health     Health    `json:"health"`           // the probe's verdict; "" without a probe
	Reason     string    `json:"reason,omitempty"` // why it is in its phase
	InstanceID string    `json:"id,omitempty"`     // the runtime's ID of its current instance
	Restarts   int       `json:"restarts"`
	StartedAt  time.Time `json:"started_at,omitzero"` // when its current instance started
	LastProbe  string    `json:"last_probe,omitempty"`
	// WaitingOn is the dependency it waits for, as Dependency.String
	// shows it: "db (healthy)".
	WaitingOn string    `json:"waiting_on,omitempty"`
	NextTry   time.Time `json:"next_try,omitzero"` // when a restarting or crash-looping service is tried again
	// Ports and DependsOn are its spec's (SpecStatus).
	Ports     Ports        `json:"ports"`
	DependsOn []Dependency `json:"depends_on,omitempty"`
}

// SpecStatus is the part of a service's status that its spec decides: its
// name, published ports and dependencies (a netns peer counts as one, as
// the engine starts it). Everything else is observed.
func SpecStatus(sp Spec) ServiceStatus {
	return ServiceStatus{Name: sp.Name, Ports: sp.Ports, DependsOn: deps(sp)}
}

// Status is the service's status as t leaves it, as far as t tells: it does
// not carry the spec's part (SpecStatus) nor StartedAt.
func (t Transition) Status() ServiceStatus {
	return ServiceStatus{
		Name: t.Service, Phase: t.To, Health: t.Health, Reason: t.Reason, InstanceID: t.InstanceID,
		Restarts: t.Restarts, LastProbe: t.LastProbe, WaitingOn: t.WaitingOn, NextTry: t.NextTry,
	}
}

// Ports are a service's published ports. In JSON they are strings, as a
// user reads them (Port.String): ["127.0.0.1:8888->8888"].
type Ports []Port

// Strings are the ports as Port.String writes them.
func (ps Ports) Strings() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// String is the ports as status and the dashboard show them:
// "127.0.0.1:8500->8500, 127.0.0.1:8600->8600/udp".
func (ps Ports) String() string { return strings.Join(ps.Strings(), ", ") }

// MarshalJSON writes the ports as Strings, [] for none.
func (ps Ports) MarshalJSON() ([]byte, error) { return json.Marshal(ps.Strings()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (ps *Ports) UnmarshalJSON(b []byte) error {
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	out := make(Ports, 0, len(ss))
	for _, s := range ss {
		p, err := ParsePort(s)
		if err != nil {
			return err
		}
		out = append(out, p)
	}
	*ps = out
	return nil
}

// ParsePort reads a port as Port.String writes it: "127.0.0.1:8888->8888",
// "[::1]:53->53/udp".
func ParsePort(s string) (Port, error) {
	bad := func(why string) (Port, error) {
		return Port{}, fmt.Errorf("port %q: %s (want HOST_IP:HOST_PORT->CONTAINER_PORT[/udp])", s, why)
	}
	rest, udp := strings.CutSuffix(s, "/udp")
	host, container, ok := strings.Cut(rest, "->")
	if !ok {
		return bad("no ->")
	}
	ip, hostPort, err := net.SplitHostPort(host)
	if err != nil {
		return bad(err.Error())
	}
	p := Port{HostIP: ip}
	if p.HostPort, err = strconv.Atoi(hostPort); err != nil {
		return bad("the host port is not a number")
	}
	if p.ContainerPort, err = strconv.Atoi(container); err != nil {
		return bad("the container port is not a number")
	}
	if udp {
		p.Protocol = "udp"
	}
	return p, nil
}
