package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"moat/appliance"
	"moat/appliance/lock"
	"moat/report"
	"moat/state"
	"moat/supervision"
	"moat/supervisor"
)

func cmdUp() command {
	c := command{name: "up", args: "[flags]", summary: "start the stack and supervise it (Ctrl-C stops it)",
		help: `
Reads moat.toml (or --config FILE, or the embedded default), checks the host
(Docker, ports, disk, images), pulls missing images, starts every service in
dependency order gated on health, then supervises in the foreground: restarts
with backoff, crash loops marked failed. Ctrl-C stops the stack in reverse
order. With -d a background moat supervises and 'up' returns once the stack is
healthy; 'moat down' stops it. Running it again adopts what is running.

Example:
  moat up --config testdata/test-stack.toml -d`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		detach := fs.Bool("d", false, "supervise in the background and return once healthy")
		pull := fs.String("pull", "", "image pull policy: missing, always or never (default: appliance.pull)")
		open := fs.Bool("open", false, "open the dashboard in the browser")
		child := fs.Bool("detached-child", false, "internal: the background supervisor of up -d")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			if *pull != "" && *pull != "missing" && *pull != "always" && *pull != "never" {
				return usageError{fmt.Sprintf("invalid --pull %q: must be missing, always or never", *pull), "moat up --pull=never"}
			}
			if *detach {
				return upDetached(ctx, env, args)
			}
			return upForeground(ctx, env, upOptions{pull: *pull, open: *open, child: *child})
		})
	}
	return c
}

type upOptions struct {
	pull  string
	open  bool
	child bool // report readiness on fd 3 to the parent `up -d`
	// terminal is where secrets meant for the user go (the dashboard's
	// login URL): the terminal, never the background moat's log file.
	terminal io.Writer
	log      io.Writer // the log only (the background moat's log file)
}

// upForeground starts the stack and supervises it until ctx ends, then stops
// it in reverse order.
func upForeground(ctx context.Context, env *cliEnv, o upOptions) error {
	out := env.stdout
	o.terminal, o.log = env.stdout, env.stdout
	var ready *os.File
	if o.child {
		ready = os.NewFile(3, "ready")
		out = io.MultiWriter(env.stdout, ready)
		o.terminal = ready
	}
	err := superviseStack(ctx, env, o, out, func() {
		if ready != nil {
			fmt.Fprintln(ready, readyLine)
			ready.Close()
			ready = nil
		}
	})
	if err != nil && ready != nil {
		fmt.Fprintf(ready, "%s%s\n", errorPrefix, strings.ReplaceAll(err.Error(), "\n", "\n"+errorPrefix))
	}
	return err
}

const (
	readyLine   = "moat: READY"
	errorPrefix = "moat: ERROR: "
)

func superviseStack(ctx context.Context, env *cliEnv, o upOptions, out io.Writer, onReady func()) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	held, err := lock.Acquire(cfg.DataDir())
	if err != nil {
		return err
	}
	defer held.Release()
	s, err := openConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	if o.pull == "" {
		o.pull = s.cfg.Appliance.Pull
	}
	if err := appliance.CloseInterrupted(ctx, s.store); err != nil {
		return err
	}
	runID, _ := s.store.BeginRun(ctx, state.Run{Command: "up", ConfigPath: s.cfg.Path, PID: os.Getpid()})
	err = startAndSupervise(ctx, s, o, out, onReady)
	status, msg := state.StatusOK, ""
	if err != nil {
		status, msg = state.StatusFailed, err.Error()
	}
	s.store.EndRun(context.WithoutCancel(ctx), runID, status, msg)
	return err
}

