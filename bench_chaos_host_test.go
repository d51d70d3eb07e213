package main

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkChaosSSELoad is the fault matrix's dashboard row as a benchmark
// (`make bench`): 50 SSE clients of the events page and 10,000 events on the
// real dashboard handler and a real SQLite store, with the page loaded in a
// loop meanwhile. It reports the page's p99 latency, the heap's peak, and the
// process's peak RSS and CPU time per run (the dashboard lives in the
// supervisor, so these are the supervisor's costs of the load). Nothing is
// asserted but what TestChaosDashboardSSELoad asserts.
func BenchmarkChaosSSELoad(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var before syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		r := runSSELoad(b, 50, 10000)
		var after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
		b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(r.heapPeak)/1e6, "heap-peak-MB")
		b.ReportMetric(float64(after.Maxrss)/1e3, "maxrss-MB") // Linux: kilobytes
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(r.updates), "sse-updates")
	}
}
