package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		os.Exit(1)
	}
}

// exitCode is an error that asks main for a particular exit status.
type exitCode int

func (e exitCode) Error() string { return "exit code " + strconv.Itoa(int(e)) }

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "probe":
			return runProbe(ctx, args[1:])
		case "dial":
			return runDial(ctx, args[1:])
		}
	}
	return runServe(ctx, args)
}

type serveConfig struct {
	name         string
	listen       string
	tcpEcho      string
	depends      string
	readyAfter   time.Duration
	exitAfter    time.Duration
	exitCode     int
	stopDelay    time.Duration
	ignoreTerm   bool
	unhealthyEnv bool
}

func runServe(ctx context.Context, args []string) error {
	var c serveConfig
	fs := flag.NewFlagSet("workload", flag.ContinueOnError)
	fs.StringVar(&c.name, "name", envOr("WORKLOAD_NAME", "workload"), "name printed in logs and /")
	fs.StringVar(&c.listen, "listen", envOr("WORKLOAD_LISTEN", ":8080"), "HTTP address: /health, /crash, /hang, /unhealthy, /healthy")
	fs.StringVar(&c.tcpEcho, "tcp-echo", os.Getenv("WORKLOAD_TCP_ECHO"), "also serve a TCP echo on this address")
	fs.StringVar(&c.depends, "depends", os.Getenv("WORKLOAD_DEPENDS"), "comma-separated URLs that must answer 200 before this one is healthy")
	fs.DurationVar(&c.readyAfter, "ready-after", 0, "time from start to healthy")
	fs.DurationVar(&c.exitAfter, "exit-after", -1, "exit this long after start (with -exit-code); negative: never")
	fs.IntVar(&c.exitCode, "exit-code", 0, "exit status for -exit-after and /crash")
	fs.DurationVar(&c.stopDelay, "stop-delay", 0, "time SIGTERM takes to finish")
	fs.BoolVar(&c.ignoreTerm, "ignore-sigterm", false, "ignore SIGTERM (to test kill after the grace period)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serve(ctx, c)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// server holds the workload's switches, changed over HTTP.
type server struct {
	cfg       serveConfig
	started   time.Time
	unhealthy atomic.Bool
	hang      atomic.Bool
	peersUp   atomic.Bool
	exiting   atomic.Bool // a /crash was accepted
	exit      chan int
}

// serve runs the workload until a stop signal, an -exit-after timer or a
// /crash request. The "serving HTTP" line is its readiness announcement, and
// it is logged only once it is true: the stop signals are handled (a SIGTERM
// from then on is the workload's to obey or ignore) and every listener is
// bound.
func serve(ctx context.Context, c serveConfig) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	var eln net.Listener
	if c.tcpEcho != "" {
		if eln, err = net.Listen("tcp", c.tcpEcho); err != nil {
			ln.Close()
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel and the listeners' Close below
	defer cancel()
	s := &server{cfg: c, started: time.Now(), exit: make(chan int, 1)}
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	defer srv.Close()
	wg.Go(func() { srv.Serve(ln) })
	if eln != nil {
		defer eln.Close()
		wg.Go(func() { echo(ctx, eln) })
		log.Printf("%s: TCP echo on %s", c.name, eln.Addr())
	}
	wg.Go(func() { s.waitPeers(ctx) })
	log.Printf("%s: serving HTTP on %s", c.name, ln.Addr())
	return s.wait(c, sigs)
}

func (s *server) wait(c serveConfig, sigs <-chan os.Signal) error {
	var exitTimer <-chan time.Time
	if c.exitAfter >= 0 {
		exitTimer = time.After(c.exitAfter)
	}
	for {
		select {
		case sig := <-sigs:
			if c.ignoreTerm && sig == syscall.SIGTERM {
				log.Printf("%s: ignoring SIGTERM", c.name)
				continue
			}
			log.Printf("%s: %v: stopping in %s", c.name, sig, c.stopDelay)
			time.Sleep(c.stopDelay)
			return nil
		case <-exitTimer:
			log.Printf("%s: exiting with %d as asked", c.name, c.exitCode)
			return exitOrNil(c.exitCode)
		case code := <-s.exit:
			log.Printf("%s: crashing with %d as asked", c.name, code)
			return exitOrNil(code)
		}
	}
}

func exitOrNil(code int) error {
	if code == 0 {
		return nil
	}
	return exitCode(code)
}

func (s *server) waitPeers(ctx context.Context) {
	var peers []string
	if s.cfg.depends != "" {
		peers = strings.Split(s.cfg.depends, ",")
	}
	for _, p := range peers {
		for probe(ctx, p, time.Second) != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		log.Printf("%s: peer %s is up", s.cfg.name, p)
	}
	s.peersUp.Store(true)
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "{\"name\":%q,\"pid\":%d,\"started\":%q}\n", s.cfg.name, os.Getpid(), s.started.Format(time.RFC3339Nano))
	})
	mux.HandleFunc("POST /crash", func(w http.ResponseWriter, r *http.Request) {
		code := s.cfg.exitCode
		if v := r.URL.Query().Get("code"); v != "" {
			code, _ = strconv.Atoi(v)
		}
		if code == 0 {
			code = 1
		}
		if !s.exiting.CompareAndSwap(false, true) {
			http.Error(w, "already exiting", http.StatusConflict)
			return
		}
		// The answer leaves before the exit is asked for: the caller is
		// told 202, never cut off by the process ending (EOF).
		w.WriteHeader(http.StatusAccepted)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.exit <- code
	})
	mux.HandleFunc("POST /hang", func(w http.ResponseWriter, r *http.Request) { s.hang.Store(true) })
	mux.HandleFunc("POST /unhealthy", func(w http.ResponseWriter, r *http.Request) { s.unhealthy.Store(true) })
	mux.HandleFunc("POST /healthy", func(w http.ResponseWriter, r *http.Request) {
		s.unhealthy.Store(false)
		s.hang.Store(false)
	})
	return mux
}

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	if s.hang.Load() {
		<-r.Context().Done()
		return
	}
	switch {
	case time.Since(s.started) < s.cfg.readyAfter:
		http.Error(w, "starting", http.StatusServiceUnavailable)
	case !s.peersUp.Load():
		http.Error(w, "waiting for peers: "+s.cfg.depends, http.StatusServiceUnavailable)
	case s.unhealthy.Load():
		http.Error(w, "unhealthy (asked to be)", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ok")
	}
}

// echo copies back what each connection sends until ln closes; then it
// closes the connections left and waits for their goroutines.
func echo(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			io.Copy(c, c)
		})
	}
}

func probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func runProbe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: workload probe [-timeout 2s] URL")
	}
	if err := probe(ctx, fs.Arg(0), *timeout); err != nil {
		return err
	}
	fmt.Println("ok")
	return nil
}

func runDial(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: workload dial [-timeout 2s] HOST:PORT")
	}
	d := net.Dialer{Timeout: *timeout}
	c, err := d.DialContext(ctx, "tcp", fs.Arg(0))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(*timeout))
	const msg = "moat-dial\n"
	if _, err := io.WriteString(c, msg); err != nil {
		return fmt.Errorf("%s: write: %w", fs.Arg(0), err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("%s: connected but no echo: %w", fs.Arg(0), err)
	}
	fmt.Println("ok")
	return nil
}
