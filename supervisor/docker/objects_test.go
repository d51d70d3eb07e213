package docker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"moat/supervisor"
)

// bridgeAddrs are the host's IPv4 addresses on the bridge of the project's
// network name, and that network's subnet.
func (p testProject) bridgeAddrs(ctx context.Context, name string) ([]netip.Prefix, netip.Prefix) {
	p.t.Helper()
	nw, err := p.cli.NetworkInspect(ctx, objectName(p.name, name), network.InspectOptions{})
	if err != nil {
		p.t.Fatal(err)
	}
	subnet := netip.MustParsePrefix(nw.IPAM.Config[0].Subnet)
	dev, err := net.InterfaceByName("br-" + nw.ID[:12])
	if err != nil {
		p.t.Fatalf("the bridge of network %s: %v", name, err)
	}
	addrs, err := dev.Addrs()
	if err != nil {
		p.t.Fatal(err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() {
			out = append(out, pfx)
		}
	}
	return out, subnet
}

// A network with NoHostAddress leaves the host without an address on its
// bridge (so without a route into it), while its members still reach each
// other; an ordinary network gives the host one. The contrast shows the
// check can fail.
func TestNetworkNoHostAddress(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(2 * time.Minute)
	third := rand.IntN(200) + 20
	sealed := supervisor.Network{Name: "sealed", Internal: true, NoHostAddress: true,
		Subnet: fmt.Sprintf("10.215.%d.0/24", third), Gateway: fmt.Sprintf("10.215.%d.1", third)}
	open := supervisor.Network{Name: "open", Internal: true}
	for _, n := range []supervisor.Network{sealed, open} {
		if created, err := p.EnsureNetwork(ctx, p.name, n); err != nil || !created {
			t.Fatalf("EnsureNetwork(%s) = %v, %v; want created", n.Name, created, err)
		}
	}
	if created, err := p.EnsureNetwork(ctx, p.name, sealed); err != nil || created {
		t.Fatalf("EnsureNetwork(sealed) again = %v, %v; want it found as it is", created, err)
	}

	if addrs, subnet := p.bridgeAddrs(ctx, "open"); len(addrs) != 1 || !subnet.Contains(addrs[0].Addr()) {
		t.Errorf("an ordinary network's bridge has host addresses %v, want one in %s (the contrast)", addrs, subnet)
	}
	if addrs, subnet := p.bridgeAddrs(ctx, "sealed"); len(addrs) != 0 {
		t.Errorf("the NoHostAddress network's bridge has host addresses %v in %s, want none", addrs, subnet)
	}

	// Its members reach each other on the bridge.
	ip := fmt.Sprintf("10.215.%d.10", third)
	server := workload("server", "-tcp-echo", ":9000")
	server.Networks = []supervisor.Attachment{{Network: "sealed", IP: ip}}
	p.run(server, "")
	client := workload("client")
	client.Networks = []supervisor.Attachment{{Network: "sealed"}}
	clientID := p.run(client, "")
	p.dials(ctx, clientID, ip+":9000")
	p.dials(ctx, clientID, "server:9000")
	if addrs, _ := p.bridgeAddrs(ctx, "sealed"); len(addrs) != 0 {
		t.Errorf("with members attached, the bridge has host addresses %v, want none", addrs)
	}
}

// A network made without NoHostAddress (a stack of an older moat) is drift
// when the configuration asks for it: up refuses it and says how to
// re-create it; once removed (as `moat down` does), it is made anew without
// a host address.
func TestNetworkNoHostAddressDrift(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(2 * time.Minute)
	old := supervisor.Network{Name: "trino", Internal: true}
	if _, err := p.EnsureNetwork(ctx, p.name, old); err != nil {
		t.Fatal(err)
	}
	want := old
	want.NoHostAddress = true
	_, err := p.EnsureNetwork(ctx, p.name, want)
	if err == nil || !strings.Contains(err.Error(), "gives the host an address on its bridge") || !strings.Contains(err.Error(), "moat down") {
		t.Errorf("EnsureNetwork with NoHostAddress over an older network: %v, want a refusal saying why and naming `moat down`", err)
	}
	// Any other change of settings is refused as before.
	changed := old
	changed.Subnet = "10.217.0.0/24"
	if _, err := p.EnsureNetwork(ctx, p.name, changed); err == nil || !strings.Contains(err.Error(), "exists with other settings") {
		t.Errorf("EnsureNetwork with another subnet: %v, want a refusal", err)
	}

	// Same labels (say, written by hand) but the option missing: still drift.
	full := objectName(p.name, "trino")
	if err := p.RemoveNetwork(ctx, p.name, "trino"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.cli.NetworkCreate(ctx, full, network.CreateOptions{Driver: "bridge", Internal: true, Labels: labels(p.name, want)}); err != nil {
		t.Fatal(err)
	}
	_, err = p.EnsureNetwork(ctx, p.name, want)
	if err == nil || !strings.Contains(err.Error(), "gives the host an address on its bridge") {
		t.Errorf("EnsureNetwork over a labelled network without the option: %v, want a refusal", err)
	}

	if err := p.RemoveNetwork(ctx, p.name, "trino"); err != nil {
		t.Fatal(err)
	}
	if created, err := p.EnsureNetwork(ctx, p.name, want); err != nil || !created {
		t.Fatalf("EnsureNetwork after removal = %v, %v; want created", created, err)
	}
	if addrs, _ := p.bridgeAddrs(ctx, "trino"); len(addrs) != 0 {
		t.Errorf("the re-created network's bridge has host addresses %v, want none", addrs)
	}
}
