package state

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentWriters has 8 goroutines record events and transitions at
// once, with readers alongside: every write succeeds (no SQLITE_BUSY) and
// every row arrives.
func TestConcurrentWriters(t *testing.T) {
	const writers, perWriter = 8, 50
	ctx := context.Background()
	s := openTest(t)
	errs := make(chan error, writers*perWriter*3)
	var wg sync.WaitGroup
	for w := range writers {
		service := fmt.Sprintf("svc-%d", w)
		wg.Go(func() {
			for i := range perWriter {
				_, err := s.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "test.concurrent", Service: service})
				errs <- err
				errs <- s.RecordTransition(ctx, Transition{Service: service, From: "a", To: fmt.Sprint(i)})
				_, err = s.Events(ctx, EventFilter{Service: service, Limit: 5})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(ctx, EventFilter{})
	if err != nil || len(evs) != writers*perWriter {
		t.Errorf("events = %d (%v), want %d", len(evs), err, writers*perWriter)
	}
	trs, err := s.Transitions(ctx, "", 0)
	if err != nil || len(trs) != writers*perWriter {
		t.Errorf("transitions = %d (%v), want %d", len(trs), err, writers*perWriter)
	}
	for w := range writers {
		if trs, _ := s.Transitions(ctx, fmt.Sprintf("svc-%d", w), 0); len(trs) != perWriter {
			t.Errorf("svc-%d has %d transitions, want %d", w, len(trs), perWriter)
		}
	}
}

// TestTwoStoresOneFile is two moat processes' worth of stores on one file
// (the CLI beside `moat up -d`): writes from both interleave and both see
// them, the busy timeout absorbing the cross-store lock.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	a := openTest(t)
	b, err := Open(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for _, s := range []*Store{a, b} {
		wg.Go(func() {
			for range 100 {
				_, err := s.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "test.two"})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range map[string]*Store{"a": a, "b": b} {
		if evs, err := s.Events(ctx, EventFilter{}); err != nil || len(evs) != 200 {
			t.Errorf("store %s sees %d events (%v), want 200", name, len(evs), err)
		}
	}
}