func startAndSupervise(ctx context.Context, s *stack, o upOptions, out io.Writer, onReady func()) error {
	if err := appliance.Failed(appliance.Preflight(ctx, s.cfg, s.topo, s.rt, o.pull)); err != nil {
		return fmt.Errorf("pre-flight found problems; nothing was created:\n%w", err)
	}
	if err := pullImages(ctx, s, o.pull, out); err != nil {
		return err
	}
	if err := appliance.SetDesired(ctx, s.store, s.topo); err != nil {
		return err
	}
	eng := s.engine(out)
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Close()
	// What bringUp prepares, the actors serve: they start once it returned.
	var (
		ws      *workstationEndpoint
		serveUI func(context.Context) error
	)
	// An actor's failure stops the stack and is the run's outcome.
	return supervision.Run(ctx, supervision.Stack{
		Engine: eng,
		Up: func(ctx context.Context) (err error) {
			ws, serveUI, err = bringUp(ctx, s, eng, o, out, onReady)
			return err
		},
		Down:      func(ctx context.Context) error { return stopStack(ctx, s, eng, out) },
		Health:    supervision.HealthMirror{Mirror: healthMirror(s)},
		Config:    configReload(s, out),
		Reports:   scheduledReports(s, out),
		Dashboard: supervision.Actor{Name: "dashboard", Run: func(ctx context.Context) error { return serveUI(ctx) }},
		Actors: []supervision.Actor{
			{Name: "host endpoint", Run: func(ctx context.Context) error { // for the user's own tools
				if ws == nil {
					<-ctx.Done()
					return nil
				}
				return ws.serve(ctx)
			}},
			restartRequests(s.cfg.DataDir(), eng, out), // `moat restart SERVICE`, which clears a crash loop
			certificateRenewer(s, out),                 // moat's CA's certificates, renewed before they expire
		},
		Out: out,
	})
}

// bringUp starts the stack's services, then what must listen before the
// stack is announced (the host endpoint, so that what up prints answers),
// says it is ready and prepares the dashboard. A failure after the
// services started stops them again.
func bringUp(ctx context.Context, s *stack, eng *supervisor.Engine, o upOptions, out io.Writer, onReady func()) (*workstationEndpoint, func(context.Context) error, error) {
	fmt.Fprintf(out, "starting %d services of %s (%s runtime)\n", len(s.topo.Services), s.cfg.Appliance.Project, s.rt.Name())
	if err := eng.Up(ctx, s.topo); err != nil {
		return nil, nil, fmt.Errorf("up failed; what this attempt created was removed:\n%w", err)
	}
	ws, err := openWorkstation(ctx, s)
	if err != nil {
		return nil, nil, errors.Join(err, stopStack(ctx, s, eng, out))
	}
	printReady(out, s)
	serveUI, err := prepareDashboard(ctx, s, eng, o.terminal, o.log)
	if err != nil {
		ws.close()
		return nil, nil, errors.Join(err, stopStack(ctx, s, eng, out))
	}
	onReady()
	if o.open && s.dashboardURL != "" {
		openBrowser(s.dashboardURL) // one-time: the token never reaches a command line
	}
	return ws, serveUI, nil
}

func stopStack(ctx context.Context, s *stack, eng *supervisor.Engine, out io.Writer) error {
	fmt.Fprintln(out, "stopping the stack in reverse order")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	return eng.Down(stopCtx, supervisor.DownOptions{DefaultGrace: s.cfg.Appliance.StopGrace.D()})
}

// healthMirror keeps Consul's TTL checks of the mesh services equal to what
// moat observes (nil without a mesh).
func healthMirror(s *stack) func(context.Context, supervisor.Transition) error {
	if !s.hasMesh() {
		return nil
	}
	return s.control.MirrorHealth
}

// scheduledReports are the [[report]]s with their runner (none without
// Trino). Each run opens its own connection through the mesh, as the
// dashboard's "run now" does.
func scheduledReports(s *stack, out io.Writer) supervision.Reports {
	if !s.queriesTrino() {
		return supervision.Reports{}
	}
	return supervision.Reports{Definitions: s.cfg.ReportDefinitions(), Run: func(ctx context.Context, d report.Definition) {
		if res, err := s.reportOnce(ctx, d); err != nil {
			fmt.Fprintf(out, "report %s failed: %v\n", d.Name, err)
		} else {
			fmt.Fprintf(out, "report %s: %d rows → %s\n", d.Name, res.Meta.Rows, res.Path)
		}
	}}
}

