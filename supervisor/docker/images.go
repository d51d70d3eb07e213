package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"moat/supervisor"
)

// ImagePresent reports whether the engine holds ref.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := r.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("look for image %s: %w", ref, err)
	}
}

// Pull fetches ref from its registry, calling progress (when not nil) for
// every layer update the engine reports.
func (r *Runtime) Pull(ctx context.Context, ref string, progress func(supervisor.PullProgress)) error {
	rc, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err == nil {
		defer rc.Close()
		err = readPull(ref, rc, progress)
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("pull of image %s interrupted (%v): the next `moat up` or `moat pull` pulls it again", ref, context.Cause(ctx))
	default:
		return pullError(ref, err)
	}
}

// readPull decodes the engine's JSON message stream until it ends or
// reports an error.
func readPull(ref string, rd io.Reader, progress func(supervisor.PullProgress)) error {
	dec := json.NewDecoder(rd)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read pull progress: %w", err)
		}
		if m.Error != nil {
			return m.Error
		}
		if progress != nil && isLayer(m) {
			p := supervisor.PullProgress{Image: ref, Layer: m.ID, Status: m.Status}
			if m.Progress != nil {
				p.Current, p.Total = m.Progress.Current, m.Progress.Total
			}
			progress(p)
		}
	}
}

// isLayer tells a layer's update from the stream's other messages, such as
// {"id":"3.19","status":"Pulling from library/alpine"}, whose ID is the tag.
func isLayer(m jsonmessage.JSONMessage) bool {
	return m.ID != "" && !strings.HasPrefix(m.Status, "Pulling from ")
}

// pullError names the image, what went wrong in one line, and the fix:
// a tag the registry does not have, a registry that cannot be reached, or
// anything else (with the way to run without a registry).
func pullError(ref string, err error) error {
	msg := oneLine(err.Error())
	low := strings.ToLower(msg)
	offline := "load it instead (`moat images save` where there is a network, `moat images load FILE` here) and run with --pull=never"
	switch {
	case strings.Contains(low, "manifest unknown") || strings.Contains(low, "not found") ||
		strings.Contains(low, "repository does not exist") || strings.Contains(low, "name unknown"):
		return fmt.Errorf("cannot pull image %s: the registry has no such image or tag (%s): "+
			"fix the image's tag in moat.toml, or push it to %s", ref, msg, registryHost(ref))
	case strings.Contains(low, "connection refused") || strings.Contains(low, "no such host") ||
		strings.Contains(low, "i/o timeout") || strings.Contains(low, "network is unreachable") ||
		strings.Contains(low, "timeout exceeded") || strings.Contains(low, "connection reset"):
		return fmt.Errorf("cannot pull image %s: the registry %s cannot be reached (%s): "+
			"start it or check the network, or %s", ref, registryHost(ref), msg, offline)
	}
	return fmt.Errorf("cannot pull image %s (%s): if this host cannot reach the registry, %s", ref, msg, offline)
}

// registryHost is the registry part of ref (docker.io when it has none).
func registryHost(ref string) string {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		return reference.Domain(named)
	}
	return "its registry"
}

// oneLine joins a multi-line engine message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
