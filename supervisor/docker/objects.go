package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"moat/supervisor"
)

// EnsureNetwork creates the bridge network <project>_<name> unless the
// project already has it. A network of that name that is not the project's,
// or that was made from other settings, is an error: moat neither adopts a
// foreign object nor silently changes a network containers may be using.
func (r *Runtime) EnsureNetwork(ctx context.Context, project string, n supervisor.Network) (bool, error) {
	name := objectName(project, n.Name)
	want := labels(project, n)
	existing, found, err := r.findNetwork(ctx, name)
	if err != nil {
		return false, err
	}
	if found {
		if existing.Labels[supervisor.LabelProject] == project && n.NoHostAddress && existing.Options[bridgeInhibitIPv4] != "true" {
			// Said first: it is why the settings differ (a stack of an older
			// moat), and what is at stake.
			return false, fmt.Errorf("network %s gives the host an address on its bridge, and the configuration asks for none "+
				"(a local user could reach its members directly): stop the project (`moat down`) to re-create it", name)
		}
		return false, checkOwned("network", name, project, existing.Labels, want)
	}
	opts := network.CreateOptions{Driver: "bridge", Internal: n.Internal, Labels: want}
	if n.NoHostAddress {
		// The bridge gets no IPv4 address, so the host has no route into
		// the subnet: its members reach each other on the bridge, and a
		// local user of the host reaches none of them (checked on Engine
		// 20.10: no address on br-<id>, no connected route).
		opts.Options = map[string]string{bridgeInhibitIPv4: "true"}
	}
	if n.Subnet != "" {
		opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway}}}
	}
	if _, err := r.cli.NetworkCreate(ctx, name, opts); err != nil {
		return false, fmt.Errorf("create network %s: %w", name, err)
	}
	return true, nil
}

// bridgeInhibitIPv4 is the bridge driver's option that leaves the bridge
// without a host address (supervisor.Network.NoHostAddress).
const bridgeInhibitIPv4 = "com.docker.network.bridge.inhibit_ipv4"

// findNetwork looks a network up by its exact name (the engine's name filter
// matches substrings).
func (r *Runtime) findNetwork(ctx context.Context, name string) (network.Summary, bool, error) {
	list, err := r.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return network.Summary{}, false, fmt.Errorf("list networks named %s: %w", name, err)
	}
	for _, n := range list {
		if n.Name == name {
			return n, true, nil
		}
	}
	return network.Summary{}, false, nil
}

// checkOwned accepts an existing object only when it carries the project's
// label and the same settings digest.
func checkOwned(kind, name, project string, have, want map[string]string) error {
	if have[supervisor.LabelProject] != project {
		return fmt.Errorf("a %s named %s exists but was not created by moat for project %q: "+
			"remove it (`docker %s rm %s`) or choose another project name", kind, name, project, kind, name)
	}
	if have[supervisor.LabelConfigHash] != want[supervisor.LabelConfigHash] {
		return fmt.Errorf("%s %s exists with other settings than the configuration asks for: "+
			"stop the project (`moat down`) and remove it (`docker %s rm %s`) to re-create it", kind, name, kind, name)
	}
	return nil
}

// RemoveNetwork removes the project's network name.
func (r *Runtime) RemoveNetwork(ctx context.Context, project, name string) error {
	full := objectName(project, name)
	if err := r.cli.NetworkRemove(ctx, full); err != nil {
		return notFound(err, "remove network %s", full)
	}
	return nil
}

// EnsureVolume creates the volume <project>_<name> unless the project has it.
func (r *Runtime) EnsureVolume(ctx context.Context, project string, v supervisor.Volume) (bool, error) {
	name := objectName(project, v.Name)
	want := labels(project, v)
	existing, err := r.cli.VolumeInspect(ctx, name)
	if err == nil {
		return false, checkOwned("volume", name, project, existing.Labels, want)
	}
	if !cerrdefs.IsNotFound(err) {
		return false, fmt.Errorf("inspect volume %s: %w", name, err)
	}
	if _, err := r.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: want}); err != nil {
		return false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return true, nil
}

// RemoveVolume removes the project's volume name and its data.
func (r *Runtime) RemoveVolume(ctx context.Context, project, name string) error {
	full := objectName(project, name)
	if err := r.cli.VolumeRemove(ctx, full, false); err != nil {
		return notFound(err, "remove volume %s", full)
	}
	return nil
}
