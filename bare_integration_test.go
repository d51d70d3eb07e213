package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
)

// The double-click: `moat` alone first says what it will do (images present
// or to download, with the registry's sizes, where state goes, the dashboard
// it opens), then runs `moat up --open`.
func TestBareMoatAnnouncesThenUp(t *testing.T) {
	testenv.RequireDocker(t)
	reg := testenv.StartRegistry(t)
	ref := pullImage(t, reg, "moat/bare:1")
	s := imageStack(t, ref)
	ui := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("[[service]]\nname = \"p\"\nimage = %q\ncommand = [\"-name\", \"p\"]\n", testenv.WorkloadImage)
	cfg = []byte(strings.Replace(string(cfg), "[dashboard]\nenabled = false\n", fmt.Sprintf("[dashboard]\nlisten = %q\n", ui), 1) + extra)
	if err := os.WriteFile(s.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	// A stand-in browser that records what it is asked to open.
	bin := t.TempDir()
	opened := filepath.Join(bin, "opened")
	script := "#!/bin/sh\necho \"$@\" >> " + opened + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, moatBin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "MOAT_FILE="+s.config, "PATH="+bin+":"+os.Getenv("PATH"))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "all 2 services are up") && !sent {
				up <- true
				sent = true
			}
		}
		close(up)
	}()
	ok := <-up
	if ok {
		cmd.Process.Signal(os.Interrupt)
	}
	cmd.Wait()
	pw.Close()
	for range up {
	}
	got := out.String()
	t.Logf("bare moat:\n%s", got)
	if !ok {
		t.Fatalf("bare moat never got the stack up:\n%s", got)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`moat with no command runs ` + "`moat up --open`" + ` for ` + regexp.QuoteMeta(s.config) + ` \(project ` + s.project + `\):`),
		regexp.MustCompile(`\n    present      ` + regexp.QuoteMeta(testenv.WorkloadImage) + `\n`),
		regexp.MustCompile(`\n    to download  ` + regexp.QuoteMeta(ref) + ` \([0-9.]+ MB\)\n`),
		regexp.MustCompile(`\n  to download: at most [0-9.]+ MB in 1 image \(layers already here are not downloaded again\)\n`),
		regexp.MustCompile(`\n  state: ` + regexp.QuoteMeta(s.dataDir) + ` `),
		regexp.MustCompile(`\n  dashboard: http://` + regexp.QuoteMeta(ui) + `/ui/ \(opened in your browser`),
	} {
		if !want.MatchString(got) {
			t.Errorf("bare moat: no match for %s:\n%s", want, got)
		}
	}
	if a, b := strings.Index(got, "  images:"), strings.Index(got, "pulling "+ref); a < 0 || b < a {
		t.Errorf("the announcement does not come before the pull:\n%s", got)
	}
	if urls, _ := os.ReadFile(opened); !strings.HasPrefix(string(urls), "http://"+ui+"/") {
		t.Errorf("bare moat opened %q, want the dashboard on %s", urls, ui)
	}
}

// An image whose registry cannot be reached is "size unknown", and the
// announcement still comes first.
func TestBareMoatSizeUnknown(t *testing.T) {
	testenv.RequireDocker(t)
	ref := fmt.Sprintf("127.0.0.1:%d/moat/gone:1", testenv.FreePort(t))
	s := imageStack(t, ref)
	cmd := exec.Command(moatBin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "MOAT_FILE="+s.config)
	outb, err := cmd.CombinedOutput()
	got := string(outb)
	t.Logf("bare moat:\n%s", got)
	if err == nil {
		t.Fatalf("bare moat with an unreachable image succeeded:\n%s", got)
	}
	for _, want := range []string{
		"    to download  " + ref + " (size unknown: ",
		"  to download: 1 image of unknown size\n",
		"  dashboard: disabled in the config (nothing to open)\n",
		"cannot pull image " + ref + ": the registry",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bare moat lacks %q:\n%s", want, got)
		}
	}
}
