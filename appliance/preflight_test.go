package appliance

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"moat/appliance/config"
	"moat/supervisor"
)

// A planned subnet that overlaps one of the host's networks is refused
// before anything is created; the project's own bridge (holding the planned
// gateway) is not a conflict.
func TestSubnetChecks(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil || len(addrs) == 0 {
		t.Fatalf("no host addresses: %v", err)
	}
	host, _ := netip.ParsePrefix(addrs[0].String()) // loopback, 127.0.0.1/8
	clash := supervisor.Topology{Networks: []supervisor.Network{{Name: "x", Subnet: host.Masked().String(), Gateway: "192.0.2.1"}}}
	if cks := subnetChecks(clash); len(cks) != 1 || cks[0].OK || !strings.Contains(cks[0].Detail, "overlaps") {
		t.Errorf("overlapping subnet: %+v", cks)
	}
	own := supervisor.Topology{Networks: []supervisor.Network{{Name: "x", Subnet: host.Masked().String(), Gateway: host.Addr().String()}}}
	if cks := subnetChecks(own); len(cks) != 1 || !cks[0].OK {
		t.Errorf("the project's own bridge counted as a clash: %+v", cks)
	}
	free := supervisor.Topology{Networks: []supervisor.Network{{Name: "x", Subnet: "198.51.100.0/24"}}}
	if cks := subnetChecks(free); len(cks) != 1 || !cks[0].OK {
		t.Errorf("a free subnet: %+v", cks)
	}
}

// Loading reads nothing of the host: a cluster too large for it loads, and
// pre-flight's FitsHost, given the host's memory, refuses it at its line.
func TestFitsHostIsAPreflightFact(t *testing.T) {
	c, err := config.Parse([]byte("[trino]\nworker_heap = \"1000GB\"\nquery_max_memory_per_node = \"600MB\"\n"), "moat.toml")
	if err != nil {
		t.Fatalf("a config too large for some host did not load: %v", err)
	}
	want := `moat.toml:2: trino.worker_heap = "1000GB": Trino needs 1281536MiB of memory (coordinator 1536MiB + 1 × worker 1280000MiB, each heap + JVM overhead) but this host has 8192MiB`
	if err := c.FitsHost(8 << 30); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("FitsHost(8GiB) = %v; want %q", err, want)
	}
	if err := c.FitsHost(0); err != nil {
		t.Errorf("an unknown host memory is not checked, got %v", err)
	}
	if err := c.FitsHost(2 << 40); err != nil {
		t.Errorf("2TiB host: %v", err)
	}
	ck := memoryCheck(c, 8<<30)
	if ck.OK || !strings.Contains(ck.Detail, want) || ck.Fix == "" {
		t.Errorf("pre-flight check: %+v", ck)
	}
	if ck := memoryCheck(c, 2<<40); !ck.OK {
		t.Errorf("pre-flight check on a 2TiB host: %+v", ck)
	}
}
