package mesh

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"moat/internal/testenv"
)

// testConsul is a real Consul server started from ServerConfig, its ACLs
// bootstrapped as moat bootstraps them: by configuration, with a
// management token chosen before the server starts (also the agent's own
// token).
type testConsul struct {
	bin, addr, mgmt string
	opts            ServerOptions
	client          *api.Client // management token
}

// testManagementToken is the test servers' management token.
const testManagementToken = "5d6f0b6e-3c1a-4b8e-9f2d-7a4c1e0b9d31"

func startConsul(t testing.TB) *testConsul {
	t.Helper()
	bin := testenv.ConsulBinary(t)
	dir := t.TempDir()
	opts := ServerOptions{NodeName: "moat-test", DataDir: filepath.Join(dir, "data"),
		BindAddr: "127.0.0.1", ClientAddr: "127.0.0.1",
		HTTPPort: testenv.FreePort(t), GRPCPort: testenv.FreePort(t), DNSPort: testenv.FreePort(t),
		SerfLANPort: testenv.FreePort(t), SerfWANPort: testenv.FreePort(t), ServerPort: testenv.FreePort(t),
		ManagementToken: testManagementToken, LogLevel: "warn"}
	cfg, err := ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "server.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.StartProcess(t, "consul", exec.Command(bin, "agent", "-config-file="+cfgPath))
	tc := &testConsul{bin: bin, addr: "127.0.0.1:" + itoa(opts.HTTPPort), opts: opts, mgmt: testManagementToken}
	tc.client = tc.clientWith(t, tc.mgmt)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The roots answer once a leader is elected, ACLs are up and the
	// Connect CA is ready.
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, "Connect CA roots", func() error {
		return caRootsReady(ctx, tc.client)
	})
	return tc
}

// caRootsReady fetches the roots once (the CA is ready when it works).
func caRootsReady(ctx context.Context, c *api.Client) error {
	id := &Identity{client: c, changed: make(chan struct{})}
	_, err := id.fetchRoots(ctx, 0)
	return err
}

func (tc *testConsul) clientWith(t testing.TB, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: tc.addr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func itoa(n int) string { return (&net.TCPAddr{Port: n}).String()[1:] }

// startSidecar runs the built-in proxy for serviceID with the given token,
// through BuiltinSidecar (the command moat renders).
func startSidecar(t testing.TB, tc *testConsul, serviceID, token string) {
	t.Helper()
	c, err := BuiltinSidecar(SidecarOptions{ServiceID: serviceID, ConsulBinary: tc.bin,
		HTTPAddr: "http://" + tc.addr, Token: token, LogLevel: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Env = os.Environ()
	for k, v := range c.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	testenv.StartProcess(t, serviceID+" sidecar", cmd)
}

// startApp runs the test application: a connection that starts with
// "DOWN" + 8-byte length receives that many bytes; any other is echoed.
func startApp(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, serveApp)
	return l.Addr().(*net.TCPAddr).Port
}

// serve accepts connections on l and handles each in its own goroutine
// until the test ends, then waits for them.
func serve(t testing.TB, l net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })
}

var zeros = make([]byte, 1<<16)

func serveApp(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	head, err := r.Peek(4)
	if err == nil && string(head) == "DOWN" {
		var hdr [12]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		for left := int64(binary.BigEndian.Uint64(hdr[4:])); left > 0; {
			n := min(left, int64(len(zeros)))
			if _, err := c.Write(zeros[:n]); err != nil {
				return
			}
			left -= n
		}
		return
	}
	io.Copy(c, r)
}

// roundTrip writes msg on a new connection to addr and reads it back.
func roundTrip(addr string, msg []byte) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return echo(c, msg)
}

func echo(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return io.ErrUnexpectedEOF
	}
	return nil
}
