package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// SaveImages writes refs as one `docker save` tar to w: the bundle an
// air-gapped host loads with LoadImages.
func (r *Runtime) SaveImages(ctx context.Context, refs []string, w io.Writer) error {
	rc, err := r.cli.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("save images %v: %w", refs, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("save images %v: %w", refs, err)
	}
	return nil
}

// LoadImages loads a `docker save` tar into the engine and returns what the
// engine said (the images it loaded).
func (r *Runtime) LoadImages(ctx context.Context, tar io.Reader) (string, error) {
	resp, err := r.cli.ImageLoad(ctx, tar, client.ImageLoadWithQuiet(true))
	if err != nil {
		return "", fmt.Errorf("load images: %w", err)
	}
	defer resp.Body.Close()
	out, err := readLoad(resp.Body)
	if err != nil {
		return out, fmt.Errorf("load images: %w", err)
	}
	return out, nil
}

// readLoad collects the engine's "Loaded image: …" lines from the load
// response stream, or its error.
func readLoad(rd io.Reader) (string, error) {
	dec := json.NewDecoder(rd)
	var out strings.Builder
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out.String(), nil
		} else if err != nil {
			return out.String(), err
		}
		if m.Error != nil {
			return out.String(), m.Error
		}
		out.WriteString(m.Stream)
	}
}
