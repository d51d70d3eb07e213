package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"moat/supervisor"
)

func (r *Runtime) networkFile(project, name string) string {
	return filepath.Join(r.projectDir(project), "networks", name+".json")
}

func (r *Runtime) volumeDir(project, name string) string {
	return filepath.Join(r.projectDir(project), "volumes", name)
}

// EnsureNetwork records the network's name (and settings); processes are
// not isolated by it.
func (r *Runtime) EnsureNetwork(ctx context.Context, project string, n supervisor.Network) (bool, error) {
	if err := checkNames(project, "network", n.Name); err != nil {
		return false, err
	}
	path := r.networkFile(project, n.Name)
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("process runtime: network %s: %w", n.Name, err)
	}
	if err := writeJSON(path, n, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// RemoveNetwork forgets the network.
func (r *Runtime) RemoveNetwork(ctx context.Context, project, name string) error {
	if err := checkNames(project, "network", name); err != nil {
		return err
	}
	return removeNamed("network", name, os.Remove(r.networkFile(project, name)))
}

// EnsureVolume makes the volume's directory.
func (r *Runtime) EnsureVolume(ctx context.Context, project string, v supervisor.Volume) (bool, error) {
	if err := checkNames(project, "volume", v.Name); err != nil {
		return false, err
	}
	dir := r.volumeDir(project, v.Name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return false, fmt.Errorf("process runtime: volume %s: %w", v.Name, err)
	}
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("process runtime: volume %s: %w", v.Name, err)
	}
	return true, nil
}

// RemoveVolume deletes the volume's directory and everything in it. Unlike
// Docker it does not refuse a volume in use.
func (r *Runtime) RemoveVolume(ctx context.Context, project, name string) error {
	if err := checkNames(project, "volume", name); err != nil {
		return err
	}
	dir := r.volumeDir(project, name)
	if _, err := os.Stat(dir); err != nil {
		return removeNamed("volume", name, err)
	}
	return removeNamed("volume", name, os.RemoveAll(dir))
}

func checkNames(project, what, name string) error {
	if err := checkName("project", project); err != nil {
		return err
	}
	return checkName(what, name)
}

func removeNamed(what, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("process runtime: %s %s: %w", what, name, supervisor.ErrNotFound)
	default:
		return fmt.Errorf("process runtime: remove %s %s: %w", what, name, err)
	}
}

// List returns the project's instances (sorted by name), networks and
// volumes. Instances another Runtime created in the directory since are
// adopted.
func (r *Runtime) List(ctx context.Context, project string) (supervisor.Inventory, error) {
	if err := checkName("project", project); err != nil {
		return supervisor.Inventory{}, err
	}
	var inv supervisor.Inventory
	r.mu.Lock()
	r.loadProjectLocked(project)
	for _, inst := range r.insts {
		if inst.project() == project {
			inv.Instances = append(inv.Instances, inst.inspectLocked())
		}
	}
	r.mu.Unlock()
	sort.Slice(inv.Instances, func(i, j int) bool { return inv.Instances[i].Name < inv.Instances[j].Name })
	nets, _ := os.ReadDir(filepath.Join(r.projectDir(project), "networks"))
	for _, e := range nets {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			inv.Networks = append(inv.Networks, name)
		}
	}
	vols, _ := os.ReadDir(filepath.Join(r.projectDir(project), "volumes"))
	for _, e := range vols {
		if e.IsDir() {
			inv.Volumes = append(inv.Volumes, e.Name())
		}
	}
	return inv, nil
}
