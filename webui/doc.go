// Package webui is moat's dashboard: server-rendered templ pages (overview
// with the topology as SVG, services with a logs tail, the mesh's intentions
// matrix with the last `moat verify` result per pair, reports, events), JSON
// under /api/ for everything the pages show, /metrics in Prometheus text
// format, and live updates over Server-Sent Events driven by a little plain
// JavaScript from moat/assets.
//
// Every page is guarded by the token `moat up` prints: /?token=T (or
// /login?token=T) exchanges it for an HttpOnly, SameSite=Strict session
// cookie and redirects to a URL without the token, as Jupyter does; `moat up
// --open` hands the browser a one-time /login?once=N instead (good once,
// for a minute), so that the token never sits in a process's argv. Sessions
// live in memory: 12 hours unused or a day at most, bound to the Host they
// were made for, ended on the server by POST /logout. Mutating requests
// need the cookie, a per-session CSRF token and a same-origin request. A
// request whose Host is not the listen address (or localhost on its port)
// is refused with 421 (DNS rebinding). Binding is the caller's business; it
// must be a loopback address, best one no other service uses (moat's
// default is 127.77.0.1:7700), since browsers send a cookie to every port
// of its host.
//
// The package reads the stack only through its Source interface; it imports
// nothing of Docker, Consul or Trino, and of moat only moat/supervisor for
// a service's status (ServiceStatus, which Service embeds), moat/state for
// row types and moat/assets.
//
// Imported by: main.
package webui
