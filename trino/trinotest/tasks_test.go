package trinotest_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"

	"moat/internal/testenv"
	"moat/trino/trinotest"
)

// cutProxy stands between the coordinator and a worker; cut makes the
// worker vanish as a killed node does (its connections reset, its port
// closed). taskOpen is closed once a task reaches the worker through it.
type cutProxy struct {
	ln       net.Listener
	backend  chan string
	taskOpen chan struct{}
	once     sync.Once
	mu       sync.Mutex
	conns    []net.Conn
	gone     bool
}

func newCutProxy(t *testing.T) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, backend: make(chan string, 1), taskOpen: make(chan struct{})}
	t.Cleanup(p.cut)
	go func() {
		backend := <-p.backend
		p.backend <- backend
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.gone { // accepted just before the cut
				p.mu.Unlock()
				c.Close()
				b.Close()
				return
			}
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go io.Copy(c, b)
			go p.sniff(b, c)
		}
	}()
	return p
}

// sniff copies the coordinator's bytes to the worker, noticing a task.
func (p *cutProxy) sniff(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if bytes.Contains(buf[:n], []byte("POST /v1/task/")) {
				p.once.Do(func() { close(p.taskOpen) })
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gone = true
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, as from a node that died
		}
		c.Close()
	}
}

// A query that reads a connector's table holds a task on an active worker
// while it runs; when that worker dies, the query fails with Trino's
// REMOTE_HOST_GONE naming it, and only the queries whose task was there
// fail. System tables run on the coordinator alone.
func TestQueriesFailOnlyOnAGoneWorker(t *testing.T) {
	c := coordinator(t, trinotest.Options{Environment: "moat"})
	w1 := trinotest.NewServer(trinotest.Options{Environment: "moat", NodeID: "worker-1", DiscoveryURI: c.URL})
	defer w1.Close()
	px := newCutProxy(t)
	w2 := trinotest.NewServer(trinotest.Options{Environment: "moat", NodeID: "worker-2", DiscoveryURI: c.URL,
		InternalURI: "http://" + px.ln.Addr().String()})
	defer w2.Close()
	px.backend <- strings.TrimPrefix(w2.URL, "http://")
	db := open(t, trino.Config{ServerURI: userURL(c, "alice")})
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "both workers active", want(activeWorkers(db), 2))

	const queries = 8 // the engine runs one at a time: the others wait, their tasks open
	errs := make(chan error, queries)
	for i := 0; i < queries; i++ {
		go func() {
			var n int64
			errs <- db.QueryRow("SELECT count(*) FROM tpch.tiny.customer a CROSS JOIN tpch.tiny.customer b").Scan(&n)
		}()
	}
	<-px.taskOpen // a query's task is on worker-2
	px.cut()
	var failed, ok int
	var te *trino.ErrTrino
	for i := 0; i < queries; i++ {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.As(err, &te) && te.ErrorName == "REMOTE_HOST_GONE" && te.ErrorCode == 65558 &&
			strings.Contains(te.Message, "Could not communicate with the remote task") && strings.Contains(te.Message, px.ln.Addr().String()):
			failed++
		default:
			t.Errorf("a failure that is not Trino's REMOTE_HOST_GONE for worker-2 (%s): %v", px.ln.Addr(), err)
		}
	}
	if failed == 0 {
		t.Errorf("%d queries failed and %d succeeded: the query whose task was on worker-2 must fail", failed, ok)
	}
	// worker-2 is gone from the active nodes: every query succeeds on worker-1.
	var n int64
	for i := 0; i < 10; i++ {
		if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil || n != 25 {
			t.Fatalf("with worker-2 gone: %d, %v", n, err)
		}
	}
	if err := db.QueryRow("SELECT count(*) FROM system.runtime.nodes WHERE coordinator = false AND state = 'active'").Scan(&n); err != nil || n != 1 {
		t.Errorf("system.runtime.nodes with worker-2 gone: %d, %v", n, err)
	}
	t.Logf("%d queries failed with REMOTE_HOST_GONE, %d succeeded (worker-2 %s behind %s)", failed, ok, w2.URL, px.ln.Addr())
}
