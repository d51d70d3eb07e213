package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// RequireChromium returns the path of a Chromium (or Chrome) binary for
// headless browser tests (github.com/chromedp/chromedp); `make chromium`
// installs the Debian package.
func RequireChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "Chromium is not installed: run `make chromium` (apt-get install chromium)")
	return ""
}

// Chrome starts headless Chromium for t and returns a chromedp context on a
// new tab; listener (optional) sees every browser event on chromedp's reading
// goroutine. The browser stops at the end of the test.
func Chrome(t testing.TB, listener func(ev any)) context.Context {
	t.Helper()
	exe := RequireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1360, 900), chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var ctxOpts []chromedp.ContextOption
	if listener != nil {
		ctxOpts = append(ctxOpts, chromedp.WithListener(listener))
	}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, ctxOpts...)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil { // starts the browser
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	return ctx
}

// ArtifactDir is where tests keep what a person may want to look at after a
// run (screenshots): $MOAT_ARTIFACTS, else bin/artifacts (not committed).
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MOAT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "bin", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
