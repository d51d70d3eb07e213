//go:build !linux

package probe

import (
	"context"
	"errors"
	"io"
)

// CaptureMain needs Linux packet sockets: the probe always runs in a Linux
// container, so this is never reached from moat verify.
func CaptureMain(ctx context.Context, arg string, stdout io.Writer) error {
	return errors.New("capture: packet capture needs Linux (AF_PACKET)")
}
