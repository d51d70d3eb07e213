// Package supervisortest is an in-memory supervisor.Runtime for tests of the
// engine, as net/http/httptest is for handlers: instances are records that
// change only when the engine or the test acts on them, and their times come
// from a supervisor.Clock (a FakeClock in tests).
//
// A test injects what a real runtime would report: an instance's exit
// (Die), a health change (SetHealth), the loss of a network behind the
// engine's back (Disconnect; Reconnect is the repair, and an instance that
// exits leaves its networks after its die, as Docker reports), the loss of
// the event stream (BreakEvents: what happens until the engine subscribes
// again is not reported, as with a Docker daemon restart), and failures of
// any operation on a service (Fail). Calls records every operation in order, so that a
// test can check what the engine did and in which order.
//
// Imported by: tests only.
package supervisortest
