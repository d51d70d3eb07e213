package supervisortest

import (
	"context"
	"fmt"

	"moat/supervisor"
)

// Events streams the project's events until ctx ends, BreakEvents or Close.
// A subscriber eventBuffer events behind is ended with an error.
func (r *Runtime) Events(ctx context.Context, project string) (<-chan supervisor.Event, <-chan error) {
	s := &subscriber{project: project, ch: make(chan supervisor.Event, eventBuffer), errc: make(chan error, 1)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[s] = struct{}{}
	if err := r.faultLocked(OpEvents, "", ""); err != nil {
		r.endLocked(s, err)
		return s.ch, s.errc
	}
	s.stop = context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.endLocked(s, ctx.Err())
	})
	return s.ch, s.errc
}

// endLocked gives s its one error and closes its channels (once).
func (r *Runtime) endLocked(s *subscriber, err error) {
	if _, ok := r.subs[s]; !ok {
		return
	}
	delete(r.subs, s)
	if s.stop != nil {
		s.stop()
	}
	s.errc <- err
	close(s.ch)
	close(s.errc)
}

// BreakEvents ends every subscription with err, as a daemon restart does.
// What happens until the next Events call is not reported to anyone.
func (r *Runtime) BreakEvents(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		r.endLocked(s, err)
	}
}

// Repeat publishes again what the last event of kind said about instance id
// (its current exit code or health), as a runtime may when a resync and a
// new stream overlap.
func (r *Runtime) Repeat(id string, kind supervisor.EventKind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.insts[id]
	if i == nil {
		return notFound("instance", id)
	}
	r.publishLocked(i, kind)
	return nil
}

// Subscribers is the number of open event subscriptions.
func (r *Runtime) Subscribers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// Close ends every subscription.
func (r *Runtime) Close() error {
	r.BreakEvents(fmt.Errorf("supervisortest: runtime closed"))
	return nil
}

func (r *Runtime) publishLocked(i *instance, kind supervisor.EventKind) {
	e := supervisor.Event{Time: r.o.Clock.Now(), ID: i.in.ID, Service: i.spec.Name, Kind: kind}
	switch kind {
	case supervisor.EventHealth:
		e.Health = i.in.Health
	case supervisor.EventDie:
		e.ExitCode = i.in.ExitCode
	}
	r.sendLocked(i.project, e)
}

// sendLocked gives e to the project's subscribers.
func (r *Runtime) sendLocked(project string, e supervisor.Event) {
	for s := range r.subs {
		if s.project != project {
			continue
		}
		select {
		case s.ch <- e:
		default:
			r.endLocked(s, fmt.Errorf("supervisortest: subscriber fell %d events behind", eventBuffer))
		}
	}
}
