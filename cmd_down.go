package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"moat/appliance/config"
	"moat/appliance/lock"
	"moat/supervisor"
)

func cmdDown() command {
	c := command{name: "down", args: "[--volumes] [--force]", summary: "stop the stack and the background moat",
		help: `
Stops the moat that supervises the stack (if any), then stops every container
of the project in reverse dependency order (graceful shutdown, grace period,
kill) and removes containers and networks. Volumes are kept unless --volumes.
It refuses to remove containers of the project that this folder's data dir
never recorded (a stack started from another moat.toml, whose moat would
start them again) unless --force. With a broken moat.toml it works from what
the running stack recorded.

Example:
  moat down --volumes`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		volumes := fs.Bool("volumes", false, "also remove the project's volumes (their data is lost)")
		force := fs.Bool("force", false, "also remove containers of the project that another folder's moat started")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			return down(ctx, env, *volumes, *force)
		})
	}
	return c
}

func down(ctx context.Context, env *cliEnv, volumes, force bool) error {
	s, err := openRunning(ctx, env, modeRecord)
	if err != nil {
		return err
	}
	defer s.close()
	cfg := s.cfg
	if !force {
		foreign, err := s.foreignInstances(ctx)
		if err != nil {
			return err
		}
		if len(foreign) > 0 {
			names := make([]string, len(foreign))
			for i, in := range foreign {
				names[i] = in.Name
			}
			return fmt.Errorf("project %s runs %s, which %s never recorded: they were started from another moat.toml, "+
				"whose moat may supervise them (and would start them again). Run `moat down` in that folder, or pass -f FILE; "+
				"`moat down --force` removes them anyway", cfg.Appliance.Project, strings.Join(names, ", "), cfg.DataDir())
		}
	}
	if err := stopSupervisor(ctx, env, cfg); err != nil {
		return err
	}
	eng := s.engine(env.stdout)
	// Following the runtime's events lets a graceful shutdown (a Trino
	// worker draining) end on the instance's exit rather than its grace.
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Close()
	if err := eng.Down(ctx, supervisor.DownOptions{Volumes: volumes, DefaultGrace: cfg.Appliance.StopGrace.D()}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s is down\n", cfg.Appliance.Project)
	return nil
}

// stopSupervisor asks the moat supervising cfg's stack to stop (it stops the
// stack in order) and waits until it has released its lock.
func stopSupervisor(ctx context.Context, env *cliEnv, cfg *config.Config) error {
	pid, err := lock.ReadPID(cfg.DataDir())
	if err != nil || pid == 0 {
		return err
	}
	fmt.Fprintf(env.stdout, "stopping the supervising moat (pid %d)\n", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signalling moat pid %d: %w", pid, err)
	}
	f, err := os.Open(filepath.Join(cfg.DataDir(), "moat.lock"))
	if err != nil {
		return err
	}
	defer f.Close()
	// The supervisor holds the lock until it has stopped the stack: a
	// blocking lock here returns exactly then.
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_SH) }()
	timeout := 2*cfg.Appliance.StopGrace.D() + time.Minute
	select {
	case err := <-done:
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return err
	case <-time.After(timeout):
		return fmt.Errorf("moat pid %d did not stop within %s: see %s", pid, timeout, filepath.Join(cfg.DataDir(), "moat.log"))
	case <-ctx.Done():
		return ctx.Err()
	}
}
