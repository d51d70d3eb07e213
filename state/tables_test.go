package state

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
)

// at is a fixed instant on a whole millisecond, as stored.
var at = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func TestRunsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, ok, err := s.LastRun(ctx); err != nil || ok {
		t.Fatalf("LastRun on an empty store = ok %v, err %v; want none", ok, err)
	}
	in := Run{Command: "up", ConfigPath: "/etc/moat.toml", ConfigHash: "abc", PID: 4242, StartedAt: at}
	id, err := s.BeginRun(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LastRun(ctx)
	want := in
	want.ID, want.Status = id, StatusRunning
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("LastRun = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if err := s.EndRun(ctx, id, StatusFailed, "consul unhealthy"); err != nil {
		t.Fatal(err)
	}
	id2, err := s.BeginRun(ctx, Run{Command: "down"})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, 10)
	if err != nil || len(runs) != 2 || runs[0].ID != id2 || runs[1].ID != id {
		t.Fatalf("Runs = %+v, %v; want ids %d, %d", runs, err, id2, id)
	}
	if r := runs[1]; r.Status != StatusFailed || r.Error != "consul unhealthy" || r.EndedAt.IsZero() {
		t.Errorf("ended run = %+v", r)
	}
	if r := runs[0]; r.StartedAt.IsZero() || !r.EndedAt.IsZero() || r.StartedAt.Location() != time.UTC {
		t.Errorf("new run times = %v / %v, want a UTC start defaulted to now and no end", r.StartedAt, r.EndedAt)
	}
	if runs, _ := s.Runs(ctx, 1); len(runs) != 1 {
		t.Errorf("Runs(1) returned %d runs", len(runs))
	}
	if err := s.EndRun(ctx, 999, StatusOK, ""); err == nil || !strings.Contains(err.Error(), "run 999") {
		t.Errorf("EndRun of a missing run: err = %v", err)
	}
	if err := s.EndRun(ctx, id2, "done", ""); err == nil || !strings.Contains(err.Error(), `"done"`) {
		t.Errorf("EndRun with a bad status: err = %v", err)
	}
}

