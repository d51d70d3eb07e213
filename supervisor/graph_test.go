package supervisor

import (
	"fmt"
	"strings"
	"testing"
)

func svc(name string, deps ...string) Spec {
	s := Spec{Name: name}
	for _, d := range deps {
		s.DependsOn = append(s.DependsOn, Dependency{Service: d, Condition: Healthy})
	}
	return s
}

func TestOrderLevels(t *testing.T) {
	sidecar := svc("sidecar")
	sidecar.ShareNetworkWith = "app"
	levels, err := Order([]Spec{svc("app", "db", "cache"), svc("db"), svc("cache"), sidecar, svc("web", "app")})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(levels); got != "[[db cache] [app] [sidecar web]]" {
		t.Errorf("levels = %s", got)
	}
}

func TestOrderErrors(t *testing.T) {
	bad := Spec{Name: "a", DependsOn: []Dependency{{Service: "b", Condition: "ready"}}}
	for _, tc := range []struct {
		name     string
		services []Spec
		want     string
		service  string
	}{
		{"duplicate", []Spec{svc("a"), svc("a")}, `service "a" is declared twice`, "a"},
		{"unknown", []Spec{svc("a", "nope")}, `depends on "nope", which is not a service here`, "a"},
		{"cycle", []Spec{svc("a", "b"), svc("b", "c"), svc("c", "a")}, "dependency cycle: a → b → c → a", "a"},
		{"self", []Spec{svc("a", "a")}, "dependency cycle: a → a", "a"},
		{"condition", []Spec{bad, svc("b")}, `condition "ready": must be started, healthy or completed`, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Order(tc.services)
			ge, ok := err.(*GraphError)
			if !ok || !strings.Contains(err.Error(), tc.want) || ge.Service != tc.service {
				t.Fatalf("got %v (%T), want GraphError on %s containing %q", err, err, tc.service, tc.want)
			}
		})
	}
}

func TestConfigHash(t *testing.T) {
	a := Spec{Name: "x", Image: "img", Env: map[string]string{"A": "1", "B": "2"},
		DependsOn: []Dependency{{"p", Healthy}, {"q", Started}}}
	b := a
	b.Env = map[string]string{"B": "2", "A": "1"}
	b.DependsOn = []Dependency{{"q", Started}, {"p", Healthy}}
	if a.ConfigHash() != b.ConfigHash() {
		t.Error("hash depends on map or dependency order")
	}
	b.StartTimeout = 5e9
	if a.ConfigHash() != b.ConfigHash() {
		t.Error("a timing change must not force re-creation")
	}
	b.Env = map[string]string{"A": "1", "B": "3"}
	if a.ConfigHash() == b.ConfigHash() {
		t.Error("an env change must change the hash")
	}
	if strings.Contains(a.ConfigHash(), "2") && len(a.ConfigHash()) != 16 {
		t.Errorf("hash %q: want 16 hex digits", a.ConfigHash())
	}
}
