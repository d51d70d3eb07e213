package main

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"moat/internal/testenv"
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

// BenchmarkChaosQueryFlood: moat's RSS and CPU, and the dashboard's
// latency, while 20 clients × 200 queries go through the host endpoint and
// the mesh and trino-worker-2 is killed a quarter of the way in (the query
// flood row of the fault matrix, measured, not asserted beyond the test's
// own checks).
func BenchmarkChaosQueryFlood(b *testing.B) {
	for _, img := range []string{testenv.WorkloadImage, testenv.ConsulImage, testenv.TrinotestImage, testenv.NotebookImage} {
		testenv.RequireImage(b, img)
	}
	s := newMeshStack(b, false)
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		b.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("workers = 1\n"), []byte("workers = 2\n"), 1)
	if err := os.WriteFile(s.config, cfg, 0o644); err != nil {
		b.Fatal(err)
	}
	s.mustMoat("up", "-d")
	s.allUp("the mesh stack up", 3*time.Minute)
	r := runQueryFlood(b, s, 20, 200)
	b.ReportMetric(float64(r.ok), "ok_queries")
	b.ReportMetric(float64(r.gone), "remote_host_gone")
	b.ReportMetric(r.took.Seconds(), "flood_s")
	b.ReportMetric(float64(r.rssBefore)/1e6, "moat_rss_before_MB")
	b.ReportMetric(float64(r.rssPeak)/1e6, "moat_rss_peak_MB")
	b.ReportMetric(r.cpu.Seconds(), "moat_cpu_s")
	b.ReportMetric(float64(r.dashP50.Microseconds())/1e3, "dashboard_p50_ms")
	b.ReportMetric(float64(r.dashP99.Microseconds())/1e3, "dashboard_p99_ms")
}
