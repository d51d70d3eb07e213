package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"moat/supervisor"
)

// progressBar shows one image pull in bytes and layers: a bar redrawn in
// place on a terminal; otherwise plain lines, one every few seconds while
// bytes move, and a summary line at the end.
type progressBar struct {
	mu     sync.Mutex
	out    io.Writer
	image  string
	tty    bool
	every  time.Duration
	layers map[string]*layerProgress
	last   time.Time
	start  time.Time
}

// layerProgress is what the engine said last about one layer.
type layerProgress struct {
	current, total int64
	done           bool // pulled, or already present
	present        bool // "Already exists": nothing to download
}

func newProgressBar(out io.Writer, image string) *progressBar {
	tty := false
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	fmt.Fprintf(out, "pulling %s\n", image)
	every := 2 * time.Second
	if tty {
		every = 100 * time.Millisecond // a bar redrawn in place
	}
	return &progressBar{out: out, image: image, tty: tty, every: every,
		layers: map[string]*layerProgress{}, start: time.Now(), last: time.Now()}
}

func (p *progressBar) update(u supervisor.PullProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u.Layer == "" {
		return
	}
	l := p.layers[u.Layer]
	if l == nil {
		l = &layerProgress{}
		p.layers[u.Layer] = l
	}
	switch {
	case u.Status == "Already exists":
		l.done, l.present = true, true
	case u.Status == "Pull complete":
		l.done = true
	case strings.HasPrefix(u.Status, "Downloading") && u.Total > 0:
		l.current, l.total = u.Current, u.Total
	case u.Status == "Download complete" && l.total > 0:
		l.current = l.total
	}
	if time.Since(p.last) < p.every {
		return
	}
	if _, total, _, _ := p.sums(); total == 0 && !p.tty {
		return // nothing measured yet
	}
	p.last = time.Now()
	line := p.line()
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.out, line)
	}
}

// sums adds up the layers: bytes downloaded and known, layers done.
func (p *progressBar) sums() (cur, total int64, done, present int) {
	for _, l := range p.layers {
		cur, total = cur+l.current, total+l.total
		if l.done {
			done++
		}
		if l.present {
			present++
		}
	}
	return
}

func (p *progressBar) line() string {
	cur, total, done, _ := p.sums()
	counts := fmt.Sprintf("%d/%d layers, %s of %s", done, len(p.layers), humanBytes(cur), humanBytes(total))
	if !p.tty {
		return fmt.Sprintf("  %s: %s", p.image, counts)
	}
	const width = 30
	n := 0
	if total > 0 {
		n = int(cur * width / total)
	}
	return fmt.Sprintf("  [%s%s] %s %s", strings.Repeat("#", n), strings.Repeat(".", width-n), counts, p.image)
}

func (p *progressBar) done(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(p.out, "  pull of %s failed (%s)\n", p.image, p.summary())
		return
	}
	fmt.Fprintf(p.out, "  pulled %s: %s in %s\n", p.image, p.summary(), time.Since(p.start).Round(100*time.Millisecond))
}

// summary is the layers and bytes of the whole pull, for its last line.
func (p *progressBar) summary() string {
	cur, _, done, present := p.sums()
	s := fmt.Sprintf("%d/%d layers, %s (%d bytes) downloaded", done, len(p.layers), humanBytes(cur), cur)
	if present > 0 {
		s += fmt.Sprintf(", %d already present", present)
	}
	return s
}

// humanBytes writes n in B, kB, MB or GB (powers of 1000, as Docker does).
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}
