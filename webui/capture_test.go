package webui

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"moat/state"
)

// The mesh page and /api/mesh show the latest verify --capture: the
// per-bridge counts, what was searched for and the flow an attacker would
// sniff.
func TestMeshShowsCaptureEvidence(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login(t)
	if page := body(t, ts.get(t, c, "/mesh")); !strings.Contains(page, "No capture yet") {
		t.Errorf("mesh page without a capture does not say so:\n%s", page)
	}
	flow := "notebook 172.28.10.5:41234 → trino-coordinator 172.28.10.3:21000 (tcp)"
	ts.src.update(func(s *Snapshot) {
		s.Verify = append(s.Verify, state.VerifyResult{Source: "capture on the mesh bridge (br-0123456789ab)", Destination: flow,
			Expected: "deny", Observed: "plaintext"})
		s.Capture = &state.Capture{At: fixedNow, Packets: 812, Bytes: 301544, Flows: 14,
			Bridges: []state.CaptureBridge{{Network: "mesh", Interface: "br-0123456789ab", Interfaces: 4, Packets: 700, Bytes: 280000, Flows: 10},
				{Network: "trino", Interface: "br-ba9876543210", Interfaces: 3, Packets: 112, Bytes: 21544, Flows: 4}},
			Searched: []string{"the password of Trino user analyst", "user analyst as a header (X-Trino-User: analyst)"},
			Workload: []string{"query as orchestrator: SELECT upper('moat-capture-00') AS marker", "report " + hostile},
			Findings: []state.CaptureFinding{{Network: "mesh", Interface: "br-0123456789ab", Needle: "user analyst as a header (X-Trino-User: analyst)", Flow: flow}}}
	})
	page := body(t, ts.get(t, c, "/mesh"))
	if strings.Contains(page, hostile) {
		t.Errorf("the capture section does not escape what it shows")
	}
	for _, want := range []string{"1 found in plaintext", "812 packets", "br-0123456789ab", "br-ba9876543210", "280000",
		"notebook 172.28.10.5:41234 → trino-coordinator 172.28.10.3:21000 (tcp)", "the password of Trino user analyst",
		"ran: query as orchestrator"} {
		if !strings.Contains(page, want) {
			t.Errorf("mesh page lacks %q", want)
		}
	}
	var m struct {
		Sources []string       `json:"sources"`
		Capture *state.Capture `json:"capture"`
	}
	if err := json.Unmarshal([]byte(body(t, ts.get(t, c, "/api/mesh"))), &m); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(m.Sources, func(s string) bool { return strings.HasPrefix(s, "capture") }) {
		t.Errorf("the capture's rows are in the identities matrix: %v", m.Sources)
	}
	if m.Capture == nil || len(m.Capture.Findings) != 1 || m.Capture.Findings[0].Flow != flow || m.Capture.Bridges[1].Packets != 112 {
		t.Errorf("/api/mesh capture = %+v", m.Capture)
	}
}
