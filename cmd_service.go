package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"moat/appliance/lock"
	"moat/supervisor"
)

func cmdRestart() command {
	c := command{name: "restart", args: "SERVICE...", summary: "restart services' containers",
		help: `
When a moat supervises the stack, asks that moat to restart each service at
once, with its health gates, forgetting any crash loop and its pending retry.
Otherwise stops each service's container (stop signal, stop grace, kill) and
starts it again through the runtime.

Example:
  moat restart trino-worker-1 notebook`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n >= 1 })
			if err != nil {
				return err
			}
			s, err := openRunning(ctx, env, modeReadOnly)
			if err != nil {
				return err
			}
			defer s.close()
			pid, _ := lock.ReadPID(s.cfg.DataDir())
			var errs []error
			for _, name := range pos {
				errs = append(errs, restartService(ctx, env, s, name, pid))
			}
			return errors.Join(errs...)
		})
	}
	return c
}

func restartService(ctx context.Context, env *cliEnv, s *stack, name string, supervisorPID int) error {
	in, err := s.instance(ctx, name)
	if err != nil {
		return err
	}
	if supervisorPID > 0 {
		// The supervisor owns the restart policy: it restarts the service
		// at once and forgets a crash loop.
		if err := requestRestart(s.cfg.DataDir(), name, supervisorPID); err != nil {
			return fmt.Errorf("asking the supervising moat (pid %d) to restart %s: %w", supervisorPID, name, err)
		}
		fmt.Fprintf(env.stdout, "%s: the supervising moat (pid %d) restarts it now, clearing any crash loop (`moat status` shows it)\n", name, supervisorPID)
		return nil
	}
	grace := s.cfg.Appliance.StopGrace.D()
	if sp, ok := s.topo.Service(name); ok && sp.StopGrace > 0 {
		grace = sp.StopGrace
	}
	if err := s.rt.Stop(ctx, in.ID, grace); err != nil {
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	if err := s.rt.Start(ctx, in.ID); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	fmt.Fprintf(env.stdout, "%s restarted (no moat supervises the stack: `moat up -d` would restart failures)\n", name)
	return nil
}

func cmdExec() command {
	c := command{name: "exec", args: "SERVICE -- CMD [ARG...]", summary: "run a command inside a service's container",
		help: `
Runs CMD (no shell, no terminal) in the running container of SERVICE and
prints its output; moat exits with the command's exit code. Put "--" before
the command so that its flags stay its own.

Example:
  moat exec db -- /workload probe http://127.0.0.1:8080/health`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n >= 2 })
			if err != nil {
				return err
			}
			s, err := openRunning(ctx, env, modeReadOnly)
			if err != nil {
				return err
			}
			defer s.close()
			ex, ok := s.rt.(supervisor.Execer)
			if !ok {
				return fmt.Errorf("the %s runtime cannot run a command in a service", s.rt.Name())
			}
			in, err := s.instance(ctx, pos[0])
			if err != nil {
				return err
			}
			code, out, err := ex.Exec(ctx, in.ID, pos[1:])
			fmt.Fprint(env.stdout, out)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitCode(code)
			}
			return nil
		})
	}
	return c
}

// exitCode ends moat with a command's own exit code and no message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

func cmdPull() command {
	c := command{name: "pull", args: "", summary: "pull every image of the stack",
		help: `
Pulls every image the stack uses, as 'moat up --pull=always' does (the same
code path), with progress per image in bytes and layers: a live bar on a
terminal, plain lines otherwise. A missing tag or an unreachable registry is
one line naming the image and the fix. It changes nothing in moat's state.

Example:
  moat pull && moat images save bundle.tar`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			s, err := openStackMode(ctx, env, modeReadOnly)
			if err != nil {
				return err
			}
			defer s.close()
			if _, ok := s.rt.(supervisor.ImageManager); !ok {
				return fmt.Errorf("the %s runtime has no images to pull", s.rt.Name())
			}
			if err := s.rt.Ping(ctx); err != nil {
				return err
			}
			return pullImages(ctx, s, "always", env.stdout)
		})
	}
	return c
}

// stdinIsTerminal reports whether standard input is a terminal (a prompt
// can be answered), without a terminal library.
func stdinIsTerminal() bool {
	fi, err := os.Stdin.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
