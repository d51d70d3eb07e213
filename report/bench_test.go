package report

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"
)

// Run with: go test ./report -run '^$' -bench Render -benchtime 1x
// rows/s and peak-heap-MB of the 100k and 1M benchmarks side by side show
// whether memory grows with the result (it should not).
// The 1000-row-page variant shows what page files cost: each is a file
// created on disk (about 0.65 ms apiece on the test machines).
func BenchmarkRender100k(b *testing.B)        { benchRender(b, 100_000, 0) }
func BenchmarkRender1M(b *testing.B)          { benchRender(b, 1_000_000, 0) }
func BenchmarkRender1MPages1000(b *testing.B) { benchRender(b, 1_000_000, 1000) }

func benchRender(b *testing.B, n int64, pageSize int) {
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vals := make([]any, 5) // reused, as a driver's row buffer is
	q := &genQuerier{
		cols: []Column{{"id", "BIGINT"}, {"customer", "VARCHAR"}, {"amount", "DOUBLE"}, {"day", "DATE"}, {"note", "VARCHAR"}},
		rows: n,
		row: func(i int64) []any {
			vals[0] = i
			vals[1] = "Customer#" + strconv.FormatInt(i%150_000, 10)
			vals[2] = float64(i%100_000) / 7
			vals[3] = day0.AddDate(0, 0, int(i%365))
			vals[4] = nil
			if i%3 != 0 {
				vals[4] = "regular deposits <haggle> & sleep"
			}
			return vals
		},
	}
	def := Definition{Name: "bench", SQL: "SELECT * FROM orders", RunAs: "bench", PageSize: pageSize, Chart: &Chart{Kind: ChartLine, X: "day", Y: "amount"}}
	var elapsed time.Duration
	var peak uint64
	for b.Loop() {
		r := &Runner{Query: q, Store: &memStore{}, Dir: b.TempDir()}
		runtime.GC()
		stop := sampleHeap(&peak)
		start := time.Now()
		res, err := r.Run(context.Background(), def)
		elapsed += time.Since(start)
		stop()
		if err != nil || res.Meta.Rows != n {
			b.Fatalf("run: %v (%d rows)", err, res.Meta.Rows)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// sampleHeap records the largest heap in use (runtime/metrics: objects plus
// free space in in-use spans, i.e. MemStats.HeapInuse) into *peak until the
// returned stop is called; stop waits for the sampler to end.
func sampleHeap(peak *uint64) (stop func()) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	read := func() {
		metrics.Read(samples)
		*peak = max(*peak, samples[0].Value.Uint64()+samples[1].Value.Uint64())
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return func() { close(done); <-finished }
}
