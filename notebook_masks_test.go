package main

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"moat/appliance"
)

// notebookRun is the sample notebook executed by nbconvert in the real
// Jupyter container as one Trino user.
type notebookRun struct {
	user  string
	saved string // the executed notebook, outputs included
	took  time.Duration
	err   error
}

// runSampleNotebook executes the sample notebook in the notebook container
// with `jupyter nbconvert --execute`, through the mesh. With a user, the
// kernel gets TRINO_USER and TRINO_PASSWORD the way moat hands the
// notebook its own credentials, by environment: the password goes into
// the docker client's environment (`-e TRINO_PASSWORD` names it without a
// value), never into an argv.
func runSampleNotebook(s *testStack, user, password string) notebookRun {
	out := "/tmp/moat-trino.out.ipynb"
	args := []string{"exec"}
	env := os.Environ()
	if user != "" {
		out = "/tmp/moat-trino." + user + ".ipynb"
		args = append(args, "-e", "TRINO_USER="+user, "-e", "TRINO_PASSWORD")
		env = append(env, "TRINO_PASSWORD="+password)
	}
	args = append(args, s.project+"-notebook", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", out, appliance.SampleNotebookPath)
	cmd := exec.Command("docker", args...)
	cmd.Env = env
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return notebookRun{user: user, saved: string(b), err: err}
	}
	took := time.Since(start)
	b, err := exec.Command("docker", "exec", s.project+"-notebook", "cat", out).CombinedOutput()
	return notebookRun{user: user, saved: string(b), took: took, err: err}
}

// checkSampleNotebook runs the sample notebook twice at once: as the
// notebook's own user (analyst: all 25 nations, real names) and as carol,
// whose policy in testdata/mesh-stack.toml filters nation to region 1 and
// masks its names. The saved outputs must show each user exactly what
// Trino's access control gives them.
func checkSampleNotebook(t *testing.T, s *testStack) {
	carolPassword := strings.TrimSpace(s.mustMoat("secrets", "show", "user_carol"))
	var own, carol notebookRun
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	go func() { defer wg.Done(); own = runSampleNotebook(s, "", "") }()
	go func() { defer wg.Done(); carol = runSampleNotebook(s, "carol", carolPassword) }()
	wg.Wait()
	t.Logf("nbconvert as the notebook's user %s, as carol %s, both at once %s",
		own.took.Round(time.Millisecond), carol.took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for _, r := range []notebookRun{own, carol} {
		if r.err != nil {
			t.Fatalf("nbconvert --execute as %q: %v\n%s", r.user, r.err, r.saved)
		}
	}
	if !strings.Contains(own.saved, "25 rows") || !strings.Contains(own.saved, "ALGERIA") || strings.Contains(own.saved, "***") {
		t.Errorf("the executed notebook's outputs lack the 25 real nations:\n%.2000s", own.saved)
	}
	for _, want := range []string{"5 rows", "[1, 'A***']", "[2, 'B***']", "[3, 'C***']"} {
		if !strings.Contains(carol.saved, want) {
			t.Errorf("as carol (row filter regionkey = 1, name masked) the outputs lack %q:\n%.2000s", want, carol.saved)
		}
	}
	for _, real := range []string{"ALGERIA", "ARGENTINA", "BRAZIL", "25 rows"} {
		if strings.Contains(carol.saved, real) {
			t.Errorf("as carol the outputs show %q, which her mask or filter hides:\n%.2000s", real, carol.saved)
		}
	}
	if strings.Contains(carol.saved, carolPassword) || strings.Contains(own.saved, carolPassword) {
		t.Error("a password appears in the executed notebook")
	}
}
