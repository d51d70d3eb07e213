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

// progressBar shows one image pull: a bar redrawn in place on a terminal, a
// line every few seconds otherwise.
type progressBar struct {
	mu     sync.Mutex
	out    io.Writer
	image  string
	tty    bool
	layers map[string][2]int64
	last   time.Time
}

func newProgressBar(out io.Writer, image string) *progressBar {
	tty := false
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	fmt.Fprintf(out, "pulling %s\n", image)
	return &progressBar{out: out, image: image, tty: tty, layers: map[string][2]int64{}}
}

func (p *progressBar) update(u supervisor.PullProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u.Layer != "" && u.Total > 0 {
		p.layers[u.Layer] = [2]int64{u.Current, u.Total}
	}
	if !p.tty && time.Since(p.last) < 3*time.Second {
		return
	}
	p.last = time.Now()
	var cur, total int64
	for _, l := range p.layers {
		cur, total = cur+l[0], total+l[1]
	}
	if total == 0 {
		return
	}
	const width = 30
	n := int(cur * width / total)
	line := fmt.Sprintf("  [%s%s] %3d%% %d/%d MB %s", strings.Repeat("#", n), strings.Repeat(".", width-n),
		cur*100/total, cur>>20, total>>20, p.image)
	if p.tty {
		fmt.Fprintf(p.out, "\r%s", line)
	} else {
		fmt.Fprintln(p.out, line)
	}
}

func (p *progressBar) done(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintln(p.out)
	}
	if err != nil {
		fmt.Fprintf(p.out, "  pull of %s failed\n", p.image)
		return
	}
	fmt.Fprintf(p.out, "  pulled %s\n", p.image)
}
