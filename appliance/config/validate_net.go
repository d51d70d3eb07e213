package config

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Checks of what moat puts on the host's network: the dashboard's address,
// every published host port, and the subnets of the networks it creates.

func (k *checker) port(field string, p int) {
	if p < 1 || p > 65535 {
		k.add(field, p, "must be a port between 1 and 65535")
	}
}

func (k *checker) dashboard(d Dashboard) {
	if !d.Enabled {
		return
	}
	ap, err := netip.ParseAddrPort(d.Listen)
	if err != nil || ap.Port() == 0 {
		k.add("dashboard.listen", d.Listen, "must be IP:PORT with a port between 1 and 65535, such as 127.77.0.1:7700")
		return
	}
	if !ap.Addr().IsLoopback() {
		k.add("dashboard.listen", d.Listen, "the dashboard listens on loopback only (127.0.0.0/8 or [::1]; the default is 127.77.0.1:7700): to reach it from another machine use an SSH tunnel (ssh -L %d:127.77.0.1:%d HOST) or a reverse proxy with TLS in front of it",
			ap.Port(), ap.Port())
	}
}

// subnet checks an IPv4 network of moat's that holds addresses up to
// .last, plus broadcast.
func (k *checker) subnet(field, s string, last int) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
		k.add(field, s, "must be an IPv4 CIDR of at least 16 addresses such as 172.28.0.0/24")
		return
	}
	if size := 1 << (32 - p.Bits()); last > size-2 {
		bits := 32
		for 1<<(32-bits) < last+2 {
			bits--
		}
		k.add(field, s, "holds %d addresses, too few for the fixed addresses moat gives up to .%d: use a /%d or larger", size, last, bits)
	}
}

// published is one host port moat publishes, and the key that sets it.
type published struct {
	key  string // e.g. mesh.https_port, service[1].ports
	show any    // the value shown in an error
	ip   netip.Addr
	port int
	what string // for a port derived from key: how
}

// hostPorts are every host port c makes moat publish, in the order the
// file usually sets them.
func hostPorts(c *Config) []published {
	lo := netip.MustParseAddr("127.0.0.1")
	var out []published
	if c.Dashboard.Enabled {
		if ap, err := netip.ParseAddrPort(c.Dashboard.Listen); err == nil {
			out = append(out, published{"dashboard.listen", c.Dashboard.Listen, ap.Addr(), int(ap.Port()), ""})
		}
	}
	if c.Mesh.Enabled {
		out = append(out, published{"mesh.https_port", c.Mesh.HTTPSPort, lo, c.Mesh.HTTPSPort, ""})
	}
	envoy := c.Mesh.Enabled && c.Mesh.Proxy == "envoy"
	if c.Trino.Enabled {
		out = append(out, published{"mesh.coordinator_port", c.Mesh.CoordinatorPort, lo, c.Mesh.CoordinatorPort, ""})
		if c.Mesh.Enabled && c.Mesh.WorkstationPort != 0 {
			out = append(out, published{"mesh.workstation_port", c.Mesh.WorkstationPort, lo, c.Mesh.WorkstationPort, ""})
		}
		if envoy {
			out = append(out, published{"mesh.coordinator_port", c.Mesh.CoordinatorPort, lo, EnvoyReadyPort(c, ServiceCoordinator),
				"+ 500, the Envoy /ready port of " + ServiceCoordinator + SidecarSuffix})
		}
	}
	if c.Notebook.Enabled {
		out = append(out,
			published{"mesh.notebook_sidecar_port", c.Mesh.NotebookSidecarPort, lo, c.Mesh.NotebookSidecarPort, ""},
			published{"notebook.port", c.Notebook.Port, lo, c.Notebook.Port, ""})
		if envoy {
			out = append(out, published{"mesh.notebook_sidecar_port", c.Mesh.NotebookSidecarPort, lo, EnvoyReadyPort(c, ServiceNotebook),
				"+ 500, the Envoy /ready port of " + ServiceNotebook + SidecarSuffix})
		}
	}
	for i, s := range c.Services {
		for _, p := range s.Ports {
			ip, _ := netip.ParseAddr(p.HostIP)
			out = append(out, published{fmt.Sprintf("service[%d].ports", i), p.String(), ip.Unmap(), p.HostPort, ""})
		}
	}
	return out
}

// clashes reports whether two published ports cannot both be bound.
func (a published) clashes(b published) bool {
	return a.port == b.port && (a.ip == b.ip || a.ip.IsUnspecified() || b.ip.IsUnspecified())
}

func (p published) label(k *checker) string {
	s := p.key
	if p.what != "" {
		s += " " + p.what
	}
	return fmt.Sprintf("%s (%s)", s, k.where(p.key))
}

// ports refuses two host ports that would collide, reporting each at the
// one written later and naming the other with its line.
func (k *checker) ports(c *Config) {
	ports := hostPorts(c)
	for j, b := range ports {
		if b.port < 1 || b.port > 65535 {
			continue
		}
		for _, a := range ports[:j] {
			if !a.clashes(b) || (a.what != "" && b.what != "") {
				continue // two derived ports clash only when their keys do
			}
			if k.after(a.key, b.key) {
				a, b = b, a
			}
			host := netip.AddrPortFrom(b.ip, uint16(b.port)).String()
			what := ""
			if b.what != "" {
				what = " (" + b.key + " " + b.what + ")"
			}
			k.add(b.key, b.show, "host port %s%s is also published by %s: give each its own port", host, what, a.label(k))
			break
		}
	}
}

// after reports whether the file sets a later than b (a default counts as
// first), so that an error lands on the line most likely to be the change.
func (k *checker) after(a, b string) bool {
	la, lb := -1, -1
	if k.set[a] {
		la = k.lines.line(a)
	}
	if k.set[b] {
		lb = k.lines.line(b)
	}
	return la > lb
}

// subnets refuses overlapping networks. The apps network of [[service]]
// containers has no configured subnet (Docker picks one), so only the
// mesh and trino networks can be compared here.
func (k *checker) subnets(c *Config) {
	if !c.Mesh.Enabled || !c.Trino.Enabled {
		return
	}
	m, err1 := netip.ParsePrefix(c.Mesh.Subnet)
	t, err2 := netip.ParsePrefix(c.Trino.Subnet)
	if err1 != nil || err2 != nil || !m.Overlaps(t) {
		return
	}
	a, b := "mesh.subnet", "trino.subnet"
	av, bv := c.Mesh.Subnet, c.Trino.Subnet
	if k.after(a, b) {
		a, b, av, bv = b, a, bv, av
	}
	k.add(b, bv, "overlaps %s = %s (%s): the mesh and trino networks need separate ranges, e.g. 172.28.0.0/24 and 172.29.0.0/24",
		a, strconv.Quote(av), k.where(a))
}
