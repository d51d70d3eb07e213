package webui

import (
	"cmp"
	"fmt"
	"slices"
)

// Geometry of the topology drawing, in SVG user units.
const (
	nodeW, nodeH   = 200, 48 // an app or moat node
	carH, carInset = 26, 18  // a sidecar, drawn under its app
	colGap, rowGap = 150, 22
	margin         = 24
)

// topology is the overview's drawing: boxes and arrows, laid out in columns
// so that every service sits left of what it talks to or depends on.
type topology struct {
	W, H  int
	Nodes []topoNode
	Edges []topoEdge
	Notes []string // what cannot be drawn as an edge (wildcard intentions, unknown services)
}

type topoNode struct {
	Service
	Status     string // ok, warn, bad, off
	Sub        string // the second line: phase, health
	X, Y, W, H int
}

// topoEdge is an arrow: an upstream (solid), an intention (allow or deny)
// or a dependency (faint).
type topoEdge struct {
	From, To string
	Kind     string // upstream, allow, deny or depends
	Path     string // SVG path data
	Label    string
	LX, LY   int
}

// anchor is where edges leave and enter a service: its sidecar when it has
// one (traffic goes through it), else its own box.
type anchor struct{ x1, x2, y int }

func layoutTopology(snap Snapshot) topology {
	var t topology
	apps, sidecars := splitSidecars(snap.Services)
	ranks := rankServices(apps, snap)
	maxRank := 0
	for _, r := range ranks {
		maxRank = max(maxRank, r)
	}
	colY := make([]int, maxRank+1)
	anchors := map[string]anchor{}
	for _, a := range apps {
		col := maxRank - ranks[a.Name] // sinks on the right
		x, y := margin+col*(nodeW+colGap), margin+colY[col]
		t.Nodes = append(t.Nodes, newNode(a, x, y, nodeW, nodeH))
		anchors[a.Name] = anchor{x, x + nodeW, y + nodeH/2}
		h := nodeH
		if car, ok := sidecars[a.Name]; ok {
			cy := y + nodeH + 4
			t.Nodes = append(t.Nodes, newNode(car, x+carInset, cy, nodeW-carInset, carH))
			anchors[a.Name] = anchor{x + carInset, x + nodeW, cy + carH/2}
			h += 4 + carH
		}
		colY[col] += h + rowGap
		t.W = max(t.W, x+nodeW+margin)
		t.H = max(t.H, y+h+margin)
	}
	t.addEdges(snap, anchors)
	t.W, t.H = max(t.W, 320), max(t.H, 120)
	return t
}

func newNode(s Service, x, y, w, h int) topoNode {
	sub := string(s.Phase)
	if s.Health != "" && string(s.Health) != sub {
		sub += " · " + string(s.Health)
	}
	if s.Kind == KindSidecar {
		sub = "sidecar · " + sub
	}
	return topoNode{Service: s, Status: statusOf(s), Sub: sub, X: x, Y: y, W: w, H: h}
}

// splitSidecars separates the sidecars (by the app they serve) from the
// rest; a sidecar whose app is unknown is drawn as a service of its own.
func splitSidecars(all []Service) (apps []Service, sidecars map[string]Service) {
	names := map[string]bool{}
	for _, s := range all {
		if s.Kind != KindSidecar {
			names[s.Name] = true
		}
	}
	sidecars = map[string]Service{}
	for _, s := range all {
		if _, dup := sidecars[s.SidecarOf]; s.Kind == KindSidecar && names[s.SidecarOf] && !dup {
			sidecars[s.SidecarOf] = s
			continue
		}
		apps = append(apps, s)
	}
	return apps, sidecars
}

// sidecarOwners maps each sidecar's name to the app it serves.
func sidecarOwners(all []Service) map[string]string {
	owner := map[string]string{}
	for _, s := range all {
		if s.Kind == KindSidecar && s.SidecarOf != "" {
			owner[s.Name] = s.SidecarOf
		}
	}
	return owner
}

