package appliance

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"moat/supervisor"
	"moat/trino"
)

// checker collects FieldErrors for one file.
type checker struct {
	file  string
	lines lineIndex
	errs  ConfigErrors
}

func (k *checker) add(field string, value any, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if value != nil {
		field = fmt.Sprintf("%s = %s", field, show(value))
	}
	k.errs = append(k.errs, &FieldError{File: k.file, Line: k.lines.line(keyOf(field)), Field: field, Msg: msg})
}

// keyOf strips " = value" from a field label.
func keyOf(field string) string {
	key, _, _ := strings.Cut(field, " = ")
	return key
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case Duration:
		return strconv.Quote(v.String())
	case Bytes:
		return strconv.Quote(v.String())
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprint(v)
}

var (
	projectRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,29}$`)
	nameRe    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,40}$`)
	userRe    = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,40}$`)
	catalogRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)
	envRe     = regexp.MustCompile(`^[a-z0-9_]+$`)
)

func oneOf(v string, allowed ...string) bool { return slices.Contains(allowed, v) }

func validate(c *Config, file string, lines lineIndex) ConfigErrors {
	k := &checker{file: file, lines: lines}
	k.appliance(c.Appliance)
	k.dashboard(c.Dashboard)
	k.mesh(c)
	k.trino(c)
	k.users(c)
	k.policies(c)
	k.notebook(c)
	k.reports(c)
	k.intentions(c)
	k.services(c)
	return k.errs
}

func (k *checker) appliance(a Appliance) {
	if !projectRe.MatchString(a.Project) {
		k.add("appliance.project", a.Project, "must be lowercase letters, digits and -, starting with a letter, at most 30 characters")
	}
	if !oneOf(a.Pull, "missing", "always", "never") {
		k.add("appliance.pull", a.Pull, "must be missing, always or never")
	}
	k.positive("appliance.start_timeout", a.StartTimeout)
	k.positive("appliance.stop_grace", a.StopGrace)
	k.positive("appliance.stable_after", a.StableAfter)
	k.positive("appliance.crash_loop_window", a.CrashLoopWindow)
	k.positive("appliance.report_timeout", a.ReportTimeout)
	if err := a.backoff().Validate(); err != nil {
		k.add("appliance."+strings.Fields(err.Error())[0], nil, "%s", strings.SplitN(err.Error(), ": ", 2)[1])
	}
	if a.CrashLoopFailures < 1 || a.CrashLoopFailures > 100 {
		k.add("appliance.crash_loop_failures", a.CrashLoopFailures, "must be between 1 and 100")
	}
}

func (a Appliance) backoff() supervisor.Backoff {
	b := supervisor.DefaultBackoff
	b.Initial, b.Max, b.StableAfter = a.RestartBackoffInitial.D(), a.RestartBackoffMax.D(), a.StableAfter.D()
	return b
}

func (k *checker) positive(field string, d Duration) {
	if d <= 0 {
		k.add(field, d, "must be a positive duration such as 30s")
	}
}

func (k *checker) port(field string, p int) {
	if p < 1 || p > 65535 {
		k.add(field, p, "must be a port between 1 and 65535")
	}
}

func (k *checker) dashboard(d Dashboard) {
	if !d.Enabled {
		return
	}
	host, port, err := net.SplitHostPort(d.Listen)
	if err != nil || net.ParseIP(host) == nil {
		k.add("dashboard.listen", d.Listen, "must be IP:PORT such as 127.0.0.1:7700")
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		k.add("dashboard.listen", d.Listen, "the port must be between 1 and 65535")
	}
}

func (k *checker) subnet(field, s string) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
		k.add(field, s, "must be an IPv4 CIDR of at least 16 addresses such as 172.28.0.0/24")
	}
}

func (k *checker) mesh(c *Config) {
	m := c.Mesh
	if !m.Enabled {
		return
	}
	if !oneOf(m.Proxy, "builtin", "envoy") {
		k.add("mesh.proxy", m.Proxy, "must be builtin (Consul's built-in proxy) or envoy")
	}
	k.image("mesh.consul_image", m.ConsulImage)
	if m.Proxy == "envoy" {
		k.image("mesh.envoy_image", m.EnvoyImage)
	}
	if !envRe.MatchString(strings.ReplaceAll(m.Datacenter, "-", "_")) {
		k.add("mesh.datacenter", m.Datacenter, "must be lowercase letters, digits, - and _")
	}
	k.port("mesh.http_port", m.HTTPPort)
	k.port("mesh.coordinator_port", m.CoordinatorPort)
	k.port("mesh.notebook_sidecar_port", m.NotebookSidecarPort)
	k.subnet("mesh.subnet", m.Subnet)
	if m.LeafCertTTL < Duration(time.Hour) {
		k.add("mesh.leaf_cert_ttl", m.LeafCertTTL, "must be at least 1h (Consul's minimum)")
	}
}

func (k *checker) image(field, ref string) {
	if ref == "" || strings.ContainsAny(ref, " \t") {
		k.add(field, ref, "must be an image reference such as name:tag")
	}
}

func (k *checker) trino(c *Config) {
	t := c.Trino
	if !t.Enabled {
		return
	}
	k.image("trino.image", t.Image)
	if !c.Mesh.Enabled {
		k.add("trino.enabled", t.Enabled, "Trino is reached only through the mesh: enable [mesh] too, or set trino.enabled = false")
	}
	if t.Version < 400 {
		k.add("trino.version", t.Version, "must be the Trino release the image runs (400 or later), e.g. 483")
	}
	if !envRe.MatchString(t.Environment) {
		k.add("trino.environment", t.Environment, "must be lowercase letters, digits and _ (node.environment)")
	}
	if t.Workers < 1 || t.Workers > 16 {
		k.add("trino.workers", t.Workers, "must be between 1 and 16")
	}
	if t.HeapHeadroomPercent < 0 || t.HeapHeadroomPercent > 90 {
		k.add("trino.heap_headroom_percent", t.HeapHeadroomPercent, "must be between 0 and 90")
	}
	k.subnet("trino.subnet", t.Subnet)
	k.positive("trino.shutdown_grace", t.ShutdownGrace)
	if t.Workers >= 1 && t.Workers <= 16 {
		k.memory(c)
	}
	seen := map[string]bool{}
	for i, cat := range c.Catalogs {
		f := fmt.Sprintf("catalog[%d]", i)
		if !catalogRe.MatchString(cat.Name) {
			k.add(f+".name", cat.Name, "must be lowercase letters, digits and _, starting with a letter")
		} else if seen[cat.Name] {
			k.add(f+".name", cat.Name, "is declared twice: catalog names must be unique")
		}
		seen[cat.Name] = true
		if _, ok := trino.Connectors[cat.Connector]; !ok {
			names := slices.Sorted(maps.Keys(trino.Connectors))
			k.add(f+".connector", cat.Connector, "must be one of %s", strings.Join(names, ", "))
		}
		for prop, secret := range cat.Secrets {
			if !catalogRe.MatchString(secret) {
				k.add(f+".secrets."+prop, secret, "must name a secret (lowercase letters, digits, _); set it with `moat secrets set NAME`")
			}
		}
	}
}

// memory applies Trino's start-up memory rule before anything starts.
func (k *checker) memory(c *Config) {
	plan := memoryPlan(c)
	err := plan.Validate(HostMemory())
	for _, e := range unjoin(err) {
		field := "trino"
		var me *trino.MemoryError
		if errors.As(e, &me) {
			field = me.Field
		}
		k.errs = append(k.errs, &FieldError{File: k.file, Line: k.lines.line(field), Msg: e.Error()})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (k *checker) users(c *Config) {
	seen := map[string]bool{}
	for i, u := range c.Users {
		f := fmt.Sprintf("user[%d].name", i)
		switch {
		case !userRe.MatchString(u.Name):
			k.add(f, u.Name, "must be lowercase letters, digits, _, . and -, starting with a letter")
		case u.Name == ManagementUser || u.Name == OrchestratorUser:
			k.add(f, u.Name, "is reserved for moat itself; choose another name")
		case seen[u.Name]:
			k.add(f, u.Name, "is declared twice: user names must be unique")
		}
		seen[u.Name] = true
		if u.Password != "" && len(u.Password) < 12 {
			k.add(fmt.Sprintf("user[%d].password", i), nil, "is shorter than 12 characters; leave it empty to have moat generate one")
		}
	}
}

func (c *Config) HasUser(name string) bool {
	return slices.ContainsFunc(c.Users, func(u User) bool { return u.Name == name })
}

func (c *Config) hasCatalog(name string) bool {
	return slices.ContainsFunc(c.Catalogs, func(x Catalog) bool { return x.Name == name })
}

var privileges = []string{"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"}

func (k *checker) policies(c *Config) {
	for i, p := range c.Policies {
		f := fmt.Sprintf("policy[%d]", i)
		if !c.HasUser(p.User) {
			k.add(f+".user", p.User, "is not a [[user]]; declare the user or fix the name")
		}
		if p.Catalog != "*" && !c.hasCatalog(p.Catalog) {
			k.add(f+".catalog", p.Catalog, "is not a [[catalog]] (or \"*\" for all)")
		}
		for _, pr := range p.Privileges {
			if !oneOf(pr, privileges...) {
				k.add(f+".privileges", p.Privileges, "%q is not a privilege: use %s", pr, strings.Join(privileges, ", "))
			}
		}
		if (p.RowFilter != "" || len(p.Columns) > 0) && p.Table == "" {
			k.add(f+".table", p.Table, "row_filter and column rules need a table (and schema)")
		}
		for j, col := range p.Columns {
			cf := fmt.Sprintf("%s.column[%d]", f, j)
			if col.Name == "" {
				k.add(cf+".name", col.Name, "must name a column")
			}
			if (col.Mask == "") == !col.Deny {
				k.add(cf, nil, "set exactly one of mask (an SQL expression) or deny = true")
			}
		}
	}
}

func (k *checker) notebook(c *Config) {
	n := c.Notebook
	if !n.Enabled {
		return
	}
	k.image("notebook.image", n.Image)
	k.port("notebook.port", n.Port)
	if c.Trino.Enabled && !c.HasUser(n.User) {
		k.add("notebook.user", n.User, "is not a [[user]]; the notebook connects to Trino as this user")
	}
	if !c.Mesh.Enabled || !c.Trino.Enabled {
		k.add("notebook.enabled", n.Enabled, "the notebook reaches Trino only through the mesh: enable [mesh] and [trino], or set notebook.enabled = false")
	}
}

func (k *checker) reports(c *Config) {
	seen := map[string]bool{}
	for i, r := range c.Reports {
		f := fmt.Sprintf("report[%d]", i)
		if !nameRe.MatchString(r.Name) {
			k.add(f+".name", r.Name, "must be lowercase letters, digits and -, starting with a letter (it names a folder)")
		} else if seen[r.Name] {
			k.add(f+".name", r.Name, "is declared twice: report names must be unique")
		}
		seen[r.Name] = true
		if strings.TrimSpace(r.SQL) == "" {
			k.add(f+".sql", r.SQL, "must be an SQL query")
		}
		if !c.HasUser(r.RunAs) {
			k.add(f+".run_as", r.RunAs, "is not a [[user]]; a report runs as one of them so that their masks and filters apply")
		}
		if err := reportDefinition(r).Validate(); err != nil {
			k.add(f, nil, "%v", err)
		}
	}
}

func (k *checker) intentions(c *Config) {
	known := append(MeshServices(c), "*")
	for i, in := range c.Intentions {
		f := fmt.Sprintf("intention[%d]", i)
		if !oneOf(in.Source, known...) {
			k.add(f+".source", in.Source, "must be one of %s", strings.Join(known, ", "))
		}
		if !oneOf(in.Destination, known...) {
			k.add(f+".destination", in.Destination, "must be one of %s", strings.Join(known, ", "))
		}
		if !oneOf(in.Action, "allow", "deny") {
			k.add(f+".action", in.Action, "must be allow or deny")
		}
		if len(in.HTTP) > 0 && c.Mesh.Proxy != "envoy" {
			k.add(f+".http", nil, "HTTP path and method rules need mesh.proxy = \"envoy\" (the built-in proxy only sees TCP)")
		}
	}
}

func (k *checker) services(c *Config) {
	before := len(k.errs)
	builtin := BuiltinServices(c)
	hostPorts := map[string]string{}
	seen := map[string]bool{}
	for i, s := range c.Services {
		f := fmt.Sprintf("service[%d]", i)
		if !nameRe.MatchString(s.Name) {
			k.add(f+".name", s.Name, "must be lowercase letters, digits and -, starting with a letter")
		} else if seen[s.Name] {
			k.add(f+".name", s.Name, "is declared twice: service names must be unique")
		} else if slices.Contains(builtin, s.Name) {
			k.add(f+".name", s.Name, "is the name of a service moat runs itself; choose another")
		}
		seen[s.Name] = true
		k.image(f+".image", s.Image)
		if s.Restart != "" && !oneOf(s.Restart, "always", "on-failure", "never") {
			k.add(f+".restart", s.Restart, "must be always, on-failure or never")
		}
		for _, p := range s.Ports {
			port, err := parsePort(p)
			if err != nil {
				k.add(f+".ports", s.Ports, "%v", err)
				continue
			}
			hp := fmt.Sprintf("%s:%d", port.HostIP, port.HostPort)
			if other, dup := hostPorts[hp]; dup {
				k.add(f+".ports", s.Ports, "host port %s is already published by %s", hp, other)
			}
			hostPorts[hp] = s.Name
		}
		for _, v := range s.Volumes {
			if _, err := parseVolume(v); err != nil {
				k.add(f+".volumes", s.Volumes, "%v", err)
			}
		}
		for _, d := range s.DependsOn {
			if _, err := parseDependency(d); err != nil {
				k.add(f+".depends_on", s.DependsOn, "%v", err)
			}
		}
		if s.HealthRetries < 0 {
			k.add(f+".health_retries", s.HealthRetries, "must be 0 or more")
		}
	}
	if len(k.errs) > before {
		return // the graph needs valid service declarations
	}
	_, err := supervisor.Order(extraSpecs(c))
	var ge *supervisor.GraphError
	if errors.As(err, &ge) {
		i := slices.IndexFunc(c.Services, func(s Service) bool { return s.Name == ge.Service })
		k.add(fmt.Sprintf("service[%d].depends_on", i), nil, "%s", ge.Msg)
	}
}

// parsePort reads "[IP:]HOST:CONTAINER" (IP defaults to 127.0.0.1).
func parsePort(s string) (supervisor.Port, error) {
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("%q is not a port mapping: write HOST:CONTAINER or IP:HOST:CONTAINER, e.g. 127.0.0.1:8080:80", s)
	ip := "127.0.0.1"
	switch len(parts) {
	case 2:
	case 3:
		ip, parts = parts[0], parts[1:]
		if net.ParseIP(ip) == nil {
			return supervisor.Port{}, bad
		}
	default:
		return supervisor.Port{}, bad
	}
	host, err1 := strconv.Atoi(parts[0])
	cont, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || host < 1 || host > 65535 || cont < 1 || cont > 65535 {
		return supervisor.Port{}, bad
	}
	return supervisor.Port{HostIP: ip, HostPort: host, ContainerPort: cont}, nil
}

// parseVolume reads "NAME:/path[:ro]": the project volume NAME at /path.
func parseVolume(s string) (supervisor.Mount, error) {
	parts := strings.Split(s, ":")
	bad := fmt.Errorf("%q is not a volume mount: write NAME:/path or NAME:/path:ro, e.g. data:/var/lib/data", s)
	if len(parts) < 2 || len(parts) > 3 || !nameRe.MatchString(parts[0]) || !strings.HasPrefix(parts[1], "/") {
		return supervisor.Mount{}, bad
	}
	m := supervisor.Mount{Volume: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		if parts[2] != "ro" {
			return supervisor.Mount{}, bad
		}
		m.ReadOnly = true
	}
	return m, nil
}

// parseDependency reads "NAME" (healthy), "NAME:started" or "NAME:completed".
func parseDependency(s string) (supervisor.Dependency, error) {
	name, cond, ok := strings.Cut(s, ":")
	d := supervisor.Dependency{Service: name, Condition: supervisor.Healthy}
	if ok {
		d.Condition = supervisor.Condition(cond)
	}
	switch d.Condition {
	case supervisor.Started, supervisor.Healthy, supervisor.Completed:
	default:
		return d, fmt.Errorf("%q: the condition after : must be started, healthy or completed", s)
	}
	if name == "" {
		return d, fmt.Errorf("%q: name a service", s)
	}
	return d, nil
}
