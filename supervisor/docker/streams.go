package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"moat/supervisor"
)

// Logs writes the container's stdout and stderr to w: the last opts.Tail
// lines (all when 0), and with opts.Follow what follows until ctx ends or
// the container stops. moat's containers have no TTY, so the stream is
// demultiplexed.
func (r *Runtime) Logs(ctx context.Context, id string, opts supervisor.LogOptions, w io.Writer) error {
	o := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Tail: "all", Timestamps: opts.Timestamps}
	if opts.Tail > 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	rc, err := r.cli.ContainerLogs(ctx, id, o)
	if err != nil {
		return notFound(err, "logs of container %s", short(id))
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of container %s: %w", short(id), err)
	}
	return nil
}

// maxExecOutput bounds what Exec keeps of a command's output.
const maxExecOutput = 64 << 10

// Exec runs cmd inside the running container id (no shell, no TTY) and
// returns its exit code and its stdout and stderr, interleaved, cut at 64
// KiB. err is for a command that could not be run, not for one that failed.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	created, err := r.cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, "", notFound(err, "exec %q in container %s", cmd, short(id))
	}
	att, err := r.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, "", fmt.Errorf("exec %q in container %s: attach: %w", cmd, short(id), err)
	}
	defer att.Close()
	var out limitedBuffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		return -1, out.String(), fmt.Errorf("exec %q in container %s: read output: %w", cmd, short(id), err)
	}
	res, err := r.cli.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return -1, out.String(), fmt.Errorf("exec %q in container %s: inspect: %w", cmd, short(id), err)
	}
	if res.Running {
		return -1, out.String(), fmt.Errorf("exec %q in container %s: output closed but the command still runs", cmd, short(id))
	}
	if notStarted(res.ExitCode, out.String()) {
		return res.ExitCode, out.String(), fmt.Errorf("exec %q in container %s: the program cannot run there: %s", cmd, short(id), strings.TrimSpace(out.String()))
	}
	return res.ExitCode, out.String(), nil
}

// notStarted tells an exec whose program never ran (absent from the image,
// or not executable: the OCI runtime's start error, exit 126/127) from a
// command that ran and failed.
func notStarted(code int, out string) bool {
	return (code == 126 || code == 127) && strings.Contains(out, "exec failed")
}

// limitedBuffer keeps the first maxExecOutput bytes and drops the rest.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxExecOutput - b.Len(); room < len(p) {
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
