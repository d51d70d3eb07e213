package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"moat/trino"
)

// runTrinoShutdown is `moat __trino-shutdown FILE`, which moat runs inside
// a worker's network namespace (control.Control.ShutdownWorker): it sends
// the signed graceful shutdown request in FILE to the worker's private
// address, which nothing on the host reaches. Not listed: nobody types it.
func runTrinoShutdown(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: moat __trino-shutdown REQUEST-FILE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var req trino.ShutdownRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return fmt.Errorf("%s: not a shutdown request: %w", args[0], err)
	}
	return req.Send(ctx)
}
