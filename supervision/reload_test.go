package supervision

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"moat/appliance/config"
)

// Saving moat.toml runs the reloaders in order with the file loaded again;
// a file that does not load applies nothing and says so; the watch ends
// with Run.
func TestReloadersRunInOrderOnSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moat.toml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	applied, out := newRecord(), newOutput()
	reloader := func(name string) Reloader {
		return Reloader{Name: name, Apply: func(_ context.Context, cfg *config.Config) error {
			applied.add(name + " " + cfg.Path)
			if name == "failing" {
				return errors.New("consul said no")
			}
			return nil
		}}
	}
	watching := make(chan *fileWatch, 1)
	r := start(t, Stack{Out: out, Config: ConfigReload{
		Path: path,
		Load: func(p string) (*config.Config, error) {
			b, err := os.ReadFile(p)
			if err != nil || string(b) == "invalid" {
				return nil, errors.Join(err, errors.New("moat.toml:1: not toml"))
			}
			return &config.Config{Path: string(b)}, nil
		},
		Reloaders: []Reloader{reloader("intentions"), reloader("failing"), reloader("last")},
		onWatch:   func(w *fileWatch) { watching <- w },
	}})
	var w *fileWatch
	select {
	case w = <-watching:
	case err := <-r.errc:
		t.Fatalf("Run returned %v before it watched", err)
	}

	write("second")
	applied.awaitItem(t, "last second")
	if got, want := applied.all(), []string{"intentions second", "failing second", "last second"}; !slices.Equal(got, want) {
		t.Errorf("applied %q, want %q", got, want)
	}
	out.awaitLine(t, "applying the failing of "+path+" failed: consul said no")

	write("invalid")
	out.awaitLine(t, path+" changed but is not valid; nothing was applied:")
	out.awaitLine(t, "moat.toml:1: not toml")
	write("third")
	applied.awaitItem(t, "last third")
	if got := applied.all(); len(got) != 6 || got[3] != "intentions third" {
		t.Errorf("applied %q: the invalid file applied something, or the order broke", got)
	}

	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	select {
	case <-w.done:
	default:
		t.Error("the inotify reader outlived Run")
	}
}

// A file that cannot be watched is said and does not stop the stack.
func TestUnwatchableConfigIsSaid(t *testing.T) {
	out := newOutput()
	path := filepath.Join(t.TempDir(), "gone", "moat.toml")
	r := start(t, Stack{Out: out, Config: ConfigReload{Path: path, Load: config.Load, Reloaders: []Reloader{{Name: "intentions"}}}})
	out.awaitLine(t, "warning: "+path+" is not watched")
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
