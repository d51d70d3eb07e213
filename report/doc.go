// Package report runs SQL report definitions and renders each run as a
// self-contained static HTML site:
//
//	<Dir>/index.html                    every report, with its latest run
//	<Dir>/<name>/index.html             the report's history, newest run first
//	<Dir>/<name>/<runKey>/index.html    title, time, run-as user, SQL, first table page, page index
//	<Dir>/<name>/<runKey>/page-N.html   the other table pages
//	<Dir>/<name>/<runKey>/chart.svg     when the definition asks for a chart
//	<Dir>/<name>/<runKey>/data.csv      every row (RFC 4180, header row)
//	<Dir>/<name>/<runKey>/meta.json     what the run was and how it ended
//
// Rows are streamed from a Querier to disk: a run holds at most a few table
// pages and a bounded number of chart points in memory, whatever the result
// size. Pages use inline CSS, no scripts and relative links only, so a copied
// folder works from file:// as well as from any web server.
//
// The package knows nothing of Docker, Consul or the dashboard: the caller
// supplies a Querier (DBQuerier adapts the official trino-go-client) and a
// RunStore (moat's SQLite store, adapted by the caller).
//
// Imported by appliance, main and webui. It imports nothing of moat.
package report
