package docker

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"moat/supervisor"
)

// List returns the project's containers (running or not), networks and
// volumes. Networks and volumes are given by their logical names, as
// RemoveNetwork and RemoveVolume take them.
func (r *Runtime) List(ctx context.Context, project string) (supervisor.Inventory, error) {
	var inv supervisor.Inventory
	var err error
	if inv.Instances, err = r.listInstances(ctx, project); err != nil {
		return inv, err
	}
	nets, err := r.cli.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return inv, fmt.Errorf("list networks of project %s: %w", project, err)
	}
	for _, n := range nets {
		inv.Networks = append(inv.Networks, logicalOrFull(project, n.Name))
	}
	vols, err := r.cli.VolumeList(ctx, volume.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return inv, fmt.Errorf("list volumes of project %s: %w", project, err)
	}
	for _, v := range vols.Volumes {
		inv.Volumes = append(inv.Volumes, logicalOrFull(project, v.Name))
	}
	return inv, nil
}

func logicalOrFull(project, name string) string {
	if l, ok := logicalName(project, name); ok {
		return l
	}
	return name
}

// listInstances inspects every container of the project; one removed
// meanwhile is left out.
func (r *Runtime) listInstances(ctx context.Context, project string) ([]supervisor.Instance, error) {
	cs, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %s: %w", project, err)
	}
	var out []supervisor.Instance
	for _, c := range cs {
		full, err := r.cli.ContainerInspect(ctx, c.ID)
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect container %s: %w", short(c.ID), err)
		}
		out = append(out, instance(full))
	}
	return out, nil
}

// PortHolder names the running container that publishes host port on
// hostIP (or on every address), for pre-flight messages such as "port 8500
// is held by container x".
func (r *Runtime) PortHolder(ctx context.Context, hostIP string, port int) (string, bool, error) {
	cs, err := r.cli.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return "", false, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		for _, p := range c.Ports {
			if int(p.PublicPort) == port && sameHostIP(p.IP, hostIP) {
				return containerDisplayName(c), true, nil
			}
		}
	}
	return "", false, nil
}

// sameHostIP reports whether a binding on a would collide with one on b: the
// same address, or either of them every address.
func sameHostIP(a, b string) bool {
	wildcard := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return a == b || wildcard(a) || wildcard(b)
}

func containerDisplayName(c container.Summary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	return short(c.ID)
}
