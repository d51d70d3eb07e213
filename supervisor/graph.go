package supervisor

import (
	"fmt"
	"slices"
	"strings"
)

// GraphError is a problem with the dependency graph: a duplicate service, a
// dependency on a service that does not exist, or a cycle. Service is the
// service whose declaration is wrong, so that callers can point at its line.
type GraphError struct {
	Service string
	Msg     string
}

func (e *GraphError) Error() string { return e.Msg }

// deps are the services s waits for, including the one whose network it
// shares (which must be started first).
func deps(s Spec) []Dependency {
	d := slices.Clone(s.DependsOn)
	if s.ShareNetworkWith != "" && !slices.ContainsFunc(d, func(x Dependency) bool { return x.Service == s.ShareNetworkWith }) {
		d = append(d, Dependency{Service: s.ShareNetworkWith, Condition: Started})
	}
	return d
}

// Order checks the graph and returns the services in levels: every service
// depends only on services of earlier levels, so the services of a level can
// start in parallel and stop in reverse level order.
func Order(services []Spec) ([][]string, error) {
	byName := map[string]Spec{}
	for _, s := range services {
		if _, dup := byName[s.Name]; dup {
			return nil, &GraphError{s.Name, fmt.Sprintf("service %q is declared twice: service names must be unique", s.Name)}
		}
		byName[s.Name] = s
	}
	for _, s := range services {
		for _, d := range deps(s) {
			if _, ok := byName[d.Service]; !ok {
				return nil, &GraphError{s.Name, fmt.Sprintf("service %q depends on %q, which is not a service here", s.Name, d.Service)}
			}
			switch d.Condition {
			case Started, Healthy, Completed:
			default:
				return nil, &GraphError{s.Name, fmt.Sprintf("service %q: dependency %q has condition %q: must be started, healthy or completed", s.Name, d.Service, d.Condition)}
			}
		}
	}
	if cyc := findCycle(services, byName); cyc != nil {
		return nil, &GraphError{cyc[0], "dependency cycle: " + strings.Join(cyc, " → ")}
	}
	level := map[string]int{}
	var depth func(string) int
	depth = func(n string) int {
		if l, ok := level[n]; ok {
			return l
		}
		l := 0
		for _, d := range deps(byName[n]) {
			l = max(l, depth(d.Service)+1)
		}
		level[n] = l
		return l
	}
	var levels [][]string
	for _, s := range services {
		l := depth(s.Name)
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], s.Name)
	}
	return levels, nil
}

// findCycle returns a dependency cycle as a path whose first and last
// elements are equal, or nil.
func findCycle(services []Spec, byName map[string]Spec) []string {
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		mark[n] = onPath
		path = append(path, n)
		for _, d := range deps(byName[n]) {
			switch mark[d.Service] {
			case onPath:
				i := slices.Index(path, d.Service)
				return append(slices.Clone(path[i:]), d.Service)
			case unseen:
				if c := visit(d.Service); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		mark[n] = done
		return nil
	}
	for _, s := range services {
		if mark[s.Name] == unseen {
			if c := visit(s.Name); c != nil {
				return c
			}
		}
	}
	return nil
}
