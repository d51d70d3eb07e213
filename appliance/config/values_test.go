package config

import (
	"errors"
	"strings"
	"testing"

	"moat/supervisor"
)

// The [[service]] lists are parsed once, while decoding: a good file yields
// the typed values the plan uses, and every bad item of every list is its
// own error at the list's line.
func TestServiceListsParseOnce(t *testing.T) {
	c, err := Parse([]byte(`
[[service]]
name = "web"
image = "nginx:1.27"
ports = ["8080:80", "127.0.0.2:8443:443"]
volumes = ["data:/var/lib/data", "conf:/etc/web:ro"]
depends_on = ["db", "init:completed", "cache:started"]

[[service]]
name = "db"
image = "postgres:16"

[[service]]
name = "init"
image = "busybox:1"
restart = "never"

[[service]]
name = "cache"
image = "redis:7"
`), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	spec := ServiceSpec(c, c.Services[0])
	wantPorts := []supervisor.Port{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80}, {HostIP: "127.0.0.2", HostPort: 8443, ContainerPort: 443}}
	if !equalSlices(spec.Ports, wantPorts) {
		t.Errorf("ports %+v, want %+v", spec.Ports, wantPorts)
	}
	wantMounts := []supervisor.Mount{{Volume: "data", Target: "/var/lib/data"}, {Volume: "conf", Target: "/etc/web", ReadOnly: true}}
	if !equalSlices(spec.Mounts, wantMounts) {
		t.Errorf("mounts %+v, want %+v", spec.Mounts, wantMounts)
	}
	wantDeps := []supervisor.Dependency{{Service: "db", Condition: supervisor.Healthy}, {Service: "init", Condition: supervisor.Completed}, {Service: "cache", Condition: supervisor.Started}}
	if !equalSlices(spec.DependsOn, wantDeps) {
		t.Errorf("depends_on %+v, want %+v", spec.DependsOn, wantDeps)
	}
	// Printed back, each value is the text moat would read again.
	for _, p := range c.Services[0].Ports {
		var again PortMapping
		if err := again.UnmarshalText([]byte(p.String())); err != nil || again != p {
			t.Errorf("%s does not read back: %+v %v", p, again, err)
		}
	}
	for _, d := range c.Services[0].DependsOn {
		var again Dependency
		if err := again.UnmarshalText([]byte(d.String())); err != nil || again != d {
			t.Errorf("%s does not read back: %+v %v", d, again, err)
		}
	}
	for _, m := range c.Services[0].Volumes {
		var again VolumeMount
		if err := again.UnmarshalText([]byte(m.String())); err != nil || again != m {
			t.Errorf("%s does not read back: %+v %v", m, again, err)
		}
	}
}

func TestServiceListsReportEveryBadItem(t *testing.T) {
	_, err := Parse([]byte(`[[service]]
name = "web"
image = "nginx:1.27"
ports = ["80", "1.2.3:80:80", "8080:70000", "8081:81"]
volumes = ["/srv/www:/usr/share/nginx/html", "data:relative", "ok:/ok", "x:/y:rw"]
depends_on = ["db:ready", ":started", 5]
`), "moat.toml")
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("want ConfigErrors, got %v", err)
	}
	for _, want := range []string{
		`moat.toml:4: service[0].ports: "80" is not a port mapping`,
		`moat.toml:4: service[0].ports: "1.2.3:80:80" is not a port mapping`,
		`moat.toml:4: service[0].ports: "8080:70000" is not a port mapping`,
		`moat.toml:5: service[0].volumes: "/srv/www:/usr/share/nginx/html" is not a volume mount: it names a host path`,
		`moat.toml:5: service[0].volumes: "data:relative" is not a volume mount`,
		`moat.toml:5: service[0].volumes: "x:/y:rw" is not a volume mount`,
		`moat.toml:6: service[0].depends_on: "db:ready": the condition after : must be started, healthy or completed`,
		`moat.toml:6: service[0].depends_on: ":started": name a service`,
		`moat.toml:6: service[0].depends_on = 5: wrong type: it is a TOML integer but must be a "quoted string"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"8081:81"`) || strings.Contains(err.Error(), `"ok:/ok"`) {
		t.Errorf("a good item reported as bad:\n%v", err)
	}
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
