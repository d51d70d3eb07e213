package testenv

import (
	"os/exec"
	"testing"
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
