package state

import (
	"context"
	"testing"
)

func TestCaptureEvidenceRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, ok, err := s.LatestCapture(ctx); err != nil || ok {
		t.Fatalf("LatestCapture on a new store: ok=%v err=%v, want none", ok, err)
	}
	first := Capture{OK: true, Packets: 10, Bytes: 1000, Bridges: []CaptureBridge{{Network: "mesh", Interface: "br-1", Packets: 10}}}
	second := Capture{Packets: 20, Bytes: 2000, Searched: []string{"the password of Trino user analyst"},
		Findings: []CaptureFinding{{Network: "mesh", Interface: "br-1", Needle: "the password of Trino user analyst", Flow: "notebook a → trino-coordinator b (tcp)"}}}
	for _, c := range []Capture{first, second} {
		if err := s.RecordCapture(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.LatestCapture(ctx)
	if err != nil || !ok {
		t.Fatalf("LatestCapture: ok=%v err=%v", ok, err)
	}
	if got.OK || got.Packets != 20 || got.At.IsZero() || len(got.Findings) != 1 || got.Findings[0].Flow != second.Findings[0].Flow || got.Searched[0] != second.Searched[0] {
		t.Errorf("latest capture = %+v, want the second one", got)
	}
	var n, findings int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), sum(findings) FROM verify_captures`).Scan(&n, &findings); err != nil || n != 2 || findings != 1 {
		t.Errorf("verify_captures: %d rows, %d findings, err %v; want 2 and 1", n, findings, err)
	}
}
