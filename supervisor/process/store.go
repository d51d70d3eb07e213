package process

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"moat/supervisor"
)

// record is an instance's instance.json: what a later Runtime needs to find
// and adopt it.
type record struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels"` // LabelProject, LabelService, LabelConfigHash, extras
	Pid        int               `json:"pid,omitempty"`
	StartTicks uint64            `json:"start_ticks,omitempty"` // /proc/<pid>/stat start time
	State      supervisor.State  `json:"state"`
	ExitCode   int               `json:"exit_code"`
	CreatedAt  time.Time         `json:"created_at"`
	StartedAt  time.Time         `json:"started_at,omitzero"`
	FinishedAt time.Time         `json:"finished_at,omitzero"`
}

// instance is one instance the Runtime knows. Guarded by Runtime.mu.
type instance struct {
	dir       string
	rec       record
	spec      supervisor.Spec
	run       *run // nil unless running
	health    supervisor.Health
	lastProbe string
	gone      chan struct{} // closed when removed
}

// run is one execution of an instance's process.
type run struct {
	pid    int
	child  bool               // moat's child (reaped) or adopted (polled)
	exited chan struct{}      // closed when the process has ended
	stop   context.CancelFunc // stops the probe loop
}

func (i *instance) project() string { return i.rec.Labels[supervisor.LabelProject] }
func (i *instance) service() string { return i.rec.Labels[supervisor.LabelService] }
func (i *instance) root() string    { return filepath.Join(i.dir, "root") }
func (i *instance) logPath() string { return filepath.Join(i.dir, "log") }

// saveLocked writes instance.json atomically.
func (i *instance) saveLocked() error {
	return writeJSON(filepath.Join(i.dir, "instance.json"), i.rec, 0o644)
}

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("process runtime: encode %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), mode); err != nil {
		return fmt.Errorf("process runtime: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("process runtime: write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("process runtime: %s: %w (remove the instance directory)", path, err)
	}
	return nil
}

// loadProjectLocked reads the instances of project that the Runtime does not
// know yet, adopting those still running.
func (r *Runtime) loadProjectLocked(project string) {
	dirs, _ := filepath.Glob(filepath.Join(r.projectDir(project), "*", "instance.json"))
	for _, p := range dirs {
		dir := filepath.Dir(p)
		var rec record
		var spec supervisor.Spec
		if readJSON(p, &rec) != nil || readJSON(filepath.Join(dir, "spec.json"), &spec) != nil {
			continue // half-created or damaged: Create writes spec.json first
		}
		if _, known := r.insts[rec.ID]; known || rec.ID == "" {
			continue
		}
		inst := &instance{dir: dir, rec: rec, spec: spec, gone: make(chan struct{})}
		r.insts[rec.ID] = inst
		if rec.State != supervisor.StateRunning {
			continue
		}
		if alive(rec.Pid, rec.StartTicks) {
			r.beginRunLocked(inst, &run{pid: rec.Pid, exited: make(chan struct{})})
			continue
		}
		r.finishLocked(inst, -1)
	}
}

// inspectLocked is the supervisor's view of inst.
func (i *instance) inspectLocked() supervisor.Instance {
	out := supervisor.Instance{
		ID: i.rec.ID, Name: i.rec.Name, Service: i.service(),
		ConfigHash: i.rec.Labels[supervisor.LabelConfigHash],
		State:      i.rec.State, Health: i.health, ExitCode: i.rec.ExitCode,
		StartedAt: i.rec.StartedAt, FinishedAt: i.rec.FinishedAt,
		LastProbe: i.lastProbe,
		Ports:     append([]supervisor.Port(nil), i.spec.Ports...),
	}
	if len(i.spec.Networks) > 0 {
		out.Addresses = map[string]string{}
		for _, n := range i.spec.Networks {
			out.Addresses[n.Network] = "127.0.0.1"
		}
	}
	return out
}
