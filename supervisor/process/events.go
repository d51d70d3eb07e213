package process

import (
	"context"
	"fmt"
	"time"

	"moat/supervisor"
)

// eventBuffer is how far a subscriber may fall behind before it is ended.
const eventBuffer = 256

// subscription is one Events call. Guarded by Runtime.mu.
type subscription struct {
	project string
	ch      chan supervisor.Event
	errc    chan error
	ended   chan struct{}
}

// Events streams the project's start, die, health and remove events until
// ctx ends or the Runtime closes. A subscriber more than eventBuffer events
// behind is ended with an error rather than block the Runtime.
func (r *Runtime) Events(ctx context.Context, project string) (<-chan supervisor.Event, <-chan error) {
	s := &subscription{
		project: project,
		ch:      make(chan supervisor.Event, eventBuffer),
		errc:    make(chan error, 1),
		ended:   make(chan struct{}),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[s] = struct{}{}
	if !r.goLocked(func() { r.endWhenDone(ctx, s) }) {
		r.endLocked(s, errClosed)
	}
	return s.ch, s.errc
}

func (r *Runtime) endWhenDone(ctx context.Context, s *subscription) {
	var err error
	select {
	case <-ctx.Done():
		err = ctx.Err()
	case <-r.ctx.Done():
		err = errClosed
	case <-s.ended:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endLocked(s, err)
}

// endLocked gives s its one error and closes its channels (once).
func (r *Runtime) endLocked(s *subscription, err error) {
	if _, ok := r.subs[s]; !ok {
		return
	}
	delete(r.subs, s)
	s.errc <- err
	close(s.ch)
	close(s.errc)
	close(s.ended)
}

// publishLocked hands an event about inst to its project's subscribers.
func (r *Runtime) publishLocked(inst *instance, kind supervisor.EventKind, code int) {
	e := supervisor.Event{Time: time.Now(), ID: inst.rec.ID, Service: inst.service(), Kind: kind}
	switch kind {
	case supervisor.EventHealth:
		e.Health = inst.health
	case supervisor.EventDie:
		e.ExitCode = code
	}
	for s := range r.subs {
		if s.project != inst.project() {
			continue
		}
		select {
		case s.ch <- e:
		default:
			r.endLocked(s, fmt.Errorf("process runtime: events of %s: subscriber fell %d events behind; subscribe again and List to resync", s.project, eventBuffer))
		}
	}
}
