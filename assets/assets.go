package assets

import "embed"

// FS holds the dashboard's CSS, JavaScript and icon, served by webui under
// /assets/ (the page's Content-Security-Policy allows scripts from 'self'
// only, so every script lives here).
//
//go:embed style.css app.js favicon.svg
var FS embed.FS
