// Package appliance is moat's domain root: the moat.toml schema, its defaults
// (the embedded, commented moat.toml), strict validation whose errors name the
// file, line, field and fix, and Plan, which composes the mesh, trino and
// extra services into the supervisor.Topology that moat runs. It also holds
// moat's CA (pki.go) and the Renewer that keeps its certificates current
// while moat supervises (renew.go).
//
// Imported by main and webui.
package appliance
