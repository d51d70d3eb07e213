package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"moat/appliance/config"
	"moat/mesh"
	"moat/state"
	"moat/supervisor"
)

func cmdVerify() command {
	c := command{name: "verify", args: "", summary: "prove the mesh's allow/deny claims with real connections",
		help: `
For every ordered pair of mesh services, opens a real mutual-TLS connection as
the source to the destination's sidecar and records whether data flows; prints
the observed allow/deny matrix beside the expected one (from the intentions).
Then it attacks the stack as an intruder would: from inside every
application container (in a probe container sharing only its network
namespace) it tries every Consul port, an anonymous leaf certificate and
Trino's ports directly; from the host, an anonymous leaf for every service
(also those Consul has cached) and Consul's ports through its bridge. It
compares Consul's intentions with moat.toml's and reports every extra or
missing one as drift. Anything it cannot find out is "unknown", never a pass.
Exits non-zero on any difference; results are stored and shown by the
dashboard. With nothing running it refuses and stores nothing. --json
prints the results as one JSON document instead of the matrix.

--capture also records every bridge of the stack (mesh, trino, control,
apps) while moat runs a query (a fresh marker in its SQL text and another in
its result) and a report (the config's first, rendered into the capture
folder and kept out of the report history). The capture runs in a probe
container with the host's network namespace and CAP_NET_RAW; once its
sockets are open it becomes moat's user (a non-root moat leaves it no
capability). moat then searches every TCP stream (reassembled) and UDP
datagram for the SQL text, the result, the report's rows, every Trino user
name as an X-Trino-User header, every password and its HTTP Basic form, and
moat's other secrets. Anything found fails, naming the bridge and the flow
(source → destination:port) an attacker would sniff; a capture that dropped
frames, missed a port or saw nothing on the mesh bridge is "unknown". The
evidence (packets, bytes, flows per bridge, what was searched for: never a
secret's value) is printed, stored and shown on the dashboard's mesh page.
The capture files may hold whatever leaked: they are 0600 in a 0700 folder
under <data_dir>/capture/, removed after the search unless --keep-capture.

Example:
  moat verify
  moat verify --json | jq '.results[] | select(.ok | not)'
  moat verify --capture --json | jq .capture`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "print the results as JSON")
		capture := fs.Bool("capture", false, "also record the stack's bridges during a query and a report, and fail on any plaintext SQL, row, user name or password")
		keep := fs.Bool("keep-capture", false, "with --capture: keep the pcap files (0600, under <data_dir>/capture/; they may hold a leaked secret)")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			if *keep && !*capture {
				return usageError{"--keep-capture needs --capture", "moat verify --capture --keep-capture"}
			}
			return verify(ctx, env, *asJSON, captureOptions{on: *capture, keep: *keep})
		})
	}
	return c
}

// VerifyReport is `moat verify --json`.
type VerifyReport struct {
	Project     string             `json:"project"`
	OK          bool               `json:"ok"`
	Differences int                `json:"differences"`
	Results     []VerifyResultJSON `json:"results"`
	Capture     *state.Capture     `json:"capture,omitempty"` // with --capture
}

// VerifyResultJSON is one check in VerifyReport.
type VerifyResultJSON struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Expected    string `json:"expected"`
	Observed    string `json:"observed"`
	OK          bool   `json:"ok"`
	Detail      string `json:"detail,omitempty"`
}

func verify(ctx context.Context, env *cliEnv, asJSON bool, capture captureOptions) error {
	if err := refuseVerifyWhenDown(ctx, env); err != nil {
		return err
	}
	s, err := openStack(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	if !s.hasMesh() {
		return errors.New("this config has no mesh to verify (enable [mesh])")
	}
	m, results, err := verifyMatrix(ctx, s)
	if err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprint(env.stdout, m.Render())
	}
	extra := append(verifyDrift(ctx, s), anonymousWrite(ctx, s)...)
	extra = append(extra, verifyIntruder(ctx, s)...)
	var ev *state.Capture
	if capture.on {
		e, rows := runCapture(ctx, s, capture, asJSON, env)
		ev, extra = &e, append(extra, rows...)
	}
	for _, r := range extra {
		if asJSON {
			break
		}
		mark := "ok  "
		if !r.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(env.stdout, "%s %s → %s: expected %s, observed %s (%s)\n", mark, r.Source, r.Destination, r.Expected, r.Observed, r.Detail)
	}
	results = append(results, extra...)
	if err := s.store.RecordVerify(context.WithoutCancel(ctx), results); err != nil {
		return err
	}
	var bad []string
	rep := VerifyReport{Project: s.cfg.Appliance.Project, Results: []VerifyResultJSON{}, Capture: ev}
	for _, r := range results {
		if !r.OK {
			bad = append(bad, r.Source+" → "+r.Destination)
		}
		rep.Results = append(rep.Results, VerifyResultJSON{Source: r.Source, Destination: r.Destination,
			Expected: r.Expected, Observed: r.Observed, OK: r.OK, Detail: r.Detail})
	}
	rep.OK, rep.Differences = len(bad) == 0, len(bad)
	if asJSON {
		if err := printJSON(env, rep); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("verify found %d differences from the expected policy: %s", len(bad), strings.Join(bad, ", "))
	}
	if !asJSON {
		fmt.Fprintln(env.stdout, "every claim holds")
	}
	return nil
}

