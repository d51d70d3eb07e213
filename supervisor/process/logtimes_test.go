package process

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
)

// A process's log file has no time per line: Logs refuses --since and
// --timestamps with a message that says so, rather than ignoring them.
func TestLogsRefusesTimes(t *testing.T) {
	r := &Runtime{}
	for _, o := range []supervisor.LogOptions{{Since: time.Now()}, {Timestamps: true}} {
		err := r.Logs(context.Background(), "any", o, io.Discard)
		if !errors.Is(err, ErrNoLogTimes) || !strings.Contains(err.Error(), "need the docker runtime") {
			t.Errorf("Logs(%+v) = %v, want ErrNoLogTimes", o, err)
		}
	}
}
