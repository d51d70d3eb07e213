// Package control drives the running built-in services from the host:
// Consul's ACL tokens, registrations, intentions and health checks, moat's
// own Connect identity, Trino readiness and graceful worker shutdown, and
// queries through the mesh. Control.Equip gives each planned built-in
// service its readiness gate, preparation and pre-stop action by its role
// in the catalogue (appliance.Plan takes it as an Equipper). What must run
// inside a container goes through the runtime Control is given
// (supervisor.Execer, supervisor.SelfRunner).
//
// Imported by: main and export/kubernetes.
package control
