// Package supervisor is moat's lifecycle engine: a dependency graph of
// services with start conditions (started, healthy, completed), health-gated
// parallel start, bounded waits whose timeouts name the service, its last
// probe and its last log lines, restarts with exponential backoff and jitter,
// crash-loop detection, reconciliation against labelled runtime objects
// (adopt, replace, remove orphans), rollback of a failed start, and shutdown
// in reverse order.
//
// It knows nothing of Trino, Consul or Docker: services are Specs, and a
// Runtime (supervisor/docker, supervisor/process) runs them. Timing goes
// through a Clock so that tests use FakeClock.
//
// Imported by appliance (which builds Topologies), main, and the runtimes
// (for the types they implement).
package supervisor
