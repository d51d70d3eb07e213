package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
)

// CaptureDir is where a capture container sees the host directory given
// to StartCapture.
const CaptureDir = "/capture"

// Bridges maps each of project's networks (by its logical name: mesh,
// trino, …) to its Linux bridge interface: the bridge driver's
// com.docker.network.bridge.name option, else br-<first 12 of its ID>.
func (r *Runtime) Bridges(ctx context.Context, project string) (map[string]string, error) {
	list, err := r.cli.NetworkList(ctx, network.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, fmt.Errorf("docker: list the networks of %s: %w", project, err)
	}
	out := map[string]string{}
	for _, n := range list {
		name, ok := logicalName(project, n.Name)
		if !ok || n.Driver != "bridge" {
			continue
		}
		iface := n.Options["com.docker.network.bridge.name"]
		if iface == "" {
			iface = "br-" + n.ID[:12]
		}
		out[name] = iface
	}
	return out, nil
}

// Capture is a running capture container (StartCapture).
type Capture struct {
	r     *Runtime
	id    string
	exitC <-chan container.WaitResponse
	errC  <-chan error
}

// StartCapture runs img with args in the host's network namespace with
// CAP_NET_RAW (and CAP_SETUID/CAP_SETGID, so that the program can become
// moat's user once its sockets are open) and nothing else: a read-only
// root, no new privileges, hostDir mounted at CaptureDir. It returns once
// the program has written readyFile into hostDir (it is capturing), or
// with an error and the program's output when it exits first. Stop ends
// it. Like RunIn's probes, the container carries the dev.moat.probe label.
func (r *Runtime) StartCapture(ctx context.Context, img string, args []string, hostDir, readyFile string) (*Capture, error) {
	abs, err := filepath.Abs(hostDir)
	if err != nil {
		return nil, err
	}
	created, err := r.cli.ContainerCreate(ctx,
		&container.Config{Image: img, Cmd: args, Labels: map[string]string{"dev.moat.probe": "1"}},
		&container.HostConfig{
			NetworkMode:    "host",
			CapDrop:        []string{"ALL"},
			CapAdd:         []string{"NET_RAW", "SETUID", "SETGID"},
			SecurityOpt:    []string{"no-new-privileges"},
			ReadonlyRootfs: true,
			Mounts:         []mount.Mount{{Type: mount.TypeBind, Source: abs, Target: CaptureDir}},
		}, nil, nil, "")
	if err != nil {
		return nil, fmt.Errorf("docker: create the capture container: %w", err)
	}
	c := &Capture{r: r, id: created.ID}
	c.exitC, c.errC = r.cli.ContainerWait(context.WithoutCancel(ctx), created.ID, container.WaitConditionNextExit)
	if err := r.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		c.remove()
		return nil, fmt.Errorf("docker: start the capture container: %w", err)
	}
	if err := c.waitReady(ctx, filepath.Join(abs, readyFile)); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

// waitReady waits, bounded, for the file the program writes once its
// sockets are bound; the program's exit ends the wait with its output.
func (c *Capture) waitReady(ctx context.Context, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(file); err == nil {
			return nil
		}
		select {
		case w := <-c.exitC:
			out, _ := c.output(context.WithoutCancel(ctx))
			return fmt.Errorf("docker: the capture exited %d before it was ready: %s", w.StatusCode, strings.TrimSpace(out))
		case err := <-c.errC:
			return fmt.Errorf("docker: wait for the capture: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("docker: the capture was not ready after 30s: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop asks the capture to finish (SIGTERM), waits for it, and returns its
// exit code and output; the container is removed. A capture that already
// ended by itself (its time limit) is only waited for.
func (c *Capture) Stop(ctx context.Context) (int, string, error) {
	defer c.remove()
	kill := c.r.cli.ContainerKill(ctx, c.id, "SIGTERM")
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var code int
	select {
	case w := <-c.exitC:
		code = int(w.StatusCode)
	case err := <-c.errC:
		return 0, "", fmt.Errorf("docker: wait for the capture: %w", err)
	case <-wait.Done():
		if kill != nil {
			return 0, "", fmt.Errorf("docker: stop the capture: %w", kill)
		}
		return 0, "", fmt.Errorf("docker: the capture did not stop within 30s of SIGTERM: %w", wait.Err())
	}
	out, err := c.output(ctx)
	return code, out, err
}

func (c *Capture) output(ctx context.Context) (string, error) {
	logs, err := c.r.cli.ContainerLogs(ctx, c.id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", fmt.Errorf("docker: the capture's output: %w", err)
	}
	defer logs.Close()
	var out limitedBuffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil && !errors.Is(err, context.Canceled) {
		return out.String(), fmt.Errorf("docker: the capture's output: %w", err)
	}
	return out.String(), nil
}

func (c *Capture) remove() {
	c.r.cli.ContainerRemove(context.Background(), c.id, container.RemoveOptions{Force: true})
}
