package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"moat/trino/trinotest"
)

func main() {
	os.Exit(run(os.Args[0], os.Args[1:], os.Stderr))
}

// run returns the process exit code: 0 after a graceful shutdown, 143 on
// SIGTERM (as the JVM exits), 1 on a configuration or start-up error.
func run(argv0 string, args []string, stderr io.Writer) int {
	if filepath.Base(argv0) == "health-check" {
		return healthCheck(args, stderr)
	}
	if len(args) > 0 && args[0] == "health-check" {
		return healthCheck(args[1:], stderr)
	}
	return serve(args, stderr)
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("trinotestd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config-dir", "/etc/trino", "Trino configuration directory")
	startingFor := fs.Duration("starting-for", 2*time.Second, "how long /v1/info says starting:true")
	version := fs.String("node-version", "483", "the Trino version to report")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := loadConfig(*dir, os.LookupEnv)
	if err != nil {
		log.Error("invalid configuration", "config_dir", *dir, "err", err)
		return 1
	}
	cfg.opts.Version, cfg.opts.Starting, cfg.opts.Logger = *version, true, log
	srv, err := trinotest.NewUnstartedServer(cfg.opts)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer srv.Close()
	var l, tl net.Listener
	if !cfg.opts.HTTPDisabled {
		if l, err = net.Listen("tcp", net.JoinHostPort(cfg.bindIP, strconv.Itoa(cfg.port))); err != nil {
			log.Error("cannot listen", "err", err, "hint", "check http-server.http.port and node.bind-ip")
			return 1
		}
	}
	if cfg.httpsEnabled {
		if tl, err = net.Listen("tcp", net.JoinHostPort(cfg.bindIP, strconv.Itoa(cfg.httpsPort))); err != nil {
			if l != nil {
				l.Close()
			}
			log.Error("cannot listen", "err", err, "hint", "check http-server.https.port and node.bind-ip")
			return 1
		}
		srv.ServeHTTPS(l, tl)
	} else {
		srv.Serve(l)
	}
	log.Info("serving", "http", srv.URL, "https", srv.HTTPSURL, "coordinator", cfg.opts.Coordinator,
		"environment", cfg.opts.Environment, "internal_uri", cfg.opts.InternalURI, "discovery_uri", cfg.opts.DiscoveryURI)
	return wait(srv, *startingFor, log)
}

// wait ends start-up after startingFor, then waits for a graceful shutdown
// (exit 0) or SIGTERM/SIGINT (exit 143, like the JVM).
func wait(srv *trinotest.Server, startingFor time.Duration, log *slog.Logger) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	started := time.After(startingFor)
	for {
		select {
		case <-started:
			srv.SetStarting(false)
		case <-srv.Done():
			return 0
		case s := <-sig:
			log.Info("stopping on signal", "signal", s.String())
			return 143
		}
	}
}

// healthCheck does what the official image's health-check script does: exit
// 0 when /v1/info says "starting": false, asked at
// http://localhost:<http-server.http.port>/v1/info, or at
// https://localhost:<http-server.https.port>/v1/info without certificate
// verification when http-server.http.enabled=false. --url asks elsewhere
// (a node with node.bind-ip does not answer on localhost).
func healthCheck(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("health-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config-dir", "/etc/trino", "Trino configuration directory")
	url := fs.String("url", "", "the /v1/info URL to ask instead of the one config.properties gives")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *url == "" {
		var err error
		if *url, err = localInfoURL(*dir); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "health-check: --url %q: %v\n", *url, err)
		return 2
	}
	// Like the script's curl --insecure: a self-signed certificate passes.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "Server is not responding to requests")
		return 1
	}
	defer resp.Body.Close()
	var info struct {
		Starting *bool `json:"starting"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil || info.Starting == nil {
		fmt.Fprintln(stderr, "Server is not responding to requests")
		return 1
	}
	if *info.Starting {
		fmt.Fprintln(stderr, "Server is starting")
		return 1
	}
	return 0
}

// localInfoURL is the URL the image's script asks. Like the script, it reads
// config.properties for ports only: placeholders in other properties need
// not resolve in the health check's environment.
func localInfoURL(dir string) (string, error) {
	lenient := func(k string) (string, bool) { return os.Getenv(k), true }
	props, err := readProperties(filepath.Join(dir, "config.properties"), lenient, true)
	if err != nil {
		return "", err
	}
	if props["http-server.http.enabled"] == "false" {
		return "https://localhost:" + orDefault(props["http-server.https.port"], "8443") + "/v1/info", nil
	}
	return "http://localhost:" + orDefault(props["http-server.http.port"], "8080") + "/v1/info", nil
}
