package process

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"moat/supervisor"
)

// Docker's defaults for a probe's zero fields.
const (
	defaultInterval = 30 * time.Second
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 3
	maxProbeOutput  = 4096 // bytes of probe output kept for Inspect
)

// probeLoop runs p every Interval while rn is inst's run (until ctx ends),
// turning results into health changes as Docker does.
func (r *Runtime) probeLoop(ctx context.Context, inst *instance, rn *run, p supervisor.Probe, env []string, dir string, started time.Time) {
	interval, timeout, retries := p.Interval, p.Timeout, p.Retries
	if interval <= 0 {
		interval = defaultInterval
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if retries <= 0 {
		retries = defaultRetries
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	failures, passed := 0, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		out, err := runProbe(ctx, p.Command, timeout, env, dir)
		r.mu.Lock()
		if inst.run != rn {
			r.mu.Unlock()
			return
		}
		inst.lastProbe = out
		switch {
		case err == nil:
			failures, passed = 0, true
			r.setHealthLocked(inst, supervisor.HealthHealthy)
		case !passed && time.Since(started) < p.StartPeriod:
			// failures while starting do not count
		default:
			if failures++; failures >= retries {
				r.setHealthLocked(inst, supervisor.HealthUnhealthy)
			}
		}
		r.mu.Unlock()
		t.Reset(interval)
	}
}

func (r *Runtime) setHealthLocked(inst *instance, h supervisor.Health) {
	if inst.health == h {
		return
	}
	inst.health = h
	r.publishLocked(inst, supervisor.EventHealth, 0)
}

// runProbe runs argv (in its own process group, killed on timeout) and
// returns its trimmed output, or what went wrong when it said nothing.
func runProbe(ctx context.Context, argv []string, timeout time.Duration, env []string, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir, cmd.SysProcAttr = env, dir, groupAttr()
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // a grandchild holding the output open
	b, err := cmd.CombinedOutput()
	out := strings.TrimSpace(string(b))
	if len(out) > maxProbeOutput {
		out = "…" + out[len(out)-maxProbeOutput:]
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("probe timed out after %s", timeout)
		out = strings.TrimSpace(out + "\n" + err.Error())
	}
	if err != nil && out == "" {
		out = err.Error()
	}
	return out, err
}