func TestServicesDesiredAndObserved(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ports := []supervisor.Port{{HostPort: 8500, ContainerPort: 8500}, {HostIP: "127.0.0.2", HostPort: 8600, ContainerPort: 8600, Protocol: "udp"}}
	onConsul := []supervisor.Dependency{{Service: "consul", Condition: supervisor.Healthy}}
	plan := []DesiredService{
		{Name: "consul", Image: "hashicorp/consul:1.21", ConfigHash: "h1", Ports: ports},
		{Name: "trino-coordinator", Image: "trinodb/trino:476", ConfigHash: "h2", DependsOn: onConsul},
	}
	if err := s.SetDesired(ctx, plan); err != nil {
		t.Fatal(err)
	}
	obs := supervisor.ServiceStatus{Name: "consul", Phase: supervisor.PhaseHealthy, Health: supervisor.HealthHealthy,
		Reason: "health probe passes", InstanceID: "c0ffee", Restarts: 2, StartedAt: at,
		LastProbe: "GET /v1/status/leader: 200",
		// What UpdateObserved must leave: the plan's.
		Ports: supervisor.Ports{{HostPort: 1, ContainerPort: 1}}, DependsOn: onConsul}
	if err := s.UpdateObserved(ctx, obs, at.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Service(ctx, "consul")
	wantStatus := obs
	wantStatus.Ports, wantStatus.DependsOn = ports, nil
	want := Service{ServiceStatus: wantStatus, Image: "hashicorp/consul:1.21", ConfigHash: "h1", Desired: true,
		UpdatedAt: at.Add(2 * time.Second)}
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("Service(consul) =\n%+v, %v, %v\nwant\n%+v", got, ok, err, want)
	}

	// The next plan drops the coordinator and changes consul's image: the
	// coordinator stays listed, not desired; consul keeps what was observed.
	if err := s.SetDesired(ctx, []DesiredService{{Name: "consul", Image: "hashicorp/consul:1.22"}}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Services(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("Services = %+v, %v", all, err)
	}
	if c := all[0]; c.Name != "consul" || !c.Desired || c.Image != "hashicorp/consul:1.22" || c.InstanceID != "c0ffee" || c.Ports != nil {
		t.Errorf("consul after re-plan = %+v, want the new image and no ports, the observed instance kept", c)
	}
	if c := all[1]; c.Name != "trino-coordinator" || c.Desired || !reflect.DeepEqual(c.DependsOn, onConsul) {
		t.Errorf("coordinator after re-plan = %+v, want not desired, depends on consul (healthy)", c)
	}

	// Observing an unplanned container (an orphan) creates a row, not desired.
	if err := s.UpdateObserved(ctx, supervisor.ServiceStatus{Name: "stray", Phase: supervisor.PhaseStopped}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Service(ctx, "stray"); !ok || v.Desired || v.Phase != supervisor.PhaseStopped || v.UpdatedAt.IsZero() {
		t.Errorf("stray = %+v, %v", v, ok)
	}
	if _, ok, err := s.Service(ctx, "nobody"); ok || err != nil {
		t.Errorf("Service(nobody) = ok %v, err %v", ok, err)
	}
	if err := s.UpdateObserved(ctx, supervisor.ServiceStatus{}, at); err == nil || !strings.Contains(err.Error(), "name is empty") {
		t.Errorf("UpdateObserved without a name: err = %v", err)
	}
	if err := s.SetDesired(ctx, []DesiredService{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Error("SetDesired accepted a name listed twice")
	}
}

// fullStatus is a supervisor.ServiceStatus with every field set (times on
// whole milliseconds, UTC, as the store keeps them).
func fullStatus() supervisor.ServiceStatus {
	return supervisor.ServiceStatus{
		Name: "api", Phase: supervisor.PhaseCrashLooping, Health: supervisor.HealthUnhealthy,
		Reason: "crash loop: 3 exits in 5m", InstanceID: "0123456789abcdef", Restarts: 3, StartedAt: at,
		LastProbe: "GET /health: 503", WaitingOn: "db (healthy)", NextTry: at.Add(5 * time.Minute),
		Ports:     supervisor.Ports{{HostIP: "::1", HostPort: 8080, ContainerPort: 80}, {HostPort: 53, ContainerPort: 53, Protocol: "udp"}},
		DependsOn: []supervisor.Dependency{{Service: "db", Condition: supervisor.Healthy}, {Service: "migrate", Condition: supervisor.Completed}},
	}
}

// TestServiceStatusRoundTrips: what the store returns of a service is the
// very status it was given (the plan's part through SetDesired). A field
// added to supervisor.ServiceStatus fails here until the store keeps it.
func TestServiceStatusRoundTrips(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	in := fullStatus()
	v := reflect.ValueOf(in)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullStatus leaves ServiceStatus.%s zero: give it a value, and make the store keep it",
				v.Type().Field(i).Name)
		}
	}
	if err := s.SetDesired(ctx, []DesiredService{{Name: in.Name, Image: "api:1", DependsOn: in.DependsOn, Ports: in.Ports}}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateObserved(ctx, in, at); err != nil {
		t.Fatal(err)
	}
	for _, store := range []*Store{s, reopenReadOnly(t, s)} {
		got, ok, err := store.Service(ctx, in.Name)
		if err != nil || !ok || !reflect.DeepEqual(got.ServiceStatus, in) {
			t.Fatalf("stored\n%+v\nread back (%v, %v)\n%+v", in, ok, err, got.ServiceStatus)
		}
	}
}

// reopenReadOnly opens s's file as `moat status` does.
func reopenReadOnly(t *testing.T, s *Store) *Store {
	t.Helper()
	ro, err := OpenReadOnly(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

// TestServicesMigrateToTheStatusShape: rows an older moat wrote (schema 2)
// read as statuses: the reason is the latest transition's (else the
// failure's), "service:condition" dependencies parse.
func TestServicesMigrateToTheStatusShape(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db := rawDB(t, path)
	if err := migrate(ctx, db, path, migrations[:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO services (name, depends_on, desired, state, failed_reason, last_probe_at, updated_at)
		VALUES ('api', '["db:healthy"]', 1, 'failed', 'start failed: no such image', 1, 2),
			('web', '[]', 1, 'restarting', '', NULL, 2),
			('db', '[]', 1, 'healthy', '', NULL, 2);
		INSERT INTO health_transitions (service, from_state, to_state, reason, at)
		VALUES ('web', 'starting', 'restarting', 'exited with code 1; restarting in 10s', 1),
			('db', 'healthy', 'unhealthy', 'probe failed', 1),
			('db', 'unhealthy', 'healthy', 'health probe passes', 2)`); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Service(ctx, "api")
	want := supervisor.ServiceStatus{Name: "api", Phase: supervisor.PhaseFailed, Reason: "start failed: no such image",
		DependsOn: []supervisor.Dependency{{Service: "db", Condition: supervisor.Healthy}}}
	if err != nil || !ok || !reflect.DeepEqual(got.ServiceStatus, want) {
		t.Fatalf("migrated row = %+v (%v, %v), want %+v", got.ServiceStatus, ok, err, want)
	}
	for name, reason := range map[string]string{"web": "exited with code 1; restarting in 10s", "db": "health probe passes"} {
		if got, _, err := s.Service(ctx, name); err != nil || got.Reason != reason {
			t.Errorf("migrated %s: reason %q (%v), want its latest transition's, %q", name, got.Reason, err, reason)
		}
	}
}

func TestTransitionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	in := []Transition{
		{Service: "consul", From: "starting", To: "healthy", Reason: "leader elected", At: at},
		{Service: "notebook", From: "starting", To: "unhealthy", Reason: "sidecar not ready", At: at.Add(time.Second)},
		{Service: "consul", From: "healthy", To: "unhealthy", Reason: "die event", At: at.Add(2 * time.Second)},
	}
	for _, tr := range in {
		if err := s.RecordTransition(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Transitions(ctx, "consul", 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("Transitions(consul) = %+v, %v", got, err)
	}
	want := in[2]
	want.ID = 3
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("newest consul transition = %+v, want %+v", got[0], want)
	}
	if all, _ := s.Transitions(ctx, "", 2); len(all) != 2 || all[0].ID != 3 || all[1].Service != "notebook" {
		t.Errorf("Transitions(\"\", 2) = %+v", all)
	}
}

func TestEventFilters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	in := []Event{
		{At: at, Severity: SeverityInfo, Kind: "stack.up", Message: "starting"},
		{At: at.Add(1 * time.Minute), Severity: SeverityInfo, Kind: "service.start", Service: "consul", Message: "started"},
		{At: at.Add(2 * time.Minute), Severity: SeverityWarn, Kind: "service.restart", Service: "consul", Message: "restart 1"},
		{At: at.Add(3 * time.Minute), Severity: SeverityError, Kind: "service.failed", Service: "notebook", Message: "crash loop"},
		{At: at.Add(4 * time.Minute), Severity: SeverityInfo, Kind: "service.start", Service: "notebook", Message: "started"},
	}
	for i, e := range in {
		id, err := s.RecordEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		in[i].ID = id
	}
	ids := func(f EventFilter) []int64 {
		t.Helper()
		evs, err := s.Events(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	cases := []struct {
		name string
		f    EventFilter
		want []int64
	}{
		{"all, newest first", EventFilter{}, []int64{5, 4, 3, 2, 1}},
		{"service", EventFilter{Service: "consul"}, []int64{3, 2}},
		{"kind", EventFilter{Kind: "service.start"}, []int64{5, 2}},
		{"severity", EventFilter{Severity: SeverityError}, []int64{4}},
		{"since is inclusive", EventFilter{Since: at.Add(3 * time.Minute)}, []int64{5, 4}},
		{"limit", EventFilter{Limit: 2}, []int64{5, 4}},
		{"page before id", EventFilter{BeforeID: 4, Limit: 2}, []int64{3, 2}},
		{"combined", EventFilter{Kind: "service.start", Service: "notebook"}, []int64{5}},
		{"no match", EventFilter{Service: "trino-worker-1"}, nil},
	}
	for _, c := range cases {
		if got := ids(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ids = %v, want %v", c.name, got, c.want)
		}
	}
	evs, err := s.Events(ctx, EventFilter{BeforeID: 2})
	if err != nil || len(evs) != 1 || !reflect.DeepEqual(evs[0], in[0]) {
		t.Errorf("event 1 = %+v, %v; want %+v (no service stored as NULL, read back as \"\")", evs, err, in[0])
	}
	if _, err := s.RecordEvent(ctx, Event{Severity: "fatal", Kind: "x"}); err == nil || !strings.Contains(err.Error(), `"fatal"`) {
		t.Errorf("RecordEvent with a bad severity: err = %v", err)
	}
}

func TestQueriesRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	sql := "SELECT name FROM tpch.tiny.nation WHERE comment <> '" + strings.Repeat("é", 300) + "'"
	q := Query{At: at, User: "alice", Source: "cli", Duration: 1234 * time.Millisecond, Rows: 25, Outcome: OutcomeOK}
	q.SetStatement(sql)
	id, err := s.RecordQuery(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Queries(ctx, 0)
	q.ID = id
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], q) {
		t.Fatalf("Queries = %+v, %v; want %+v", got, err, q)
	}
	if p := got[0].StatementPreview; len([]rune(p)) != 200 || !strings.HasPrefix(sql, p) {
		t.Errorf("preview has %d runes, want the statement's first 200", len([]rune(p)))
	}
	if got[0].StatementHash != StatementHash(sql) || len(got[0].StatementHash) != 64 {
		t.Errorf("hash = %q", got[0].StatementHash)
	}
	if _, err := s.RecordQuery(ctx, Query{Outcome: OutcomeOK}); err == nil || !strings.Contains(err.Error(), "SetStatement") {
		t.Errorf("RecordQuery without a statement: err = %v", err)
	}
	var cols []string
	rows, err := s.r.QueryContext(ctx, "SELECT name FROM pragma_table_info('queries')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	for _, c := range cols {
		if strings.Contains(c, "pass") || strings.Contains(c, "secret") || strings.Contains(c, "token") {
			t.Errorf("queries has a column %q: it must never hold a credential", c)
		}
	}
}

func TestStatementHash(t *testing.T) {
	// sha256("SELECT 1"), computed independently with sha256sum.
	if got, want := StatementHash("SELECT 1"), "e004ebd5b5532a4b85984a62f8ad48a81aa3460c1ca07701f386135d72cdecf5"; got != want {
		t.Errorf("StatementHash = %s, want %s", got, want)
	}
	if got := StatementPreview("short"); got != "short" {
		t.Errorf("StatementPreview(short) = %q", got)
	}
}

func TestReportRunsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	begin := ReportRun{Report: "nations", RunKey: "20250314-150926", StartedAt: at, RunAs: "alice",
		Path: "/data/reports/nations/20250314-150926"}
	id, err := s.BeginReportRun(ctx, begin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginReportRun(ctx, begin); err == nil {
		t.Error("a second run with the same run_key was accepted")
	}
	if err := s.EndReportRun(ctx, id, ReportRunEnd{Status: StatusOK, Rows: 25, Bytes: 4096, At: at.Add(1500 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LatestReportRun(ctx, "nations")
	want := begin
	want.ID, want.EndedAt, want.Status, want.Rows, want.Bytes, want.Duration = id, at.Add(1500*time.Millisecond), StatusOK, 25, 4096, 1500*time.Millisecond
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("LatestReportRun =\n%+v, %v, %v\nwant\n%+v", got, ok, err, want)
	}
	id2, _ := s.BeginReportRun(ctx, ReportRun{Report: "nations", RunKey: "second"})
	id3, _ := s.BeginReportRun(ctx, ReportRun{Report: "orders", RunKey: "first"})
	if err := s.EndReportRun(ctx, id2, ReportRunEnd{Status: StatusFailed, Error: "access denied", Duration: 42 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.ReportRuns(ctx, "nations", 0)
	if err != nil || len(runs) != 2 || runs[0].ID != id2 || runs[0].Duration != 42*time.Millisecond || runs[0].Error != "access denied" {
		t.Errorf("ReportRuns(nations) = %+v, %v", runs, err)
	}
	if all, _ := s.ReportRuns(ctx, "", 0); len(all) != 3 || all[0].ID != id3 || all[0].Status != StatusRunning {
		t.Errorf("ReportRuns(\"\") = %+v", all)
	}
	if _, ok, err := s.LatestReportRun(ctx, "none"); ok || err != nil {
		t.Errorf("LatestReportRun(none) = ok %v, err %v", ok, err)
	}
}

func TestLatestVerifyNewestPerPair(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	first := []VerifyResult{
		{At: at, Source: "notebook", Destination: "trino-coordinator", Expected: Allow, Observed: Allow, OK: true},
		{At: at, Source: "intruder", Destination: "trino-coordinator", Expected: Deny, Observed: Allow, OK: false, Detail: "TLS handshake succeeded"},
		{At: at, Source: "notebook", Destination: "consul", Expected: Deny, Observed: Deny, OK: true},
	}
	second := []VerifyResult{
		{At: at.Add(time.Minute), Source: "intruder", Destination: "trino-coordinator", Expected: Deny, Observed: Deny, OK: true, Detail: "RBAC: access denied"},
	}
	for _, batch := range [][]VerifyResult{first, second} {
		if err := s.RecordVerify(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LatestVerify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []VerifyResult{second[0], first[2], first[0]} // by source, destination
	want[0].ID, want[1].ID, want[2].ID = 4, 3, 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LatestVerify =\n%+v\nwant\n%+v", got, want)
	}
	bad := []VerifyResult{{Source: "a", Destination: "b", Expected: Allow}, {Source: "c", Destination: "d", Expected: "maybe"}}
	if err := s.RecordVerify(ctx, bad); err == nil || !strings.Contains(err.Error(), "c -> d") {
		t.Errorf("RecordVerify with a bad row: err = %v", err)
	}
	if got, _ := s.LatestVerify(ctx); len(got) != 3 {
		t.Errorf("a failed batch left %d pairs, want 3: the batch is one transaction", len(got))
	}
}
