package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"moat/supervisor"
)

// On a non-terminal a pull prints plain lines in layers and bytes, never a
// carriage return.
func TestProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	p := newProgressBar(&out, "r/w:1")
	p.every = 0
	for _, u := range []supervisor.PullProgress{
		{Layer: "a", Status: "Already exists"},
		{Layer: "b", Status: "Pulling fs layer"},
		{Layer: "b", Status: "Downloading", Current: 500_000, Total: 2_000_000},
		{Layer: "b", Status: "Downloading", Current: 2_000_000, Total: 2_000_000},
		{Layer: "b", Status: "Download complete"},
		{Layer: "b", Status: "Pull complete"},
	} {
		p.update(u)
	}
	p.done(nil)
	got := out.String()
	for _, want := range []string{
		"pulling r/w:1\n",
		"  r/w:1: 1/2 layers, 500.0 kB of 2.0 MB\n",
		"  r/w:1: 2/2 layers, 2.0 MB of 2.0 MB\n",
		"  pulled r/w:1: 2/2 layers, 2.0 MB (2000000 bytes) downloaded, 1 already present in ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\r") {
		t.Errorf("carriage return on a non-terminal:\n%q", got)
	}

	out.Reset()
	p = newProgressBar(&out, "r/w:2")
	p.done(errors.New("boom"))
	if !strings.Contains(out.String(), "pull of r/w:2 failed (0/0 layers") {
		t.Errorf("failed pull: %q", out.String())
	}
}

// On a terminal the same pull is one bar redrawn in place (carriage return,
// erase line), filling with the bytes, and the summary replaces it.
func TestProgressBarOnATerminal(t *testing.T) {
	var out bytes.Buffer
	p := newProgressBar(&out, "r/w:1")
	p.tty, p.every = true, 0
	for _, u := range []supervisor.PullProgress{
		{Layer: "b", Status: "Pulling fs layer"},
		{Layer: "b", Status: "Downloading", Current: 1_000_000, Total: 2_000_000},
		{Layer: "b", Status: "Downloading", Current: 2_000_000, Total: 2_000_000},
		{Layer: "b", Status: "Pull complete"},
	} {
		p.update(u)
	}
	p.done(nil)
	got := out.String()
	half := "\r\033[K  [" + strings.Repeat("#", 15) + strings.Repeat(".", 15) + "] 0/1 layers, 1.0 MB of 2.0 MB r/w:1"
	full := "\r\033[K  [" + strings.Repeat("#", 30) + "] 0/1 layers, 2.0 MB of 2.0 MB r/w:1"
	for _, want := range []string{half, full, "\r\033[K  pulled r/w:1: 1/1 layers, 2.0 MB (2000000 bytes) downloaded"} {
		if !strings.Contains(got, want) {
			t.Errorf("the terminal output lacks %q:\n%q", want, got)
		}
	}
	if strings.Count(got, "\n") != 2 { // "pulling …" and the summary: the bar never scrolls
		t.Errorf("the bar scrolled: %q", got)
	}
}
