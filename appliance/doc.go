// Package appliance turns a validated config into the stack moat runs.
//
//   - Plan (plan.go, builtin.go) composes the mesh, Trino, the
//     notebook and the [[service]] entries into a supervisor.Topology. It is
//     pure: it reads a snapshot of the secrets and writes nothing; an
//     Equipper (the control plane) adds gates and actions by role.
//   - Provision (provision.go) is the one step that writes: secrets, moat's CA
//     and certificates (pki.go), Trino's password file. Only `moat up` and
//     the Renewer take it.
//   - Preflight (preflight.go) checks the host facts the plan cannot know:
//     Docker, ports, subnets, memory, disk, images.
//   - Secrets (secrets.go), the Renewer (renew.go), and the bridges to the
//     state store (record.go, reports.go): Recorder, SetDesired, ReportStore.
//
// The schema, validation and the catalogue of built-in services are in
// appliance/config; the Consul/Trino driver in appliance/control; the
// supervisor lock in appliance/lock.
//
// Imported by: main, appliance/control and export/kubernetes.
package appliance
