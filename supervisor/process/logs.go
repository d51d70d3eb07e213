package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"moat/supervisor"
)

// followInterval is how often Logs with Follow looks for new output.
const followInterval = 200 * time.Millisecond

// ErrNoLogTimes is Logs' answer to --since and --timestamps: a process's
// log file records no time per line.
var ErrNoLogTimes = errors.New("the process runtime keeps no time per log line: " +
	"--since and --timestamps need the docker runtime (use --tail N instead)")

// Logs writes the instance's log (its last opts.Tail lines) to w; with
// opts.Follow it keeps writing what is appended until ctx ends or the
// instance is removed. It refuses opts.Since and opts.Timestamps
// (ErrNoLogTimes).
func (r *Runtime) Logs(ctx context.Context, id string, opts supervisor.LogOptions, w io.Writer) error {
	if !opts.Since.IsZero() || opts.Timestamps {
		return ErrNoLogTimes
	}
	r.mu.Lock()
	inst, err := r.lookupLocked(id)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	f, err := os.Open(inst.logPath())
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process runtime: logs of %s: %w", id, supervisor.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("process runtime: logs of %s: %w", inst.rec.Name, err)
	}
	defer f.Close()
	if opts.Tail > 0 {
		off, err := tailOffset(f, opts.Tail)
		if err != nil {
			return fmt.Errorf("process runtime: logs of %s: %w", inst.rec.Name, err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("process runtime: logs of %s: %w", inst.rec.Name, err)
		}
	}
	if _, err := io.Copy(w, f); err != nil || !opts.Follow {
		return err
	}
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-inst.gone:
			_, err := io.Copy(w, f) // what was written before the removal
			return err
		case <-t.C:
			if _, err := io.Copy(w, f); err != nil {
				return err
			}
		}
	}
}

// tailOffset is where the last n lines of f begin. A final line without a
// newline counts as a line.
func tailOffset(f *os.File, n int) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := fi.Size()
	if end == 0 {
		return 0, nil
	}
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	pos, seen := end, 0
	skipLast := true // the newline ending the last line
	for pos > 0 {
		size := min(int64(chunk), pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				skipLast = false
				continue
			}
			if skipLast {
				skipLast = false
				continue
			}
			if seen++; seen == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}
