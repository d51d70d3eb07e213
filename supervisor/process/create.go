package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"moat/supervisor"
)

// Create makes the instance directory with the spec's files and mounts in
// place. peerID (ShareNetworkWith) is accepted: processes share the host's
// network anyway.
func (r *Runtime) Create(ctx context.Context, project string, s supervisor.Spec, peerID string) (string, error) {
	if err := checkSpec(project, s); err != nil {
		return "", err
	}
	if _, err := resolveArgv(s); err != nil {
		return "", err
	}
	for _, m := range s.Mounts {
		if _, err := os.Stat(r.volumeDir(project, m.Volume)); err != nil {
			return "", fmt.Errorf("process runtime: service %s mounts volume %q: %w (create it with EnsureVolume first)", s.Name, m.Volume, supervisor.ErrNotFound)
		}
	}
	dir, n, err := r.newInstanceDir(project, s.Name)
	if err != nil {
		return "", err
	}
	inst := &instance{dir: dir, spec: s, gone: make(chan struct{})}
	inst.rec = record{
		ID:     newID(),
		Name:   project + "-" + s.Name + "-" + strconv.Itoa(n),
		Labels: labels(project, s), State: supervisor.StateCreated,
		CreatedAt: time.Now(),
	}
	if err := r.populate(inst, project); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.insts[inst.rec.ID] = inst
	return inst.rec.ID, nil
}

func checkSpec(project string, s supervisor.Spec) error {
	if err := checkName("project", project); err != nil {
		return err
	}
	if err := checkName("service", s.Name); err != nil {
		return err
	}
	if _, err := parseSignal(s.StopSignal); err != nil {
		return fmt.Errorf("process runtime: service %s: %w", s.Name, err)
	}
	if s.Health != nil && len(s.Health.Command) == 0 {
		return fmt.Errorf("process runtime: service %s: health probe has no command", s.Name)
	}
	return nil
}

func labels(project string, s supervisor.Spec) map[string]string {
	l := map[string]string{}
	for k, v := range s.ExtraLabels {
		l[k] = v
	}
	l[supervisor.LabelProject] = project
	l[supervisor.LabelService] = s.Name
	l[supervisor.LabelConfigHash] = s.ConfigHash()
	return l
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newInstanceDir makes <dir>/<project>/<service>-<n> for the smallest free n.
func (r *Runtime) newInstanceDir(project, service string) (string, int, error) {
	if err := os.MkdirAll(r.projectDir(project), 0o755); err != nil {
		return "", 0, fmt.Errorf("process runtime: %w", err)
	}
	for n := 1; ; n++ {
		dir := filepath.Join(r.projectDir(project), service+"-"+strconv.Itoa(n))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, n, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", 0, fmt.Errorf("process runtime: instance directory: %w", err)
		}
	}
}

// populate writes the instance's root (mounts, then files, so that a file
// under a mount lands in the volume as docker cp would put it), its empty
// log, spec.json and instance.json.
func (r *Runtime) populate(inst *instance, project string) error {
	root := inst.root()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("process runtime: %w", err)
	}
	for _, m := range inst.spec.Mounts {
		link := reroot(root, m.Target)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return fmt.Errorf("process runtime: mount %s: %w", m.Target, err)
		}
		if err := os.Symlink(r.volumeDir(project, m.Volume), link); err != nil {
			return fmt.Errorf("process runtime: mount %s: %w", m.Target, err)
		}
	}
	for _, f := range inst.spec.Files {
		if err := writeFile(root, f); err != nil {
			return err
		}
	}
	if err := os.WriteFile(inst.logPath(), nil, 0o640); err != nil {
		return fmt.Errorf("process runtime: log: %w", err)
	}
	if err := writeJSON(filepath.Join(inst.dir, "spec.json"), inst.spec, 0o600); err != nil {
		return err
	}
	return inst.saveLocked()
}

// reroot places an absolute container path p under root; ".." cannot
// climb out of root.
func reroot(root, p string) string {
	return filepath.Join(root, filepath.Clean("/"+p))
}

// writeFile writes f under root with exactly f.Mode. Its content is never
// part of an error.
func writeFile(root string, f supervisor.File) error {
	path := reroot(root, f.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("process runtime: file %s: %w", f.Path, err)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	if err := os.WriteFile(path, f.Content, 0o600); err != nil {
		return fmt.Errorf("process runtime: file %s: %w", f.Path, err)
	}
	if os.Geteuid() == 0 && (f.UID != 0 || f.GID != 0) {
		if err := os.Lchown(path, f.UID, f.GID); err != nil {
			return fmt.Errorf("process runtime: file %s: %w", f.Path, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("process runtime: file %s: %w", f.Path, err)
	}
	return nil
}

// resolveArgv builds argv as Docker does and finds its program: a path
// (made absolute) or a name on moat's PATH.
func resolveArgv(s supervisor.Spec) ([]string, error) {
	argv := append(append([]string(nil), s.Entrypoint...), s.Command...)
	if len(s.Entrypoint) == 0 {
		argv = append([]string{s.Image}, s.Command...)
	}
	if argv[0] == "" {
		return nil, fmt.Errorf("process runtime: service %s: no program to run (set image to an executable's path or name)", s.Name)
	}
	p, err := exec.LookPath(argv[0])
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		return nil, fmt.Errorf("process runtime: service %s: %w (the process runtime runs image/entrypoint as a local program: install it or give its path)", s.Name, err)
	}
	argv[0] = p
	return argv, nil
}

// environ is PATH, HOME and MOAT_INSTANCE_DIR with the spec's env on top.
func (i *instance) environ() []string {
	env := map[string]string{
		"PATH":              os.Getenv("PATH"),
		"HOME":              i.root(),
		"MOAT_INSTANCE_DIR": i.dir,
	}
	if env["PATH"] == "" {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for k, v := range i.spec.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// workDir is WorkingDir re-rooted, or the root.
func (i *instance) workDir() string {
	if i.spec.WorkingDir == "" {
		return i.root()
	}
	return reroot(i.root(), i.spec.WorkingDir)
}
