package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxChartPoints bounds the points a chart keeps: the first rows of the
// result, so a run's memory does not grow with the result.
const MaxChartPoints = 1000

// chartData collects the points of a chart while the rows stream by.
type chartData struct {
	spec    *Chart
	xi, yi  int    // column indexes of X and Y
	xType   string // SQL type of the x column
	points  []point
	seen    int64 // rows offered
	skipped int64 // rows among the first MaxChartPoints without a usable x or y
}

type point struct {
	label string  // x as text
	x     float64 // x as a number (numbers, or times as unix seconds)
	kind  xKind
	y     float64
}

type xKind int

const (
	xText xKind = iota
	xNumber
	xTime
)

// newChartData finds the chart's columns in cols.
func newChartData(spec *Chart, cols []Column) (*chartData, error) {
	xi, yi := columnIndex(cols, spec.X), columnIndex(cols, spec.Y)
	if xi < 0 {
		return nil, fmt.Errorf("chart.x = %q: the result has no such column (columns: %s)", spec.X, columnNames(cols))
	}
	if yi < 0 {
		return nil, fmt.Errorf("chart.y = %q: the result has no such column (columns: %s)", spec.Y, columnNames(cols))
	}
	return &chartData{spec: spec, xi: xi, yi: yi, xType: cols[xi].Type}, nil
}

func columnIndex(cols []Column, name string) int {
	return slices.IndexFunc(cols, func(c Column) bool { return c.Name == name })
}

