package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"moat/internal/testenv"
)

// The air-gapped path: `moat images save` writes the stack's images into
// one tar, and `moat images load` brings them back into an engine that does
// not have them (no registry involved).
func TestImagesSaveAndLoad(t *testing.T) {
	testenv.RequireImage(t, testenv.WorkloadImage)
	tag := fmt.Sprintf("moat-test/bundle%d:dev", rand.IntN(1e8))
	dockerCLI(t, "tag", testenv.WorkloadImage, tag)
	t.Cleanup(func() { exec.Command("docker", "rmi", tag).Run() })
	dir := t.TempDir()
	config := filepath.Join(dir, "moat.toml")
	cfg := fmt.Sprintf("[appliance]\nproject = \"bundle\"\ndata_dir = %q\n[dashboard]\nenabled = false\n[mesh]\nenabled = false\n[trino]\nenabled = false\n[notebook]\nenabled = false\n[[service]]\nname = \"w\"\nimage = %q\n",
		filepath.Join(dir, "data"), tag)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(moatBin, append(args, "--config", config)...).CombinedOutput()
		if err != nil {
			t.Fatalf("moat %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	bundle := filepath.Join(dir, "bundle.tar")
	if out := run("images", "save", bundle); !strings.Contains(out, "saved 1 images") {
		t.Fatalf("save: %s", out)
	}
	dockerCLI(t, "rmi", tag)
	if out := run("images", "list"); !strings.Contains(out, "missing  "+tag) {
		t.Fatalf("after rmi: %s", out)
	}
	if out := run("images", "load", bundle); !strings.Contains(out, tag) {
		t.Errorf("load: %s", out)
	}
	if out := run("images", "list"); !strings.Contains(out, "present  "+tag) {
		t.Errorf("after load: %s", out)
	}
}
