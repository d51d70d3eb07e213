//go:build unix && !linux

package process

import (
	"errors"
	"syscall"
)

// procStart cannot read a start time without /proc: ticks is always 0.
func procStart(pid int) (ticks uint64, ok bool) {
	err := syscall.Kill(pid, 0)
	return 0, err == nil || errors.Is(err, syscall.EPERM)
}

// alive reports whether pid runs (the start time cannot be checked here).
func alive(pid int, ticks uint64) bool {
	if pid <= 0 {
		return false
	}
	_, ok := procStart(pid)
	return ok
}

// orphanGroup reports whether a process group with id pid can only be what
// is left of an ended process: no process has pid now.
func orphanGroup(pid int, ticks uint64) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
