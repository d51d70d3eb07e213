package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
)

// notebookImage is the Jupyter image built from Debian packages by
// `make notebook-image` (testdata/images/notebook).
const notebookImage = "moat-test/notebook:dev"

// The notebook test image is a real Jupyter server as moat runs one: the
// token from JUPYTER_TOKEN and nowhere in argv, uid 1000, the health check
// moat's config names, and a kernel with pandas, matplotlib and requests.
func TestNotebookImage(t *testing.T) {
	testenv.RequireImage(t, notebookImage)
	token := nbRandomHex(t, 24)
	name := "moat-nbimage-" + nbRandomHex(t, 4)

	// -e NAME without a value: the docker CLI takes the token from its own
	// environment, so it is not in the CLI's argv on the host either. Port 0
	// on loopback: the engine picks a free port.
	run := exec.Command("docker", "run", "-d", "--name", name, "--label", "dev.moat.test=notebook-image",
		"-e", "JUPYTER_TOKEN", "-p", "127.0.0.1:0:8888", notebookImage)
	run.Env = append(os.Environ(), "JUPYTER_TOKEN="+token)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("docker run %s: %v\n%s", notebookImage, err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "40", name).CombinedOutput()
			t.Logf("last log lines of %s:\n%s", name, out)
		}
		if out, err := exec.Command("docker", "rm", "-f", "-v", name).CombinedOutput(); err != nil {
			t.Errorf("docker rm %s: %v\n%s", name, err, out)
		}
	})
	hostPort := nbDocker(t, nil, "port", name, "8888/tcp")
	hostPort, _, _ = strings.Cut(hostPort, "\n") // one line per address family
	base := "http://" + hostPort

	// The health check moat's config names turns 0 once the API answers.
	testenv.Eventually(t, 2*time.Minute, 250*time.Millisecond, "moat-notebook-health", func() error {
		if running := nbDocker(t, nil, "inspect", "-f", "{{.State.Running}}", name); running != "true" {
			t.Fatalf("the notebook container stopped before it got healthy (running=%s)", running)
		}
		_, err := nbDockerErr(nil, "exec", name, "/usr/local/bin/moat-notebook-health")
		return err
	})
	// The official images' health check path, which moat's default config
	// names, is the same check.
	nbDocker(t, nil, "exec", name, "python3", "/etc/jupyter/docker_healthcheck.py")
	// It checks the token: with another one it fails.
	if out, err := nbDockerErr(nil, "exec", "-e", "JUPYTER_TOKEN=not-the-token", name, "/usr/local/bin/moat-notebook-health"); err == nil {
		t.Errorf("moat-notebook-health passed with a wrong token: %s", out)
	} else if !strings.Contains(out, "403") {
		t.Errorf("moat-notebook-health with a wrong token: %v: %s (want HTTP 403)", err, out)
	}

	t.Run("api needs the token", func(t *testing.T) {
		for _, c := range []struct {
			auth string
			want int
		}{
			{"token " + token, http.StatusOK},
			{"", http.StatusForbidden},
			{"token not-" + token, http.StatusForbidden},
		} {
			status, body := nbGet(t, base+"/api/status", c.auth)
			if status != c.want {
				t.Errorf("GET /api/status (Authorization %q): %d %s, want %d", nbRedact(c.auth, token), status, body, c.want)
			}
			if status == http.StatusOK && !strings.Contains(body, `"started"`) {
				t.Errorf("GET /api/status: %s, want the server's status", body)
			}
		}
	})

	t.Run("runs as jovyan", func(t *testing.T) {
		if uid := nbDocker(t, nil, "exec", name, "id", "-u"); uid != "1000" {
			t.Errorf("id -u in the container: %q, want 1000", uid)
		}
		if home := nbDocker(t, nil, "exec", name, "stat", "-c", "%u:%g", "/home/jovyan/work"); home != "1000:100" {
			t.Errorf("/home/jovyan/work is owned by %s, want 1000:100", home)
		}
		// Every process, the server included, with its real uid.
		ps := nbDocker(t, nil, "exec", name, "sh", "-c",
			`for p in /proc/[0-9]*; do u=$(grep '^Uid:' $p/status 2>/dev/null | cut -f2) && printf '%s ' "$u" && tr '\0' ' ' <$p/cmdline 2>/dev/null; echo; done`)
		server := false
		for _, line := range strings.Split(ps, "\n") {
			uid, cmd, _ := strings.Cut(line, " ")
			if uid == "" { // a process gone meanwhile
				continue
			}
			if uid != "1000" {
				t.Errorf("process %q runs as uid %s, want 1000", cmd, uid)
			}
			server = server || strings.Contains(cmd, "jupyter-notebook") || strings.Contains(cmd, "jupyter notebook")
		}
		if !server {
			t.Errorf("no Jupyter server among the container's processes:\n%s", ps)
		}
	})

	t.Run("token is in no argv and no log", func(t *testing.T) {
		argv := nbDocker(t, nil, "exec", name, "sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
		if !strings.Contains(argv, "moat-notebook-start") || !strings.Contains(argv, "tini") {
			t.Fatalf("the container's argv does not show the server's processes: %q", argv)
		}
		if strings.Contains(argv, token) {
			t.Errorf("the token is in a process's argv: %q", argv)
		}
		if args := nbDocker(t, nil, "inspect", "-f", "{{.Path}} {{json .Args}}", name); strings.Contains(args, token) {
			t.Errorf("the token is in the container's command: %s", args)
		}
		if logs := nbDocker(t, nil, "logs", name); strings.Contains(logs, token) {
			t.Errorf("the token is in the server's log:\n%s", logs)
		}
	})

	t.Run("nbconvert executes a notebook", func(t *testing.T) {
		n := 40 + mrand.IntN(50)
		want := fmt.Sprintf("moat-check sum=%d api=200 png=True", 3*n*(n-1)/2)
		code := strings.Join([]string{
			"import io, os",
			"import matplotlib",
			"matplotlib.use('Agg')",
			"import matplotlib.pyplot as plt",
			"import pandas as pd",
			"import requests",
			fmt.Sprintf("df = pd.DataFrame({'x': range(%d)})", n),
			"df['y'] = df['x'] * 3",
			"fig, ax = plt.subplots()",
			"df.plot(x='x', y='y', ax=ax)",
			"buf = io.BytesIO()",
			"fig.savefig(buf, format='png')",
			"r = requests.get('http://127.0.0.1:8888/api/status', headers={'Authorization': 'token ' + os.environ['JUPYTER_TOKEN']}, timeout=10)",
			"print('moat-check sum=%d api=%d png=%s' % (df['y'].sum(), r.status_code, buf.getvalue()[:4] == b'\\x89PNG'))",
		}, "\n")
		nb, err := json.Marshal(map[string]any{
			"cells": []map[string]any{{
				"cell_type": "code", "execution_count": nil, "metadata": map[string]any{}, "outputs": []any{}, "source": code,
			}},
			"metadata": map[string]any{"kernelspec": map[string]string{"name": "python3", "display_name": "Python 3", "language": "python"}},
			"nbformat": 4, "nbformat_minor": 4,
		})
		if err != nil {
			t.Fatal(err)
		}
		nbDocker(t, bytes.NewReader(nb), "exec", "-i", name, "sh", "-c", "cat >/home/jovyan/work/check.ipynb")
		nbDocker(t, nil, "exec", name, "jupyter", "nbconvert", "--to", "notebook", "--execute",
			"--ExecutePreprocessor.timeout=120", "--output", "check-out", "/home/jovyan/work/check.ipynb")
		var out struct {
			Cells []struct {
				Outputs []struct {
					Type string          `json:"output_type"`
					Text json.RawMessage `json:"text"`
				} `json:"outputs"`
			} `json:"cells"`
		}
		saved := nbDocker(t, nil, "exec", name, "cat", "/home/jovyan/work/check-out.ipynb")
		if err := json.Unmarshal([]byte(saved), &out); err != nil {
			t.Fatalf("the executed notebook: %v\n%s", err, saved)
		}
		var printed strings.Builder
		for _, c := range out.Cells {
			for _, o := range c.Outputs {
				var s string    // nbformat allows a string
				var ss []string // or a list of lines
				if json.Unmarshal(o.Text, &s) != nil {
					_ = json.Unmarshal(o.Text, &ss)
					s = strings.Join(ss, "")
				}
				if o.Type == "stream" {
					printed.WriteString(s)
				}
			}
		}
		if !strings.Contains(printed.String(), want) {
			t.Errorf("the executed notebook printed %q, want %q\n%s", printed.String(), want, saved)
		}
	})
}

// nbDocker runs the docker CLI (stdin optional) and returns its trimmed
// output, failing t when it fails.
func nbDocker(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	out, err := nbDockerErr(stdin, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func nbDockerErr(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// nbGet GETs url with an Authorization header (none when auth is empty).
func nbGet(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func nbRandomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func nbRedact(s, secret string) string { return strings.ReplaceAll(s, secret, "<token>") }
