package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"moat/appliance/config"
	"moat/internal/probe"
	"moat/mesh"
	"moat/state"
)

// consulPorts are every port a Consul agent can listen on: HTTP, HTTPS,
// gRPC, gRPC-TLS, server RPC/Raft, LAN and WAN gossip, DNS.
var consulPorts = []int{8500, 8501, 8502, 8503, 8300, 8301, 8302, 8600}

// nsProber runs probes inside another container's network namespace.
type nsProber interface {
	SelfImage(ctx context.Context) (string, error)
	RunIn(ctx context.Context, id, image string, args []string) (int, string, error)
}

// attack is one intruder's attempt and what must come of it.
type attack struct {
	from   string // who tries: "notebook", "host", …
	target probe.Target
	why    string // the path an attacker would use, named when it is open
}

// verifyIntruder attacks the running stack as code in each application
// container, and as another user of the host, would: every Consul port,
// anonymous leaf certificates (also those Consul has cached), and Trino's
// ports directly. Every attempt must find nothing open.
func verifyIntruder(ctx context.Context, s *stack) []state.VerifyResult {
	inv, err := s.rt.List(ctx, s.cfg.Appliance.Project)
	if err != nil {
		return []state.VerifyResult{unknown("intruder checks", "the stack's containers", err)}
	}
	consulIP := ""
	apps := map[string]string{} // application service → instance ID
	for _, in := range inv.Instances {
		switch {
		case in.Service == config.ServiceConsul:
			if full, err := s.rt.Inspect(ctx, in.ID); err == nil {
				consulIP = full.Addresses[config.ControlNetwork]
			}
		case strings.HasSuffix(in.Service, config.SidecarSuffix):
		default:
			apps[in.Service] = in.ID
		}
	}
	var out []state.VerifyResult
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		as, unsent := offMachine(s.cfg, name, appAttacks(s.cfg, name, consulIP), probe.LocalPath)
		out = append(out, unsent...)
		out = append(out, runInside(ctx, s, name, apps[name], as)...)
	}
	out = append(out, evaluate(probe.Run(ctx, targets(hostAttacks(s.cfg, consulIP)), 2*time.Second), hostAttacks(s.cfg, consulIP))...)
	if s.cfg.Trino.Enabled {
		out = append(out, hostTrinoPaths(ctx, s.cfg, probe.LocalPath)...)
	}
	return out
}

// offMachine keeps the attacks an application's packets can make on this
// machine. An application off the trino network reaches a node's private
// address only through its gateway, the host; with no host route into the
// trino network (moat gives its bridge no host address), the host sends
// such a packet off the machine, where it cannot reach the node and must
// not go. Those attempts pass unsent, saying why; where the host cannot
// tell, they are unknown.
func offMachine(c *config.Config, from string, as []attack, localPath func(netip.Addr) (probe.HostPath, error)) ([]attack, []state.VerifyResult) {
	if !c.Trino.Enabled || isTrinoNode(from) {
		return as, nil // a node reaches the others on the trino bridge itself
	}
	subnet, err := netip.ParsePrefix(c.Trino.Subnet)
	if err != nil {
		return as, nil
	}
	var kept []attack
	var unsent []state.VerifyResult
	for _, a := range as {
		ap, err := netip.ParseAddrPort(a.target.Address)
		if err != nil || !subnet.Contains(ap.Addr()) {
			kept = append(kept, a)
			continue
		}
		path, err := localPath(ap.Addr())
		switch {
		case err != nil:
			unsent = append(unsent, unknown(a.from+" (intruder)", a.target.String(), fmt.Errorf("cannot tell where the host sends %s: %w", ap.Addr(), err)))
		case path.Local:
			kept = append(kept, a)
		default:
			unsent = append(unsent, state.VerifyResult{Source: a.from + " (intruder)", Destination: a.target.String(),
				Expected: state.Deny, Observed: state.Deny, OK: true,
				Detail: "not sent: " + from + " reaches " + ap.Addr().String() + " only through the host, and " + path.Detail})
		}
	}
	return kept, unsent
}

// trinoNodes are every Trino node's name and private address.
func trinoNodes(c *config.Config) [][2]string {
	addr := config.PlanAddresses(c)
	out := [][2]string{{config.ServiceCoordinator, addr.Coordinator.String()}}
	for i, ip := range addr.Workers {
		out = append(out, [2]string{config.ServiceWorker + "-" + strconv.Itoa(i+1), ip.String()})
	}
	return out
}

