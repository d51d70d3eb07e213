package supervisor

import (
	"context"
	"fmt"
	"sync"
)

// Transitions leave the engine through three delivery paths, each a fifo
// with its own goroutine: the Recorder (disk), then the Observer and the
// subscriptions' fan-out, then one per subscription (its reader's pace).
// The engine pushes under its lock, which keeps the order, and never waits
// on a delivery there: Status and Wait do not wait on disk or stdout.

// fifo delivers values to sink in the order they were pushed, one at a
// time, on a goroutine it starts when a value arrives and that ends when
// none is left. flush waits for it: the fifo's owner calls flush before it
// lets go of the fifo, so that no delivery outlives it.
type fifo[T any] struct {
	sink    func(T)
	mu      sync.Mutex
	idle    sync.Cond // signalled when the goroutine ends
	items   []T
	running bool
}

func newFifo[T any](sink func(T)) *fifo[T] {
	q := &fifo[T]{sink: sink}
	q.idle.L = &q.mu
	return q
}

// push queues v; it never blocks on the sink.
func (q *fifo[T]) push(v T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append(q.items, v)
	if !q.running {
		q.running = true
		go q.drain()
	}
}

func (q *fifo[T]) drain() {
	var zero T
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) > 0 {
		v := q.items[0]
		q.items[0] = zero
		q.items = q.items[1:]
		q.mu.Unlock()
		q.sink(v)
		q.mu.Lock()
	}
	q.items = nil
	q.running = false
	q.idle.Broadcast()
}

// flush returns when everything pushed so far has been delivered and the
// delivering goroutine has ended.
func (q *fifo[T]) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.running {
		q.idle.Wait()
	}
}

// delivery is the engine's side of the three paths.
type delivery struct {
	record  *fifo[Transition] // nil without a Recorder
	observe *fifo[Transition]
	mu      sync.Mutex
	subs    map[*subscription]struct{}
	closed  bool // no new subscriptions
}

// subscription is one Subscribe call.
type subscription struct {
	ch     chan Transition
	done   chan struct{}
	q      *fifo[Transition]
	cancel func()
}

func (e *Engine) newDelivery() *delivery {
	d := &delivery{subs: map[*subscription]struct{}{}}
	d.observe = newFifo(func(t Transition) {
		if e.o.Observer != nil {
			e.o.Observer(t)
		}
		d.fanOut(t)
	})
	if e.o.Recorder != nil {
		d.record = newFifo(func(t Transition) {
			if err := e.o.Recorder.RecordTransition(context.WithoutCancel(e.baseCtx()), t); err != nil {
				e.o.Warn(fmt.Sprintf("could not record %s → %s of %s: %v", t.From, t.To, t.Service, err))
			}
			d.observe.push(t)
		})
	}
	return d
}

// push hands t to the first path: the Recorder commits it before the
// Observer or a subscriber sees it.
func (d *delivery) push(t Transition) {
	if d.record != nil {
		d.record.push(t)
		return
	}
	d.observe.push(t)
}

// flush waits until every transition pushed so far has been recorded and
// observed, and handed to the subscriptions (which deliver at their
// readers' pace).
func (d *delivery) flush() {
	if d.record != nil {
		d.record.flush()
	}
	d.observe.flush()
}

func (d *delivery) fanOut(t Transition) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for s := range d.subs {
		s.q.push(t)
	}
}

// Subscribe returns every transition from now on, in order, each once the
// Recorder has committed it and the Observer has seen it, and a cancel
// function that ends the subscription and closes the channel. Close ends
// every subscription. A reader that falls behind holds its backlog in its
// own queue: it never slows the engine or the other paths.
func (e *Engine) Subscribe() (<-chan Transition, func()) {
	d := e.delivery
	s := &subscription{ch: make(chan Transition), done: make(chan struct{})}
	s.q = newFifo(func(t Transition) {
		select {
		case s.ch <- t:
		case <-s.done:
		}
	})
	var once sync.Once
	s.cancel = func() {
		once.Do(func() {
			d.mu.Lock()
			delete(d.subs, s) // no push after this
			d.mu.Unlock()
			close(s.done)
			s.q.flush()
			close(s.ch)
		})
	}
	d.mu.Lock()
	closed := d.closed
	if !closed {
		d.subs[s] = struct{}{}
	}
	d.mu.Unlock()
	if closed {
		s.cancel()
	}
	return s.ch, s.cancel
}

// close delivers what is pending to the Recorder and the Observer, then ends
// every subscription.
func (d *delivery) close() {
	d.flush()
	d.mu.Lock()
	d.closed = true
	subs := make([]*subscription, 0, len(d.subs))
	for s := range d.subs {
		subs = append(subs, s)
	}
	d.mu.Unlock()
	for _, s := range subs {
		s.cancel()
	}
}
