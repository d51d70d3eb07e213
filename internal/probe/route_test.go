package probe

import (
	"net/netip"
	"strings"
	"testing"
)

// A /proc/net/route as Linux writes it (little-endian hex): the default
// route via eth0, eth0's LAN, a Docker bridge with a host address, and a VPN
// route that is down.
const procRoutes = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0100A8C0	0003	0	0	100	00000000	0	0	0
eth0	0000A8C0	00000000	0001	0	0	100	00FFFFFF	0	0	0
br-1a2b3c4d5e6f	000A1DAC	00000000	0001	0	0	0	00FFFFFF	0	0	0
tun0	0000000A	00000000	0000	0	0	0	0000FFFF	0	0	0
`

func TestRoutePath(t *testing.T) {
	routes, err := parseRoutes(strings.NewReader(procRoutes))
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) != 3 || routes[2].dst.String() != "172.29.10.0/24" || routes[2].iface != "br-1a2b3c4d5e6f" || routes[0].gateway.String() != "192.168.0.1" {
		t.Fatalf("parseRoutes = %+v", routes)
	}
	bridge := func(iface string) bool { return strings.HasPrefix(iface, "br-") }
	if p := routePath(netip.MustParseAddr("172.29.10.11"), routes, bridge); !p.Local || p.Detail != "the host routes 172.29.10.0/24 to bridge br-1a2b3c4d5e6f" {
		t.Errorf("an address behind a local bridge: %+v", p)
	}
	for _, ip := range []string{"172.29.11.11", "192.168.0.7", "10.0.3.4"} {
		// Only the default route, a LAN that is not a bridge, a route that is down.
		if p := routePath(netip.MustParseAddr(ip), routes, bridge); p.Local || !strings.Contains(p.Detail, "nothing was sent") {
			t.Errorf("%s: %+v, want no local path", ip, p)
		}
	}
	if _, err := parseRoutes(strings.NewReader("header\neth0 zz\n")); err == nil || !strings.Contains(err.Error(), "/proc/net/route:2") {
		t.Errorf("a malformed table: %v", err)
	}
}

func TestAddressPath(t *testing.T) {
	addrs := []ifaceAddr{{"lo", netip.MustParsePrefix("127.0.0.1/8")}, {"br-x", netip.MustParsePrefix("172.29.10.1/24")}}
	if p, ok := addressPath(netip.MustParseAddr("172.29.10.12"), addrs); !ok || p.Detail != "the host has address 172.29.10.1/24 on br-x" {
		t.Errorf("an address on a local subnet: %+v %v", p, ok)
	}
	if _, ok := addressPath(netip.MustParseAddr("172.29.11.12"), addrs); ok {
		t.Error("an address on no local subnet was found local")
	}
	// The real host: loopback is local.
	if p, err := LocalPath(netip.MustParseAddr("127.0.0.1")); err != nil || !p.Local {
		t.Errorf("LocalPath(127.0.0.1) = %+v, %v", p, err)
	}
}