// hostTrinoPaths checks, for every Trino node, that a local user of the host
// has no path to its private address: no host address on the trino bridge
// and no route into its subnet through a local bridge (a stack made by an
// older moat had both). Such a path bypasses the intentions (only Trino's
// password is left), so it fails whether or not the node answers now; only
// then, the address being local, is it dialled, to show what answers.
// Otherwise nothing is sent: the packet would leave the machine.
func hostTrinoPaths(ctx context.Context, c *config.Config, localPath func(netip.Addr) (probe.HostPath, error)) []state.VerifyResult {
	var out []state.VerifyResult
	for _, n := range trinoNodes(c) {
		name, ip := n[0], n[1]
		target := net.JoinHostPort(ip, strconv.Itoa(config.TrinoHTTPSPort))
		v := state.VerifyResult{Source: "host (intruder)", Destination: "a path to " + name + " at " + target, Expected: state.Deny}
		path, err := localPath(netip.MustParseAddr(ip))
		switch {
		case err != nil:
			v = unknown(v.Source, v.Destination, fmt.Errorf("cannot tell whether the host reaches %s: %w", ip, err))
		case !path.Local:
			v.Observed, v.OK, v.Detail = state.Deny, true, path.Detail
		default:
			r := probe.Run(ctx, []probe.Target{{Kind: probe.TLS, Address: target, Path: "/v1/info"}}, 2*time.Second)[0]
			answer := "it answers: " + r.Detail
			if !r.Open {
				answer = "it does not answer now: " + r.Detail
			}
			v.Observed = state.Allow
			v.Detail = fmt.Sprintf("OPEN: a local user can open TLS to %s at %s bypassing the intentions (%s; %s). "+
				"Re-create the trino network without a host address: `moat down`, then `moat up`", name, target, path.Detail, answer)
		}
		out = append(out, v)
	}
	return out
}

// appAttacks are the attempts from inside application name's namespace.
func appAttacks(c *config.Config, name, consulIP string) []attack {
	var out []attack
	hosts := []string{config.ServiceConsul, "127.0.0.1"}
	if consulIP != "" {
		hosts = append(hosts, consulIP)
	}
	for _, h := range hosts {
		for _, p := range consulPorts {
			out = append(out, attack{from: name, target: probe.Target{Kind: probe.TCP, Address: net.JoinHostPort(h, strconv.Itoa(p))},
				why: name + " reaches Consul at " + h + ":" + strconv.Itoa(p)})
		}
	}
	if consulIP != "" {
		for _, svc := range config.CatalogueOf(c).IdentityNames() {
			out = append(out, attack{from: name, target: leafTarget(net.JoinHostPort(consulIP, strconv.Itoa(mesh.DefaultHTTPSPort)), svc),
				why: name + " takes " + svc + "'s identity (leaf certificate) from Consul's HTTPS API without a client certificate"})
		}
	}
	if c.Trino.Enabled && isTrinoNode(name) && name != config.ServiceCoordinator {
		// A worker claiming a client's TLS: X-Forwarded-Proto over plain
		// HTTP, on Trino's port and on the old plaintext one.
		coord := config.PlanAddresses(c).Coordinator.String()
		for _, port := range []int{config.TrinoHTTPSPort, 8080} {
			out = append(out, attack{from: name, target: probe.Target{Kind: probe.HTTP, Address: net.JoinHostPort(coord, strconv.Itoa(port)),
				Path: "/v1/statement", Header: map[string]string{"X-Forwarded-Proto": "https", "Authorization": "Basic bW9hdDpub3QtdGhlLXBhc3N3b3Jk"}},
				why: name + " sends a password over plain HTTP claiming X-Forwarded-Proto: https, and the coordinator evaluates it"})
		}
	}
	if c.Trino.Enabled && !isTrinoNode(name) {
		addr := config.PlanAddresses(c)
		for _, ip := range append([]string{addr.Coordinator.String(), addr.CoordinatorMesh.String()}, ipStrings(addr.Workers)...) {
			out = append(out, attack{from: name, target: probe.Target{Kind: probe.TCP, Address: net.JoinHostPort(ip, strconv.Itoa(config.TrinoHTTPSPort))},
				why: name + " reaches a Trino port directly at " + ip + ", bypassing the coordinator's sidecar and its intentions"})
		}
	}
	return out
}

// hostAttacks are another local user's attempts: Consul's published port
// and its container address, without moat's client certificate.
func hostAttacks(c *config.Config, consulIP string) []attack {
	var out []attack
	published := "127.0.0.1:" + strconv.Itoa(c.Mesh.HTTPSPort)
	for _, svc := range config.CatalogueOf(c).IdentityNames() {
		out = append(out, attack{from: "host", target: leafTarget(published, svc),
			why: "a local user takes " + svc + "'s identity from Consul's published API without moat's client certificate"})
	}
	if consulIP != "" {
		for _, p := range consulPorts {
			t := probe.Target{Kind: probe.TCP, Address: net.JoinHostPort(consulIP, strconv.Itoa(p))}
			why := "a local user reaches Consul's port " + strconv.Itoa(p) + " through the control bridge"
			if p == mesh.DefaultHTTPSPort {
				t, why = leafTarget(t.Address, config.OrchestratorUser), "a local user takes orchestrator's identity through the control bridge"
			}
			out = append(out, attack{from: "host", target: t, why: why})
		}
	}
	return out
}

