package docker

import (
	"fmt"
	"strings"
	"testing"

	"moat/supervisor"
)

// pullStream is what the engine sends for `docker pull alpine:3.19`, cut
// down to one layer, and ending in a failure to show its handling.
const pullStream = `{"status":"Pulling from library/alpine","id":"3.19"}
{"status":"Pulling fs layer","progressDetail":{},"id":"4abcf2066143"}
{"status":"Downloading","progressDetail":{"current":32768,"total":3408729},"progress":"[>   ]  32.77kB/3.409MB","id":"4abcf2066143"}
{"status":"Download complete","progressDetail":{},"id":"4abcf2066143"}
{"status":"Extracting","progressDetail":{"current":3408729,"total":3408729},"progress":"[====>]  3.409MB/3.409MB","id":"4abcf2066143"}
{"status":"Pull complete","progressDetail":{},"id":"4abcf2066143"}
{"status":"Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000"}
{"errorDetail":{"message":"write /var/lib/docker/tmp/x: no space left on device"},"error":"write /var/lib/docker/tmp/x: no space left on device"}
{"status":"Status: Downloaded newer image for alpine:3.19"}
`

func TestReadPull(t *testing.T) {
	var got []string
	err := readPull("alpine:3.19", strings.NewReader(pullStream), func(p supervisor.PullProgress) {
		got = append(got, fmt.Sprintf("%s %s %s %d/%d", p.Image, p.Layer, p.Status, p.Current, p.Total))
	})
	want := []string{
		"alpine:3.19 4abcf2066143 Pulling fs layer 0/0",
		"alpine:3.19 4abcf2066143 Downloading 32768/3408729",
		"alpine:3.19 4abcf2066143 Download complete 0/0",
		"alpine:3.19 4abcf2066143 Extracting 3408729/3408729",
		"alpine:3.19 4abcf2066143 Pull complete 0/0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("readPull error = %v, want the stream's error", err)
	}
}
