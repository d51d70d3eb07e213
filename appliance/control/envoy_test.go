package control

import (
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// The consul gate against a real Consul passes a supported Envoy however
// its image is pinned (by tag and digest, on a registry with a port), and
// refuses one without a tag by saying so, with the fix, instead of
// claiming that no Envoy version is supported.
func TestEnvoyImageForms(t *testing.T) {
	t.Parallel()
	k, cfg, sec, ctx := consulControl(t)
	supported := strings.TrimPrefix(k.ConsulInfo().EnvoyVersions[0], "v")
	envoy := *cfg
	envoy.Mesh.Proxy = "envoy"
	for _, ref := range []string{
		"envoyproxy/envoy:v" + supported + "@" + testDigest,
		"registry:5000/envoyproxy/envoy:v" + supported,
	} {
		envoy.Mesh.EnvoyImage = ref
		ke := NewControl(&envoy, sec, nil)
		if err := ke.ConsulReady(ctx); err != nil {
			t.Errorf("a supported Envoy, %s: %v", ref, err)
		}
		ke.Close()
	}
	for _, ref := range []string{"envoyproxy/envoy@" + testDigest, "registry:5000/envoy"} {
		envoy.Mesh.EnvoyImage = ref
		ke := NewControl(&envoy, sec, nil)
		err := ke.ConsulReady(ctx)
		ke.Close()
		if err == nil || !strings.Contains(err.Error(), `mesh.envoy_image = "`+ref+`": has `) ||
			!strings.Contains(err.Error(), "no tag") || !strings.Contains(err.Error(), "write ") ||
			!strings.Contains(err.Error(), "(this Consul supports "+supported) ||
			strings.Contains(err.Error(), "no available Envoy version") {
			t.Errorf("an Envoy image without a tag, %s: %v", ref, err)
		}
	}
}
