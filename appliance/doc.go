// Package appliance is moat's domain root: the moat.toml schema, its defaults
// (the embedded, commented moat.toml), strict validation whose errors name the
// file, line, field and fix, and Plan, which composes the mesh, trino and
// extra services into the supervisor.Topology that moat runs.
//
// Imported by main and webui.
package appliance