func columnNames(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// add offers one row to the chart.
func (c *chartData) add(values []any) {
	c.seen++
	if c.seen > MaxChartPoints {
		return
	}
	y, ok := toFloat(values[c.yi])
	label, xok := formatValue(values[c.xi], c.xType)
	if !ok || !xok {
		c.skipped++
		return
	}
	p := point{label: label, y: y}
	switch v := values[c.xi].(type) {
	case time.Time:
		p.kind, p.x = xTime, float64(v.UnixNano())/1e9
	default:
		if x, ok := toFloat(v); ok && numericType(c.xType) {
			p.kind, p.x = xNumber, x
		}
	}
	c.points = append(c.points, p)
}

// toFloat is v as a number; numeric strings (Trino DECIMAL) count.
func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case float32:
		return float64(v), !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// notes explains what the chart leaves out.
func (c *chartData) notes() []string {
	var n []string
	if c.seen > MaxChartPoints {
		n = append(n, fmt.Sprintf("The chart shows the first %d of %d rows.", MaxChartPoints, c.seen))
	}
	if c.skipped > 0 {
		n = append(n, fmt.Sprintf("%d rows are left out of the chart: %s is NULL or %s is not a number.", c.skipped, c.spec.X, c.spec.Y))
	}
	return n
}

// The SVG canvas and the plot area inside it.
const (
	svgW, svgH                         = 800, 400
	plotL, plotR, plotT, plotB float64 = 72, 776, 44, 310
)

// writeSVG draws the chart; it needs at least one point.
func (c *chartData) writeSVG(w io.Writer) error {
	s := &svg{}
	title := c.spec.title()
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="11" fill="#1d232a">`+"\n", svgW, svgH, svgW, svgH)
	s.printf("<title>%s</title>\n", esc(title))
	s.printf(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgW, svgH)
	s.printf(`<text x="%d" y="24" text-anchor="middle" font-size="15" font-weight="600">%s</text>`+"\n", svgW/2, esc(title))
	ys := c.yScale()
	s.yAxis(ys)
	if c.spec.Kind == ChartBar {
		s.bars(c.points, ys)
	} else {
		s.line(c.points, ys)
	}
	s.printf(`<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#5a6570"/>`+"\n", plotL, plotB, plotR, plotB)
	s.printf(`<text x="%g" y="%d" text-anchor="middle" font-size="12" class="axis-title">%s</text>`+"\n", (plotL+plotR)/2, svgH-6, esc(c.spec.X))
	s.printf(`<text transform="translate(16 %g) rotate(-90)" text-anchor="middle" font-size="12" class="axis-title">%s</text>`+"\n", (plotT+plotB)/2, esc(c.spec.Y))
	s.printf("</svg>\n")
	_, err := io.WriteString(w, s.b.String())
	return err
}

// yScale covers every y value (and zero, for bars) with nice ticks.
func (c *chartData) yScale() scale {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range c.points {
		lo, hi = min(lo, p.y), max(hi, p.y)
	}
	if c.spec.Kind == ChartBar {
		lo, hi = min(lo, 0), max(hi, 0)
	}
	return niceScale(lo, hi, 6, plotB, plotT)
}

// svg accumulates one chart's markup (a few hundred KB at most).
type svg struct{ b strings.Builder }

func (s *svg) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

func (s *svg) yAxis(ys scale) {
	s.printf(`<g class="y-axis" text-anchor="end">` + "\n")
	for _, t := range ys.ticks {
		y := ys.pos(t)
		s.printf(`<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e4e8eb"/>`, plotL, y, plotR, y)
		s.printf(`<text x="%g" y="%.1f" dy="4">%s</text>`+"\n", plotL-6, y, esc(ys.label(t)))
	}
	s.printf("</g>\n")
	s.printf(`<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#5a6570"/>`+"\n", plotL, plotT, plotL, plotB)
}

// bars draws one bar per point, in row order, labelling at most ~20.
func (s *svg) bars(points []point, ys scale) {
	band := (plotR - plotL) / float64(len(points))
	zero := ys.pos(0)
	s.printf(`<g class="bars" fill="#3b7dd8">` + "\n")
	for i, p := range points {
		y := ys.pos(p.y)
		s.printf(`<rect class="bar" x="%.2f" y="%.2f" width="%.2f" height="%.2f"/>`+"\n",
			plotL+float64(i)*band+band*0.1, min(y, zero), band*0.8, math.Abs(zero-y))
	}
	s.printf("</g>\n")
	s.categoryLabels(points, func(i int) float64 { return plotL + (float64(i)+0.5)*band })
}

// line draws the points joined in x order (row order for text x values).
func (s *svg) line(points []point, ys scale) {
	xpos, xs, byValue := lineX(points)
	if byValue {
		points = slices.Clone(points)
		slices.SortStableFunc(points, func(a, b point) int { return cmpFloat(a.x, b.x) })
	}
	var pts strings.Builder
	for i, p := range points {
		fmt.Fprintf(&pts, "%.2f,%.2f ", xpos(i, p), ys.pos(p.y))
	}
	s.printf(`<polyline class="line" fill="none" stroke="#3b7dd8" stroke-width="1.5" points="%s"/>`+"\n", strings.TrimSpace(pts.String()))
	s.printf(`<g class="points" fill="#3b7dd8">` + "\n")
	for i, p := range points {
		s.printf(`<circle class="point" cx="%.2f" cy="%.2f" r="2.5"/>`+"\n", xpos(i, p), ys.pos(p.y))
	}
	s.printf("</g>\n")
	if byValue {
		s.xTicks(xs)
		return
	}
	s.categoryLabels(points, func(i int) float64 { return xpos(i, points[i]) })
}

// lineX places points on the x axis: by value (byValue) when every x is a
// number or every x a time, on the returned scale; else evenly in row order.
func lineX(points []point) (xpos func(int, point) float64, xs scale, byValue bool) {
	if allKind(points, xNumber) || allKind(points, xTime) {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range points {
			lo, hi = min(lo, p.x), max(hi, p.x)
		}
		if points[0].kind == xTime {
			xs = timeScale(lo, hi, plotL, plotR)
		} else {
			xs = niceScale(lo, hi, 8, plotL, plotR)
		}
		return func(_ int, p point) float64 { return xs.pos(p.x) }, xs, true
	}
	n := len(points)
	return func(i int, _ point) float64 {
		if n == 1 {
			return (plotL + plotR) / 2
		}
		return plotL + (plotR-plotL)*float64(i)/float64(n-1)
	}, xs, false
}

func allKind(points []point, k xKind) bool {
	for _, p := range points {
		if p.kind != k {
			return false
		}
	}
	return true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *svg) xTicks(xs scale) {
	s.printf(`<g class="x-axis" text-anchor="middle">` + "\n")
	for _, t := range xs.ticks {
		x := xs.pos(t)
		s.printf(`<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#5a6570"/>`, x, plotB, x, plotB+4)
		s.printf(`<text x="%.1f" y="%g">%s</text>`+"\n", x, plotB+17, esc(xs.label(t)))
	}
	s.printf("</g>\n")
}

// categoryLabels writes the x labels of text categories, at most about 20,
// slanted so long ones fit.
func (s *svg) categoryLabels(points []point, xpos func(int) float64) {
	every := (len(points) + 19) / 20
	s.printf(`<g class="x-axis" text-anchor="end">` + "\n")
	for i := 0; i < len(points); i += every {
		x := xpos(i)
		label, cut := truncateRunes(points[i].label, 16)
		if cut {
			label += "…"
		}
		s.printf(`<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#5a6570"/>`, x, plotB, x, plotB+4)
		s.printf(`<text transform="translate(%.1f %g) rotate(-35)">%s</text>`+"\n", x+3, plotB+14, esc(label))
	}
	s.printf("</g>\n")
}

// scale maps a value domain onto pixels, with its ticks and their labels.
type scale struct {
	lo, hi   float64 // domain
	from, to float64 // pixels for lo and hi
	ticks    []float64
	label    func(float64) string
}

func (s scale) pos(v float64) float64 {
	return s.from + (v-s.lo)/(s.hi-s.lo)*(s.to-s.from)
}

// niceScale widens [lo, hi] to round ticks (1, 2 or 5 times a power of ten).
func niceScale(lo, hi float64, n int, from, to float64) scale {
	if lo == hi {
		d := math.Max(math.Abs(lo)/2, 1)
		lo, hi = lo-d, hi+d
	}
	step := niceStep((hi - lo) / float64(n))
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	s := scale{lo: lo, hi: hi, from: from, to: to, label: numberLabel(step, math.Max(math.Abs(lo), math.Abs(hi)))}
	for t := lo; t <= hi+step/2; t += step {
		s.ticks = append(s.ticks, math.Round(t/step)*step)
	}
	return s
}

func niceStep(raw float64) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch norm := raw / mag; {
	case norm < 1.5:
		return mag
	case norm < 3:
		return 2 * mag
	case norm < 7:
		return 5 * mag
	}
	return 10 * mag
}

