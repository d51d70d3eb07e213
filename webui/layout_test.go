package webui

import (
	"strings"
	"testing"
	"time"

	"moat/supervisor"
)

func TestTopologyLayout(t *testing.T) {
	snap := fixtureSnapshot()
	topo := layoutTopology(snap)
	if len(topo.Nodes) != len(snap.Services) {
		t.Fatalf("%d nodes for %d services", len(topo.Nodes), len(snap.Services))
	}
	at := map[string]topoNode{}
	for _, n := range topo.Nodes {
		at[n.Name] = n
		if n.X < 0 || n.Y < 0 || n.X+n.W > topo.W || n.Y+n.H > topo.H {
			t.Errorf("%s at %d,%d %dx%d lies outside the %dx%d drawing", n.Name, n.X, n.Y, n.W, n.H, topo.W, topo.H)
		}
	}
	leftOf := func(a, b string) {
		if at[a].X+at[a].W >= at[b].X {
			t.Errorf("%s (x=%d) should be left of %s (x=%d)", a, at[a].X, b, at[b].X)
		}
	}
	leftOf("notebook", "trino-coordinator")     // it talks to it
	leftOf("orchestrator", "trino-coordinator") // it talks to it
	leftOf("trino-worker-1", "trino-coordinator")
	leftOf("trino-coordinator", "consul") // it depends on it
	for car, app := range map[string]string{"notebook-sidecar": "notebook", "trino-coordinator-sidecar": "trino-coordinator"} {
		if c, a := at[car], at[app]; c.Y <= a.Y || c.X < a.X || c.X+c.W > a.X+a.W {
			t.Errorf("sidecar %s (%d,%d) is not drawn under %s (%d,%d)", car, c.X, c.Y, app, a.X, a.Y)
		}
	}
	var edges []string
	for _, e := range topo.Edges {
		edges = append(edges, e.Kind+":"+e.From+">"+e.To)
	}
	want := "depends:trino-coordinator>consul depends:trino-worker-1>trino-coordinator " +
		"depends:trino-worker-2>trino-coordinator " +
		"upstream:notebook>trino-coordinator upstream:orchestrator>trino-coordinator " +
		"allow:notebook>trino-coordinator allow:orchestrator>trino-coordinator"
	if got := strings.Join(edges, " "); got != want {
		t.Errorf("edges %s\nwant  %s", got, want)
	}
	if len(topo.Notes) != 1 || topo.Notes[0] != "intention * → *: deny" {
		t.Errorf("notes %q", topo.Notes)
	}
}

func TestTopologySurvivesCycles(t *testing.T) {
	on := func(name string) []supervisor.Dependency {
		return []supervisor.Dependency{{Service: name, Condition: supervisor.Started}}
	}
	snap := Snapshot{Services: []Service{
		{ServiceStatus: supervisor.ServiceStatus{Name: "a", DependsOn: on("b")}, Placement: Placement{Kind: KindApp}},
		{ServiceStatus: supervisor.ServiceStatus{Name: "b", DependsOn: on("a")}, Placement: Placement{Kind: KindApp}},
		{ServiceStatus: supervisor.ServiceStatus{Name: "lonely-sidecar"}, Placement: Placement{Kind: KindSidecar, SidecarOf: "gone"}},
	}}
	if topo := layoutTopology(snap); len(topo.Nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(topo.Nodes))
	}
}

func TestIntentionPrecedence(t *testing.T) {
	in := func(src, dst, action string) Intention {
		return Intention{Source: src, Destination: dst, Action: action}
	}
	cases := []struct {
		ins              []Intention
		action, decision string
	}{
		{nil, "deny", "default"},
		{[]Intention{in("*", "*", "deny"), in("a", "b", "allow")}, "allow", "a → b"},
		{[]Intention{in("*", "*", "allow"), in("a", "b", "deny")}, "deny", "a → b"},
		{[]Intention{in("a", "*", "allow"), in("*", "b", "deny")}, "deny", "* → b"},
		{[]Intention{in("a", "*", "allow"), in("*", "*", "deny")}, "allow", "a → *"},
		{[]Intention{in("a", "b", "allow"), in("a", "b", "deny")}, "deny", "a → b"},
		{[]Intention{in("c", "b", "allow")}, "deny", "default"},
	}
	for i, tc := range cases {
		c := decide(tc.ins, "a", "b")
		if c.Action != tc.action || c.DecidedBy != tc.decision {
			t.Errorf("case %d: %s by %q, want %s by %q", i, c.Action, c.DecidedBy, tc.action, tc.decision)
		}
	}
}

func TestLogCap(t *testing.T) {
	var many strings.Builder
	for i := range 600 {
		many.WriteString(strings.Repeat("x", 10) + itoa(i) + "\n")
	}
	tail, n, cut := capLog(many.String())
	if n != logLines || !cut || !strings.HasPrefix(tail, "xxxxxxxxxx100\n") || !strings.HasSuffix(tail, "x599") {
		t.Errorf("600 short lines: %d lines, cut %v, starts %q", n, cut, tail[:20])
	}
	long := strings.Repeat(strings.Repeat("y", 999)+"\n", 400) // 400 KB in 400 lines
	tail, n, cut = capLog(long)
	if len(tail) > logBytes || !cut || !strings.HasPrefix(tail, strings.Repeat("y", 999)) || n != 262 {
		t.Errorf("400 KB: %d bytes in %d lines, cut %v", len(tail), n, cut)
	}
	if tail, n, cut := capLog("a\xffb\n"); tail != "a\uFFFDb" || n != 1 || cut {
		t.Errorf("invalid UTF-8: %q %d %v", tail, n, cut)
	}
}

func TestHumanDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m 1s",
		3*time.Hour + 5*time.Minute + 7*time.Second: "3h 5m", 49 * time.Hour: "2d 1h", time.Hour: "1h", -time.Second: "0s"} {
		if got := human(d); got != want {
			t.Errorf("human(%s) = %q, want %q", d, got, want)
		}
	}
}
