package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"moat/appliance/config"
	"moat/internal/probe"
	"moat/internal/testenv"
	"moat/state"
	"moat/supervisor"
	"moat/supervisor/docker"
)

func trinoPathConfig(subnet string) *config.Config {
	c := &config.Config{}
	c.Mesh.Subnet = "172.28.0.0/24"
	c.Trino.Enabled, c.Trino.Workers, c.Trino.Subnet = true, 1, subnet
	return c
}

// The check's verdicts, on a stand-in for the host's routing: a node
// reached through a local bridge fails, naming the path, whether it
// answers or not; one the host has no path to passes; one the host cannot
// tell about is unknown, never a pass. (127.77.60.0/24 is on loopback, so
// the dial the failing case makes stays on this machine.)
func TestHostTrinoPathVerdicts(t *testing.T) {
	c := trinoPathConfig("127.77.60.0/24")
	worker := netip.MustParseAddr("127.77.60.11")
	local := func(ip netip.Addr) (probe.HostPath, error) {
		if ip == worker {
			return probe.HostPath{Local: true, Detail: "the host routes 127.77.60.0/24 to bridge br-test"}, nil
		}
		return probe.HostPath{Detail: "no path"}, nil
	}
	got := hostTrinoPaths(context.Background(), c, local)
	if len(got) != 2 {
		t.Fatalf("%d results, want one per node: %+v", len(got), got)
	}
	if r := got[0]; !r.OK || r.Observed != state.Deny || r.Destination != "a path to trino-coordinator at 127.77.60.10:8443" {
		t.Errorf("coordinator without a path: %+v, want ok", r)
	}
	want := "OPEN: a local user can open TLS to trino-worker-1 at 127.77.60.11:8443 bypassing the intentions (the host routes 127.77.60.0/24 to bridge br-test; it does not answer now:"
	if r := got[1]; r.OK || r.Observed != state.Allow || !strings.HasPrefix(r.Detail, want) || !strings.Contains(r.Detail, "moat down") {
		t.Errorf("worker through a local bridge: %+v, want a failure starting %q", r, want)
	}

	cannot := func(netip.Addr) (probe.HostPath, error) { return probe.HostPath{}, errors.New("no routing table here") }
	for _, r := range hostTrinoPaths(context.Background(), c, cannot) {
		if r.OK || r.Observed != "unknown" || !strings.Contains(r.Detail, "no routing table here") {
			t.Errorf("a path that cannot be checked: %+v, want unknown", r)
		}
	}
}

// On the real host and Docker Engine: the trino network as an older moat
// made it (a bridge with a host address) fails the check with the path
// named; made as moat makes it now (no host address), it passes, and
// nothing is sent to its addresses.
func TestHostTrinoPathOnRealBridges(t *testing.T) {
	testenv.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := docker.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	project := fmt.Sprintf("moattp%d", rand.IntN(1e8))
	third := rand.IntN(200) + 20
	subnet := fmt.Sprintf("10.216.%d.0/24", third)
	c := trinoPathConfig(subnet)
	for _, sealed := range []bool{false, true} {
		n := supervisor.Network{Name: config.TrinoNetwork, Internal: true, NoHostAddress: sealed,
			Subnet: subnet, Gateway: fmt.Sprintf("10.216.%d.1", third)}
		if _, err := rt.EnsureNetwork(ctx, project, n); err != nil {
			t.Fatal(err)
		}
		got := hostTrinoPaths(ctx, c, probe.LocalPath)
		if err := rt.RemoveNetwork(ctx, project, n.Name); err != nil {
			t.Error(err)
		}
		for i, name := range []string{"trino-coordinator", "trino-worker-1"} {
			r := got[i]
			t.Logf("sealed=%v %s: %s", sealed, name, r.Detail)
			ip := fmt.Sprintf("10.216.%d.%d:8443", third, 10+i)
			switch {
			case !sealed && (r.OK || !strings.Contains(r.Detail, "OPEN: a local user can open TLS to "+name+" at "+ip+" bypassing the intentions (the host ")):
				t.Errorf("older network, %s: %+v, want a failure naming the path", name, r)
			case sealed && (!r.OK || !strings.Contains(r.Detail, "no address or route") || !strings.Contains(r.Detail, "nothing was sent")):
				t.Errorf("network without a host address, %s: %+v, want a pass", name, r)
			}
		}
	}
}

// From an application off the trino network, an attempt at a node's
// private address goes through the host: with no host path into the trino
// network it is not sent (the packet would leave the machine) and passes;
// with one (an older moat's network) it is made; unknown stays unknown. A
// Trino node's own attempts, and those at other addresses, are always made.
func TestOffMachineAttacks(t *testing.T) {
	c := trinoPathConfig("172.29.61.0/24")
	as := appAttacks(c, "notebook", "172.24.0.2")
	var trinoTargets int
	for _, a := range as {
		if strings.HasPrefix(a.target.Address, "172.29.61.") {
			trinoTargets++
		}
	}
	if trinoTargets != 2 {
		t.Fatalf("the notebook's attacks hold %d at Trino's private addresses, want 2 (coordinator, worker)", trinoTargets)
	}
	none := func(netip.Addr) (probe.HostPath, error) {
		return probe.HostPath{Detail: "the host has no address or route into it"}, nil
	}
	kept, unsent := offMachine(c, "notebook", as, none)
	if len(kept) != len(as)-2 || len(unsent) != 2 {
		t.Fatalf("kept %d of %d, %d unsent; want all but the 2 Trino addresses kept", len(kept), len(as), len(unsent))
	}
	for _, r := range unsent {
		if !r.OK || r.Observed != state.Deny || !strings.HasPrefix(r.Detail, "not sent: notebook reaches 172.29.61.") {
			t.Errorf("unsent attempt: %+v", r)
		}
	}
	for _, a := range kept {
		if strings.HasPrefix(a.target.Address, "172.29.61.") {
			t.Errorf("an attempt at %s is made although the host would send it off the machine", a.target.Address)
		}
	}

	local := func(netip.Addr) (probe.HostPath, error) { return probe.HostPath{Local: true}, nil }
	if kept, unsent := offMachine(c, "notebook", as, local); len(kept) != len(as) || len(unsent) != 0 {
		t.Errorf("with a host path: kept %d of %d, %d unsent; want all made", len(kept), len(as), len(unsent))
	}
	cannot := func(netip.Addr) (probe.HostPath, error) { return probe.HostPath{}, errors.New("no routing table") }
	_, unsent = offMachine(c, "notebook", as, cannot)
	if len(unsent) != 2 || unsent[0].OK || unsent[0].Observed != "unknown" {
		t.Errorf("when the host cannot tell: %+v, want unknown", unsent)
	}
	worker := appAttacks(c, "trino-worker-1", "172.24.0.2")
	if kept, unsent := offMachine(c, "trino-worker-1", worker, none); len(kept) != len(worker) || len(unsent) != 0 {
		t.Errorf("a worker's attempts on the trino bridge: kept %d of %d; want all made", len(kept), len(worker))
	}
}