func leafTarget(addr, service string) probe.Target {
	return probe.Target{Kind: probe.TLS, Address: addr, Path: "/v1/agent/connect/ca/leaf/" + service}
}

func isTrinoNode(name string) bool {
	return name == config.ServiceCoordinator || strings.HasPrefix(name, config.ServiceWorker+"-")
}

func ipStrings[T fmt.Stringer](l []T) []string {
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = x.String()
	}
	return out
}

func targets(as []attack) []probe.Target {
	out := make([]probe.Target, len(as))
	for i, a := range as {
		out[i] = a.target
	}
	return out
}

// runInside runs the attacks as `moat __probe` in a container that shares
// only the application's network namespace.
func runInside(ctx context.Context, s *stack, name, id string, as []attack) []state.VerifyResult {
	p, ok := s.rt.(nsProber)
	if !ok {
		return []state.VerifyResult{unknown(name, "its network namespace", fmt.Errorf("the %s runtime cannot run a probe there", s.rt.Name()))}
	}
	img, err := p.SelfImage(ctx)
	if err != nil {
		return []state.VerifyResult{unknown(name, "its network namespace", err)}
	}
	arg, _ := json.Marshal(targets(as))
	code, outText, err := p.RunIn(ctx, id, img, []string{"__probe", string(arg)})
	var results []probe.Result
	if err == nil && code == 0 {
		err = json.Unmarshal([]byte(outText), &results)
	} else if err == nil {
		err = fmt.Errorf("the probe exited %d: %s (is moat built static, CGO_ENABLED=0?)", code, strings.TrimSpace(outText))
	}
	if err != nil || len(results) != len(as) {
		return []state.VerifyResult{unknown(name, "its network namespace", fmt.Errorf("no probe result: %v", err))}
	}
	return evaluate(results, as)
}

// evaluate turns probe results into verify rows: an open target fails,
// naming the path an attacker would use.
func evaluate(results []probe.Result, as []attack) []state.VerifyResult {
	out := make([]state.VerifyResult, len(as))
	for i, r := range results {
		a := as[i]
		v := state.VerifyResult{Source: a.from + " (intruder)", Destination: r.Target.String(), Expected: state.Deny,
			Observed: allowDeny(r.Open), OK: !r.Open, Detail: r.Detail}
		if r.Open {
			v.Detail = "OPEN: " + a.why + " (" + r.Detail + ")"
		}
		out[i] = v
	}
	return out
}

// unknown is a check that could not be made: never a pass.
func unknown(src, dst string, err error) state.VerifyResult {
	return state.VerifyResult{Source: src, Destination: dst, Expected: state.Deny, Observed: "unknown", Detail: err.Error()}
}

// anonymousWrite tries, from the host, to write an intention through
// Consul's published API: with no client certificate (the TLS handshake
// must fail), and with moat's certificate but no token (ACLs must refuse).
func anonymousWrite(ctx context.Context, s *stack) []state.VerifyResult {
	url := fmt.Sprintf("https://127.0.0.1:%d/v1/config", s.cfg.Mesh.HTTPSPort)
	body := `{"Kind":"service-intentions","Name":"trino-coordinator","Sources":[{"Name":"*","Action":"allow"}]}`
	try := func(conf *tls.Config) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(body))
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Status, nil
	}
	anon := state.VerifyResult{Source: "anonymous (no client certificate)", Destination: "consul intentions (write)", Expected: state.Deny}
	if code, status, err := try(&tls.Config{InsecureSkipVerify: true}); err != nil {
		anon.Observed, anon.OK, anon.Detail = state.Deny, true, "TLS refused: "+err.Error()
	} else {
		anon.Observed, anon.Detail = allowDeny(code < 300), "OPEN: the API answered without moat's client certificate ("+status+")"
	}
	tokenless := state.VerifyResult{Source: "moat's certificate, no token", Destination: "consul intentions (write)", Expected: state.Deny}
	conf, err := s.control.ConsulTLSConfig()
	if err != nil {
		return []state.VerifyResult{anon, unknown(tokenless.Source, tokenless.Destination, err)}
	}
	code, status, err := try(conf)
	switch {
	case err != nil:
		tokenless = unknown(tokenless.Source, tokenless.Destination, err)
	default:
		tokenless.Observed, tokenless.Detail, tokenless.OK = allowDeny(code < 300), status, code == http.StatusForbidden
	}
	return []state.VerifyResult{anon, tokenless}
}
