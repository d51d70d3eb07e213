// Command moat brings up a zero-trust analytics stack (Consul, sidecars,
// Trino, Jupyter) on one host through the Docker Engine API and keeps it
// healthy. main.go parses nothing itself: run (cli.go) dispatches to one
// function per command (cmd_*.go), which wire the packages together:
// appliance/config (moat.toml), appliance (plan and provisioning),
// appliance/control (Consul and Trino at run time), supervisor (engine and
// runtimes), supervision (the run group of `moat up`), state, report and
// webui. Run `moat help` for the commands.
//
// Imported by: nothing (a command).
package main
