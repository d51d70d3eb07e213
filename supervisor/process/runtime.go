package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"moat/supervisor"
)

var _ supervisor.Runtime = (*Runtime)(nil)

// pollInterval is how often adopted pids are checked (see doc.go).
const pollInterval = 500 * time.Millisecond

// errClosed ends what is still running when the Runtime closes.
var errClosed = errors.New("process runtime: closed")

// Runtime runs services as local processes. Make one with New; Close it
// when done (Close leaves the processes running, for a later Runtime to adopt).
type Runtime struct {
	dir    string
	ctx    context.Context // ends at Close: stops every goroutine below
	cancel context.CancelFunc
	sigc   chan os.Signal // SIGCHLD
	kick   chan struct{}  // wakes the watcher (a child was registered)
	wg     sync.WaitGroup // every goroutine the Runtime owns

	mu     sync.Mutex
	closed bool
	insts  map[string]*instance
	subs   map[*subscription]struct{}
}

// New returns a Runtime keeping its state under dir (created if missing). It
// adopts the instances an earlier Runtime left there.
func New(dir string) (*Runtime, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("process runtime: state directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("process runtime: create state directory: %w (choose a writable directory)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runtime{
		dir: abs, ctx: ctx, cancel: cancel,
		sigc:  make(chan os.Signal, 1),
		kick:  make(chan struct{}, 1),
		insts: map[string]*instance{},
		subs:  map[*subscription]struct{}{},
	}
	notifyChildExit(r.sigc)
	projects, err := os.ReadDir(abs)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("process runtime: read state directory: %w", err)
	}
	r.mu.Lock()
	for _, p := range projects {
		if p.IsDir() && validName.MatchString(p.Name()) {
			r.loadProjectLocked(p.Name())
		}
	}
	r.mu.Unlock()
	r.wg.Add(1)
	go r.watch()
	return r, nil
}

// Close stops the Runtime's goroutines (probes, exit watching, event
// subscriptions) and waits for them. Processes keep running.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	stopNotify(r.sigc)
	r.wg.Wait()
	return nil
}

// Name is "process".
func (r *Runtime) Name() string { return "process" }

// Ping checks the state directory is still there.
func (r *Runtime) Ping(ctx context.Context) error {
	fi, err := os.Stat(r.dir)
	if err != nil {
		return fmt.Errorf("process runtime: state directory: %w (was it removed? restart moat)", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("process runtime: state directory %s is not a directory", r.dir)
	}
	return nil
}

// validName is what a project, service, network or volume name may be: it
// becomes a path component.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func checkName(what, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("process runtime: %s name %q: use letters, digits, '.', '_' and '-' (starting with a letter or digit)", what, name)
	}
	return nil
}

func (r *Runtime) projectDir(project string) string { return filepath.Join(r.dir, project) }

// lookupLocked returns the instance id or an error wrapping ErrNotFound.
func (r *Runtime) lookupLocked(id string) (*instance, error) {
	inst, ok := r.insts[id]
	if !ok {
		return nil, fmt.Errorf("process runtime: instance %s: %w", id, supervisor.ErrNotFound)
	}
	return inst, nil
}

// goLocked runs f in a goroutine the Runtime owns, unless it is closed.
func (r *Runtime) goLocked(f func()) bool {
	if r.closed {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return true
}
