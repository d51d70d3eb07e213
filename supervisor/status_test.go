package supervisor_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
)

func TestPortsJSONAsUsersReadThem(t *testing.T) {
	ps := supervisor.Ports{
		{HostPort: 8888, ContainerPort: 8888},
		{HostIP: "127.0.0.2", HostPort: 8600, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "::1", HostPort: 7700, ContainerPort: 80, Protocol: "tcp"},
	}
	b, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	var strs []string
	if err := json.Unmarshal(b, &strs); err != nil {
		t.Fatalf("JSON %s: %v", b, err)
	}
	if want := []string{"127.0.0.1:8888->8888", "127.0.0.2:8600->53/udp", "[::1]:7700->80"}; !reflect.DeepEqual(strs, want) {
		t.Errorf("JSON %q, want %q", strs, want)
	}
	if got := ps.String(); got != "127.0.0.1:8888->8888, 127.0.0.2:8600->53/udp, [::1]:7700->80" {
		t.Errorf("String() = %q", got)
	}
	var back supervisor.Ports
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Strings(), ps.Strings()) {
		t.Errorf("read back %v, want %v", back.Strings(), ps.Strings())
	}
	if b, _ := json.Marshal(supervisor.Ports(nil)); string(b) != "[]" {
		t.Errorf("no ports: %s, want []", b)
	}
}

func TestParsePortRefusesWhatStringNeverWrites(t *testing.T) {
	for in, want := range map[string]string{
		"8888":                   "no ->",
		"8888->8888":             "missing port in address",
		"127.0.0.1:x->8888":      "host port is not a number",
		"127.0.0.1:8888->80/tcp": "container port is not a number",
	} {
		_, err := supervisor.ParsePort(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParsePort(%q): err = %v, want one naming the port and %q", in, err, want)
		}
	}
}

// TestTransitionStatusCarriesEverySharedField: a transition's status holds
// every field the two types share, so that what the state store records of
// a transition is what Engine.Status says. A field added to ServiceStatus
// must come from the transition or be listed here as not carried.
func TestTransitionStatusCarriesEverySharedField(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := supervisor.Transition{Time: at, Service: "api", From: supervisor.PhaseHealthy, To: supervisor.PhaseRestarting,
		Reason: "exited with code 1", InstanceID: "id-1", Restarts: 4, Health: supervisor.HealthUnhealthy,
		LastProbe: "GET /health: 503", WaitingOn: "db (healthy)", NextTry: at.Add(time.Minute)}
	tv := reflect.ValueOf(tr)
	for i := range tv.NumField() {
		if tv.Field(i).IsZero() {
			t.Fatalf("the test leaves Transition.%s zero: give it a value", tv.Type().Field(i).Name)
		}
	}
	from := map[string]string{"Name": "Service", "Phase": "To"} // status field ← transition field
	notCarried := map[string]bool{"StartedAt": true, "Ports": true, "DependsOn": true}
	st := reflect.ValueOf(tr.Status())
	for i := range st.NumField() {
		name := st.Type().Field(i).Name
		src := name
		if f, ok := from[name]; ok {
			src = f
		}
		got, want := st.Field(i), tv.FieldByName(src)
		switch {
		case notCarried[name]:
			if !got.IsZero() {
				t.Errorf("ServiceStatus.%s = %v: a transition does not tell it", name, got)
			}
		case !want.IsValid():
			t.Errorf("ServiceStatus.%s has no Transition field: add one, or list it as not carried", name)
		case !reflect.DeepEqual(got.Interface(), want.Interface()):
			t.Errorf("ServiceStatus.%s = %v, want Transition.%s = %v", name, got, src, want)
		}
	}
}

// TestStatusHoldsTheSpecsPart: Engine.Status and SpecStatus agree on what a
// spec decides, a netns peer counting as a dependency.
func TestStatusHoldsTheSpecsPart(t *testing.T) {
	f := newFake(t, true)
	db := supervisor.Spec{Name: "db", Image: "db", Ports: []supervisor.Port{{HostPort: 5432, ContainerPort: 5432}}}
	car := supervisor.Spec{Name: "db-sidecar", Image: "proxy", ShareNetworkWith: "db",
		DependsOn: []supervisor.Dependency{{Service: "db", Condition: supervisor.Started}}}
	api := supervisor.Spec{Name: "api", Image: "api", DependsOn: []supervisor.Dependency{{Service: "db", Condition: supervisor.Started}},
		ShareNetworkWith: "db-sidecar"}
	f.mustUp(db, car, api)
	for _, sp := range []supervisor.Spec{db, car, api} {
		want, got := supervisor.SpecStatus(sp), f.status(sp.Name)
		if got.Name != want.Name || !reflect.DeepEqual(got.Ports, want.Ports) || !reflect.DeepEqual(got.DependsOn, want.DependsOn) {
			t.Errorf("%s: status %+v, spec's part %+v", sp.Name, got, want)
		}
	}
	if deps := supervisor.SpecStatus(api).DependsOn; len(deps) != 2 || deps[1] != (supervisor.Dependency{Service: "db-sidecar", Condition: supervisor.Started}) {
		t.Errorf("api's dependencies %v, want db (started) and its netns peer db-sidecar (started)", deps)
	}
}
