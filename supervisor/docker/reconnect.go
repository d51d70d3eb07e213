package docker

import (
	"context"
	"fmt"
	"slices"

	"moat/supervisor"
)

var _ supervisor.NetworkRepairer = (*Runtime)(nil)

// Reconnect attaches container id to the project's network again, with the
// address and aliases s gives it there, as Create attached it: after
// `docker network disconnect` the container keeps running without it, and
// a restart would not bring it back.
func (r *Runtime) Reconnect(ctx context.Context, project, id string, s supervisor.Spec, network string) error {
	i := slices.IndexFunc(s.Networks, func(a supervisor.Attachment) bool { return a.Network == network })
	if i < 0 {
		return fmt.Errorf("container %s: %s is not one of the networks of %s", short(id), network, s.Name)
	}
	net := objectName(project, network)
	if err := r.cli.NetworkConnect(ctx, net, id, endpoint(s.Name, s.Networks[i])); err != nil {
		return notFound(err, "reconnect container %s to network %s", short(id), net)
	}
	return nil
}
