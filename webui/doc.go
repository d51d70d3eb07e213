// Package webui is moat's dashboard: server-rendered templ pages (overview
// with the topology as SVG, services with a logs tail, the mesh's intentions
// matrix with the last `moat verify` result per pair, reports, events), JSON
// under /api/ for everything the pages show, /metrics in Prometheus text
// format, and live updates over Server-Sent Events driven by a little plain
// JavaScript from moat/assets.
//
// Every page is guarded by the token `moat up` prints: /?token=T (or
// /login?token=T) exchanges it for an HttpOnly, SameSite=Strict cookie and
// redirects to a URL without the token, as Jupyter does. Mutating requests
// need that cookie, a per-session CSRF token and a same-origin request.
// Binding is the caller's business (moat binds 127.0.0.1).
//
// The package reads the stack only through its Source interface; it imports
// nothing of Docker, Consul or Trino. Imported by main (and the appliance
// wiring) only; it imports moat/state for row types and moat/assets.
package webui
