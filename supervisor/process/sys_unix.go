//go:build unix

package process

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// groupAttr puts a new process at the head of its own process group.
func groupAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends sig to the process group led by pid; a group that is
// already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, pid, err)
	}
	return nil
}

// reap collects child pid if it has exited. ok is false while it runs;
// err is set when pid is not (or no longer) moat's child.
func reap(pid int) (ok bool, code int, err error) {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	switch {
	case err != nil:
		return false, 0, err
	case got != pid:
		return false, 0, nil
	case ws.Signaled():
		return true, 128 + int(ws.Signal()), nil
	default:
		return true, ws.ExitStatus(), nil
	}
}

func notifyChildExit(c chan os.Signal) { signal.Notify(c, syscall.SIGCHLD) }
func stopNotify(c chan os.Signal)      { signal.Stop(c) }

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	"TERM": syscall.SIGTERM, "WINCH": syscall.SIGWINCH,
}

// parseSignal reads a stop signal as Docker does: "SIGTERM", "TERM" or "15";
// empty is SIGTERM.
func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGTERM, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	if sig, ok := signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("stop_signal %q: not a signal (use a name like SIGTERM or a number)", s)
}

// supported reports whether this system can run the process runtime.
func supported() error { return nil }
