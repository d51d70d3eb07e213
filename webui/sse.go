package webui

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// notifier wakes every open stream at once: wait returns a channel that
// broadcast closes. Streams take the channel before they render, so a change
// that lands while they render is never missed.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
	}
	n.ch = make(chan struct{})
}

// heartbeat keeps idle streams open through proxies and lets a stream notice
// a closed connection.
const heartbeat = 20 * time.Second

// stream is /api/stream?view=V&…: Server-Sent Events carrying, on connect and
// after every change, the freshly rendered live region of page V (event
// "update", HTML) or the snapshot (view=snapshot, event "snapshot", JSON).
// The rest of the query is the page's own (the events filter). A stream
// opened with a session ends when the session does (a logout wakes it; an
// expiry is noticed at the next heartbeat).
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	render, ok := s.liveViews()[r.URL.Query().Get("view")]
	if !ok {
		http.Error(w, "unknown view: use view=overview, services, mesh, events or snapshot", http.StatusBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the caller's WriteTimeout must not cut a live stream
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	changes := s.src.Changes() // nil: never ready
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	sess := sessionFrom(ctx) // nil: the bearer token, which lasts
	var last []byte
	for {
		if sess != nil && !s.auth.live(sess) {
			return
		}
		woke := s.changed.wait()
		if msg := s.renderEvent(ctx, render, r); !bytes.Equal(msg, last) {
			if _, err := w.Write(msg); err != nil {
				return
			}
			last = msg
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
			s.changed.broadcast()
		case <-woke:
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		}
	}
}

// liveView renders a live region; event is the SSE event name.
type liveView struct {
	event  string
	render func(ctx context.Context, r *http.Request, w *bytes.Buffer) error
}

// renderEvent renders one SSE message; a failure is sent as event "error"
// so the page can say so.
func (s *Server) renderEvent(ctx context.Context, v liveView, r *http.Request) []byte {
	var body bytes.Buffer
	event := v.event
	if err := v.render(ctx, r, &body); err != nil {
		s.log.Warn("dashboard: live update failed", "view", r.URL.Query().Get("view"), "err", err)
		body.Reset()
		body.WriteString(err.Error())
		event = "error"
	}
	return sseMessage(event, strings.TrimSuffix(body.String(), "\n"))
}

// sseMessage frames data as one Server-Sent Event (one data: line per line).
func sseMessage(event, data string) []byte {
	var b bytes.Buffer
	b.WriteString("event: " + event + "\n")
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r", ""), "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}
