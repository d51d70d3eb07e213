package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// `moat verify` with nothing running refuses in one line and stores
// nothing; on a running mesh, --json prints the results as one document.
func TestVerifyDownAndJSON(t *testing.T) {
	s := newMeshStack(t, false)
	refuses := func(state string) {
		t.Helper()
		before := tree(t, s.dataDir)
		out, err := s.moat("verify")
		want := "the stack " + s.project + " is down: nothing to verify (`moat up -d` first)"
		if err == nil || strings.TrimSpace(out) != "moat: "+want {
			t.Errorf("%s: verify: %v\n%s\nwant the one line %q", state, err, out, want)
		}
		if after := tree(t, s.dataDir); after != before {
			t.Errorf("%s: verify changed the data dir:\nbefore\n%s\nafter\n%s", state, before, after)
		}
	}
	refuses("never started")

	s.mustMoat("up", "-d")
	out := s.mustMoat("verify", "--json")
	var rep VerifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json is not one JSON document: %v\n%s", err, out)
	}
	if !rep.OK || rep.Differences != 0 || rep.Project != s.project || len(rep.Results) < 5 {
		t.Errorf("verify --json: %+v", rep)
	}
	found := false
	for _, r := range rep.Results {
		if r.Source == "notebook" && r.Destination == "trino-coordinator" {
			found = r.Expected == "allow" && r.Observed == "allow" && r.OK
		}
	}
	if !found {
		t.Errorf("verify --json lacks notebook → trino-coordinator allowed:\n%s", out)
	}

	s.mustMoat("down")
	refuses("down")
}
