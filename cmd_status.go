package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"moat/appliance/config"
	"moat/appliance/lock"
	"moat/state"
	"moat/supervisor"
	"moat/webui"
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

// ServiceStatus is one service in `moat status`: the service as the
// dashboard shows it (moat's status of it, as the state store recorded it,
// and its place in the topology), with what the runtime sees of it now in
// place of the record's instance, start and health.
type ServiceStatus struct {
	webui.Service
	State  string `json:"state"`  // the runtime's: running, exited, missing
	Uptime string `json:"uptime"` // "" unless running
}

func collectStatus(ctx context.Context, env *cliEnv) (Status, error) {
	s, err := openRunning(ctx, env, modeReadOnly)
	if err != nil {
		return Status{}, err
	}
	defer s.close()
	return stackStatus(ctx, s, time.Now())
}

// stackStatus is the status of every service of s's topology at now.
func stackStatus(ctx context.Context, s *stack, now time.Time) (Status, error) {
	st := Status{Project: s.cfg.Appliance.Project}
	st.Supervisor, _ = lock.ReadPID(s.cfg.DataDir())
	inv, err := s.rt.List(ctx, s.cfg.Appliance.Project)
	if err != nil {
		return st, err
	}
	live := map[string]supervisor.Instance{}
	for _, in := range inv.Instances {
		live[in.Service] = in
	}
	// Local processes are probed by the supervising moat only: its record
	// is their health (a new process runtime has no verdict yet).
	keepHealth := s.rt.Name() == "process" && st.Supervisor > 0
	cat := config.CatalogueOf(s.cfg)
	for _, sp := range s.topo.Services {
		ss := ServiceStatus{Service: webui.Service{ServiceStatus: recordedStatus(ctx, s.store, sp),
			Placement: placementOf(cat, sp.Name)}}
		in, ok := live[sp.Name]
		ss.observe(in, ok, keepHealth, now)
		st.Services = append(st.Services, ss)
	}
	return st, nil
}

// observe puts what the runtime sees of the service at now (in, when live)
// in place of the record's instance, start and health; keepHealth keeps
// the recorded health of a running service.
func (ss *ServiceStatus) observe(in supervisor.Instance, live, keepHealth bool, now time.Time) {
	recorded := ss.Health
	ss.State, ss.InstanceID, ss.StartedAt, ss.Health = "missing", "", time.Time{}, supervisor.HealthNone
	if !live {
		return
	}
	ss.State, ss.InstanceID, ss.Health = string(in.State), in.ID, in.Health
	if in.State == supervisor.StateRunning {
		ss.StartedAt, ss.Uptime = in.StartedAt, now.Sub(in.StartedAt).Round(time.Second).String()
		if keepHealth && recorded != supervisor.HealthNone {
			ss.Health = recorded
		}
	}
}

// recordedStatus is what the state store recorded of sp, with sp's own
// part (ports, dependencies) as the current plan has it; only that part when
// nothing was recorded.
func recordedStatus(ctx context.Context, store *state.Store, sp supervisor.Spec) supervisor.ServiceStatus {
	plan := supervisor.SpecStatus(sp)
	rec, ok, _ := store.Service(ctx, sp.Name)
	if !ok {
		return plan
	}
	rec.Ports, rec.DependsOn = plan.Ports, plan.DependsOn
	return rec.ServiceStatus
}

// note is what `moat status` says of a service beside its columns: why it
// is down and what moat does about it (a restart's delay, a crash loop's
// next try), else what it waits on, else where it sits in the mesh.
func note(s ServiceStatus) string {
	switch s.Phase {
	case supervisor.PhaseFailed, supervisor.PhaseRestarting, supervisor.PhaseCrashLooping:
		if r := cmp.Or(s.Reason, s.LastProbe); r != "" {
			return r
		}
	}
	if s.WaitingOn != "" {
		return "waiting on " + s.WaitingOn
	}
	var parts []string
	if s.SidecarOf != "" {
		parts = append(parts, "sidecar of "+s.SidecarOf)
	}
	if len(s.Upstreams) > 0 {
		ups := make([]string, len(s.Upstreams))
		for i, u := range s.Upstreams {
			ups[i] = u.String()
		}
		parts = append(parts, "upstreams "+strings.Join(ups, ", "))
	}
	return strings.Join(parts, "; ")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.State, cmp.Or(string(s.Health), "none"),
			dash(string(s.Phase)), s.Restarts, dash(s.Uptime), dash(s.Ports.String()), note(s))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
