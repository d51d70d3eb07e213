package supervision

import (
	"context"
	"io"

	"moat/appliance/config"
)

// ConfigReload applies moat.toml again while the stack runs: when the file
// is saved it is loaded again and, if it loads, handed to each Reloader in
// order, as Prometheus' reloaders are. It follows the file through inotify:
// no polling.
type ConfigReload struct {
	Path      string // moat.toml ("": not watched)
	Load      func(path string) (*config.Config, error)
	Reloaders []Reloader // none: not watched

	onWatch func(*fileWatch) // tests: the watch is installed
}

// Reloader applies the part of a saved config it is named after; what it
// does not apply waits for the next `moat up`.
type Reloader struct {
	Name  string // "intentions": "applying the intentions of moat.toml failed: …"
	Apply func(ctx context.Context, cfg *config.Config) error
}

// run reloads at every save until ctx ends. A file that cannot be watched
// is said, not an error: its changes wait for the next `moat up`.
func (c ConfigReload) run(ctx context.Context, out io.Writer) error {
	w, err := watchFile(c.Path)
	if err != nil {
		say(out, "warning: %s is not watched (%v): its changes take effect at the next `moat up`", c.Path, err)
		<-ctx.Done()
		return nil
	}
	defer w.Close()
	if c.onWatch != nil {
		c.onWatch(w)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.changes:
			if !ok {
				say(out, "warning: %s is not watched any more (%v): its changes take effect at the next `moat up`", c.Path, w.err)
				<-ctx.Done()
				return nil
			}
			c.reload(ctx, out)
		}
	}
}

// reload loads the file and runs every Reloader in order; a file that does
// not load applies nothing, and a Reloader's failure does not stop the next.
func (c ConfigReload) reload(ctx context.Context, out io.Writer) {
	cfg, err := c.Load(c.Path)
	if err != nil {
		say(out, "%s changed but is not valid; nothing was applied:\n%v", c.Path, err)
		return
	}
	for _, r := range c.Reloaders {
		if err := r.Apply(ctx, cfg); err != nil {
			say(out, "applying the %s of %s failed: %v", r.Name, c.Path, err)
		}
	}
}
