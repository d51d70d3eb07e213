package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"moat/appliance/config"
	"moat/state"
	"moat/supervisor"
)

// openRunning opens the stack for a command that acts on a running stack
// (status, logs, down, restart, exec). When the config does not load, a
// typo must not lock the user out of a stack that runs: the command works
// from what that stack recorded in its data dir, with a warning naming the
// config's error.
func openRunning(ctx context.Context, env *cliEnv, mode openMode) (*stack, error) {
	cfg, err := env.loadConfig()
	if err == nil {
		return openConfigMode(ctx, cfg, mode)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return nil, err
	}
	rec, ok := env.recordedConfig()
	if !ok {
		return nil, err
	}
	s, oerr := openRecorded(ctx, rec, mode)
	if oerr != nil {
		return nil, errors.Join(err, oerr)
	}
	fmt.Fprintf(env.stderr, "warning: %s does not load; acting on what the stack recorded in %s (fix the file before `moat up`):\n  %s\n",
		rec.Path, rec.DataDir(), strings.ReplaceAll(err.Error(), "\n", "\n  "))
	return s, nil
}

// recordedConfig is the embedded default with the project and data dir that
// the broken config file names (as far as they can be read), when a state
// database exists there: enough to find the running stack.
func (env *cliEnv) recordedConfig() (*config.Config, bool) {
	path, err := env.findConfig()
	if err != nil || path == "" {
		return nil, false
	}
	def, err := config.Default()
	if err != nil {
		return nil, false
	}
	var raw struct {
		Appliance struct {
			Project string `toml:"project"`
			DataDir string `toml:"data_dir"`
		} `toml:"appliance"`
	}
	raw.Appliance.Project, raw.Appliance.DataDir = def.Appliance.Project, def.Appliance.DataDir
	if data, err := os.ReadFile(path); err == nil {
		toml.Decode(string(data), &raw) // what does not decode keeps its default
	}
	cfg := *def
	cfg.Appliance.Project, cfg.Appliance.DataDir = raw.Appliance.Project, raw.Appliance.DataDir
	cfg.Path, cfg.Dir = path, filepath.Dir(path)
	if env.applyProject(&cfg) != nil || !state.Exists(filepath.Join(cfg.DataDir(), state.FileName)) {
		return nil, false
	}
	return &cfg, true
}

// openRecorded opens the stack of a recorded config: its topology is the
// services the running stack recorded as desired (names and images).
func openRecorded(ctx context.Context, cfg *config.Config, mode openMode) (*stack, error) {
	s, err := openParts(ctx, cfg, mode)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.Services(ctx)
	if err != nil {
		s.close()
		return nil, err
	}
	s.topo = supervisor.Topology{Project: cfg.Appliance.Project}
	for _, r := range rows {
		if r.Desired {
			s.topo.Services = append(s.topo.Services, supervisor.Spec{Name: r.Name, Image: r.Image})
		}
	}
	return s, nil
}

// errStackDown says that service (and so the stack) is not running, and
// what to run.
func errStackDown(project, service string) error {
	return fmt.Errorf("the stack %s is down (%s is not running): start it with `moat up -d`", project, service)
}

// requireRunning fails with errStackDown unless service runs.
func (s *stack) requireRunning(ctx context.Context, service string) error {
	in, err := s.instance(ctx, service)
	if err != nil || in.State != supervisor.StateRunning {
		if err != nil && !strings.Contains(err.Error(), "no service") {
			return err // the runtime itself: its message says what to fix
		}
		return errStackDown(s.cfg.Appliance.Project, service)
	}
	return nil
}

// foreignInstances are the project's instances that this data dir's state
// never recorded: a stack of the same project started from another folder,
// perhaps supervised by a moat there.
func (s *stack) foreignInstances(ctx context.Context) ([]supervisor.Instance, error) {
	inv, err := s.rt.List(ctx, s.cfg.Appliance.Project)
	if err != nil || len(inv.Instances) == 0 {
		return nil, err
	}
	rows, err := s.store.Services(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, r := range rows {
		if r.InstanceID != "" {
			known[r.InstanceID] = true
		}
	}
	for _, in := range inv.Instances {
		if known[in.ID] {
			return nil, nil // ours: started from this data dir
		}
	}
	return inv.Instances, nil
}
