package state

import (
	"context"
	"testing"
)

// BenchmarkRecordEvent is one committed event per op from one goroutine.
func BenchmarkRecordEvent(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	e := Event{Severity: SeverityInfo, Kind: "bench.event", Service: "trino-coordinator", Message: "healthy"}
	for b.Loop() {
		if _, err := s.RecordEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordEventParallel is the same with GOMAXPROCS goroutines
// sharing the one writer connection.
func BenchmarkRecordEventParallel(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	e := Event{Severity: SeverityInfo, Kind: "bench.event", Service: "trino-coordinator", Message: "healthy"}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.RecordEvent(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEventsPage reads a 50-event page of one service from 10,000.
func BenchmarkEventsPage(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	for i := range 10_000 {
		svc := []string{"consul", "notebook", "trino-coordinator"}[i%3]
		if _, err := s.RecordEvent(ctx, Event{Severity: SeverityInfo, Kind: "bench.event", Service: svc}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := s.Events(ctx, EventFilter{Service: "notebook", Limit: 50}); err != nil {
			b.Fatal(err)
		}
	}
}
