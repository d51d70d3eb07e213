package webui

import (
	"context"
	"strings"
)

// What the dashboard shows of a service's logs at most.
const (
	logLines = 500
	logBytes = 256 << 10
)

// logTail is the end of a service's logs, capped.
type logTail struct {
	Service   string `json:"service"`
	Text      string `json:"text"`
	Lines     int    `json:"lines"`
	Truncated bool   `json:"truncated"` // the cap cut older lines off
}

// logsTail asks the Source for the logs of a service the snapshot knows
// (never for an arbitrary name) and caps them.
func (s *Server) logsTail(ctx context.Context, name string) (logTail, error) {
	snap, err := s.src.Snapshot(ctx)
	if err != nil {
		return logTail{}, err
	}
	if _, ok := findService(snap, name); !ok {
		return logTail{}, notFound("no service named " + quote(name) + " in this stack")
	}
	text, err := s.src.Logs(ctx, name, logLines)
	if err != nil {
		return logTail{}, err
	}
	l := logTail{Service: name}
	l.Text, l.Lines, l.Truncated = capLog(text)
	return l, nil
}

// capLog keeps the last logLines lines within logBytes, cut at line
// boundaries, as valid UTF-8.
func capLog(text string) (tail string, lines int, truncated bool) {
	text = strings.TrimRight(text, "\n")
	if len(text) > logBytes {
		text = text[len(text)-logBytes:]
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
		truncated = true
	}
	if text == "" {
		return "", 0, truncated
	}
	all := strings.Split(text, "\n")
	if len(all) > logLines {
		all, truncated = all[len(all)-logLines:], true
	}
	return strings.ToValidUTF8(strings.Join(all, "\n"), "\uFFFD"), len(all), truncated
}

func findService(snap Snapshot, name string) (Service, bool) {
	for _, s := range snap.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// quote shows a user-supplied name in an error message, escaped.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ReplaceAll(strings.ToValidUTF8(`"`+s+`"`, "?"), "\n", `\n`)
}
