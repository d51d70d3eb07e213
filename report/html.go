package report

import (
	"html/template"
	"strconv"
	"time"
)

// pageFile is the file holding table page n of a run.
func pageFile(n int) string {
	if n == 1 {
		return "index.html"
	}
	return "page-" + strconv.Itoa(n) + ".html"
}

func formatWhen(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatDuration(m Meta) string {
	if m.Finished.IsZero() || m.Started.IsZero() {
		return "—"
	}
	return m.Finished.Sub(m.Started).Round(time.Millisecond).String()
}

var templates = template.Must(template.New("report").Funcs(template.FuncMap{
	"pageFile": pageFile,
	"when":     formatWhen,
	"duration": formatDuration,
	"short":    shortText,
	"prev":     func(n int) int { return n - 1 },
	"next":     func(n int) int { return n + 1 },
}).Parse(pageTemplates))

// shortText is s cut to MaxCellRunes, marked when cut.
func shortText(s string) string {
	if t, cut := truncateRunes(s, MaxCellRunes); cut {
		return t + "…"
	}
	return s
}

// runView is what the run and page templates show.
type runView struct {
	Meta      Meta
	Rows      template.HTML // the page's table rows, rendered by writeCell
	Page      int           // this page's number
	Pages     []int         // every page number (run index only)
	HasNext   bool
	ChartNote []string
}

// historyView is a report's history page.
type historyView struct {
	Name string
	Runs []Meta
}

const pageTemplates = `
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1d232a;background:#fff}
h1{font-size:1.4rem;margin:0 0 .5rem}
nav{margin:0 0 1rem}nav a{margin-right:1rem}
a{color:#0b5cad}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:0 0 1rem}dt{color:#5a6570}dd{margin:0}
pre{background:#f4f6f8;border:1px solid #dde2e6;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
.error{background:#fdecec;border-color:#f2b8b5;color:#8a1c17}
table{border-collapse:collapse;margin:0 0 1rem}
th,td{border:1px solid #dde2e6;padding:.25rem .5rem;text-align:left;vertical-align:top;max-width:40rem;white-space:pre-wrap;word-break:break-word}
th{background:#f4f6f8;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.null{color:#8b96a0;font-style:italic;font-size:.85em}
tr:nth-child(even) td{background:#fafbfc}
.status-ok{color:#1a7f37;font-weight:600}.status-failed,.status-incomplete{color:#b42318;font-weight:600}.status-running{color:#9a6700;font-weight:600}
.pages a,.pages span{display:inline-block;min-width:2.2em;margin:0 .2rem .2rem 0}
.pages span{font-weight:600}
.note{color:#5a6570}
img.chart{max-width:100%;height:auto;border:1px solid #dde2e6;margin:0 0 1rem}
</style>
</head>
<body>{{end}}

{{define "table"}}<table>
<thead><tr>{{range .Meta.Columns}}<th title="{{.Type}}">{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{.Rows}}</tbody>
</table>
{{end}}

{{define "run"}}{{template "head" printf "%s · %s" .Meta.Name .Meta.RunKey}}
<nav><a href="../../index.html">All reports</a><a href="../index.html">History of {{.Meta.Name}}</a>{{if eq .Meta.Status "ok"}}<a href="data.csv">data.csv</a>{{if .Meta.RawCSV}}<a href="data-raw.csv" title="every value as the query returned it: a spreadsheet may run cells starting with = + - @ as formulas">data-raw.csv (raw, formulas not neutralised)</a>{{end}}{{end}}<a href="meta.json">meta.json</a></nav>
<h1>{{.Meta.Name}}</h1>
<dl>
<dt>Status</dt><dd class="status-{{.Meta.Status}}">{{.Meta.Status}}</dd>
<dt>Started</dt><dd>{{when .Meta.Started}}</dd>
<dt>Duration</dt><dd>{{duration .Meta}}</dd>
<dt>Run as</dt><dd>{{.Meta.RunAs}}</dd>
<dt>{{if eq .Meta.Status "ok"}}Rows{{else}}Rows read{{end}}</dt><dd>{{.Meta.Rows}}</dd>
</dl>
{{if .Meta.Error}}<h2>Error</h2>
<pre class="error">{{.Meta.Error}}</pre>
{{end}}<h2>SQL</h2>
<pre>{{.Meta.SQL}}</pre>
{{if eq .Meta.Status "ok"}}{{if .Meta.Chart}}<h2>Chart</h2>
<img class="chart" src="chart.svg" width="800" height="400" alt="chart of the result">
{{range .ChartNote}}<p class="note">{{.}}</p>
{{end}}{{end}}<h2>Result</h2>
{{if .Meta.Rows}}{{template "pages" .}}{{template "table" .}}{{template "pages" .}}{{else}}<p class="note">The query returned no rows.</p>
{{end}}{{end}}</body>
</html>
{{end}}

{{define "pages"}}{{if gt (len .Pages) 1}}<p class="pages">Pages: {{range .Pages}}{{if eq . $.Page}}<span>{{.}}</span>{{else}}<a href="{{pageFile .}}">{{.}}</a>{{end}} {{end}}</p>
{{end}}{{end}}

{{define "page"}}{{template "head" printf "%s · %s · page %d" .Meta.Name .Meta.RunKey .Page}}
<nav><a href="index.html">Run {{.Meta.RunKey}}</a><a href="{{pageFile (.Page | prev)}}">Previous page</a>{{if .HasNext}}<a href="{{pageFile (.Page | next)}}">Next page</a>{{end}}</nav>
<h1>{{.Meta.Name}} · page {{.Page}}</h1>
{{template "table" .}}</body>
</html>
{{end}}

{{define "history"}}{{template "head" printf "%s · history" .Name}}
<nav><a href="../index.html">All reports</a></nav>
<h1>{{.Name}}</h1>
<table>
<thead><tr><th>Run</th><th>Status</th><th>Started</th><th>Duration</th><th>Run as</th><th>Rows</th><th>Error</th></tr></thead>
<tbody>
{{range .Runs}}<tr><td><a href="{{.RunKey}}/index.html">{{.RunKey}}</a></td><td class="status-{{.Status}}">{{.Status}}</td><td>{{when .Started}}</td><td>{{duration .}}</td><td>{{.RunAs}}</td><td class="num">{{.Rows}}</td><td>{{short .Error}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
{{end}}

{{define "root"}}{{template "head" "Reports"}}
<h1>Reports</h1>
<table>
<thead><tr><th>Report</th><th>Runs</th><th>Latest run</th><th>Status</th><th>Started</th><th>Rows</th></tr></thead>
<tbody>
{{range .}}<tr><td><a href="{{.Name}}/index.html">{{.Name}}</a></td><td class="num">{{.Runs}}</td><td><a href="{{.Name}}/{{.Latest.RunKey}}/index.html">{{.Latest.RunKey}}</a></td><td class="status-{{.Latest.Status}}">{{.Latest.Status}}</td><td>{{when .Latest.Started}}</td><td class="num">{{.Latest.Rows}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
{{end}}
`
