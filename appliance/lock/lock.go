package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The supervising moat holds an exclusive lock on <data_dir>/moat.lock and
// writes its pid there, so that a second `moat up` refuses to supervise the
// same stack twice and `moat down` finds the one to stop.
const lockFile = "moat.lock"

// Lock is the supervisor lock of one data dir.
type Lock struct{ f *os.File }

// Acquire takes the supervisor lock of dataDir or says who holds it.
func Acquire(dataDir string) (*Lock, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataDir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		pid, _ := ReadPID(dataDir)
		return nil, fmt.Errorf("another moat (pid %d) already supervises this stack (%s): use `moat status`, or `moat down` to stop it", pid, dataDir)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Release gives the lock up.
func (l *Lock) Release() {
	l.f.Truncate(0)
	l.f.Close()
}

// ReadPID returns the pid of the moat supervising dataDir, or 0 when none
// does (the lock is free).
func ReadPID(dataDir string) (int, error) {
	path := filepath.Join(dataDir, lockFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, nil // nobody holds it
	}
	b, _ := os.ReadFile(path)
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
