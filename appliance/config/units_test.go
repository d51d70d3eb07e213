package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"moat/supervisor"

	"github.com/BurntSushi/toml"
)

// Durations read as Go writes them and print back to the same value; the
// limit is inclusive and applies to negative values too (validation, not
// the type, refuses what must be positive).
func TestDurationText(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "1h30m": 90 * time.Minute, "100ms": 100 * time.Millisecond,
		"0s": 0, "1.5h": 90 * time.Minute, "87600h": MaxDuration.D(), "-87600h": -MaxDuration.D(), "250us": 250 * time.Microsecond,
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || d.D() != want {
			t.Errorf("%q → %s, %v; want %s", in, d, err, want)
			continue
		}
		text, err := d.MarshalText()
		var again Duration
		if err != nil || again.UnmarshalText(text) != nil || again != d {
			t.Errorf("%s prints %q, which reads back as %s", d, text, again)
		}
		if d.String() != string(text) {
			t.Errorf("String %q and MarshalText %q differ", d.String(), text)
		}
	}
	for _, in := range []string{"-87601h", "87600h1ns", "1000000000h"} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("%q: %v, want too large", in, err)
		}
	}
	for _, in := range []string{"30", "s", "1 h", "1d", "thirty seconds"} {
		d := Duration(7)
		if err := d.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), "write it like 30s, 2m or 1h30m") {
			t.Errorf("%q: %v, want not a duration", in, err)
		}
		if d != 7 {
			t.Errorf("%q: a refused value changed the duration to %s", in, d)
		}
	}
}

// Sizes take every unit in both spellings, powers of 1024 as in the JVM,
// with spaces around the number; String picks the largest unit that keeps
// the value whole, or one decimal, and what it prints reads back.
func TestBytesText(t *testing.T) {
	for in, want := range map[string]int64{
		"1K": 1 << 10, "1KB": 1 << 10, "1KiB": 1 << 10,
		"3M": 3 << 20, "3MB": 3 << 20, "3MiB": 3 << 20,
		"2G": 2 << 30, "2GB": 2 << 30, "2GiB": 2 << 30,
		"1T": 1 << 40, "1TB": 1 << 40, "1TiB": 1 << 40,
		"0B": 0, "0.5GB": 512 << 20, " 512 MB ": 512 << 20, "1.25KB": 1280,
	} {
		var b Bytes
		if err := b.UnmarshalText([]byte(in)); err != nil || int64(b) != want {
			t.Errorf("%q → %d, %v; want %d", in, int64(b), err, want)
		}
	}
	for _, tc := range []struct {
		b    Bytes
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1KB"}, {1536, "1.5KB"}, {1 << 20, "1MB"},
		{3 << 29, "1.5GB"}, {5 << 40, "5TB"}, {MaxBytes, "1024TB"}, {1<<30 - 1<<20, "1023MB"},
	} {
		if got := tc.b.String(); got != tc.want {
			t.Errorf("Bytes(%d) = %q, want %q", int64(tc.b), got, tc.want)
		}
		text, _ := tc.b.MarshalText()
		var again Bytes
		if err := again.UnmarshalText(text); err != nil || again != tc.b {
			t.Errorf("%q reads back as %d, %v; want %d", text, int64(again), err, int64(tc.b))
		}
	}
	for _, in := range []string{"GB", ".5GB", "5.GB", "+1GB", "1 000MB", "1PB", "1.5", "12"} {
		b := Bytes(7)
		if err := b.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), "is not a size: write it like 512MB or 2GB") {
			t.Errorf("%q: %v, want not a size", in, err)
		}
		if b != 7 {
			t.Errorf("%q: a refused value changed the size to %d", in, int64(b))
		}
	}
}

