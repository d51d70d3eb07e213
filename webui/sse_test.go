package webui

import (
	"bufio"
	"strings"
	"testing"
)

// TestEveryStreamSeesAChange opens two streams; one tick of Changes must
// reach both (the Source's channel has one reader per tick).
func TestEveryStreamSeesAChange(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	var streams []*bufio.Reader
	for _, view := range []string{"overview", "services"} {
		r := bufio.NewReader(ts.get(t, c, "/api/stream?view="+view).Body)
		if first := readEvent(t, r); !strings.HasPrefix(first, "event: update\n") ||
			strings.Contains(first, `data-name="notebook" data-phase="failed"`) {
			t.Fatalf("first %s event:\n%s", view, first)
		}
		streams = append(streams, r)
	}
	ts.src.setPhase("notebook", "failed", "crash loop: 5 exits in 60s")
	for i, want := range []string{`data-name="notebook" data-phase="failed"`, "crash loop: 5 exits in 60s"} {
		if got := readEvent(t, streams[i]); !strings.Contains(got, want) {
			t.Errorf("stream %d after the change: no %q in\n%s", i, want, got)
		}
	}
}

func TestSnapshotStream(t *testing.T) {
	ts := newTestServer(t)
	msg := firstStreamEvent(t, ts, ts.login(t), "snapshot")
	if !strings.HasPrefix(msg, "event: snapshot\ndata: {") || strings.Count(msg, "\ndata: ") != 1 {
		t.Fatalf("snapshot event is not one line of JSON:\n%s", msg)
	}
}

func TestSSEFraming(t *testing.T) {
	got := string(sseMessage("update", "a\r\nb\n\nc"))
	want := "event: update\ndata: a\ndata: b\ndata: \ndata: c\n\n"
	if got != want {
		t.Fatalf("sseMessage = %q, want %q", got, want)
	}
}
