package main

import (
	"context"

	"moat/internal/probe"
)

// probeCommand is `moat __probe TARGETS`, which `moat verify` runs inside an
// application's network namespace (see verify_intruder.go). It is not
// listed: nobody types it.
const probeCommand = "__probe"

func runProbe(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 2 && args[0] == "capture" { // moat verify --capture (verify_capture.go)
		return probe.CaptureMain(ctx, args[1], env.stdout)
	}
	return probe.Main(ctx, args, env.stdout)
}