// numberLabel formats ticks step apart, shortening large ones (12k, 3.5M).
func numberLabel(step, largest float64) func(float64) string {
	unit, suffix := 1.0, ""
	switch {
	case largest >= 1e9:
		unit, suffix = 1e9, "G"
	case largest >= 1e6:
		unit, suffix = 1e6, "M"
	case largest >= 1e4:
		unit, suffix = 1e3, "k"
	}
	decimals := max(0, int(math.Ceil(-math.Log10(step/unit)-1e-9)))
	return func(v float64) string {
		if v == 0 {
			return "0"
		}
		return strconv.FormatFloat(v/unit, 'f', decimals, 64) + suffix
	}
}

// timeScale spaces six ticks evenly over a time domain (unix seconds).
func timeScale(lo, hi, from, to float64) scale {
	if lo == hi {
		lo, hi = lo-43200, hi+43200
	}
	layout := "2006-01-02"
	switch span := hi - lo; {
	case span < 2*3600:
		layout = "15:04:05"
	case span < 3*86400:
		layout = "01-02 15:04"
	}
	s := scale{lo: lo, hi: hi, from: from, to: to, label: func(v float64) string {
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(layout)
	}}
	for i := range 6 {
		s.ticks = append(s.ticks, lo+(hi-lo)*float64(i)/5)
	}
	return s
}