// The [[service]] list items: defaults, limits, and the canonical text
// each prints (which reads back as the same value).
func TestServiceValueText(t *testing.T) {
	for in, want := range map[string]supervisor.Port{
		"8080:80":            {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80},
		"0.0.0.0:1:65535":    {HostIP: "0.0.0.0", HostPort: 1, ContainerPort: 65535},
		"127.0.0.2:8443:443": {HostIP: "127.0.0.2", HostPort: 8443, ContainerPort: 443},
	} {
		var p PortMapping
		if err := p.UnmarshalText([]byte(in)); err != nil || p.Port != want {
			t.Errorf("%q → %+v, %v; want %+v", in, p.Port, err, want)
			continue
		}
		text, _ := p.MarshalText()
		var again PortMapping
		if again.UnmarshalText(text) != nil || again != p || !strings.HasPrefix(string(text), p.HostIP+":") {
			t.Errorf("%q prints %q, read back as %+v", in, text, again)
		}
	}
	for _, in := range []string{"0:80", "80:0", "65536:80", "a:80", "localhost:80:80", "1:2:3:4", "", "::1:80:80"} {
		var p PortMapping
		if err := p.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), "write HOST:CONTAINER or IP:HOST:CONTAINER") {
			t.Errorf("port %q: %v", in, err)
		}
	}

	for in, want := range map[string]supervisor.Mount{
		"data:/var/lib/data": {Volume: "data", Target: "/var/lib/data"},
		"conf:/etc/x:ro":     {Volume: "conf", Target: "/etc/x", ReadOnly: true},
		"a-1:/":              {Volume: "a-1", Target: "/"},
	} {
		var m VolumeMount
		if err := m.UnmarshalText([]byte(in)); err != nil || m.Mount != want {
			t.Errorf("%q → %+v, %v", in, m.Mount, err)
			continue
		}
		if text, _ := m.MarshalText(); string(text) != in {
			t.Errorf("%q prints %q", in, text)
		}
	}
	for in, hostPath := range map[string]bool{
		"./data:/x": true, "~/data:/x": true, "/srv:/x": true,
		"Data:/x": false, "data": false, "data:x": false, "data:/x:rw": false, "a:/b:ro:x": false,
	} {
		var m VolumeMount
		err := m.UnmarshalText([]byte(in))
		if err == nil || !strings.Contains(err.Error(), "is not a volume mount") {
			t.Errorf("volume %q: %v", in, err)
			continue
		}
		if got := strings.Contains(err.Error(), "names a host path"); got != hostPath {
			t.Errorf("volume %q: says it names a host path: %v, want %v", in, got, hostPath)
		}
	}

	for in, want := range map[string]struct {
		dep  supervisor.Dependency
		text string
	}{
		"db":             {supervisor.Dependency{Service: "db", Condition: supervisor.Healthy}, "db"},
		"db:healthy":     {supervisor.Dependency{Service: "db", Condition: supervisor.Healthy}, "db"},
		"init:completed": {supervisor.Dependency{Service: "init", Condition: supervisor.Completed}, "init:completed"},
		"cache:started":  {supervisor.Dependency{Service: "cache", Condition: supervisor.Started}, "cache:started"},
	} {
		var d Dependency
		if err := d.UnmarshalText([]byte(in)); err != nil || d.Dependency != want.dep {
			t.Errorf("%q → %+v, %v", in, d.Dependency, err)
		}
		if text, _ := d.MarshalText(); string(text) != want.text {
			t.Errorf("%q prints %q, want %q", in, text, want.text)
		}
	}
	for in, want := range map[string]string{"db:ready": "must be started, healthy or completed", ":healthy": "name a service", "": "name a service", "db:": "must be started"} {
		var d Dependency
		if err := d.UnmarshalText([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("dependency %q: %v, want %q", in, err, want)
		}
	}
}

// A config written out with the TOML encoder (the MarshalText of every
// typed value) loads back as the same config.
func TestConfigEncodesAndLoadsBack(t *testing.T) {
	src := `[appliance]
stop_grace = "45s"
min_free_disk = "1.5GB"
[trino]
workers = 3
worker_heap = "2GB"
query_max_memory_per_node = "1GB"
[[service]]
name = "web"
image = "nginx:1.27"
ports = ["8080:80", "0.0.0.0:9443:443"]
volumes = ["html:/usr/share/nginx/html:ro"]
depends_on = ["trino-coordinator", "init:completed"]
health_interval = "5s"
memory = "256MB"
[[service]]
name = "init"
image = "busybox:1"
restart = "never"
`
	c, err := Parse([]byte(src), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	if err := toml.NewEncoder(&first).Encode(c); err != nil {
		t.Fatal(err)
	}
	again, err := Parse(first.Bytes(), "moat.toml")
	if err != nil {
		t.Fatalf("the encoded config does not load:\n%v\n%s", err, first.String())
	}
	var second bytes.Buffer
	if err := toml.NewEncoder(&second).Encode(again); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Errorf("encoded, loaded and encoded again, the config changed:\n%s\n---\n%s", first.String(), second.String())
	}
	web := again.Services[0]
	if web.Memory != 256<<20 || web.HealthInterval.D() != 5*time.Second || len(web.Ports) != 2 || web.Ports[1].HostIP != "0.0.0.0" ||
		!web.Volumes[0].ReadOnly || web.DependsOn[1].Condition != supervisor.Completed || again.Appliance.MinFreeDisk != 3<<29 {
		t.Errorf("values lost on the way: %+v, min_free_disk %s", web, again.Appliance.MinFreeDisk)
	}
}