// rankServices gives each app the length of the longest chain of
// "talks to or depends on" links leading from it (0: it leads nowhere).
// Links in a cycle are cut.
func rankServices(apps []Service, snap Snapshot) map[string]int {
	out := map[string][]string{}
	owner := sidecarOwners(snap.Services)
	link := func(from, to string) { // a sidecar stands for its app
		if o, ok := owner[from]; ok {
			from = o
		}
		if o, ok := owner[to]; ok {
			to = o
		}
		if from != to && to != "*" && from != "*" {
			out[from] = append(out[from], to)
		}
	}
	for _, s := range snap.Services {
		for _, u := range s.Upstreams {
			link(s.Name, u.Destination)
		}
		for _, d := range s.DependsOn {
			link(s.Name, d.Service)
		}
	}
	for _, in := range snap.Intentions {
		if in.Action == "allow" {
			link(in.Source, in.Destination)
		}
	}
	rank := map[string]int{}
	visiting := map[string]bool{}
	var visit func(n string) int
	visit = func(n string) int {
		if r, ok := rank[n]; ok {
			return r
		}
		if visiting[n] {
			return -1 // a cycle: this link does not count
		}
		visiting[n] = true
		r := 0
		for _, m := range out[n] {
			r = max(r, visit(m)+1)
		}
		visiting[n] = false
		rank[n] = r
		return r
	}
	ranks := map[string]int{}
	for _, a := range apps {
		ranks[a.Name] = visit(a.Name)
	}
	return ranks
}

// addEdges draws upstreams, exact intentions and, faintly, the
// dependencies no other arrow shows; wildcard intentions and those naming an
// unknown service become notes.
func (t *topology) addEdges(snap Snapshot, at map[string]anchor) {
	owner := sidecarOwners(snap.Services)
	app := func(name string) string {
		if o, ok := owner[name]; ok {
			return o
		}
		return name
	}
	drawn := map[[2]string]bool{}
	for _, s := range snap.Services {
		for _, u := range s.Upstreams {
			if t.addEdge(at, app(s.Name), u.Destination, "upstream", u.LocalBind, 0) {
				drawn[[2]string{app(s.Name), u.Destination}] = true
			}
		}
	}
	for _, in := range snap.Intentions {
		switch {
		case in.Source == "*" || in.Destination == "*":
			t.Notes = append(t.Notes, fmt.Sprintf("intention %s → %s: %s", in.Source, in.Destination, in.Action))
		case t.addEdge(at, in.Source, in.Destination, in.Action, "", 24):
			drawn[[2]string{in.Source, in.Destination}] = true
		default:
			t.Notes = append(t.Notes, fmt.Sprintf("intention %s → %s: %s (not running here)",
				in.Source, in.Destination, in.Action))
		}
	}
	for _, s := range snap.Services {
		for _, d := range s.DependsOn {
			if pair := [2]string{app(s.Name), app(d.Service)}; !drawn[pair] && t.addEdge(at, pair[0], pair[1], "depends", "", 0) {
				drawn[pair] = true
			}
		}
	}
	// Faint dependencies go underneath the rest.
	under := func(e topoEdge) int {
		if e.Kind == "depends" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(t.Edges, func(a, b topoEdge) int { return cmp.Compare(under(a), under(b)) })
	slices.Sort(t.Notes)
}

// addEdge adds an arrow from's right side to to's left side, bowed by bow
// units so that an intention does not hide the upstream on the same pair. Its
// label sits at the start, on the side the line leaves.
func (t *topology) addEdge(at map[string]anchor, from, to, kind, label string, bow int) bool {
	a, ok1 := at[from]
	b, ok2 := at[to]
	if !ok1 || !ok2 || from == to {
		return false
	}
	x1, y1, x2, y2 := a.x2, a.y, b.x1-6, b.y // -6: room for the arrowhead
	dx := max(60, abs(x2-x1)/2)
	path := fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+dx, y1+bow, x2-dx, y2+bow, x2, y2)
	ly := y1 - 6 // above a line that falls, below one that rises
	if y2 < y1 {
		ly = y1 + 15
	}
	t.Edges = append(t.Edges, topoEdge{From: from, To: to, Kind: kind, Path: path, Label: label, LX: x1 + 8, LY: ly})
	return true
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
