package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// Manifest media types a registry may answer with.
const (
	mediaOCIIndex      = "application/vnd.oci.image.index.v1+json"
	mediaOCIManifest   = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerList    = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDockerV2      = "application/vnd.docker.distribution.manifest.v2+json"
	manifestAcceptList = mediaOCIIndex + ", " + mediaDockerList + ", " + mediaOCIManifest + ", " + mediaDockerV2
)

// RemoteSize asks ref's registry for the compressed size of what a pull of
// ref for linux/arch downloads (config and layers, as the manifest states
// them), without pulling. It speaks the distribution API directly, with an
// anonymous token when the registry asks for one (Docker Hub does); a
// registry on loopback is spoken to over plain HTTP, as the engine does.
func RemoteSize(ctx context.Context, hc *http.Client, ref, arch string) (int64, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return 0, err
	}
	named = reference.TagNameOnly(named)
	host := reference.Domain(named)
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	scheme := "https"
	if h, _, _ := strings.Cut(host, ":"); h == "localhost" || h == "127.0.0.1" || h == "[::1]" {
		scheme = "http"
	}
	repo := reference.Path(named)
	tag := ""
	if d, ok := named.(reference.Digested); ok {
		tag = d.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	rc := &registryClient{hc: hc, base: scheme + "://" + host + "/v2/" + repo}
	var m struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Size int64 `json:"size"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := rc.getJSON(ctx, "/manifests/"+tag, &m); err != nil {
		return 0, err
	}
	if len(m.Manifests) > 0 { // an index: the manifest for this platform
		digest := ""
		for _, d := range m.Manifests {
			if d.Platform.OS == "linux" && d.Platform.Architecture == arch {
				digest = d.Digest
				break
			}
		}
		if digest == "" {
			return 0, fmt.Errorf("no linux/%s image in %s", arch, ref)
		}
		m.Manifests = nil
		if err := rc.getJSON(ctx, "/manifests/"+digest, &m); err != nil {
			return 0, err
		}
	}
	total := m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}

// registryClient is the little of the distribution API that RemoteSize
// needs: GET with the manifest types accepted, and an anonymous bearer
// token fetched once when the registry challenges.
type registryClient struct {
	hc    *http.Client
	base  string
	token string
}

func (c *registryClient) getJSON(ctx context.Context, path string, v any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", manifestAcceptList)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return json.Unmarshal(body, v)
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			if c.token, err = anonymousToken(ctx, c.hc, resp.Header.Get("WWW-Authenticate")); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: %s", c.base+path, resp.Status)
		}
	}
}

// anonymousToken answers a Bearer challenge without credentials.
func anonymousToken(ctx context.Context, hc *http.Client, challenge string) (string, error) {
	scheme, params, ok := strings.Cut(challenge, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("registry wants %q authentication", scheme)
	}
	p := map[string]string{}
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		p[k] = strings.Trim(v, `"`)
	}
	u, err := url.Parse(p["realm"])
	if err != nil || p["realm"] == "" {
		return "", fmt.Errorf("registry challenge without a realm: %q", challenge)
	}
	q := u.Query()
	for _, k := range []string{"service", "scope"} {
		if p[k] != "" {
			q.Set(k, p[k])
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("anonymous token from %s: %s", u.Host, resp.Status)
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&t); err != nil {
		return "", err
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	return t.Token, nil
}
