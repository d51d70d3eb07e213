package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"moat/appliance"
	"moat/state"
	"moat/supervisor"
)

func cmdStatus() command {
	c := command{name: "status", args: "[--json]", summary: "show each service: state, health, restarts, uptime, ports",
		help: `
Shows every service of the stack as the runtime sees it now, with what moat
recorded: restarts, what a service waits on, why it failed. It changes
nothing; with a broken moat.toml it shows the services the running stack
recorded, with a warning.

Example:
  moat status --json | jq '.services[] | {name, health}'`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "print JSON")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			st, err := collectStatus(ctx, env)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, st)
			}
			printStatus(env, st)
			return nil
		})
	}
	return c
}

// Status is `moat status --json`.
type Status struct {
	Project    string          `json:"project"`
	Supervisor int             `json:"supervisor_pid"` // 0: nobody supervises
	Services   []ServiceStatus `json:"services"`
}

// ServiceStatus is one service in `moat status`.
type ServiceStatus struct {
	Name      string   `json:"name"`
	State     string   `json:"state"`  // runtime: running, exited, missing
	Health    string   `json:"health"` // healthy, unhealthy, starting, none
	Phase     string   `json:"phase"`  // moat's view: healthy, restarting, failed, ...
	Restarts  int      `json:"restarts"`
	Uptime    string   `json:"uptime"`
	StartedAt string   `json:"started_at,omitempty"`
	Ports     []string `json:"ports"`
	WaitingOn string   `json:"waiting_on,omitempty"`
	// SidecarOf names the application a sidecar serves; Upstreams are the
	// application's localhost upstreams ("trino-coordinator@127.0.0.1:8080").
	SidecarOf string   `json:"sidecar_of,omitempty"`
	Upstreams []string `json:"upstreams,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	ID        string   `json:"id,omitempty"`
}

func collectStatus(ctx context.Context, env *cliEnv) (Status, error) {
	s, err := openRunning(ctx, env, modeReadOnly)
	if err != nil {
		return Status{}, err
	}
	defer s.close()
	st := Status{Project: s.cfg.Appliance.Project}
	st.Supervisor, _ = appliance.ReadPID(s.cfg.DataDir())
	inv, err := s.rt.List(ctx, s.cfg.Appliance.Project)
	if err != nil {
		return st, err
	}
	live := map[string]supervisor.Instance{}
	for _, in := range inv.Instances {
		live[in.Service] = in
	}
	cat := appliance.CatalogueOf(s.cfg)
	for _, sp := range s.topo.Services {
		ss := ServiceStatus{Name: sp.Name, State: "missing", Health: "none", Ports: []string{}}
		if in, ok := live[sp.Name]; ok {
			ss.State, ss.ID = string(in.State), shortID(in.ID)
			if in.Health != "" {
				ss.Health = string(in.Health)
			}
			if in.State == supervisor.StateRunning {
				ss.Uptime = time.Since(in.StartedAt).Round(time.Second).String()
				ss.StartedAt = in.StartedAt.Format(time.RFC3339)
			}
		}
		if rec, ok, _ := s.store.Service(ctx, sp.Name); ok {
			ss.Phase, ss.Restarts, ss.WaitingOn = rec.State, rec.Restarts, rec.WaitingOn
			// Local processes are probed by the supervising moat only: its
			// record is the health (a new process runtime has no verdict yet).
			if s.rt.Name() == "process" && st.Supervisor > 0 && rec.Health != "" && ss.State == string(supervisor.StateRunning) {
				ss.Health = rec.Health
			}
			ss.Reason = downReason(ctx, s.store, rec)
		}
		for _, p := range sp.Ports {
			ss.Ports = append(ss.Ports, p.String())
		}
		if app, ok := cat.SidecarOf(sp.Name); ok {
			ss.SidecarOf = app
			id, _ := cat.Identity(app)
			for _, u := range id.Upstreams {
				ss.Upstreams = append(ss.Upstreams, u.String())
			}
		}
		st.Services = append(st.Services, ss)
	}
	return st, nil
}

// downReason is why a service that is down is down and what moat does about
// it (a restart's delay, a crash loop's next try), as moat recorded it: the
// reason of its latest transition, else its failure or last probe.
func downReason(ctx context.Context, st *state.Store, rec state.Service) string {
	switch supervisor.Phase(rec.State) {
	case supervisor.PhaseFailed, supervisor.PhaseRestarting, supervisor.PhaseCrashLooping:
	default:
		return ""
	}
	if ts, err := st.Transitions(ctx, rec.Name, 1); err == nil && len(ts) > 0 && ts[0].To == rec.State {
		return ts[0].Reason
	}
	return cmp.Or(rec.FailedReason, rec.LastProbe)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func printStatus(env *cliEnv, st Status) {
	if st.Supervisor > 0 {
		fmt.Fprintf(env.stdout, "%s: supervised by moat pid %d\n\n", st.Project, st.Supervisor)
	} else {
		fmt.Fprintf(env.stdout, "%s: no moat supervises it (nothing restarts failed services; `moat up -d`)\n\n", st.Project)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tMOAT\tRESTARTS\tUPTIME\tPORTS\tNOTE")
	for _, s := range st.Services {
		note := s.Reason
		if s.WaitingOn != "" && note == "" {
			note = "waiting on " + s.WaitingOn
		}
		if s.SidecarOf != "" && note == "" {
			note = "sidecar of " + s.SidecarOf
			if len(s.Upstreams) > 0 {
				note += "; upstreams " + strings.Join(s.Upstreams, ", ")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.State, s.Health, dash(s.Phase), s.Restarts,
			dash(s.Uptime), dash(strings.Join(s.Ports, ",")), note)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
