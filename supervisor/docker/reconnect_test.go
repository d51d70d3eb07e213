package docker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"moat/supervisor"
)

// TestDisconnectIsAnEventAndReconnectRepairsIt: a container detached from
// one of the project's networks behind moat's back (the engine API's
// network disconnect, as `docker network disconnect` calls it) is an
// EventDisconnect naming the network by its logical name; it keeps running
// without the network; Reconnect gives it back its fixed address and its
// aliases. A container that stops leaves its networks too: those events
// come after its die.
func TestDisconnectIsAnEventAndReconnectRepairsIt(t *testing.T) {
	p := newProject(t)
	ctx := p.ctx(2 * time.Minute)
	third := rand.IntN(200) + 20
	n := supervisor.Network{Name: "front", Subnet: fmt.Sprintf("10.215.%d.0/24", third), Gateway: fmt.Sprintf("10.215.%d.1", third)}
	other := supervisor.Network{Name: "back"}
	for _, net := range []supervisor.Network{n, other} {
		if _, err := p.EnsureNetwork(ctx, p.name, net); err != nil {
			t.Fatal(err)
		}
	}
	ip := fmt.Sprintf("10.215.%d.10", third)
	app := workload("app", "-tcp-echo", ":9000")
	app.Networks = []supervisor.Attachment{{Network: "back"}, {Network: "front", IP: ip, Aliases: []string{"app.front"}}}
	client := workload("client")
	client.Networks = []supervisor.Attachment{{Network: "front"}}
	events := p.events()
	appID := p.run(app, "")
	clientID := p.run(client, "")
	p.dials(ctx, clientID, "app.front:9000")

	if err := p.cli.NetworkDisconnect(ctx, objectName(p.name, "front"), appID, false); err != nil {
		t.Fatal(err)
	}
	ev := events.waitFor(appID, supervisor.EventDisconnect, "")
	if ev.Network != "front" {
		t.Errorf("disconnect event names network %q, want front", ev.Network)
	}
	in, err := p.Inspect(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := in.Addresses["front"]; has || in.State != supervisor.StateRunning || in.Addresses["back"] == "" {
		t.Fatalf("after the disconnect: state %s, addresses %v; want running on back only", in.State, in.Addresses)
	}
	if code, out, err := p.Exec(ctx, clientID, []string{"/workload", "dial", "app.front:9000"}); err == nil && code == 0 {
		t.Fatalf("the client still reaches app.front once it is disconnected: %s", out)
	}

	if err := p.Reconnect(ctx, p.name, appID, app, "front"); err != nil {
		t.Fatal(err)
	}
	if in, err = p.Inspect(ctx, appID); err != nil || in.Addresses["front"] != ip {
		t.Fatalf("after Reconnect: addresses %v, %v; want front at %s", in.Addresses, err, ip)
	}
	p.dials(ctx, clientID, "app.front:9000")
	p.dials(ctx, clientID, "app:9000")
	if err := p.Reconnect(ctx, p.name, appID, app, "elsewhere"); err == nil {
		t.Error("Reconnect to a network that is not the service's did not fail")
	}

	if err := p.Kill(ctx, appID); err != nil {
		t.Fatal(err)
	}
	events.waitFor(appID, supervisor.EventDie, "")
	ev = events.waitFor(appID, supervisor.EventDisconnect, "")
	if in, err := p.Inspect(ctx, appID); err != nil || in.State != supervisor.StateExited {
		t.Errorf("at its disconnect after a kill the container is %s (%v), want exited", in.State, err)
	}
}
