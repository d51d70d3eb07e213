package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
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
	if err != nil {
		return pullError(ref, err)
	}
	defer rc.Close()
	if err := readPull(ref, rc, progress); err != nil {
		return pullError(ref, err)
	}
	return nil
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

// pullError names the image and the way to run without a registry.
func pullError(ref string, err error) error {
	return fmt.Errorf("cannot pull image %s (%w): if this host cannot reach the registry, "+
		"load it (`moat images save` where there is a network, `moat images load FILE` here) and run with --pull=never", ref, err)
}
