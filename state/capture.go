package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// CaptureSource begins the Source of every verify result that `moat
// verify --capture` adds ("capture on the mesh bridge (br-…)").
const CaptureSource = "capture"

// Capture is the evidence of one `moat verify --capture`: what crossed the
// stack's bridges while a query and a report ran, what was searched for
// (by description: never a secret's value), and what was found.
type Capture struct {
	ID       int64            `json:"-"`
	At       time.Time        `json:"at"` // zero means now
	OK       bool             `json:"ok"` // nothing found, and the capture is complete
	Packets  int64            `json:"packets"`
	Bytes    int64            `json:"bytes"`
	Flows    int              `json:"flows"`
	Payload  int64            `json:"payload_bytes"` // TCP/UDP payload searched
	Dropped  int64            `json:"dropped"`       // frames the kernel dropped
	Bridges  []CaptureBridge  `json:"bridges"`
	Searched []string         `json:"searched"` // what was searched for
	Workload []string         `json:"workload"` // what ran during the capture
	Findings []CaptureFinding `json:"findings"`
	Kept     string           `json:"kept,omitempty"`   // the capture folder, when kept
	Detail   string           `json:"detail,omitempty"` // why the capture could not be made
}

// CaptureBridge is one bridge's share of a Capture.
type CaptureBridge struct {
	Network    string `json:"network"`    // the stack's network: mesh, trino, control, apps
	Interface  string `json:"interface"`  // br-…
	Interfaces int    `json:"interfaces"` // listened on: the bridge and its ports
	Packets    int64  `json:"packets"`
	Bytes      int64  `json:"bytes"`
	Flows      int    `json:"flows"`
	Payload    int64  `json:"payload_bytes"`
	Gaps       int    `json:"gaps"` // holes in TCP streams
	Dropped    int64  `json:"dropped"`
}

// CaptureFinding is a needle seen in plaintext.
type CaptureFinding struct {
	Network   string `json:"network"`
	Interface string `json:"interface"`
	Needle    string `json:"needle"` // its description
	Flow      string `json:"flow"`   // "notebook 172.28.10.5:41234 → trino-coordinator 172.28.10.3:21000 (tcp)"
}

// RecordCapture stores one capture's evidence.
func (s *Store) RecordCapture(ctx context.Context, c Capture) error {
	if c.At.IsZero() {
		c.At = time.Now()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return wrapf(err, "record capture evidence")
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO verify_captures (at, ok, packets, bytes, findings, evidence) VALUES (?, ?, ?, ?, ?, ?)`,
		c.At.UnixMilli(), c.OK, c.Packets, c.Bytes, len(c.Findings), string(b))
	return wrapf(err, "record capture evidence")
}

// LatestCapture returns the newest capture's evidence; ok is false when
// `moat verify --capture` never ran.
func (s *Store) LatestCapture(ctx context.Context) (c Capture, ok bool, err error) {
	var ev string
	err = s.r.QueryRowContext(ctx, `SELECT id, at, evidence FROM verify_captures ORDER BY id DESC LIMIT 1`).Scan(&c.ID, msTime{&c.At}, &ev)
	if errors.Is(err, sql.ErrNoRows) {
		return Capture{}, false, nil
	}
	if err != nil {
		return Capture{}, false, wrapf(err, "latest capture")
	}
	id, at := c.ID, c.At
	if err := json.Unmarshal([]byte(ev), &c); err != nil {
		return Capture{}, false, wrapf(err, "latest capture")
	}
	c.ID, c.At = id, at
	return c, true, nil
}
