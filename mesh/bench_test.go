package mesh

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"moat/internal/testenv"
)

// BenchmarkMeshThroughput measures, in one run and side by side, a bulk
// download (bulkBytes per iteration) and the round trip of a small request
// on an open connection, three ways: direct over loopback, through two
// built-in proxies (A's upstream → B's sidecar), and through moat's native
// client → B's sidecar. Ratios are against direct.
func BenchmarkMeshThroughput(b *testing.B) {
	const bulkBytes = 64 << 20
	p := startPair(b)
	ctx := context.Background()
	if _, err := ReconcileIntentions(ctx, p.tc.client, []Intention{
		{Source: "a", Destination: "b", Action: Allow}, {Source: "orchestrator", Destination: "b", Action: Allow}}); err != nil {
		b.Fatal(err)
	}
	orch, err := NewIdentity(ctx, p.tc.client, "orchestrator")
	if err != nil {
		b.Fatal(err)
	}
	defer orch.Close()
	bApp, _, err := p.tc.client.Agent().Service("b", nil)
	if err != nil {
		b.Fatal(err)
	}
	paths := []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"direct", func() (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:"+itoa(bApp.Port)) }},
		{"proxies", func() (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:"+itoa(p.upstreamPort)) }},
		{"native", func() (net.Conn, error) { return orch.Dial(ctx, "b") }},
	}
	for _, path := range paths {
		testenv.Eventually(b, 30*time.Second, 200*time.Millisecond, path.name+" ready", func() error {
			c, err := path.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			return echo(c, []byte("warm-up"))
		})
	}
	bulk := make([]time.Duration, len(paths))
	rtt := make([]time.Duration, len(paths))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, path := range paths {
			d, err := download(path.dial, bulkBytes)
			if err != nil {
				b.Fatalf("%s download: %v", path.name, err)
			}
			bulk[j] += d
			d, err = smallRoundTrips(path.dial, 200)
			if err != nil {
				b.Fatalf("%s round trips: %v", path.name, err)
			}
			rtt[j] += d / 200
		}
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(bulkBytes) * float64(b.N) / d.Seconds() / 1e6 }
	for j, path := range paths {
		b.ReportMetric(mbps(bulk[j]), path.name+"-MB/s")
		b.ReportMetric(float64(rtt[j].Microseconds())/float64(b.N), path.name+"-rtt-µs")
	}
	b.ReportMetric(mbps(bulk[1])/mbps(bulk[0]), "proxies/direct-throughput")
	b.ReportMetric(mbps(bulk[2])/mbps(bulk[0]), "native/direct-throughput")
	b.ReportMetric(float64(rtt[1])/float64(rtt[0]), "proxies/direct-rtt")
	b.ReportMetric(float64(rtt[2])/float64(rtt[0]), "native/direct-rtt")
}

// download asks the test app for n bytes and times their arrival.
func download(dial func() (net.Conn, error), n int64) (time.Duration, error) {
	c, err := dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	var req [12]byte
	copy(req[:], "DOWN")
	binary.BigEndian.PutUint64(req[4:], uint64(n))
	if _, err := c.Write(req[:]); err != nil {
		return 0, err
	}
	got, err := io.Copy(io.Discard, io.LimitReader(c, n))
	if err == nil && got != n {
		err = errors.New("short download")
	}
	return time.Since(start), err
}

// smallRoundTrips times k 64-byte echoes on one open connection.
func smallRoundTrips(dial func() (net.Conn, error), k int) (time.Duration, error) {
	c, err := dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg := make([]byte, 64)
	if err := echo(c, msg); err != nil { // connection set up outside the timing
		return 0, err
	}
	start := time.Now()
	for i := 0; i < k; i++ {
		if err := echo(c, msg); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
