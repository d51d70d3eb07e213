package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/supervisor"
)

// testProject is a Runtime on the real engine and a project name of its own;
// when the test ends everything labelled with the project is removed, and
// the test fails if anything is left.
type testProject struct {
	*Runtime
	name string
	t    *testing.T
}

func newProject(t *testing.T) testProject {
	t.Helper()
	testenv.RequireImage(t, testenv.WorkloadImage)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	p := testProject{Runtime: r, name: "moattest-" + hex.EncodeToString(b), t: t}
	t.Cleanup(func() {
		p.removeAll()
		r.Close()
	})
	return p
}

// removeAll removes the project's containers, networks and volumes, and
// checks that List then finds nothing.
func (p testProject) removeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inv, err := p.List(ctx, p.name)
	if err != nil {
		p.t.Errorf("cleanup: %v", err)
		return
	}
	for _, in := range inv.Instances {
		if err := p.Remove(ctx, in.ID); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
			p.t.Errorf("cleanup: %v", err)
		}
	}
	for _, n := range inv.Networks {
		if err := p.RemoveNetwork(ctx, p.name, n); err != nil {
			p.t.Errorf("cleanup: %v", err)
		}
	}
	for _, v := range inv.Volumes {
		if err := p.RemoveVolume(ctx, p.name, v); err != nil {
			p.t.Errorf("cleanup: %v", err)
		}
	}
	left, err := p.List(ctx, p.name)
	if err != nil {
		p.t.Errorf("cleanup: %v", err)
	} else if len(left.Instances)+len(left.Networks)+len(left.Volumes) > 0 {
		p.t.Errorf("cleanup left objects of project %s: %+v", p.name, left)
	}
}

// ctx is a context bounded for one test step.
func (p testProject) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	p.t.Cleanup(cancel)
	return ctx
}

// workload is a spec of the test workload with args.
func workload(name string, args ...string) supervisor.Spec {
	return supervisor.Spec{Name: name, Image: testenv.WorkloadImage, Command: args, Restart: supervisor.RestartNever}
}

// healthProbe is the workload's own health endpoint as a Docker healthcheck.
func healthProbe() *supervisor.Probe {
	return &supervisor.Probe{
		Command:  []string{"/workload", "probe", "http://127.0.0.1:8080/health"},
		Interval: 200 * time.Millisecond,
		Timeout:  2 * time.Second,
		Retries:  3,
	}
}

// run creates and starts s, and returns its ID.
func (p testProject) run(s supervisor.Spec, peerID string) string {
	p.t.Helper()
	ctx := p.ctx(time.Minute)
	id, err := p.Create(ctx, p.name, s, peerID)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		p.t.Fatal(err)
	}
	return id
}

// events subscribes to the project's events until the test ends.
type eventStream struct {
	t    *testing.T
	ch   <-chan supervisor.Event
	errs <-chan error
}

func (p testProject) events() eventStream {
	ctx, cancel := context.WithCancel(context.Background())
	ch, errs := p.Events(ctx, p.name)
	p.t.Cleanup(func() {
		cancel()
		for range ch {
		}
	})
	return eventStream{t: p.t, ch: ch, errs: errs}
}

// waitFor returns the first event of id with kind (and, for EventHealth,
// health), failing the test when the stream ends or a minute passes.
func (s eventStream) waitFor(id string, kind supervisor.EventKind, h supervisor.Health) supervisor.Event {
	s.t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-s.ch:
			if !ok {
				s.t.Fatalf("event stream ended before %s %s of %s: %v", kind, h, short(id), <-s.errs)
			}
			if ev.ID == id && ev.Kind == kind && (kind != supervisor.EventHealth || ev.Health == h) {
				return ev
			}
		case <-deadline:
			s.t.Fatalf("no %s %s event for %s within a minute", kind, h, short(id))
		}
	}
}
