package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"moat/internal/testenv"
)

// A rendered report with a chart, opened from disk (file://, no server, no
// network) in headless Chromium: the chart and the table are drawn, and the
// screenshot is kept under testenv.ArtifactDir for a person to look at.
func TestReportScreenshotInChromium(t *testing.T) {
	cols := []Column{{Name: "nation", Type: "varchar"}, {Name: "customers", Type: "bigint"}}
	nations := []string{"ALGERIA", "ARGENTINA", "BRAZIL", "CANADA", "EGYPT", "ETHIOPIA", "FRANCE", "GERMANY", "<script>x</script>", "JAPAN"}
	q := &genQuerier{cols: cols, rows: int64(len(nations)), row: func(i int64) []any { return []any{nations[i], 40 + i*7%23} }}
	r, _ := newTestRunner(t, q)
	def := Definition{Name: "customers", SQL: "SELECT nation, count(*) AS customers FROM tpch.tiny.customer GROUP BY 1", RunAs: "analyst",
		Chart: &Chart{Kind: ChartBar, X: "nation", Y: "customers", Title: "Customers per nation"}}
	res, err := r.Run(context.Background(), def)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(testenv.Chrome(t, nil), 30*time.Second)
	defer cancel()
	err = chromedp.Do(ctx,
		chromedp.Navigate("file://"+filepath.Join(res.Path, "index.html")),
		chromedp.WaitVisible(chromedp.CSS(`table`)))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("img[src='chart.svg'], object, svg").length`))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if rows != len(nations) {
		t.Errorf("the page shows %d table rows, want %d", rows, len(nations))
	}
	if bars == 0 {
		t.Error("the page shows no chart")
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("screenshot: %v %v", err, img)
	}
	path := filepath.Join(testenv.ArtifactDir(t), "report-with-chart.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(fmt.Sprintf("screenshot: %s", path))
}
