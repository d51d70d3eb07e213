package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"moat/supervisor"
)

// Events streams the project's container events, and the disconnects of
// its containers from its networks, from the engine's event stream (no
// polling). It ends when ctx does (both channels close, no error), or when
// either stream breaks (the error, then both close).
//
// Network events carry no labels, only the network's name and the
// container's ID: a second subscription takes every disconnect and keeps
// those from the project's networks (<project>_<name>).
func (r *Runtime) Events(ctx context.Context, project string) (<-chan supervisor.Event, <-chan error) {
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", supervisor.LabelProject+"="+project),
	)
	for _, a := range []events.Action{events.ActionStart, events.ActionDie, events.ActionHealthStatus, events.ActionOOM, events.ActionDestroy} {
		f.Add("event", string(a))
	}
	nf := filters.NewArgs(
		filters.Arg("type", string(events.NetworkEventType)),
		filters.Arg("event", string(events.ActionDisconnect)),
	)
	ctx, cancel := context.WithCancel(ctx)
	msgs, errs := r.cli.Events(ctx, events.ListOptions{Filters: f})
	netMsgs, netErrs := r.cli.Events(ctx, events.ListOptions{Filters: nf})
	out, outErr := make(chan supervisor.Event), make(chan error, 1)
	go func() {
		defer close(out)
		defer close(outErr)
		defer cancel() // ends the other stream when one breaks
		for {
			var ev supervisor.Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				r.streamEnded(ctx, err, outErr)
				return
			case err := <-netErrs:
				r.streamEnded(ctx, err, outErr)
				return
			case m := <-msgs:
				ev, ok = event(m)
			case m := <-netMsgs:
				ev, ok = disconnectEvent(project, m)
			}
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, outErr
}

// streamEnded passes on why a stream broke, unless ctx ended it.
func (r *Runtime) streamEnded(ctx context.Context, err error, out chan<- error) {
	if ctx.Err() == nil && err != nil {
		out <- streamError(r.cli.DaemonHost(), err)
	}
}

// disconnectEvent maps a network's disconnect event; ok is false for a
// network of another project.
func disconnectEvent(project string, m events.Message) (supervisor.Event, bool) {
	name, ok := logicalName(project, m.Actor.Attributes["name"])
	id := m.Actor.Attributes["container"]
	if !ok || id == "" || m.Action != events.ActionDisconnect {
		return supervisor.Event{}, false
	}
	return supervisor.Event{Time: time.Unix(0, m.TimeNano), ID: id, Kind: supervisor.EventDisconnect, Network: name}, true
}

func streamError(host string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("Docker event stream from %s broke: %w", host, err)
}

// event maps an engine message; ok is false for one moat does not use.
func event(m events.Message) (supervisor.Event, bool) {
	ev := supervisor.Event{
		Time:    time.Unix(0, m.TimeNano),
		ID:      m.Actor.ID,
		Service: m.Actor.Attributes[supervisor.LabelService],
	}
	switch {
	case m.Action == events.ActionStart:
		ev.Kind = supervisor.EventStart
	case m.Action == events.ActionDie:
		ev.Kind = supervisor.EventDie
		ev.ExitCode, _ = strconv.Atoi(m.Actor.Attributes["exitCode"])
	case m.Action == events.ActionOOM:
		ev.Kind = supervisor.EventOOM
	case m.Action == events.ActionDestroy:
		ev.Kind = supervisor.EventRemove
	case strings.HasPrefix(string(m.Action), string(events.ActionHealthStatus)):
		h, ok := healthOf(m)
		if !ok {
			return ev, false
		}
		ev.Kind, ev.Health = supervisor.EventHealth, h
	default:
		return ev, false
	}
	return ev, true
}

// healthOf reads a health_status event. The engine puts the status in the
// action ("health_status: healthy", as API 1.41 does); for a bare
// "health_status" action, which the client's types also name, the status is
// looked for in the event's attributes.
func healthOf(m events.Message) (supervisor.Health, bool) {
	status, found := strings.CutPrefix(string(m.Action), string(events.ActionHealthStatus)+":")
	if !found {
		status = m.Actor.Attributes["healthStatus"]
	}
	switch h := supervisor.Health(strings.TrimSpace(status)); h {
	case supervisor.HealthHealthy, supervisor.HealthUnhealthy, supervisor.HealthStarting:
		return h, true
	}
	return "", false
}
