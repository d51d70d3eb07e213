// Package probe is what `moat verify` does as an intruder: it tries
// addresses the way code in an application container (or another local
// user) would, and says for each whether it answered. moat runs it on the
// host and, as `moat __probe`, inside an application's network namespace.
// LocalPath tells, before anything is sent, whether the host reaches an
// address on a local interface at all: a probe must never send a packet
// that would leave the machine.
//
// For `moat verify --capture` it is also the sniffer: `moat __probe
// capture` (capture_linux.go) records a stack's bridges into pcap files from
// the host's network namespace, and AnalyzePcap (pcap.go), run in moat's own
// process, reassembles the TCP streams and searches them for needles.
//
// Only main imports it. It needs nothing but the standard library, so that
// the static moat binary can run it in a container of its own.
//
// Imported by: main.
package probe
