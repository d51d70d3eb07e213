package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/consul/api"
)

// DefaultProbe is what VerifyPair sends: a request any HTTP server answers
// (even with 400) and an echo server returns, so that an allowed connection
// always produces at least one byte.
var DefaultProbe = []byte("HEAD / HTTP/1.0\r\n\r\n")

// VerifyOptions tune VerifyPair.
type VerifyOptions struct {
	Address string        // the destination sidecar's host:port; default from the catalog
	Probe   []byte        // default DefaultProbe
	Timeout time.Duration // default 10s
}

// Observation is what VerifyPair saw for one pair.
type Observation struct {
	Allowed bool   `json:"allowed"`
	Detail  string `json:"detail"`
	// Closed: the handshake passed, then the connection ended without a
	// byte. A sidecar does that both for a denied source and for an allowed
	// one whose application is down: on its own it proves no deny.
	Closed bool `json:"closed,omitempty"`
}

// VerifyPair opens a real mTLS connection as source (a leaf certificate
// for source, fetched with client's token: the management token) to
// destination's sidecar, sends the probe and reports whether data came back.
// It returns an error only when it could not find out (no sidecar, no
// certificate, the sidecar presents another identity).
func VerifyPair(ctx context.Context, client *api.Client, source, destination string, o VerifyOptions) (Observation, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Probe == nil {
		o.Probe = DefaultProbe
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	id, err := NewIdentity(ctx, client, source)
	if err != nil {
		return Observation{}, fmt.Errorf("mesh: verify %s → %s: %w", source, destination, err)
	}
	defer id.Close()
	if o.Address != "" {
		id.SetAddress(destination, o.Address)
	}
	conn, err := id.Dial(ctx, destination)
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		return Observation{Allowed: false, Detail: "refused during the handshake"}, nil
	case err != nil:
		return Observation{}, fmt.Errorf("mesh: verify %s → %s: %w", source, destination, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := conn.Write(o.Probe); err != nil {
		return Observation{Allowed: false, Closed: true, Detail: "write failed: " + err.Error()}, nil
	}
	var one [1]byte
	_, err = io.ReadFull(conn, one[:])
	switch {
	case err == nil:
		return Observation{Allowed: true, Detail: "data flowed"}, nil
	case errors.As(err, &refused):
		return Observation{Allowed: false, Closed: true, Detail: "closed after the handshake"}, nil
	case isTimeout(err):
		return Observation{}, fmt.Errorf("mesh: verify %s → %s: no answer within %s (is the destination an echo or HTTP service?)", source, destination, o.Timeout)
	default:
		return Observation{Allowed: false, Closed: true, Detail: err.Error()}, nil
	}
}

// Pair is one source → destination of the matrix.
type Pair struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// Matrix compares what the intentions say with what VerifyPair observed.
type Matrix struct {
	Sources      []string
	Destinations []string
	Expected     map[Pair]bool
	Observed     map[Pair]Observation
	Errors       map[Pair]string
}

// ExpectedMatrix evaluates intentions for every source × destination the
// way Consul does: the most specific match wins (exact destination before
// wildcard, then exact source before wildcard), deny wins a tie, and no
// match means deny (moat's default).
func ExpectedMatrix(sources, destinations []string, intentions []Intention) Matrix {
	m := Matrix{Sources: sources, Destinations: destinations,
		Expected: map[Pair]bool{}, Observed: map[Pair]Observation{}, Errors: map[Pair]string{}}
	for _, s := range sources {
		for _, d := range destinations {
			if s != d {
				m.Expected[Pair{s, d}] = allowedBy(intentions, s, d)
			}
		}
	}
	return m
}

func allowedBy(intentions []Intention, src, dst string) bool {
	best, allowed := -1, false
	for _, in := range intentions {
		if (in.Source != src && in.Source != Wildcard) || (in.Destination != dst && in.Destination != Wildcard) {
			continue
		}
		score := 0
		if in.Destination == dst {
			score += 2
		}
		if in.Source == src {
			score++
		}
		switch {
		case score > best:
			best, allowed = score, in.Action == Allow
		case score == best && in.Action == Deny:
			allowed = false
		}
	}
	return allowed
}

// Observe records VerifyPair's result (or its error) for p.
func (m *Matrix) Observe(p Pair, o Observation, err error) {
	if err != nil {
		m.Errors[p] = err.Error()
		return
	}
	m.Observed[p] = o
}

// Mismatches lists the pairs whose observation differs from the
// expectation, or that could not be observed.
func (m Matrix) Mismatches() []Pair {
	var out []Pair
	for p, want := range m.Expected {
		o, seen := m.Observed[p]
		if !seen || o.Allowed != want {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Source+"\x00"+out[i].Destination < out[j].Source+"\x00"+out[j].Destination
	})
	return out
}

// Render draws the matrix as text: one row per source, one column per
// destination; a cell is the expected verdict, then "ok" when observed the
// same, "MISMATCH" when not, "?" when not observed.
func (m Matrix) Render() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "source \\ destination")
	for _, d := range m.Destinations {
		fmt.Fprint(w, "\t"+d)
	}
	fmt.Fprintln(w)
	for _, s := range m.Sources {
		fmt.Fprint(w, s)
		for _, d := range m.Destinations {
			fmt.Fprint(w, "\t"+m.cell(Pair{s, d}))
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	for _, p := range m.Mismatches() {
		if e, bad := m.Errors[p]; bad {
			fmt.Fprintf(&b, "%s → %s: not verified: %s\n", p.Source, p.Destination, e)
		} else if o, seen := m.Observed[p]; seen {
			fmt.Fprintf(&b, "%s → %s: expected %s, observed %s (%s)\n", p.Source, p.Destination, verdict(m.Expected[p]), verdict(o.Allowed), o.Detail)
		}
	}
	return b.String()
}

func (m Matrix) cell(p Pair) string {
	want, ok := m.Expected[p]
	if !ok {
		return "-"
	}
	o, seen := m.Observed[p]
	switch {
	case !seen:
		return verdict(want) + " ?"
	case o.Allowed == want:
		return verdict(want) + " ok"
	default:
		return verdict(want) + " MISMATCH"
	}
}

func verdict(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}
