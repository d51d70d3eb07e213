package testenv

import (
	"os/exec"
	"testing"
)

// StartProcess runs cmd until the test ends: at cleanup it is killed and
// waited for, and, if the test failed, the last 4 KiB of its output (stdout
// and stderr) go to the test log under name.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) {
	t.Helper()
	out := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			s := out.String()
			if len(s) > 4096 {
				s = s[len(s)-4096:]
			}
			t.Logf("%s output (last 4 KiB):\n%s", name, s)
		}
	})
}