// refuseVerifyWhenDown stops verify before it opens or stores anything
// when no service of the stack is running: every probe would fail, and
// those failures would say nothing about the policy. A config that does not
// load is left to openStack to report.
func refuseVerifyWhenDown(ctx context.Context, env *cliEnv) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return nil
	}
	if !cfg.Mesh.Enabled {
		return errors.New("this config has no mesh to verify (enable [mesh])")
	}
	if os.Getenv("MOAT_RUNTIME") == "process" {
		return nil // the process runtime runs no mesh; openStack says what it can
	}
	rt, err := newRuntime(ctx, cfg)
	if err != nil {
		return err
	}
	if c, ok := rt.(io.Closer); ok {
		defer c.Close()
	}
	inv, err := rt.List(ctx, cfg.Appliance.Project)
	if err != nil {
		return err
	}
	for _, in := range inv.Instances {
		if in.State == supervisor.StateRunning {
			return nil
		}
	}
	return fmt.Errorf("the stack %s is down: nothing to verify (`moat up -d` first)", cfg.Appliance.Project)
}

// verifyMatrix connects every source to every destination's sidecar.
func verifyMatrix(ctx context.Context, s *stack) (mesh.Matrix, []state.VerifyResult, error) {
	c, err := s.control.Consul()
	if err != nil {
		return mesh.Matrix{}, nil, err
	}
	cat := config.CatalogueOf(s.cfg)
	sources := cat.IdentityNames()
	sidecars := map[string]int{}
	var dests []string
	for _, id := range cat.Sidecared() {
		sidecars[id.Name] = id.HostPort
		dests = append(dests, id.Name)
	}
	m := mesh.ExpectedMatrix(sources, dests, append([]mesh.Intention{mesh.DefaultDeny}, s.control.Intentions()...))
	var results []state.VerifyResult
	for _, src := range sources {
		for _, dst := range dests {
			if src == dst {
				continue
			}
			p := mesh.Pair{Source: src, Destination: dst}
			obs, err := mesh.VerifyPair(ctx, c, src, dst, mesh.VerifyOptions{Address: "127.0.0.1:" + strconv.Itoa(sidecars[dst]), Timeout: 10 * time.Second})
			if err == nil && !obs.Allowed && obs.Closed {
				err = confirmDeny(ctx, c, src, dst)
			}
			m.Observe(p, obs, err)
			results = append(results, verifyResult(src, dst, m.Expected[p], obs, err))
		}
	}
	return m, results, nil
}

// confirmDeny asks Consul about a connection that closed without data: a
// sidecar closes both a denied connection and an allowed one whose
// application is down, so a close is a deny only when Consul's intentions
// say deny too. Otherwise the result is unknown, never a pass.
func confirmDeny(ctx context.Context, c *api.Client, src, dst string) error {
	allowed, err := mesh.CheckIntention(ctx, c, src, dst)
	switch {
	case err != nil:
		return fmt.Errorf("unknown: the connection closed and Consul could not say why: %w", err)
	case allowed:
		return fmt.Errorf("unknown: the connection closed, but Consul's intentions allow %s → %s (is %s down?)", src, dst, dst)
	}
	return nil
}

func verifyResult(src, dst string, expected bool, obs mesh.Observation, err error) state.VerifyResult {
	r := state.VerifyResult{Source: src, Destination: dst, Expected: allowDeny(expected), Detail: obs.Detail}
	if err != nil {
		r.Observed, r.Detail = "unknown", err.Error()
		return r
	}
	r.Observed = allowDeny(obs.Allowed)
	r.OK = r.Observed == r.Expected
	return r
}

func allowDeny(b bool) string {
	if b {
		return state.Allow
	}
	return state.Deny
}

// verifyDrift compares the intentions in Consul with those moat.toml
// declares (plus the topology's and the default deny): every extra,
// missing or changed one is a failure, also one whose effect no probe can
// observe (an allow to a service without a sidecar, say).
func verifyDrift(ctx context.Context, s *stack) []state.VerifyResult {
	c, err := s.control.Consul()
	if err != nil {
		return []state.VerifyResult{unknown("consul intentions", "drift from moat.toml", err)}
	}
	drift, err := mesh.IntentionDrift(ctx, c, s.control.Intentions())
	if err != nil {
		return []state.VerifyResult{unknown("consul intentions", "drift from moat.toml", err)}
	}
	r := state.VerifyResult{Source: "consul intentions", Destination: "drift from moat.toml", Expected: state.Deny, Observed: "none", OK: true, Detail: "Consul holds exactly the declared intentions"}
	if len(drift) == 0 {
		return []state.VerifyResult{r}
	}
	var out []state.VerifyResult
	for _, d := range drift {
		what := map[string]string{"added": "missing from Consul", "removed": "in Consul but not declared", "updated": "differs in Consul"}[d.Op]
		out = append(out, state.VerifyResult{Source: "consul intentions", Destination: d.Intention.String(), Expected: state.Deny, Observed: "drift",
			Detail: what + ": written behind moat's back? `moat up` (or saving moat.toml while moat runs) restores the declared intentions"})
	}
	return out
}
