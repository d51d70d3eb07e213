package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/stdcopy"

	"moat/supervisor"
)

// SelfImage makes sure an image exists that holds nothing but the running
// executable (which must be static) as /probe, and returns its reference:
// moat-probe:<digest of the executable>. `moat verify` runs it inside an
// application's network namespace, whatever tools that image has (a Trino
// node or a FROM-scratch service has none to probe with).
func (r *Runtime) SelfImage(ctx context.Context) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("docker: probe image: %w", err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		return "", fmt.Errorf("docker: probe image: %w", err)
	}
	sum := sha256.Sum256(bin)
	ref := "moat-probe:" + hex.EncodeToString(sum[:6])
	if ok, err := r.ImagePresent(ctx, ref); err != nil || ok {
		return ref, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "probe", Mode: 0o755, Size: int64(len(bin))}); err != nil {
		return "", err
	}
	tw.Write(bin)
	if err := tw.Close(); err != nil {
		return "", err
	}
	rc, err := r.cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref,
		image.ImportOptions{Changes: []string{`ENTRYPOINT ["/probe"]`, "LABEL dev.moat.probe=1"}})
	if err != nil {
		return "", fmt.Errorf("docker: import the probe image %s: %w", ref, err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return "", fmt.Errorf("docker: import the probe image %s: %w", ref, err)
	}
	return ref, nil
}

// RunIn runs image with args, as a throwaway container in the network
// namespace of container id (and nothing else of it: not its files, not
// its processes), waits for it and removes it. It returns the exit code
// and the output (stdout and stderr, bounded).
func (r *Runtime) RunIn(ctx context.Context, id, img string, args []string) (int, string, error) {
	return r.RunInWithFiles(ctx, id, img, args, nil)
}

// RunInWithFiles is RunIn with files copied into the probe's own
// filesystem before it starts: what it must not take from argv (a
// credential), it reads from there; the files go with the container.
func (r *Runtime) RunInWithFiles(ctx context.Context, id, img string, args []string, files []supervisor.File) (int, string, error) {
	created, err := r.cli.ContainerCreate(ctx,
		&container.Config{Image: img, Cmd: args, Labels: map[string]string{"dev.moat.probe": "1"}},
		&container.HostConfig{NetworkMode: container.NetworkMode("container:" + id), AutoRemove: false},
		nil, nil, "")
	if err != nil {
		return 0, "", fmt.Errorf("docker: create a probe in %.12s's network: %w", id, err)
	}
	defer r.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	if err := r.copyFiles(ctx, created.ID, files); err != nil {
		return 0, "", fmt.Errorf("docker: files for a probe in %.12s's network: %w", id, err)
	}
	waitC, errC := r.cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := r.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return 0, "", fmt.Errorf("docker: start a probe in %.12s's network: %w", id, err)
	}
	var code int
	select {
	case w := <-waitC:
		code = int(w.StatusCode)
	case err := <-errC:
		return 0, "", fmt.Errorf("docker: wait for the probe in %.12s's network: %w", id, err)
	}
	logs, err := r.cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return code, "", fmt.Errorf("docker: the probe's output: %w", err)
	}
	defer logs.Close()
	var out limitedBuffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		return code, "", fmt.Errorf("docker: the probe's output: %w", err)
	}
	return code, out.String(), nil
}
