package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"moat/appliance"
	"moat/mesh"
	"moat/state"
)

func cmdVerify() command {
	c := command{name: "verify", args: "", summary: "prove the mesh's allow/deny claims with real connections",
		help: `
For every ordered pair of mesh services, opens a real mutual-TLS connection as
the source to the destination's sidecar and records whether data flows; prints
the observed allow/deny matrix beside the expected one (from the intentions).
Also checks that no Trino port answers from the notebook's network namespace
and that the Consul API refuses an intention write without a token. Exits
non-zero on any difference; results are stored and shown by the dashboard.

Example:
  moat verify`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			return verify(ctx, env)
		})
	}
	return c
}

func verify(ctx context.Context, env *cliEnv) error {
	s, err := openStack(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	if s.control == nil {
		return errors.New("this config has no mesh to verify (enable [mesh])")
	}
	m, results, err := verifyMatrix(ctx, s)
	if err != nil {
		return err
	}
	fmt.Fprint(env.stdout, m.Render())
	extra := verifyIsolation(ctx, s)
	for _, r := range extra {
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
	for _, r := range results {
		if !r.OK {
			bad = append(bad, r.Source+" → "+r.Destination)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("verify found %d differences from the expected policy: %s", len(bad), strings.Join(bad, ", "))
	}
	fmt.Fprintln(env.stdout, "every claim holds")
	return nil
}

// verifyMatrix connects every source to every destination's sidecar.
func verifyMatrix(ctx context.Context, s *stack) (mesh.Matrix, []state.VerifyResult, error) {
	c, err := s.control.Consul()
	if err != nil {
		return mesh.Matrix{}, nil, err
	}
	sources := appliance.MeshServices(s.cfg)
	sidecars := map[string]int{}
	if s.cfg.Trino.Enabled {
		sidecars[appliance.ServiceCoordinator] = s.cfg.Mesh.CoordinatorPort
	}
	if s.cfg.Notebook.Enabled {
		sidecars[appliance.ServiceNotebook] = s.cfg.Mesh.NotebookSidecarPort
	}
	var dests []string
	for _, d := range sources {
		if _, ok := sidecars[d]; ok {
			dests = append(dests, d)
		}
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
			m.Observe(p, obs, err)
			results = append(results, verifyResult(src, dst, m.Expected[p], obs, err))
		}
	}
	return m, results, nil
}

func verifyResult(src, dst string, expected bool, obs mesh.Observation, err error) state.VerifyResult {
	r := state.VerifyResult{Source: src, Destination: dst, Expected: allowDeny(expected), Detail: obs.Detail}
	if err != nil {
		r.Observed, r.Detail = "error", err.Error()
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

// verifyIsolation checks what intentions cannot show: Trino's ports do not
// answer from the notebook's namespace, and Consul refuses anonymous writes.
func verifyIsolation(ctx context.Context, s *stack) []state.VerifyResult {
	var out []state.VerifyResult
	if s.control.Exec != nil && s.cfg.Notebook.Enabled && s.cfg.Trino.Enabled {
		addr := appliance.PlanAddresses(s.cfg)
		for _, target := range []string{addr.Coordinator.String(), addr.CoordinatorMesh.String()} {
			for _, port := range []int{appliance.TrinoHTTPPort, 8443} {
				out = append(out, directProbe(ctx, s, target+":"+strconv.Itoa(port)))
			}
		}
	}
	out = append(out, anonymousWrite(ctx, s))
	return out
}

// directProbe tries a plain TCP connection from inside the notebook.
func directProbe(ctx context.Context, s *stack, addr string) state.VerifyResult {
	r := state.VerifyResult{Source: appliance.ServiceNotebook + " (direct)", Destination: "trino " + addr, Expected: state.Deny}
	ok, detail, err := s.control.ProbeFrom(ctx, appliance.ServiceNotebook, "tcp", addr)
	if err != nil {
		r.Observed, r.Detail = "error", err.Error()
		return r
	}
	r.Observed, r.Detail, r.OK = allowDeny(ok), detail, !ok
	return r
}

// anonymousWrite tries to write an intention without a token.
func anonymousWrite(ctx context.Context, s *stack) state.VerifyResult {
	r := state.VerifyResult{Source: "anonymous", Destination: "consul intentions (write)", Expected: state.Deny}
	url := fmt.Sprintf("http://127.0.0.1:%d/v1/config", s.cfg.Mesh.HTTPPort)
	body := `{"Kind":"service-intentions","Name":"trino-coordinator","Sources":[{"Name":"*","Action":"allow"}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.Observed, r.Detail = "error", err.Error()
		return r
	}
	resp.Body.Close()
	r.Detail = resp.Status
	r.Observed = allowDeny(resp.StatusCode < 300)
	r.OK = resp.StatusCode == http.StatusForbidden
	return r
}
