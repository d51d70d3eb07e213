package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"moat/mesh"
	"moat/report"
	"moat/supervisor"
	"moat/trino"

	"github.com/distribution/reference"
)

// checker collects FieldErrors for one file.
type checker struct {
	*source
	errs ConfigErrors
	// missing collects, per replaced list ("user"), the defaults the file
	// did not write that name entries it dropped: one message per list.
	missing map[string][]string
}

// add reports field (with its value, when not nil) at the line that sets
// it; nothing when decoding already reported field, or a table holding it,
// as the wrong type.
func (k *checker) add(field string, value any, format string, args ...any) {
	if k.typeReported(field) {
		return
	}
	k.errs = append(k.errs, k.fieldError(field, value, fmt.Sprintf(format, args...)))
}

func (k *checker) fieldError(field string, value any, msg string) *FieldError {
	key := field
	if value != nil {
		field = fmt.Sprintf("%s = %s", field, show(value))
	}
	if !k.set[key] {
		// Say where a value the file did not write comes from.
		if parent, ok := k.element(key); ok {
			field += " (not set in " + parent + ")"
		} else if value != nil {
			field += " (default)"
		}
	}
	return &FieldError{File: k.file, Line: k.lines.line(key), Field: field, Msg: msg}
}

// typeReported reports whether key, or a table or entry holding it, had a
// value of the wrong type in the file (reported while decoding).
func (k *checker) typeReported(key string) bool {
	for p := key; p != ""; {
		if k.wrong[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return false
}

// element returns the array-of-tables entry (such as policy[0]) that the
// file declares and key belongs to.
func (k *checker) element(key string) (string, bool) {
	i := strings.LastIndex(key, "].")
	if i < 0 || !k.set[key[:i+1]] {
		return "", false
	}
	return key[:i+1], true
}

// where names the line that sets key, for a message about another key.
func (k *checker) where(key string) string {
	if !k.set[key] {
		return "the default"
	}
	return fmt.Sprintf("%s:%d", k.file, k.lines.line(key))
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
		if len(v) == 0 {
			return "[]"
		}
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
	// trinoEnvRe is Trino's node.environment rule.
	trinoEnvRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)
)

func oneOf(v string, allowed ...string) bool { return slices.Contains(allowed, v) }

// maxWorkers is the largest trino.workers; nothing sized by the number of
// workers is planned before it is known to be in range.
const maxWorkers = 16

func validate(c *Config, src *source) ConfigErrors {
	k := &checker{source: src, missing: map[string][]string{}}
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
	k.ports(c)
	k.subnets(c)
	k.replacedLists()
	return k.errs
}

// sized reports whether the number of workers is in range, so that what
// depends on it (names, addresses, memory) may be computed.
func sized(c *Config) bool {
	return !c.Trino.Enabled || (c.Trino.Workers >= 1 && c.Trino.Workers <= maxWorkers)
}

func (k *checker) appliance(a Appliance) {
	if strings.TrimSpace(a.DataDir) == "" {
		k.add("appliance.data_dir", a.DataDir, "must name the folder for moat's state and secrets (relative to moat.toml), e.g. .moat")
	}
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
	var pe *supervisor.PolicyError
	if errors.As(a.RestartBackoff().Validate(), &pe) {
		k.add("appliance."+pe.Field, nil, "%s", pe.Reason)
	}
	if a.CrashLoopFailures < 1 || a.CrashLoopFailures > 100 {
		k.add("appliance.crash_loop_failures", a.CrashLoopFailures, "must be between 1 and 100")
	}
	if !oneOf(a.CrashLoop, "retry", "stop") {
		k.add("appliance.crash_loop", a.CrashLoop, "must be retry (try a crash-looping service again every crash_loop_retry) or stop (mark it failed for good)")
	}
	if a.CrashLoop != "stop" {
		k.positive("appliance.crash_loop_retry", a.CrashLoopRetry)
	}
}

// RestartBackoff is the supervisor's restart delay policy.
func (a Appliance) RestartBackoff() supervisor.Backoff {
	b := supervisor.DefaultBackoff
	b.Initial, b.Max, b.StableAfter = a.RestartBackoffInitial.D(), a.RestartBackoffMax.D(), a.StableAfter.D()
	return b
}

// CrashLoopPolicy is the supervisor's rule for a service that cannot become
// healthy.
func (a Appliance) CrashLoopPolicy() supervisor.CrashLoop {
	return supervisor.CrashLoop{
		Failures: a.CrashLoopFailures, Window: a.CrashLoopWindow.D(),
		Retry: a.CrashLoopRetry.D(), Stop: a.CrashLoop == "stop",
	}
}

func (k *checker) positive(field string, d Duration) {
	if d <= 0 {
		k.add(field, d, "must be a positive duration such as 30s")
	}
}

func (k *checker) mesh(c *Config) {
	m := c.Mesh
	if !m.Enabled {
		k.meshNeeded(c)
		return
	}
	if !oneOf(m.Proxy, "builtin", "envoy") {
		k.add("mesh.proxy", m.Proxy, "must be builtin (Consul's built-in proxy) or envoy")
	}
	k.image("mesh.consul_image", m.ConsulImage, "hashicorp/consul:1.20.2")
	if m.Proxy == "envoy" {
		k.image("mesh.envoy_image", m.EnvoyImage, "envoyproxy/envoy:v1.31.5")
		if _, err := reference.ParseNormalizedNamed(m.EnvoyImage); err == nil {
			if _, err := EnvoyImageVersion(m.EnvoyImage); err != nil {
				k.add("mesh.envoy_image", m.EnvoyImage, "%v", err)
			}
		}
	}
	if !envRe.MatchString(strings.ReplaceAll(m.Datacenter, "-", "_")) {
		k.add("mesh.datacenter", m.Datacenter, "must be lowercase letters, digits, - and _")
	}
	k.port("mesh.https_port", m.HTTPSPort)
	k.port("mesh.coordinator_port", m.CoordinatorPort)
	k.port("mesh.notebook_sidecar_port", m.NotebookSidecarPort)
	if m.WorkstationPort != 0 {
		k.port("mesh.workstation_port", m.WorkstationPort)
	}
	k.subnet("mesh.subnet", m.Subnet, 4) // Consul .2, coordinator .3, notebook .4
	if m.LeafCertTTL < Duration(time.Hour) {
		k.add("mesh.leaf_cert_ttl", m.LeafCertTTL, "must be at least 1h (Consul's minimum)")
	}
}

// meshNeeded reports what needs the mesh when it is off, at the line the
// user wrote: the service's enabled key, or else mesh.enabled.
func (k *checker) meshNeeded(c *Config) {
	for _, s := range []struct {
		key, name string
		on        bool
	}{{"trino.enabled", "Trino", c.Trino.Enabled}, {"notebook.enabled", "the notebook", c.Notebook.Enabled}} {
		switch {
		case !s.on:
		case k.set[s.key]:
			k.add(s.key, true, "%s is reached only through the mesh: enable [mesh] too, or set %s = false", s.name, s.key)
		default:
			k.add("mesh.enabled", false, "%s (on by default) is reached only through the mesh: set %s = false too, or enable the mesh", s.name, s.key)
		}
	}
}

// image checks ref with Docker's reference grammar.
//
// An absolute path is the process runtime's "image" (MOAT_RUNTIME=process
// runs that executable); Docker refuses it at pre-flight.
func (k *checker) image(field, ref, example string) {
	_, err := reference.ParseNormalizedNamed(ref)
	if err == nil || filepath.IsAbs(ref) {
		return
	}
	hint := "write [REGISTRY/]NAME[:TAG][@DIGEST] in lowercase, e.g. " + example
	switch {
	case strings.Contains(ref, "://"):
		hint = "an image reference has no scheme: drop " + ref[:strings.Index(ref, "://")+3] + ", e.g. " + example
	case strings.HasSuffix(ref, ":"):
		hint = "the tag after : is empty: write the tag, e.g. " + example
	}
	k.add(field, ref, "is not an image reference (%v): %s", err, hint)
}

func (k *checker) trino(c *Config) {
	t := c.Trino
	if !t.Enabled {
		return
	}
	k.image("trino.image", t.Image, "trinodb/trino:483")
	if t.Version < 400 {
		k.add("trino.version", t.Version, "must be the Trino release the image runs (400 or later), e.g. 483")
	}
	switch {
	case len(t.Environment) > 64:
		k.add("trino.environment", t.Environment, "is %d characters long: node.environment may have at most 64", len(t.Environment))
	case !trinoEnvRe.MatchString(t.Environment):
		k.add("trino.environment", t.Environment, "must be lowercase letters, digits and _, starting with a letter or digit (Trino's node.environment)")
	}
	if t.Workers < 1 || t.Workers > maxWorkers {
		k.add("trino.workers", t.Workers, "must be between 1 and %d", maxWorkers)
	}
	if t.HeapHeadroomPercent < 0 || t.HeapHeadroomPercent > 90 {
		k.add("trino.heap_headroom_percent", t.HeapHeadroomPercent, "must be between 0 and 90")
	}
	k.subnet("trino.subnet", t.Subnet, 10+min(max(t.Workers, 1), maxWorkers)) // coordinator .10, workers after it
	k.positive("trino.shutdown_grace", t.ShutdownGrace)
	if sized(c) {
		k.memory(c)
	}
	seen := map[string]bool{}
	for i, cat := range c.Catalogs {
		f := fmt.Sprintf("catalog[%d]", i)
		k.uniqueName(f+".name", cat.Name, catalogRe, "lowercase letters, digits and _, starting with a letter", "catalog", seen)
		if _, ok := trino.Connectors[cat.Connector]; !ok {
			names := slices.Sorted(maps.Keys(trino.Connectors))
			k.add(f+".connector", cat.Connector, "must be one of %s", strings.Join(names, ", "))
		}
		for _, prop := range slices.Sorted(maps.Keys(cat.Secrets)) {
			if secret := cat.Secrets[prop]; !catalogRe.MatchString(secret) {
				k.add(f+".secrets."+pathKey(prop), secret, "must name a secret (lowercase letters, digits, _); set it with `moat secrets set NAME`")
			}
		}
	}
}

// memory applies Trino's start-up memory rules, then checks that the
// cluster fits in this host's memory.
func (k *checker) memory(c *Config) {
	plan := MemoryPlan(c)
	// The host is checked below, in moat.toml's words and one unit.
	err := plan.Validate(math.MaxInt64)
	for _, e := range unjoin(err) {
		field := "trino"
		var me *trino.MemoryError
		if errors.As(e, &me) {
			field = me.Field
		}
		k.errs = append(k.errs, &FieldError{File: k.file, Line: k.lines.line(field), Msg: e.Error()})
	}
}

// FitsHost checks c against a host with memory bytes of memory (0: not
// known, nothing checked): a cluster that needs more is refused, naming the
// one setting to lower and by how much, at its line of the file. Loading a
// config reads nothing of the host; pre-flight brings its facts here.
func (c *Config) FitsHost(memory int64) error {
	if !c.Trino.Enabled || !sized(c) || memory <= 0 {
		return nil
	}
	src := c.src
	if src == nil {
		src = &source{file: configFile(c), lines: lineIndex{}, set: map[string]bool{}}
	}
	k := &checker{source: src, missing: map[string][]string{}}
	k.hostFit(c, MemoryPlan(c), memory)
	if len(k.errs) == 0 {
		return nil
	}
	return k.errs
}

// hostFit refuses a cluster that needs more memory than the host has,
// naming the one setting to lower and by how much, all in MiB.
func (k *checker) hostFit(c *Config, plan trino.MemoryPlan, memory int64) {
	host := memory / trino.MiB * trino.MiB
	total := plan.Total()
	if host <= 0 || total <= host {
		return
	}
	coord, worker, n := plan.Coordinator.Container, plan.Worker.Container, int64(plan.Workers)
	mib := func(b int64) string { return strconv.FormatInt(b/trino.MiB, 10) + "MiB" }
	need := fmt.Sprintf("Trino needs %s of memory (coordinator %s + %d × worker %s, each heap + JVM overhead) but this host has %s",
		mib(total), mib(coord), n, mib(worker), mib(host))
	if fit := (host - coord) / worker; n > 1 && fit >= 1 {
		k.add("trino.workers", c.Trino.Workers, "%s: lower it to at most %d", need, fit)
		return
	}
	field, value := "trino.worker_heap", c.Trino.WorkerHeap
	if coord > n*worker {
		field, value = "trino.coordinator_heap", c.Trino.CoordinatorHeap
	}
	k.add(field, value, "%s: lower it until the total fits in %s", need, mib(host))
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

// dangling reports whether the value of field, naming an entry of list
// that is not there, is a default the file never wrote while it replaced
// that list; if so it is kept for replacedLists' one message.
func (k *checker) dangling(list, field, name string) bool {
	if _, replaced := k.replaced[list]; !replaced || k.set[field] {
		return false
	}
	k.missing[list] = append(k.missing[list], fmt.Sprintf("%s = %q", field, name))
	return true
}

// replacedLists explains, once per list, the defaults that still name an
// entry of a default list the file replaced, and what to add.
func (k *checker) replacedLists() {
	for _, list := range slices.Sorted(maps.Keys(k.missing)) {
		refs := k.missing[list]
		var names, add []string
		for _, r := range refs {
			_, v, _ := strings.Cut(r, " = ")
			if name, _ := strconv.Unquote(v); !slices.Contains(names, name) {
				names = append(names, name)
				add = append(add, fmt.Sprintf("[[%s]] name = %s", list, v))
			}
		}
		k.errs = append(k.errs, &FieldError{File: k.file, Line: k.lines.line(list + "[0]"), Field: list,
			Msg: fmt.Sprintf("declaring [[%s]] replaces the default list (%s), but defaults you did not write still name %s: %s; add %s, or set those keys yourself",
				list, strings.Join(k.replaced[list], ", "), strings.Join(names, ", "), strings.Join(refs, ", "), strings.Join(add, " and "))})
	}
}

var privileges = []string{"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"}

func (k *checker) policies(c *Config) {
	for i, p := range c.Policies {
		f := fmt.Sprintf("policy[%d]", i)
		if !c.HasUser(p.User) && !k.dangling("user", f+".user", p.User) {
			k.add(f+".user", p.User, "is not a [[user]]; declare the user or fix the name")
		}
		if p.Catalog != "*" && !c.hasCatalog(p.Catalog) && !k.dangling("catalog", f+".catalog", p.Catalog) {
			k.add(f+".catalog", p.Catalog, "is not a [[catalog]] (or \"*\" for all)")
		}
		switch {
		case !k.set[f+".privileges"] && k.set[f]:
			k.add(f+".privileges", nil, "is missing: list at least one of %s", strings.Join(privileges, ", "))
		case len(p.Privileges) == 0:
			k.add(f+".privileges", p.Privileges, "grants nothing: list at least one of %s (a user with no policy has no access)", strings.Join(privileges, ", "))
		}
		for _, pr := range p.Privileges {
			if !oneOf(pr, privileges...) {
				k.add(f+".privileges", p.Privileges, "%q is not a privilege: use %s", pr, strings.Join(privileges, ", "))
			}
		}
		switch {
		case p.Table != "" && p.Schema == "":
			k.add(f+".table", p.Table, "names a table but no schema: set %s.schema to the table's schema", f)
		case (p.RowFilter != "" || len(p.Columns) > 0) && p.Table == "":
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
	k.image("notebook.image", n.Image, "quay.io/jupyter/base-notebook:python-3.12")
	k.port("notebook.port", n.Port)
	if c.Trino.Enabled && !c.HasUser(n.User) && !k.dangling("user", "notebook.user", n.User) {
		k.add("notebook.user", n.User, "is not a [[user]]; the notebook connects to Trino as this user")
	}
	if c.Mesh.Enabled && !c.Trino.Enabled {
		if k.set["notebook.enabled"] {
			k.add("notebook.enabled", true, "the notebook exists to query Trino: enable [trino], or set notebook.enabled = false")
		} else {
			k.add("trino.enabled", false, "the notebook (on by default) exists to query Trino: set notebook.enabled = false too, or enable Trino")
		}
	}
}

// minScheduleInterval is the shortest time between two runs of a report.
const minScheduleInterval = time.Minute

// uniqueName checks one name of a list of kind: its form (re, described
// by form) and that no earlier entry took it. It reports whether the name
// passed both.
func (k *checker) uniqueName(field, name string, re *regexp.Regexp, form, kind string, seen map[string]bool) bool {
	defer func() { seen[name] = true }()
	switch {
	case !re.MatchString(name):
		k.add(field, name, "must be %s", form)
	case seen[name]:
		k.add(field, name, "is declared twice: %s names must be unique", kind)
	default:
		return true
	}
	return false
}

func (k *checker) reports(c *Config) {
	seen := map[string]bool{}
	for i, r := range c.Reports {
		f := fmt.Sprintf("report[%d]", i)
		k.uniqueName(f+".name", r.Name, nameRe, "lowercase letters, digits and -, starting with a letter (it names a folder)", "report", seen)
		if strings.TrimSpace(r.SQL) == "" {
			k.add(f+".sql", r.SQL, "must be an SQL query")
		}
		if !c.HasUser(r.RunAs) && !k.dangling("user", f+".run_as", r.RunAs) {
			k.add(f+".run_as", r.RunAs, "is not a [[user]]; a report runs as one of them so that their masks and filters apply")
		}
		k.schedule(f+".schedule", r.Schedule)
		def := reportDefinition(r)
		def.Schedule = "" // checked above, at its own line
		if err := def.Validate(); err != nil {
			k.add(f, nil, "%v", err)
		}
	}
}

// schedule checks a report's schedule with the report runner's parser and
// refuses one that runs more often than minScheduleInterval.
func (k *checker) schedule(field, spec string) {
	if spec == "" {
		return
	}
	s, err := report.ParseSchedule(spec)
	if err != nil {
		msg, _ := strings.CutPrefix(err.Error(), fmt.Sprintf("schedule = %q: ", spec))
		k.add(field, spec, "%s", msg)
		return
	}
	first := s.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if first.IsZero() {
		k.add(field, spec, "never runs (no such date): fix the day and month fields")
	} else if gap := s.Next(first).Sub(first); gap < minScheduleInterval {
		k.add(field, spec, "runs every %s: the shortest interval is 1m (e.g. \"@every 1m\", \"*/5 * * * *\" or \"@hourly\")", gap)
	}
}

func (k *checker) intentions(c *Config) {
	list := make([]mesh.Intention, len(c.Intentions))
	for i, in := range c.Intentions {
		list[i] = in.Mesh()
	}
	var errs mesh.IntentionErrors
	errors.As(mesh.ValidateIntentions(list, IntentionScope(c)), &errs)
	for _, e := range errs {
		field := fmt.Sprintf("intention[%d]", e.Index)
		if e.Field != "" {
			field += "." + e.Field
		}
		k.add(field, e.Value, "%s", e.Msg)
	}
}

// IntentionScope is what c's intentions are checked against: its sidecar
// proxy, the identities of its catalogue (and "*"), and the destinations
// whose clients speak TLS to the application itself.
func IntentionScope(c *Config) mesh.IntentionScope {
	cat := CatalogueOf(c)
	scope := mesh.IntentionScope{Proxy: mesh.ProxyKind(c.Mesh.Proxy), Names: append(cat.IdentityNames(), mesh.Wildcard)}
	for _, id := range cat.Identities {
		if id.OpaqueTLS {
			scope.OpaqueTLS = append(scope.OpaqueTLS, id.Name)
		}
	}
	return scope
}

// Mesh is the declared intention as package mesh writes it (and checks it).
func (in Intention) Mesh() mesh.Intention {
	mi := mesh.Intention{Source: in.Source, Destination: in.Destination, Action: mesh.Action(in.Action)}
	for _, h := range in.HTTP {
		mi.HTTP = append(mi.HTTP, mesh.PathRule{PathPrefix: h.PathPrefix, Methods: h.Methods})
	}
	return mi
}

func (k *checker) services(c *Config) {
	before := len(k.errs)
	var builtin []string
	if sized(c) {
		builtin = CatalogueOf(c).Names()
	}
	seen := map[string]bool{}
	for i, s := range c.Services {
		f := fmt.Sprintf("service[%d]", i)
		if k.uniqueName(f+".name", s.Name, nameRe, "lowercase letters, digits and -, starting with a letter", "service", seen) && slices.Contains(builtin, s.Name) {
			k.add(f+".name", s.Name, "is the name of a service moat runs itself; choose another")
		}
		k.image(f+".image", s.Image, "nginx:1.27")
		if s.Restart != "" && !oneOf(s.Restart, "always", "on-failure", "never") {
			k.add(f+".restart", s.Restart, "must be always, on-failure or never")
		}
		if s.HealthRetries < 0 {
			k.add(f+".health_retries", s.HealthRetries, "must be 0 or more")
		}
	}
	if len(k.errs) > before || !sized(c) {
		return // the graph needs valid service declarations and workers
	}
	_, err := supervisor.Order(extraSpecs(c))
	var ge *supervisor.GraphError
	if errors.As(err, &ge) {
		i := slices.IndexFunc(c.Services, func(s Service) bool { return s.Name == ge.Service })
		k.add(fmt.Sprintf("service[%d].depends_on", i), nil, "%s", ge.Msg)
	}
}

// configFile names c's file in errors.
func configFile(c *Config) string {
	if c.Path == "" {
		return DefaultFile + " (embedded default)"
	}
	return c.Path
}
