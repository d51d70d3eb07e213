// Package supervisor is moat's lifecycle engine: a dependency graph of
// services with start conditions (started, healthy, completed), health-gated
// parallel start, bounded waits whose timeouts name the service, its last
// probe and its last log lines, restarts with exponential backoff and jitter
// (a service killed from outside always comes back), crash loops retried at a
// long capped delay, dependents held while a dependency is down, instances
// that lost a network attached again (network.go), reconciliation against labelled runtime objects
// (adopt, replace, remove orphans), rollback of a failed start, and shutdown
// in reverse order.
//
// It knows nothing of Trino, Consul or Docker: services are Specs, and a
// Runtime (supervisor/docker, supervisor/process) runs them. Timing goes
// through a Clock so that tests use FakeClock, and supervisor/supervisortest
// is an in-memory Runtime for the engine's own tests.
//
// Transitions leave the engine outside its lock, in order: to the Recorder
// first, then to the Observer and to Subscribe's channels (notify.go), so
// that Status and Wait never wait on a disk or a terminal.
//
// Imported by: main, appliance, appliance/config, appliance/control,
// export/kubernetes, state, supervision, supervisor/docker,
// supervisor/process, supervisor/supervisortest and webui.
package supervisor