func printReady(out io.Writer, s *stack) {
	fmt.Fprintf(out, "all %d services are up\n", len(s.topo.Services))
	c := s.cfg
	if c.Mesh.Enabled {
		version := ""
		if s.hasMesh() {
			version = " Consul " + s.control.ConsulInfo().Version
		}
		ui := "the dashboard's /ui/"
		if c.Dashboard.Enabled {
			ui = "http://" + c.Dashboard.Listen + "/ui/"
		}
		fmt.Fprintf(out, "  consul UI   %s (through the dashboard; sign in with: moat secrets show consul;%s)\n", ui, version)
	}
	if c.Notebook.Enabled {
		fmt.Fprintf(out, "  notebook    http://127.0.0.1:%d/ (token: moat secrets show notebook)\n", c.Notebook.Port)
	}
	if c.Trino.Enabled {
		fmt.Fprintf(out, "  trino       moat query \"SELECT ...\" (through the mesh; the coordinator's sidecar on 127.0.0.1:%d accepts mesh mTLS only)\n", c.Mesh.CoordinatorPort)
	}
	if cs, err := connectSettings(c, ""); err == nil {
		fmt.Fprintf(out, "  tools       %s (`moat connect` for JDBC, DBeaver, the trino CLI, Python)\n", connectLine(cs))
	}
	for _, svc := range c.Services {
		spec, _ := s.topo.Service(svc.Name)
		for _, p := range spec.Ports {
			fmt.Fprintf(out, "  %-11s %s:%d\n", svc.Name, p.HostIP, p.HostPort)
		}
	}
}

// pullImages pulls what the policy asks for, with a progress line per image.
func pullImages(ctx context.Context, s *stack, policy string, out io.Writer) error {
	im, ok := s.rt.(supervisor.ImageManager)
	if !ok {
		return nil
	}
	var errs []error
	for _, img := range appliance.NeedsPull(ctx, s.topo, im, policy) {
		bar := newProgressBar(out, img)
		err := im.Pull(ctx, img, bar.update)
		bar.done(err)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// upDetached starts `moat up --detached-child` in its own session, relays
// its progress, and returns once it reports the stack healthy.
func upDetached(ctx context.Context, env *cliEnv, args []string) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	if pid, _ := lock.ReadPID(cfg.DataDir()); pid > 0 {
		return fmt.Errorf("moat (pid %d) already supervises this stack: `moat status` shows it, `moat down` stops it", pid)
	}
	logPath := filepath.Join(cfg.DataDir(), "moat.log")
	if err := os.MkdirAll(cfg.DataDir(), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	childArgs := []string{"up", "--detached-child"}
	for _, a := range args {
		if a != "-d" && a != "--d" && a != "-d=true" {
			childArgs = append(childArgs, a)
		}
	}
	cmd := exec.Command(self, childArgs...)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = logf, logf, []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the background moat: %w", err)
	}
	w.Close()
	defer cmd.Process.Release() // the child outlives us: it is not ours to wait for
	return relayReadiness(r, env.stdout, cmd.Process.Pid, logPath)
}

// relayReadiness copies the child's progress until READY or an error.
func relayReadiness(r io.Reader, out io.Writer, pid int, logPath string) error {
	sc := bufio.NewScanner(r)
	var errLines []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == readyLine:
			fmt.Fprintf(out, "moat supervises in the background (pid %d, log %s); `moat down` stops it\n", pid, logPath)
			return nil
		case strings.HasPrefix(line, errorPrefix):
			errLines = append(errLines, strings.TrimPrefix(line, errorPrefix))
		default:
			fmt.Fprintln(out, line)
		}
	}
	if len(errLines) > 0 {
		return errors.New(strings.Join(errLines, "\n"))
	}
	return fmt.Errorf("the background moat exited before the stack was healthy: see %s", logPath)
}
