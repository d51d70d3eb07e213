package supervision

import (
	"context"
	"errors"
	"io"
	"time"

	"moat/supervisor"
)

// DefaultRefresh is how often the health mirror mirrors every service again
// when HealthMirror.Refresh is nil: well within Consul's TTL
// (mesh.DefaultHealthTTL), so that a check expires only when moat is gone.
const DefaultRefresh = 10 * time.Second

// HealthMirror keeps an outside view of the services' health (Consul's TTL
// checks) equal to what the engine observes.
type HealthMirror struct {
	// Mirror tells the outside world the phase of t.Service (nil: no
	// mirror). A failure is said once, while the stack is up, and the
	// next transition or refresh tries again: it never stops the stack.
	Mirror func(ctx context.Context, t supervisor.Transition) error
	// Refresh ticks whenever every service is mirrored again, from
	// Engine.Status (nil: a ticker every DefaultRefresh).
	Refresh <-chan time.Time
}

// run mirrors every service once, then each of changes (eng's
// subscription, taken before this first Status: no transition falls
// between) and every service at each refresh, until ctx ends. quiet says
// when a failure is expected (the stack on its way up or down: Consul or
// the check may not be there yet, or any more).
func (h HealthMirror) run(ctx context.Context, eng Engine, changes <-chan supervisor.Transition, quiet func() bool, out io.Writer) error {
	refresh := h.Refresh
	if refresh == nil {
		t := time.NewTicker(DefaultRefresh)
		defer t.Stop()
		refresh = t.C
	}
	m := &mirror{h: h, quiet: quiet, out: out}
	m.all(ctx, eng)
	for {
		select {
		case <-ctx.Done():
			return nil
		case t, ok := <-changes:
			if !ok {
				return errors.New("the engine's transitions ended while the stack was supervised")
			}
			m.one(ctx, t)
		case <-refresh:
			m.all(ctx, eng)
		}
	}
}

// mirror is a running HealthMirror: it says when mirroring starts failing
// and when it works again, not at every attempt in between.
type mirror struct {
	h       HealthMirror
	quiet   func() bool
	out     io.Writer
	failing bool
}

func (m *mirror) all(ctx context.Context, eng Engine) {
	for _, st := range eng.Status() {
		m.one(ctx, supervisor.Transition{Service: st.Name, To: st.Phase, Reason: st.Reason})
	}
}

func (m *mirror) one(ctx context.Context, t supervisor.Transition) {
	err := m.h.Mirror(ctx, t)
	switch {
	case err != nil && !m.failing && !m.quiet() && ctx.Err() == nil:
		m.failing = true
		say(m.out, "warning: health mirror: %s: %v (tried again at the next change, and every service at the next refresh)", t.Service, err)
	case err == nil && m.failing:
		m.failing = false
		say(m.out, "health mirror: works again (%s)", t.Service)
	}
}
