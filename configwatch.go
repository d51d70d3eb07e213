package main

import (
	"context"
	"fmt"
	"io"

	"moat/appliance/config"
	"moat/supervision"
)

// configReload applies moat.toml's [[intention]]s while moat supervises:
// when the file is saved, supervision loads it again and, if it is valid,
// the intentions Reloader reconciles the mesh's intentions with it (other
// changes wait for the next `moat up`). Without a file or a mesh there is
// nothing to reload.
func configReload(s *stack, out io.Writer) supervision.ConfigReload {
	if s.cfg.Path == "" || !s.hasMesh() {
		return supervision.ConfigReload{}
	}
	return supervision.ConfigReload{
		Path:      s.cfg.Path,
		Load:      config.Load,
		Reloaders: []supervision.Reloader{intentionsReloader(s, out)},
	}
}

// intentionsReloader reconciles the mesh's intentions with a saved
// moat.toml and says what changed.
func intentionsReloader(s *stack, out io.Writer) supervision.Reloader {
	return supervision.Reloader{Name: "intentions", Apply: func(ctx context.Context, cfg *config.Config) error {
		changes, err := s.control.SetIntentions(ctx, cfg.Intentions)
		if err != nil {
			return err
		}
		for _, c := range changes {
			fmt.Fprintf(out, "intention %s: %s → %s %s\n", c.Op, c.Intention.Source, c.Intention.Destination, c.Intention.Action)
		}
		fmt.Fprintf(out, "%s changed: %d intention changes applied; other changes take effect at the next `moat up`\n", s.cfg.Path, len(changes))
		return nil
	}}
}
