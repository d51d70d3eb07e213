package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"moat/supervision"
	"moat/supervisor"
)

// `moat restart SERVICE` with a supervising moat asks that moat, which owns
// the service's restart policy: it writes a request file per service into
// <data_dir>/requests and sends SIGUSR1. The supervisor restarts each
// requested service at once through Engine.Restart, which also clears a
// crash loop and its pending retry (a stop through the runtime would only
// look like one more failure).
const requestsDir = "requests"

func restartRequestPath(dataDir, service string) string {
	return filepath.Join(dataDir, requestsDir, "restart-"+service)
}

// requestRestart files the request and wakes the supervisor.
func requestRestart(dataDir, service string, pid int) error {
	if err := os.MkdirAll(filepath.Join(dataDir, requestsDir), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(restartRequestPath(dataDir, service), nil, 0o600); err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGUSR1)
}

// restartRequests is the supervised stack's actor that serves `moat
// restart` (serveRestartRequests).
func restartRequests(dataDir string, eng *supervisor.Engine, out io.Writer) supervision.Actor {
	return supervision.Actor{Name: "restart requests", Run: func(ctx context.Context) error {
		return serveRestartRequests(ctx, dataDir, eng, out)
	}}
}

// serveRestartRequests is the supervisor's actor: on SIGUSR1 it restarts
// every requested service and removes its request. Requests filed while it
// was not listening are served at start.
func serveRestartRequests(ctx context.Context, dataDir string, eng *supervisor.Engine, out io.Writer) error {
	wake := make(chan os.Signal, 1)
	signal.Notify(wake, syscall.SIGUSR1)
	defer signal.Stop(wake)
	for {
		entries, _ := os.ReadDir(filepath.Join(dataDir, requestsDir))
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), "restart-")
			if !ok {
				continue
			}
			os.Remove(filepath.Join(dataDir, requestsDir, e.Name()))
			if err := eng.Restart(ctx, name); err != nil {
				fmt.Fprintf(out, "restart %s: %v\n", name, err)
				continue
			}
			fmt.Fprintf(out, "restart %s: requested by `moat restart`\n", name)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
	}
}
