// Command moat brings up a zero-trust analytics stack (Consul, sidecars,
// Trino, Jupyter) on one host through the Docker Engine API and keeps it
// healthy. main.go parses nothing itself: run (cli.go) dispatches to one
// function per command (cmd_*.go), which wire the packages together:
// appliance (config, plan, control), supervisor (engine and runtimes),
// state, report and webui. Run `moat help` for the commands.
package main
