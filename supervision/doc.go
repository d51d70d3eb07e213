// Package supervision owns the run group of a supervised stack: what
// `moat up` does between the engine's Start and its Close. Run composes,
// as prometheus' main.go does with oklog/run, one actor per long-running
// part, each in its own block, in the order in which they stop:
//
//   - the caller's stop (Ctrl-C, SIGTERM from `moat down`, a cancelled
//     context);
//   - the dashboard;
//   - config reloads: moat.toml, followed through inotify, loaded again when
//     it is saved and handed to a list of Reloaders in order (a file that
//     does not load applies nothing);
//   - the caller's other actors (the host endpoint, restart requests, the
//     certificate renewer);
//   - the report scheduler (a running report finishes first);
//   - the stack itself: up first (the actors above start once it is), down
//     once every actor above has stopped;
//   - the health mirror, last so that it mirrors the way down too: it
//     follows the engine's transitions (Engine.Subscribe) and mirrors every
//     service again periodically, since Consul's TTL checks expire.
//
// Every actor has its own context, and an actor's stop returns only once
// the actor has returned: the order of the blocks is the order of the
// stops, and no actor's goroutine outlives Run. The first actor to fail
// (or to return while the stack runs) stops the others; its error, named
// after it ("dashboard: …"), and every later one are Run's result, which
// `moat up` records as the run's outcome and exits with.
//
// The package knows package main through functions and small interfaces
// only (Engine, Actor, Reloader): it holds no Docker, Consul or Trino
// client.
//
// Imported by: main.
package supervision
