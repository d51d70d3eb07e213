package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var code exitCode
	if errors.As(err, &code) { // a command's own exit code (moat exec)
		os.Exit(int(code))
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "moat: %s\nTry: %s\n", ue.message, ue.hint)
		os.Exit(2)
	}
	fmt.Fprintf(os.Stderr, "moat: %v\n", err)
	os.Exit(1)
}
