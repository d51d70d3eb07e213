// Package assets holds the dashboard's static files (style.css, app.js,
// favicon.svg), compiled into the binary. The JavaScript is plain, with no
// build step: it keeps the live region of a page fresh over Server-Sent
// Events and marks "run now" buttons busy while a report runs.
//
// It imports nothing of moat.
//
// Imported by: webui.
package assets
