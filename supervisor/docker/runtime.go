package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/docker/docker/client"

	"moat/supervisor"
)

var (
	_ supervisor.Runtime      = (*Runtime)(nil)
	_ supervisor.ImageManager = (*Runtime)(nil)
)

// Runtime runs a project's services as Docker containers. It holds one
// client; Close releases it.
type Runtime struct {
	cli *client.Client
}

// New connects to the engine named by the environment (DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, or the platform's default socket),
// negotiates the API version and checks that the engine answers. Its error is
// Ping's: fit to show a user as is.
func New(ctx context.Context) (*Runtime, error) {
	r, err := newRuntime(client.FromEnv)
	if err != nil {
		return nil, err
	}
	if err := r.Ping(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// newRuntime makes a Runtime without contacting the engine.
func newRuntime(opts ...client.Opt) (*Runtime, error) {
	opts = append(opts, client.WithAPIVersionNegotiation())
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: invalid engine settings (check DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH): %w", err)
	}
	return &Runtime{cli: cli}, nil
}

// Close releases the client's connections.
func (r *Runtime) Close() error { return r.cli.Close() }

// Name is "docker".
func (r *Runtime) Name() string { return "docker" }

// Ping checks the engine answers, and negotiates the API version with it.
func (r *Runtime) Ping(ctx context.Context) error {
	ping, err := r.cli.Ping(ctx)
	if err != nil {
		return unreachable(r.cli.DaemonHost(), err)
	}
	r.cli.NegotiateAPIVersionPing(ping)
	return nil
}

// unreachable turns a failed ping into one error a user can act on.
func unreachable(host string, err error) error {
	switch {
	case isPermission(err):
		sock := strings.TrimPrefix(host, "unix://")
		return fmt.Errorf("Docker at %s refused this user: permission denied on %s. "+
			"Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log out and in again), "+
			"or point DOCKER_HOST at an engine you may use", host, sock)
	case client.IsErrConnectionFailed(err), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("Docker is not running or not reachable at %s. "+
			"Start Docker Desktop, or on Linux run `sudo systemctl start docker`; "+
			"if the engine runs elsewhere, set DOCKER_HOST to its address", host)
	default:
		return fmt.Errorf("Docker at %s did not answer a ping: %w", host, err)
	}
}

func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES)
}
