package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
)

// RemoteSize follows a Bearer challenge with an anonymous token, picks the
// platform's manifest out of an index, and adds up config and layers.
func TestRemoteSizeTokenAndIndex(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			if r.URL.Query().Get("scope") != "repository:library/demo:pull" {
				http.Error(w, "bad scope", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, `{"token":"t0k"}`)
		case r.Header.Get("Authorization") != "Bearer t0k":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="reg",scope="repository:library/demo:pull"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/v2/library/demo/manifests/1.0":
			if !strings.Contains(r.Header.Get("Accept"), mediaOCIIndex) {
				http.Error(w, "no index accepted", http.StatusNotAcceptable)
				return
			}
			fmt.Fprint(w, `{"mediaType":"`+mediaOCIIndex+`","manifests":[
			  {"digest":"sha256:arm","platform":{"os":"linux","architecture":"arm64"}},
			  {"digest":"sha256:amd","platform":{"os":"linux","architecture":"amd64"}}]}`)
		case r.URL.Path == "/v2/library/demo/manifests/sha256:amd":
			fmt.Fprint(w, `{"mediaType":"`+mediaOCIManifest+`","config":{"size":100},"layers":[{"size":1000},{"size":20000}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	// A loopback registry is spoken to over plain HTTP, as the engine does.
	host := strings.TrimPrefix(srv.URL, "http://")
	got, err := RemoteSize(context.Background(), srv.Client(), host+"/library/demo:1.0", "amd64")
	if err != nil || got != 21100 {
		t.Errorf("RemoteSize = %d, %v; want 21100", got, err)
	}
	if _, err := RemoteSize(context.Background(), srv.Client(), host+"/library/demo:1.0", "s390x"); err == nil ||
		!strings.Contains(err.Error(), "no linux/s390x image") {
		t.Errorf("RemoteSize for a missing platform: %v", err)
	}
	if _, err := RemoteSize(context.Background(), srv.Client(), host+"/library/demo:nosuch", "amd64"); err == nil ||
		!strings.Contains(err.Error(), "404") {
		t.Errorf("RemoteSize of a missing tag: %v", err)
	}
}

// Against the real registry: the size of a pushed image, which the engine
// then pulls in about as many bytes.
func TestRemoteSizeRealRegistry(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ref := reg.Push(t, testenv.WorkloadImage, "moat/size:1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := RemoteSize(ctx, http.DefaultClient, ref, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Size}}", testenv.WorkloadImage).Output()
	if err != nil {
		t.Fatal(err)
	}
	var unpacked int64
	fmt.Sscan(strings.TrimSpace(string(out)), &unpacked)
	// compressed layers plus a config: more than a tenth and at most the
	// unpacked size plus a little
	if got < unpacked/10 || got > unpacked+64<<10 {
		t.Errorf("RemoteSize(%s) = %d, unpacked image %d", ref, got, unpacked)
	}
}

// Each bad pull is one line naming the image and the fix.
func TestPullErrorMessages(t *testing.T) {
	for _, c := range []struct {
		engine string
		want   []string
	}{
		{"manifest for r.example/a:9 not found: manifest unknown: manifest unknown",
			[]string{"cannot pull image r.example/a:9: the registry has no such image or tag", "fix the image's tag in moat.toml, or push it to r.example"}},
		{"Get \"https://r.example/v2/\": dial tcp: lookup r.example: no such host",
			[]string{"the registry r.example cannot be reached", "--pull=never"}},
		{"toomanyrequests: rate limit\nsecond line", []string{"cannot pull image r.example/a:9 (toomanyrequests: rate limit second line)", "moat images load FILE"}},
	} {
		msg := pullError("r.example/a:9", errors.New(c.engine)).Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("more than one line: %q", msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("pullError(%q) = %q, lacks %q", c.engine, msg, w)
			}
		}
	}
}
