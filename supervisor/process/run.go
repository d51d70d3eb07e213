package process

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"moat/supervisor"
)

// Start runs the instance's process (again, if it has exited). Starting a
// running instance does nothing.
func (r *Runtime) Start(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	inst, err := r.lookupLocked(id)
	if err != nil {
		return err
	}
	if inst.run != nil {
		return nil
	}
	if r.closed {
		return errClosed
	}
	pid, err := inst.spawn()
	if err != nil {
		return err
	}
	ticks, _ := procStart(pid) // 0 when it has already exited: reaped below
	inst.rec.Pid, inst.rec.StartTicks = pid, ticks
	inst.rec.State, inst.rec.ExitCode = supervisor.StateRunning, 0
	inst.rec.StartedAt, inst.rec.FinishedAt = time.Now(), time.Time{}
	rn := &run{pid: pid, child: true, exited: make(chan struct{})}
	r.beginRunLocked(inst, rn)
	if err := inst.saveLocked(); err != nil {
		signalGroup(pid, syscall.SIGKILL)
		return err
	}
	select { // the child may have exited before the watcher knew it
	case r.kick <- struct{}{}:
	default:
	}
	return nil
}

// spawn starts the process, in its own group, writing to the log.
func (i *instance) spawn() (int, error) {
	argv, err := resolveArgv(i.spec)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(i.workDir(), 0o755); err != nil {
		return 0, fmt.Errorf("process runtime: service %s: working directory: %w", i.service(), err)
	}
	logf, err := os.OpenFile(i.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return 0, fmt.Errorf("process runtime: service %s: log: %w", i.service(), err)
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("process runtime: %w", err)
	}
	defer null.Close()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Dir: i.workDir(), Env: i.environ(),
		Files: []*os.File{null, logf, logf},
		Sys:   groupAttr(),
	})
	if err != nil {
		return 0, fmt.Errorf("process runtime: service %s: start %s: %w", i.service(), argv[0], err)
	}
	pid := p.Pid
	p.Release() // the watcher reaps it by pid
	return pid, nil
}

// beginRunLocked records rn as inst's run, starts its probe loop and says so.
func (r *Runtime) beginRunLocked(inst *instance, rn *run) {
	inst.run = rn
	inst.health, inst.lastProbe = supervisor.HealthNone, ""
	ctx, cancel := context.WithCancel(r.ctx)
	rn.stop = cancel
	if p := inst.spec.Health; p != nil {
		inst.health = supervisor.HealthStarting
		env, dir, started := inst.environ(), inst.workDir(), inst.rec.StartedAt
		r.goLocked(func() { r.probeLoop(ctx, inst, rn, *p, env, dir, started) })
	}
	r.publishLocked(inst, supervisor.EventStart, 0)
}

// finishLocked records that inst's process ended with code: what is left of
// its group is killed, the probe stops, subscribers hear of it.
func (r *Runtime) finishLocked(inst *instance, code int) {
	if rn := inst.run; rn != nil {
		// A child's pid is ours until reaped, and stays taken while its group
		// has members; an adopted pid may have been reused: check.
		if rn.child || orphanGroup(rn.pid, inst.rec.StartTicks) {
			signalGroup(rn.pid, syscall.SIGKILL)
		}
		rn.stop()
		close(rn.exited)
		inst.run = nil
		if !rn.child {
			code = r.recordedExit(inst, code)
		}
	}
	inst.rec.State, inst.rec.ExitCode = supervisor.StateExited, code
	inst.rec.FinishedAt = time.Now()
	inst.health = supervisor.HealthNone
	inst.saveLocked() // best effort: the next Runtime finds the pid dead anyway
	r.publishLocked(inst, supervisor.EventDie, code)
}

// recordedExit is the exit code the process's parent (another Runtime
// sharing the directory) recorded, if it did; else code.
func (r *Runtime) recordedExit(inst *instance, code int) int {
	var rec record
	if readJSON(inst.dir+"/instance.json", &rec) == nil && rec.State == supervisor.StateExited &&
		rec.Pid == inst.rec.Pid && rec.StartedAt.Equal(inst.rec.StartedAt) {
		return rec.ExitCode
	}
	return code
}

// watch notices processes ending: children on SIGCHLD, adopted ones by
// polling (see doc.go). It runs until Close.
func (r *Runtime) watch() {
	defer r.wg.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.sigc:
		case <-r.kick:
		case <-t.C:
		}
		r.checkExits()
	}
}

func (r *Runtime) checkExits() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, inst := range r.insts {
		rn := inst.run
		if rn == nil {
			continue
		}
		if rn.child {
			done, code, err := reap(rn.pid)
			if err == nil {
				if done {
					r.finishLocked(inst, code)
				}
				continue
			}
			rn.child = false // no longer ours to reap: watch it like an adopted one
		}
		if !alive(rn.pid, inst.rec.StartTicks) {
			r.finishLocked(inst, -1)
		}
	}
}

// Stop sends the stop signal to the instance's group, waits up to grace for
// it to exit, then kills the group. Stopping a stopped instance does nothing.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	inst, err := r.lookupLocked(id)
	if err != nil || inst.run == nil {
		r.mu.Unlock()
		return err
	}
	rn := inst.run
	sig, _ := parseSignal(inst.spec.StopSignal) // checked by Create
	err = signalGroup(rn.pid, sig)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("process runtime: stop %s: %w", inst.rec.Name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-rn.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
	case <-r.ctx.Done():
	}
	return r.killRun(ctx, inst, rn)
}

// Kill sends SIGKILL to the instance's group and waits for it to exit.
// Killing a stopped instance does nothing.
func (r *Runtime) Kill(ctx context.Context, id string) error {
	r.mu.Lock()
	inst, err := r.lookupLocked(id)
	rn := (*run)(nil)
	if err == nil {
		rn = inst.run
	}
	r.mu.Unlock()
	if rn == nil {
		return err
	}
	return r.killRun(ctx, inst, rn)
}

// killRun kills rn's group (unless rn has ended) and waits for the watcher
// to see it end. ctx bounds the wait, not the kill.
func (r *Runtime) killRun(ctx context.Context, inst *instance, rn *run) error {
	r.mu.Lock()
	var err error
	if inst.run == rn { // under mu: the pid has not been reaped and reused
		err = signalGroup(rn.pid, syscall.SIGKILL)
	}
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("process runtime: kill %s: %w", inst.rec.Name, err)
	}
	select {
	case <-rn.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("process runtime: kill %s: waiting for it to exit: %w", inst.rec.Name, ctx.Err())
	case <-r.ctx.Done():
		return fmt.Errorf("process runtime: kill %s: signalled, but %w before it exited", inst.rec.Name, errClosed)
	}
}

// Remove kills the instance if it runs, then deletes its directory.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	if err := r.Kill(ctx, id); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	inst, err := r.lookupLocked(id)
	if err != nil {
		return err
	}
	if inst.run != nil { // started again meanwhile
		return fmt.Errorf("process runtime: remove %s: it was started again while being removed", inst.rec.Name)
	}
	if err := os.RemoveAll(inst.dir); err != nil {
		return fmt.Errorf("process runtime: remove %s: %w", inst.rec.Name, err)
	}
	delete(r.insts, id)
	close(inst.gone)
	r.publishLocked(inst, supervisor.EventRemove, 0)
	return nil
}

// Inspect returns the instance's state.
func (r *Runtime) Inspect(ctx context.Context, id string) (supervisor.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	inst, err := r.lookupLocked(id)
	if err != nil {
		return supervisor.Instance{}, err
	}
	return inst.inspectLocked(), nil
}
