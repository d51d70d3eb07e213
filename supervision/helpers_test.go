package supervision

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// bound is how long a test waits for something Run owes it before it
// fails: a limit on a broken implementation, never a way to let time pass.
const bound = 20 * time.Second

// record is a list of what happened, which a test can wait on.
type record struct {
	mu      sync.Mutex
	items   []string
	changed chan struct{} // closed and replaced at every add
}

func newRecord() *record { return &record{changed: make(chan struct{})} }

func (r *record) add(item string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, item)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *record) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// await returns once an item for which ok holds has been added (at any
// time), and fails the test after bound.
func (r *record) await(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.After(bound)
	for {
		r.mu.Lock()
		found, changed := slices.ContainsFunc(r.items, ok), r.changed
		r.mu.Unlock()
		if found {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s within %s; got %q", what, bound, r.all())
		}
	}
}

// awaitItem is await for an item equal to want.
func (r *record) awaitItem(t *testing.T, want string) {
	t.Helper()
	r.await(t, strings.TrimSpace(want), func(s string) bool { return s == want })
}

// output is an Out that records each line.
type output struct {
	*record
	lineMu  sync.Mutex
	partial string // the line being written
}

func newOutput() *output { return &output{record: newRecord()} }

func (o *output) Write(p []byte) (int, error) {
	o.lineMu.Lock()
	defer o.lineMu.Unlock()
	o.partial += string(p)
	for {
		line, rest, ok := strings.Cut(o.partial, "\n")
		if !ok {
			break
		}
		o.record.add(line)
		o.partial = rest
	}
	return len(p), nil
}

// awaitLine waits for a line containing want.
func (o *output) awaitLine(t *testing.T, want string) {
	t.Helper()
	o.await(t, "line containing "+want, func(s string) bool { return strings.Contains(s, want) })
}

// lines counts the lines containing want.
func (o *output) lines(want string) int {
	n := 0
	for _, l := range o.all() {
		if strings.Contains(l, want) {
			n++
		}
	}
	return n
}

// running is a Run in a goroutine of the test's, which cleanup cancels and
// waits for.
type running struct {
	t      *testing.T
	cancel context.CancelFunc
	errc   chan error
}

func start(t *testing.T, s Stack) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, cancel: cancel, errc: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.errc <- Run(ctx, s)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

// result waits for Run's result.
func (r *running) result() error {
	r.t.Helper()
	select {
	case err := <-r.errc:
		return err
	case <-time.After(bound):
		r.t.Fatalf("Run did not return within %s", bound)
		return nil
	}
}

// stop cancels Run's context and returns its result.
func (r *running) stop() error {
	r.t.Helper()
	r.cancel()
	return r.result()
}

// await fails the test unless ch is closed within bound.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(bound):
		t.Fatalf("%s did not happen within %s", what, bound)
	}
}
