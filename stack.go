package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/state"
	"moat/supervisor"
	"moat/supervisor/docker"
	"moat/supervisor/process"
)

// stack is an opened moat project: its config, state, secrets, runtime and
// planned topology. Commands open one, use it and close it.
type stack struct {
	cfg          *config.Config
	store        *state.Store
	secrets      *appliance.Secrets
	rt           supervisor.Runtime
	topo         supervisor.Topology
	control      *control.Control // nil when the mesh is off
	closers      []func() error
	dashboardURL string // the login URL, once the dashboard listens
}

// openMode says what opening a stack may change.
type openMode int

const (
	// modeProvision (moat up) generates secrets, writes the password file
	// and creates the state database.
	modeProvision openMode = iota
	// modeRecord creates nothing, but records what the command does (a
	// query, a report run, a verify result) into an existing history.
	modeRecord
	// modeReadOnly changes nothing at all (status, logs, images, doctor).
	modeReadOnly
)

// openStack loads the config and opens everything a command needs, creating
// nothing: only `moat up` provisions (openConfig).
func openStack(ctx context.Context, env *cliEnv) (*stack, error) {
	return openStackMode(ctx, env, modeRecord)
}

// openStackMode is openStack for a mode.
func openStackMode(ctx context.Context, env *cliEnv, mode openMode) (*stack, error) {
	cfg, err := env.loadConfig()
	if err != nil {
		return nil, err
	}
	return openConfigMode(ctx, cfg, mode)
}

// openConfig opens everything `moat up` needs for an already loaded config,
// generating what is missing.
func openConfig(ctx context.Context, cfg *config.Config) (*stack, error) {
	return openConfigMode(ctx, cfg, modeProvision)
}

// openConfigMode opens the stack of cfg, changing only what mode allows.
func openConfigMode(ctx context.Context, cfg *config.Config, mode openMode) (*stack, error) {
	s, err := openParts(ctx, cfg, mode)
	if err != nil {
		return nil, err
	}
	if mode == modeProvision {
		if err := appliance.Provision(cfg, s.secrets); err != nil {
			s.close()
			return nil, err
		}
	}
	if cfg.Mesh.Enabled {
		s.control = control.NewControl(cfg, s.secrets, s.rt)
		s.closers = append(s.closers, func() error { s.control.Close(); return nil })
	}
	var gates appliance.Equipper // none without a mesh (a nil *Control is not a nil Equipper)
	if s.control != nil {
		gates = s.control
	}
	if s.topo, err = appliance.Plan(cfg, s.secrets, gates); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// openParts opens the state, the secrets and the runtime of cfg: everything
// but the plan.
func openParts(ctx context.Context, cfg *config.Config, mode openMode) (*stack, error) {
	s := &stack{cfg: cfg}
	open, openSecrets := state.Open, appliance.OpenSecrets
	switch mode {
	case modeRecord:
		open, openSecrets = state.OpenExisting, appliance.OpenSecretsReadOnly
	case modeReadOnly:
		open, openSecrets = state.OpenReadOnly, appliance.OpenSecretsReadOnly
	}
	var err error
	if s.store, err = open(filepath.Join(cfg.DataDir(), state.FileName)); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.store.Close)
	if s.secrets, err = openSecrets(cfg.DataDir()); err != nil {
		s.close()
		return nil, err
	}
	if s.rt, err = newRuntime(ctx, cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// newRuntime is the Docker runtime, or local processes with
// MOAT_RUNTIME=process (hosts without Docker).
func newRuntime(ctx context.Context, cfg *config.Config) (supervisor.Runtime, error) {
	switch r := os.Getenv("MOAT_RUNTIME"); r {
	case "", "docker":
		return docker.New(ctx)
	case "process":
		return process.New(filepath.Join(cfg.DataDir(), "processes"))
	default:
		return nil, fmt.Errorf("MOAT_RUNTIME=%q: must be docker (the default) or process", r)
	}
}

func (s *stack) close() {
	if c, ok := s.rt.(io.Closer); ok {
		c.Close()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// engine returns a supervisor engine for the stack; progress goes to w.
func (s *stack) engine(w io.Writer) *supervisor.Engine {
	a := s.cfg.Appliance
	var mu sync.Mutex
	// A failing database (a full disk) is reported when it starts failing
	// and when it works again, not for every transition in between.
	writes := &appliance.WriteWatch{Report: func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s\n", msg)
		s.store.RecordEvent(context.Background(), state.Event{Severity: state.SeverityWarn, Kind: "moat.state", Message: msg})
	}}
	return supervisor.New(supervisor.Options{
		Project:  a.Project,
		Runtime:  s.rt,
		Recorder: appliance.Recorder{Store: s.store, Writes: writes},
		Observer: func(t supervisor.Transition) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "%s  %-22s %-10s %s\n", t.Time.Format("15:04:05"), t.Service, t.To, t.Reason)
		},
		Warn: func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "warning: %s\n", msg)
			s.store.RecordEvent(context.Background(), state.Event{Severity: state.SeverityWarn, Kind: "moat.warning", Message: msg})
		},
		Backoff:             a.RestartBackoff(),
		CrashLoop:           a.CrashLoopPolicy(),
		DefaultStartTimeout: a.StartTimeout.D(),
	})
}

// hasMesh reports whether the stack has moat's control plane, which
// openConfigMode makes exactly when the config has a mesh.
func (s *stack) hasMesh() bool { return s.control != nil }

// queriesTrino reports whether moat can query Trino: it does so through the
// mesh, so the stack needs both [mesh] and [trino].
func (s *stack) queriesTrino() bool { return s.hasMesh() && s.cfg.Trino.Enabled }

// instance finds the current instance of service name.
func (s *stack) instance(ctx context.Context, name string) (supervisor.Instance, error) {
	return supervisor.FindInstance(ctx, s.rt, s.cfg.Appliance.Project, name)
}

func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}
