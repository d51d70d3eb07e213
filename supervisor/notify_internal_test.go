package supervisor

import (
	"slices"
	"sync"
	"testing"
)

// TestFifoKeepsOrderAndFlushes: values pushed from several goroutines, each
// in its own order, reach the sink in that order, one at a time; flush
// returns once all are delivered and the delivering goroutine has ended.
func TestFifoKeepsOrderAndFlushes(t *testing.T) {
	var mu sync.Mutex
	inSink, maxInSink := 0, 0
	got := map[int][]int{}
	q := newFifo(func(v [2]int) {
		mu.Lock()
		inSink++
		maxInSink = max(maxInSink, inSink)
		got[v[0]] = append(got[v[0]], v[1])
		mu.Unlock()
		mu.Lock()
		inSink--
		mu.Unlock()
	})
	q.flush() // nothing pushed: returns at once
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				q.push([2]int{p, i})
			}
		})
	}
	wg.Wait()
	q.flush()
	mu.Lock()
	defer mu.Unlock()
	for p := range 4 {
		if len(got[p]) != 1000 || !slices.IsSorted(got[p]) {
			t.Errorf("producer %d: %d values, sorted %v", p, len(got[p]), slices.IsSorted(got[p]))
		}
	}
	if maxInSink != 1 {
		t.Errorf("%d deliveries at once, want 1", maxInSink)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running || len(q.items) != 0 {
		t.Errorf("after flush: running %v, %d queued", q.running, len(q.items))
	}
}
