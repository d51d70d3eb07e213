// Package report runs SQL report definitions and renders each run as a
// self-contained static HTML site:
//
//	<Dir>/index.html                    every report, with its latest run
//	<Dir>/<name>/index.html             the report's history, newest run first
//	<Dir>/<name>/<runKey>/index.html    title, time, run-as user, SQL, first table page, page index
//	<Dir>/<name>/<runKey>/page-N.html   the other table pages
//	<Dir>/<name>/<runKey>/chart.svg     when the definition asks for a chart
//	<Dir>/<name>/<runKey>/data.csv      every row (RFC 4180, header row), formulas neutralised
//	<Dir>/<name>/<runKey>/data-raw.csv  every row as it is, only with Runner.RawCSV
//	<Dir>/<name>/<runKey>/meta.json     what the run was and how it ended
//
// Rows are streamed from a Querier to disk: a run holds at most a few table
// pages and a bounded number of chart points in memory, whatever the result
// size. Pages use inline CSS, no scripts and relative links only, so a copied
// folder works from file:// as well as from any web server.
//
// data.csv is safe to open in a spreadsheet (the OWASP CSV-injection rule):
// a cell whose first character is '=', '+', '-', '@', a tab or a carriage
// return is written with a single quote before it ("=HYPERLINK(…)" becomes
// "'=HYPERLINK(…)"), and quoted as RFC 4180 requires when it holds a comma,
// quote or line break. Plain negative numbers of numeric columns (TINYINT,
// SMALLINT, INTEGER, BIGINT, REAL, DOUBLE, DECIMAL, NUMBER), such as "-3"
// or "-1.5e-07", are left as they are; a VARCHAR "-3", a "-3+cmd", a
// column name and a numeric column's "-Inf" are not. Who needs the values
// untouched sets Runner.RawCSV: each run then also writes data-raw.csv,
// linked from the run's page as raw.
//
// The package knows nothing of Docker, Consul or the dashboard: the caller
// supplies a Querier (DBQuerier adapts the official trino-go-client) and a
// RunStore (moat's SQLite store, adapted by the caller).
//
// It imports nothing of moat.
//
// Imported by: main, appliance, appliance/config and supervision.
package report
