package webui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"moat/internal/testenv"
)

// browser starts headless Chromium for the test and collects what the page
// complains about (CSP violations, script errors).
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	b := &browser{}
	// The listener runs on chromedp's reading goroutine: it only records.
	ctx := testenv.Chrome(t, func(ev any) {
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				b.complain(e.Entry.Text + " " + e.Entry.URL)
			}
		case *runtime.EventExceptionThrown:
			b.complain(e.ExceptionDetails.Text)
		}
	})
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the browser log: %v", err)
	}
	// Every step below is bounded; the browser itself lives until cleanup.
	b.ctx = ctx
	return b
}

func (b *browser) complain(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

// do runs steps with a deadline.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value, with a deadline.
func get[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the page under testenv.ArtifactDir (not committed).
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := testenv.ArtifactDir(t)
	png := get(t, b, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func TestBrowserDashboard(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t)
	type css = chromedp.CSS

	// Log in with the one-time URL `moat up --open` hands the browser; it
	// leaves the address bar.
	b.do(t, "log in and see the overview",
		chromedp.Navigate(ts.srv.OneTimeURL()), chromedp.WaitVisible(css(`svg.topology`)))
	if loc := get(t, b, "location", chromedp.Location()); loc != ts.URL+"/" {
		t.Errorf("after login the address is %q, want %q", loc, ts.URL+"/")
	}
	nodes := get(t, b, "count nodes", chromedp.Evaluate[int](`document.querySelectorAll('svg.topology g.node').length`))
	if want := len(fixtureSnapshot().Services); nodes != want {
		t.Errorf("the topology draws %d service nodes, want %d", nodes, want)
	}
	b.do(t, "the live stream opens", chromedp.WaitVisible(css(`body[data-live-state="open"]`)))
	b.screenshot(t, "overview")

	// A change in the Source arrives over SSE.
	ts.src.setPhase("notebook", "failed", "crash loop: 5 exits in 60s")
	ts.src.setPhase("trino-worker-2", "healthy", "")
	b.do(t, "see the live update",
		chromedp.WaitReady(css(`svg.topology g.node.st-bad[data-name="notebook"]`)),
		chromedp.WaitReady(css(`svg.topology g.node.st-ok[data-name="trino-worker-2"]`)))
	healthy := get(t, b, "healthy count", chromedp.Text(css(`#healthy-count`)))
	waiting := get(t, b, "waiting list", chromedp.Text(css(`ul.waiting li.st-bad`)))
	if healthy != "6 / 8" || !strings.Contains(waiting, "crash loop: 5 exits in 60s") {
		t.Errorf("after the update: healthy %q, waiting %q", healthy, waiting)
	}
	b.screenshot(t, "overview-updated")

	// Run a report now and open the result.
	b.do(t, "run a report now",
		chromedp.Navigate(ts.URL+"/reports/nations/"),
		chromedp.WaitVisible(css(`form.run-now button`)),
		chromedp.Click(css(`form.run-now button`)),
		chromedp.WaitVisible(css(`#ran[data-status="ok"]`)))
	flash := get(t, b, "run result", chromedp.Text(css(`#ran`)))
	if !strings.Contains(flash, "20250314T120001Z") || !strings.Contains(flash, "finished: ok, 25 rows") {
		t.Errorf("run-now result: %q", flash)
	}
	b.screenshot(t, "report")
	b.do(t, "open the run", chromedp.Click(css(`#ran a`)), chromedp.WaitVisible(css(`#report`)))
	title := get(t, b, "run title", chromedp.Text(css(`#report`)))
	color := get(t, b, "run colour", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#report')).color`))
	if title != "nations 20250314T120001Z" || color != "rgb(51, 51, 51)" {
		t.Errorf("the run's page: title %q, colour %q (its inline CSS must apply)", title, color)
	}

	for _, p := range []string{"services", "mesh", "events"} {
		b.do(t, "open "+p, chromedp.Navigate(ts.URL+"/"+p), chromedp.WaitVisible(css(`table.grid`)))
		b.screenshot(t, p)
	}
	// Signing out ends the session: the next page asks for the token.
	b.do(t, "sign out",
		chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(css(`form.logout button`)),
		chromedp.Click(css(`form.logout button`)), chromedp.WaitVisible(css(`h1#signed-out`)))
	if h := get(t, b, "signed out", chromedp.Text(css(`h1`))); h != "Signed out" {
		t.Errorf("after sign-out the page says %q", h)
	}
	b.mu.Lock()
	if len(b.problems) > 0 {
		t.Errorf("the browser reported problems (CSP violations, script errors):\n%s", strings.Join(b.problems, "\n"))
	}
	b.mu.Unlock()
	// (The browser logs this 401 as a problem.)
	b.do(t, "open the overview signed out", chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(css(`h1`)))
	if h := get(t, b, "sign-in page", chromedp.Text(css(`h1`))); !strings.Contains(h, "needs its token") {
		t.Errorf("signed out, the overview says %q", h)
	}
}
