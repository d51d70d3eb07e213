package lock

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// holdLockEnv makes the test binary, run as a child, hold the lock of the
// data dir it names until its stdin closes.
const holdLockEnv = "MOAT_TEST_HOLD_LOCK"

// TestHoldLockHelper is the child side of TestLockHeldByAnotherProcess.
func TestHoldLockHelper(t *testing.T) {
	dir := os.Getenv(holdLockEnv)
	if dir == "" {
		t.Skip("only run as the child of TestLockHeldByAnotherProcess")
	}
	l, err := Acquire(dir)
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("locked\n")
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	l.Release()
	os.Exit(0)
}

// The lock: taken once per data dir, made with its folder (0700) and a
// 0600 file holding the holder's pid; a second taker is told who holds
// it; given up, it is free again and names nobody.
func TestLockInOneProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if pid, err := ReadPID(dir); pid != 0 || err != nil {
		t.Errorf("no lock file yet: pid %d, %v", pid, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, lockFile)
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %v", p, err, fi.Mode().Perm(), want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this pid", b)
	}
	if pid, err := ReadPID(dir); pid != os.Getpid() || err != nil {
		t.Errorf("ReadPID = %d, %v; want %d", pid, err, os.Getpid())
	}
	// flock is per open file: a second taker in this process is refused too.
	if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "another moat (pid "+strconv.Itoa(os.Getpid())+") already supervises this stack") {
		t.Errorf("a second lock: %v", err)
	}
	l.Release()
	if pid, err := ReadPID(dir); pid != 0 || err != nil {
		t.Errorf("after Release: pid %d, %v", pid, err)
	}
	// A pid left in a file nobody locks is stale: nobody supervises.
	if err := os.WriteFile(path, []byte("4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid, _ := ReadPID(dir); pid != 0 {
		t.Errorf("a stale pid %d counts as a supervisor", pid)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("the lock was not free after Release: %v", err)
	}
	defer l2.Release()
	if b, _ := os.ReadFile(path); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("the stale pid was not replaced: %q", b)
	}
}

// Another process's lock is seen as such: this one cannot take it, and
// ReadPID names the other process; once it exits the lock is free.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldLockHelper$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("the child did not take the lock: %q, %v", line, err)
	}
	child := cmd.Process.Pid
	if pid, err := ReadPID(dir); pid != child || err != nil {
		t.Errorf("ReadPID = %d, %v; want the child's %d", pid, err, child)
	}
	if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(child)+")") || !strings.Contains(err.Error(), "`moat down`") {
		t.Errorf("taking a lock another process holds: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child: %v", err)
	}
	if pid, err := ReadPID(dir); pid != 0 || err != nil {
		t.Errorf("after the child exited: pid %d, %v", pid, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("the lock of an exited process is not free: %v", err)
	}
	l.Release()
}
