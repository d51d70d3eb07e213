package webui

import (
	"slices"
	"strings"

	"moat/state"
)

// meshMatrix is the intentions matrix: for every source × destination, the
// intention that decides (Consul's precedence: exact beats wildcard) and the
// last `moat verify` result.
type meshMatrix struct {
	Sources      []string     `json:"sources"`
	Destinations []string     `json:"destinations"`
	Rows         [][]meshCell `json:"rows"` // Rows[i][j]: Sources[i] -> Destinations[j]
	// Capture is the latest `moat verify --capture`: what crossed the
	// bridges, what was searched for, what was found.
	Capture *state.Capture `json:"capture,omitempty"`
}

type meshCell struct {
	Source      string      `json:"source"`
	Destination string      `json:"destination"`
	Action      string      `json:"action"`     // allow or deny
	DecidedBy   string      `json:"decided_by"` // "a → b", "* → b", ..., or "default"
	Verify      *verifyJSON `json:"verify,omitempty"`
}

// buildMatrix lays out every mesh identity: the services with a sidecar,
// moat's own parts, and every name an intention or a verify result mentions.
func buildMatrix(snap Snapshot) meshMatrix {
	names := map[string]bool{}
	owner := sidecarOwners(snap.Services)
	for _, s := range snap.Services {
		if s.Kind == KindMoat {
			names[s.Name] = true
		}
	}
	for _, app := range owner {
		names[app] = true
	}
	for _, in := range snap.Intentions {
		names[in.Source], names[in.Destination] = true, true
	}
	for _, v := range snap.Verify {
		if strings.HasPrefix(v.Source, state.CaptureSource) {
			continue // not a pair of identities: the capture section shows it
		}
		names[v.Source], names[v.Destination] = true, true
	}
	delete(names, "*")
	var all []string
	for n := range names {
		all = append(all, n)
	}
	slices.Sort(all)
	verify := map[[2]string]state.VerifyResult{}
	for _, v := range snap.Verify {
		verify[[2]string{v.Source, v.Destination}] = v
	}
	m := meshMatrix{Sources: all, Destinations: all, Capture: snap.Capture}
	for _, src := range all {
		row := make([]meshCell, 0, len(all))
		for _, dst := range all {
			c := decide(snap.Intentions, src, dst)
			if v, ok := verify[[2]string{src, dst}]; ok {
				j := toVerifyJSON(v)
				c.Verify = &j
			}
			row = append(row, c)
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

// decide finds the intention that governs src -> dst: exact source and
// destination first, then a wildcard source, then a wildcard destination,
// then * -> *; with none, Consul's default for moat's stack is deny. At equal
// precedence deny wins.
func decide(ins []Intention, src, dst string) meshCell {
	c := meshCell{Source: src, Destination: dst, Action: "deny", DecidedBy: "default"}
	for _, want := range [][2]string{{src, dst}, {"*", dst}, {src, "*"}, {"*", "*"}} {
		found := false
		for _, in := range ins {
			if in.Source == want[0] && in.Destination == want[1] {
				if !found || in.Action == "deny" {
					c.Action = in.Action
				}
				found = true
			}
		}
		if found {
			c.DecidedBy = want[0] + " → " + want[1]
			return c
		}
	}
	return c
}
