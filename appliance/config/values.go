package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"moat/supervisor"
)

// The [[service]] lists of moat.toml are parsed once, while the file is
// decoded: each item is one of these typed values, and a bad item is a
// FieldError at its line like any other wrong value.

// PortMapping is one entry of ports: "[IP:]HOST:CONTAINER" (IP defaults
// to 127.0.0.1).
type PortMapping struct{ supervisor.Port }

func (p *PortMapping) UnmarshalText(b []byte) error {
	s := string(b)
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("%q is not a port mapping: write HOST:CONTAINER or IP:HOST:CONTAINER, e.g. 127.0.0.1:8080:80", s)
	ip := "127.0.0.1"
	switch len(parts) {
	case 2:
	case 3:
		ip, parts = parts[0], parts[1:]
		if net.ParseIP(ip) == nil {
			return bad
		}
	default:
		return bad
	}
	host, err1 := strconv.Atoi(parts[0])
	cont, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || host < 1 || host > 65535 || cont < 1 || cont > 65535 {
		return bad
	}
	p.Port = supervisor.Port{HostIP: ip, HostPort: host, ContainerPort: cont}
	return nil
}

func (p PortMapping) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func (p PortMapping) String() string {
	return net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort)) + ":" + strconv.Itoa(p.ContainerPort)
}

// VolumeMount is one entry of volumes: "NAME:/path[:ro]", the project
// volume NAME at /path.
type VolumeMount struct{ supervisor.Mount }

func (m *VolumeMount) UnmarshalText(b []byte) error {
	s := string(b)
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("%q is not a volume mount: write NAME:/path or NAME:/path:ro, e.g. data:/var/lib/data", s)
	if len(parts) < 2 || len(parts) > 3 || !nameRe.MatchString(parts[0]) || !strings.HasPrefix(parts[1], "/") {
		if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") {
			return fmt.Errorf("%q is not a volume mount: it names a host path, and moat mounts only named project volumes (the stack then needs nothing of this host's files): write NAME:/path, e.g. data:/var/lib/data", s)
		}
		return bad
	}
	v := supervisor.Mount{Volume: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		if parts[2] != "ro" {
			return bad
		}
		v.ReadOnly = true
	}
	m.Mount = v
	return nil
}

func (m VolumeMount) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

func (m VolumeMount) String() string {
	s := m.Volume + ":" + m.Target
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}

// Dependency is one entry of depends_on: "NAME" (healthy), "NAME:started"
// or "NAME:completed".
type Dependency struct{ supervisor.Dependency }

func (d *Dependency) UnmarshalText(b []byte) error {
	s := string(b)
	name, cond, ok := strings.Cut(s, ":")
	v := supervisor.Dependency{Service: name, Condition: supervisor.Healthy}
	if ok {
		v.Condition = supervisor.Condition(cond)
	}
	switch v.Condition {
	case supervisor.Started, supervisor.Healthy, supervisor.Completed:
	default:
		return fmt.Errorf("%q: the condition after : must be started, healthy or completed", s)
	}
	if name == "" {
		return fmt.Errorf("%q: name a service", s)
	}
	d.Dependency = v
	return nil
}

func (d Dependency) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Dependency) String() string {
	if d.Condition == supervisor.Healthy {
		return d.Service
	}
	return d.Service + ":" + string(d.Condition)
}
