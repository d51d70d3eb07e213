//go:build !unix

package process

import (
	"errors"
	"os"
	"syscall"
)

// errUnsupported: the process runtime needs Unix process groups and signals.
var errUnsupported = errors.New("process runtime: not available on this system (it needs Linux or macOS): use the Docker runtime")

func groupAttr() *syscall.SysProcAttr               { return nil }
func signalGroup(pid int, sig syscall.Signal) error { return errUnsupported }
func reap(pid int) (ok bool, code int, err error)   { return false, 0, errUnsupported }
func notifyChildExit(c chan os.Signal)              {}
func stopNotify(c chan os.Signal)                   {}
func parseSignal(s string) (syscall.Signal, error)  { return 0, errUnsupported }
func procStart(pid int) (ticks uint64, ok bool)     { return 0, false }
func alive(pid int, ticks uint64) bool              { return false }

// supported reports whether this system can run the process runtime.
func supported() error                       { return errUnsupported }
func orphanGroup(pid int, ticks uint64) bool { return false }
