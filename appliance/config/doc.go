// Package config is moat.toml: its schema (config.go), the embedded
// commented default, loading with unknown keys refused (load.go), typed
// values parsed once (units.go, values.go), and validation that reports
// every problem at once with file, line, field and fix (validate.go,
// validate_net.go, lines.go).
//
// It also holds the catalogue (catalogue.go): the one table of the
// built-in services a config makes moat run, with their roles, sidecars,
// fixed addresses and mesh identities. It lives here, not with the plan,
// because validation needs it (a [[service]] may not take a built-in's
// name, an intention must name an identity) and it is a pure function of
// the config; the plan, the control plane, verify, status and the
// dashboard read it from here.
//
// Nothing here does I/O beyond reading the file it is given: host facts
// (memory, ports in use) are pre-flight's (appliance.Preflight).
//
// Imported by: main, appliance, appliance/control, export/kubernetes and
// supervision.
package config
