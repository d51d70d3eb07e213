package supervisortest

import (
	"context"
	"fmt"
	"slices"

	"moat/supervisor"
)

var _ supervisor.NetworkRepairer = (*Runtime)(nil)

// OpReconnect is Reconnect, as Fail names it and Calls records it
// ("reconnect web-1 mesh").
const OpReconnect = "reconnect"

// addresses gives a running instance an address on each of its spec's
// networks that Disconnect did not take away (none when it shares a peer's
// namespace), as Inspect shows them.
func (i *instance) addresses() map[string]string {
	if i.spec.ShareNetworkWith != "" || len(i.spec.Networks) == 0 {
		return nil
	}
	out := map[string]string{}
	for n, a := range i.spec.Networks {
		if !i.detached[a.Network] {
			out[a.Network] = fmt.Sprintf("10.0.%d.2", n)
		}
	}
	return out
}

// Disconnect detaches running instance id from network, as `docker network
// disconnect` does behind moat's back, and publishes that unless quiet (as
// when the event stream is down). The instance keeps running.
func (r *Runtime) Disconnect(id, network string, quiet bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.insts[id]
	if i == nil || i.in.State != supervisor.StateRunning {
		return fmt.Errorf("supervisortest: disconnect %s: %w", id, errNotRunning)
	}
	if _, ok := i.in.Addresses[network]; !ok {
		return fmt.Errorf("supervisortest: disconnect %s: not on network %s", id, network)
	}
	if i.detached == nil {
		i.detached = map[string]bool{}
	}
	i.detached[network] = true
	i.in.Addresses = i.addresses()
	if !quiet {
		r.sendLocked(i.project, supervisor.Event{Time: r.o.Clock.Now(), ID: id, Service: i.spec.Name,
			Kind: supervisor.EventDisconnect, Network: network})
	}
	return nil
}

// Reconnect attaches instance id to network again (NetworkRepairer). Like
// Docker it refuses a network the project has not ensured, one that is not
// the instance's, and one the instance is on already; a stopped instance
// gets it at its next start.
func (r *Runtime) Reconnect(ctx context.Context, project, id string, s supervisor.Spec, network string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	call := OpReconnect + " " + id + " " + network
	i := r.insts[id]
	name := id
	if i != nil {
		name = i.spec.Name
	}
	if err := r.faultLocked(OpReconnect, name, call); err != nil {
		return err
	}
	switch {
	case i == nil:
		return notFound("instance", id)
	case !r.hasNetworkLocked(project, network):
		return notFound("network", network)
	case !slices.ContainsFunc(i.spec.Networks, func(a supervisor.Attachment) bool { return a.Network == network }):
		return fmt.Errorf("supervisortest: reconnect %s: %s is not one of its networks", id, network)
	case !i.detached[network]:
		return fmt.Errorf("supervisortest: reconnect %s: already on network %s", id, network)
	}
	delete(i.detached, network)
	if i.in.State == supervisor.StateRunning {
		i.in.Addresses = i.addresses()
	}
	return nil
}

func (r *Runtime) hasNetworkLocked(project, name string) bool {
	_, ok := r.networks[project+"/"+name]
	return ok
}
