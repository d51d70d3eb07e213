// Package process is the supervisor.Runtime of local processes: moat on a
// host without Docker, and fast tests of the supervisor. main chooses it
// (MOAT_RUNTIME=process) and the supervisor's tests use it. It runs on
// Unix; pid adoption checks the process's start time on Linux only
// (elsewhere the pid alone).
//
// # State directory
//
// New(dir) keeps everything under dir:
//
//	<dir>/<project>/<service>-<n>/instance.json  labels, pid, state, exit code, times
//	<dir>/<project>/<service>-<n>/spec.json      the spec (mode 0600: its env may hold secrets)
//	<dir>/<project>/<service>-<n>/log            stdout and stderr, appended across restarts
//	<dir>/<project>/<service>-<n>/root/          the instance's "filesystem"
//	<dir>/<project>/networks/<name>.json         a recorded network
//	<dir>/<project>/volumes/<name>/              a volume
//
// A Runtime made on a directory an earlier moat used adopts what it finds: an
// instance recorded as running whose pid is alive and started at the recorded
// time (/proc/<pid>/stat) is running; otherwise it is exited with code -1.
// Several Runtimes may read one directory (moat up and moat status), but only
// one should supervise it: each one probes and reaps what it knows.
//
// # How a Spec maps onto a process
//
//   - argv is Entrypoint then Command, as Docker builds it; with no
//     Entrypoint, Image (a path, or a name on moat's PATH) then Command.
//   - The environment is PATH (moat's), HOME (the instance's root/) and
//     MOAT_INSTANCE_DIR (the instance directory), with Spec.Env on top.
//   - Files and mount targets are re-rooted under <instdir>/root: a File for
//     /etc/x/y.conf is written, with its mode, at <instdir>/root/etc/x/y.conf;
//     the process finds it through $MOAT_INSTANCE_DIR. Ownership (UID, GID) is
//     applied only when moat runs as root.
//   - A Mount is a symlink <instdir>/root/<target> to the volume's directory.
//     ReadOnly is not enforced. The volume must exist (EnsureVolume).
//   - The working directory is WorkingDir re-rooted the same way (default
//     <instdir>/root).
//   - Each process leads its own process group. Stop sends StopSignal
//     (default SIGTERM) to the group, waits the grace period, then sends
//     SIGKILL to the group; Kill sends SIGKILL at once. When the main process
//     ends, for any reason, whatever is left of its group is killed, as a
//     container's processes die with it.
//   - Exit codes follow Docker: a process killed by signal N exits 128+N
//     (SIGKILL: 137). The exit code of an adopted process (not moat's child)
//     cannot be known: it is -1.
//
// Not isolated, and said plainly: there are no network namespaces, so
// networks are only recorded names, ShareNetworkWith is accepted and means
// nothing more (every process shares the host's network), fixed IPs and
// aliases are ignored, and Instance.Addresses gives 127.0.0.1 for each
// network. Processes bind their host ports themselves; Instance.Ports repeats
// the spec's. User and MemoryBytes are ignored: processes run as moat's user
// with no memory limit.
//
// # Events, health and logs
//
// Exits of moat's own children are seen through SIGCHLD and reaped at once.
// Adopted processes have no event source: their liveness is polled every
// half second, which is this package's one poll (it also catches a missed
// SIGCHLD). Health probes run Probe.Command as a local process with the
// service's environment, with Docker's rules: the first probe after
// Interval, Timeout per probe, a pass makes the instance healthy, Retries
// consecutive failures make it unhealthy, failures during StartPeriod (before
// the first pass) do not count; defaults 30s, 30s, 3.
//
// Each Events subscriber has a buffer of 256 events. A subscriber that falls
// that far behind is ended with an error saying so (it should subscribe again
// and List to resync): an event is never dropped silently, and the runtime
// never blocks on a reader.
//
// Logs with Follow polls the log file for growth every 200ms, in the caller's
// goroutine, until ctx ends or the instance is removed.
//
// Imported by: main.
package process
