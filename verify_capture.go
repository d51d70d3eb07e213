package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/internal/probe"
	"moat/report"
	"moat/state"
	"moat/supervisor/docker"
	"moat/trino"
)

// capturer is a runtime that can record its project's bridges
// (supervisor/docker).
type capturer interface {
	nsProber
	Bridges(ctx context.Context, project string) (map[string]string, error)
	StartCapture(ctx context.Context, img string, args []string, hostDir, readyFile string) (*docker.Capture, error)
}

// captureOptions are verify's --capture and --keep-capture.
type captureOptions struct{ on, keep bool }

// runCapture is verify --capture: the capture, its evidence stored, and
// (without --json) printed.
func runCapture(ctx context.Context, s *stack, o captureOptions, asJSON bool, env *cliEnv) (state.Capture, []state.VerifyResult) {
	msgs := env.stdout
	if asJSON {
		msgs = env.stderr
	}
	ev, rows := verifyCapture(ctx, s, o.keep, msgs)
	if err := s.store.RecordCapture(context.WithoutCancel(ctx), ev); err != nil {
		rows = append(rows, unknown(captureSource, "the evidence stored", err))
	}
	if !asJSON {
		printCapture(env.stdout, ev)
	}
	return ev, rows
}

// printCapture prints the evidence: per bridge, then what ran and what
// was searched for.
func printCapture(w io.Writer, ev state.Capture) {
	fmt.Fprintf(w, "capture: %d packets, %d bytes, %d flows, %d payload bytes searched, %d dropped\n", ev.Packets, ev.Bytes, ev.Flows, ev.Payload, ev.Dropped)
	for _, b := range ev.Bridges {
		fmt.Fprintf(w, "  %-8s %s: %d packets, %d bytes, %d flows (%d interfaces)\n", b.Network, b.Interface, b.Packets, b.Bytes, b.Flows, b.Interfaces)
	}
	for _, r := range ev.Workload {
		fmt.Fprintf(w, "  ran: %s\n", r)
	}
	fmt.Fprintf(w, "  searched for %d needles: %s\n", len(ev.Searched), strings.Join(ev.Searched, "; "))
}

// captureSource names what `moat verify --capture` adds to the results.
const captureSource = state.CaptureSource

// verifyCapture records every bridge of the stack (in a probe container
// in the host's network namespace with CAP_NET_RAW, which becomes moat's
// user once its sockets are open; it stops by itself after 15 minutes
// should moat die meanwhile) while moat runs
// a query and a report through the mesh, then searches, here in moat's
// own process, every TCP stream and UDP datagram for the query's SQL text
// and result, the report's rows, every Trino user name as a header, every
// password and its HTTP Basic form, and moat's other secrets. Anything
// found is a failure that names the bridge and the flow an attacker would
// sniff. The capture files (which hold whatever leaked) are 0600 files in
// a 0700 folder under the data dir, removed after the search unless keep.
func verifyCapture(ctx context.Context, s *stack, keep bool, stdout io.Writer) (state.Capture, []state.VerifyResult) {
	ev := state.Capture{Bridges: []state.CaptureBridge{}, Searched: []string{}, Workload: []string{}, Findings: []state.CaptureFinding{}}
	fail := func(what string, err error) (state.Capture, []state.VerifyResult) {
		ev.Detail = what + ": " + err.Error()
		return ev, []state.VerifyResult{unknown(captureSource, what, err)}
	}
	c, ok := s.rt.(capturer)
	if !ok {
		return fail("the stack's bridges", fmt.Errorf("the %s runtime cannot capture packets (--capture needs Docker)", s.rt.Name()))
	}
	bridges, err := c.Bridges(ctx, s.cfg.Appliance.Project)
	if err == nil && len(bridges) == 0 {
		err = errors.New("the stack has no bridge network")
	}
	if err != nil {
		return fail("the stack's bridges", err)
	}
	dir, err := captureDir(s.cfg.DataDir())
	if err != nil {
		return fail("the capture folder", err)
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	img, err := c.SelfImage(ctx)
	if err != nil {
		return fail("the probe image", err)
	}
	ifaces := slices.Sorted(maps.Values(bridges))
	spec, _ := json.Marshal(probe.CaptureSpec{Bridges: ifaces, Dir: docker.CaptureDir, UID: os.Getuid(), GID: os.Getgid()})
	capt, err := c.StartCapture(ctx, img, []string{probeCommand, "capture", string(spec)}, dir, probe.ReadyFile)
	if err != nil {
		return fail("the packet capture", err)
	}
	needles, ran, werr := captureWorkload(ctx, s, dir)
	code, out, serr := capt.Stop(context.WithoutCancel(ctx))
	ev.Workload = ran
	for _, n := range needles {
		ev.Searched = append(ev.Searched, n.What)
	}
	var sum probe.CaptureSummary
	if serr == nil && code != 0 {
		serr = fmt.Errorf("the capture exited %d: %s", code, strings.TrimSpace(out))
	}
	if serr == nil {
		serr = json.Unmarshal([]byte(out), &sum)
	}
	if serr != nil {
		return fail("the packet capture", serr)
	}
	results := analyzeCapture(ctx, s, bridges, dir, sum, needles, &ev)
	if werr != nil {
		results = append(results, unknown(captureSource, "a query and a report during the capture", werr))
	}
	if keep {
		ev.Kept = dir
		fmt.Fprintf(stdout, "capture kept in %s (0600 files: they hold whatever crossed the bridges)\n", dir)
	}
	ev.OK = !slices.ContainsFunc(results, func(r state.VerifyResult) bool { return !r.OK })
	return ev, results
}

// captureDir makes <data_dir>/capture/<time>, 0700 (and its parent).
func captureDir(dataDir string) (string, error) {
	parent := filepath.Join(dataDir, "capture")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(parent, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(parent, time.Now().UTC().Format("20060102T150405Z-"))
}

// captureWorkload runs, while the capture records, a query through moat's
// client path carrying a fresh marker in its SQL text and a different one
// in its result, and a report (the config's first, else one of its own)
// rendered into the capture folder, not among the user's reports and not
// in the report history. It returns the needles to search for: the
// markers, the report's SQL and values, and every credential.
func captureWorkload(ctx context.Context, s *stack, dir string) ([]probe.Needle, []string, error) {
	needles := credentialNeedles(s)
	var ran []string
	if !s.queriesTrino() {
		return needles, ran, errors.New("this config has no Trino to query")
	}
	marker := "moat-capture-" + randomHex(8)
	q := fmt.Sprintf("SELECT upper('%s') AS marker", marker)
	res, err := runQuery(ctx, s, "", q, &collectRows{})
	rec := state.Query{User: config.OrchestratorUser, Source: "verify --capture", Rows: res.Rows, Outcome: state.OutcomeOK}
	rec.SetStatement(q)
	if err != nil {
		rec.Outcome, rec.Error = state.OutcomeFailed, err.Error()
	}
	s.store.RecordQuery(context.WithoutCancel(ctx), rec)
	if err != nil {
		return needles, ran, fmt.Errorf("the capture's query: %w", err)
	}
	ran = append(ran, "query as orchestrator: "+q)
	// The coordinator asks every worker for its state over the trino
	// network (trinotest on each such query; Trino on its own schedule).
	nodes := "SELECT count(*) AS nodes FROM system.runtime.nodes"
	if _, err := runQuery(ctx, s, "", nodes, &collectRows{}); err != nil {
		ran = append(ran, "query as orchestrator: "+nodes+" (failed: "+err.Error()+")")
	} else {
		ran = append(ran, "query as orchestrator: "+nodes)
	}
	needles = append(needles,
		probe.Needle{What: "the query's SQL text (" + marker + ")", Value: []byte(marker)},
		probe.Needle{What: "the query's result (" + strings.ToUpper(marker) + ")", Value: []byte(strings.ToUpper(marker))})

	def := report.Definition{Name: "moat-capture", RunAs: config.OrchestratorUser,
		SQL: fmt.Sprintf("SELECT upper('%s') AS marker", "moat-report-"+randomHex(8))}
	if defs := s.cfg.ReportDefinitions(); len(defs) > 0 {
		def = defs[0]
	}
	r, done, err := s.runner(ctx)
	if err != nil {
		return needles, ran, err
	}
	defer done()
	values := &collectRows{}
	run := report.Runner{Query: observingQuerier{q: r.Query, rows: values}, Store: discardRuns{}, Dir: filepath.Join(dir, "report"), Timeout: r.Timeout}
	if _, err := run.Run(ctx, def); err != nil {
		return needles, ran, fmt.Errorf("the capture's report %s: %w", def.Name, err)
	}
	ran = append(ran, fmt.Sprintf("report %s as %s (%d rows, rendered into the capture folder, not recorded)", def.Name, def.RunAs, values.n))
	needles = append(needles, probe.Needle{What: "report " + def.Name + "'s SQL text", Value: []byte(def.SQL)},
		probe.Needle{What: "user " + def.RunAs + " as a header (X-Trino-User: " + def.RunAs + ")", Value: []byte("X-Trino-User: " + def.RunAs), Fold: true})
	for _, v := range values.values(20) {
		needles = append(needles, probe.Needle{What: fmt.Sprintf("a value of report %s's result (%q)", def.Name, v), Value: []byte(v)})
	}
	return dedupNeedles(needles), ran, nil
}

// credentialNeedles are every Trino user as a header, every password
// plain and as HTTP Basic credentials, and moat's other secrets. Their
// descriptions never carry the secret.
func credentialNeedles(s *stack) []probe.Needle {
	users := map[string]string{}
	if v, ok := s.secrets.Get(appliance.SecretManagement); ok {
		users[config.ManagementUser] = v
	}
	if v, ok := s.secrets.Get(appliance.SecretOrchestrator); ok {
		users[config.OrchestratorUser] = v
	}
	for _, u := range s.cfg.Users {
		users[u.Name] = appliance.UserPassword(s.cfg, s.secrets, u.Name)
	}
	var out []probe.Needle
	for _, name := range slices.Sorted(maps.Keys(users)) {
		pw := users[name]
		out = append(out,
			probe.Needle{What: "user " + name + " as a header (X-Trino-User: " + name + ")", Value: []byte("X-Trino-User: " + name), Fold: true},
			probe.Needle{What: "the password of Trino user " + name, Value: []byte(pw)},
			probe.Needle{What: "the HTTP Basic credentials of " + name + " (base64 of " + name + ":password)", Value: []byte(base64.StdEncoding.EncodeToString([]byte(name + ":" + pw)))})
	}
	for _, name := range []string{appliance.SecretTrinoShared, appliance.SecretConsul, appliance.SecretNotebook, appliance.SecretDashboard} {
		if v, ok := s.secrets.Get(name); ok && len(v) >= 8 {
			out = append(out, probe.Needle{What: "the secret " + name + " (moat secrets show " + name + ")", Value: []byte(v)})
		}
	}
	return out
}

func dedupNeedles(ns []probe.Needle) []probe.Needle {
	seen := map[string]bool{}
	var out []probe.Needle
	for _, n := range ns {
		if len(n.Value) > 0 && !seen[n.What] {
			seen[n.What] = true
			out = append(out, n)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// analyzeCapture searches each bridge's file and turns what it found into
// verify rows: one per bridge, and one per needle seen in a flow.
func analyzeCapture(ctx context.Context, s *stack, bridges map[string]string, dir string, sum probe.CaptureSummary, needles []probe.Needle, ev *state.Capture) []state.VerifyResult {
	names := addressNames(ctx, s)
	byIface := map[string]probe.BridgeSummary{}
	for _, b := range sum.Bridges {
		byIface[b.Bridge] = b
	}
	var out []state.VerifyResult
	if sum.Error != "" {
		out = append(out, unknown(captureSource, "the packet capture", errors.New(sum.Error)))
	}
	if sum.Expired {
		out = append(out, unknown(captureSource, "the packet capture", errors.New("the capture reached its time limit before the query and the report ended")))
	}
	for _, netName := range slices.Sorted(maps.Keys(bridges)) {
		iface := bridges[netName]
		b := byIface[iface]
		src := captureSource + " on the " + netName + " bridge (" + iface + ")"
		eb := state.CaptureBridge{Network: netName, Interface: iface, Interfaces: len(b.Interfaces), Dropped: b.Dropped}
		a, err := analyzeFile(filepath.Join(dir, iface+".pcap"), needles)
		eb.Packets, eb.Bytes, eb.Flows, eb.Payload, eb.Gaps = a.Frames, a.Bytes, a.Flows, a.Payload, a.Gaps
		ev.Bridges = append(ev.Bridges, eb)
		ev.Packets, ev.Bytes, ev.Flows, ev.Payload, ev.Dropped = ev.Packets+a.Frames, ev.Bytes+a.Bytes, ev.Flows+a.Flows, ev.Payload+a.Payload, ev.Dropped+b.Dropped
		detail := fmt.Sprintf("%d packets, %d bytes, %d flows, %d payload bytes searched for %d needles; %d dropped", a.Frames, a.Bytes, a.Flows, a.Payload, len(needles), b.Dropped)
		row := state.VerifyResult{Source: src, Destination: "SQL, rows, user names and passwords in plaintext", Expected: state.Deny, Observed: "none", OK: true, Detail: detail}
		switch {
		case err != nil:
			row = unknown(src, row.Destination, err)
		case len(b.Missed) > 0:
			row = unknown(src, row.Destination, fmt.Errorf("ports %s joined the bridge during the capture (a container started or restarted) and were not captured (%s)", strings.Join(b.Missed, ", "), detail))
		case b.Dropped > 0:
			row = unknown(src, row.Destination, fmt.Errorf("the kernel dropped %d frames: the capture is incomplete (%s)", b.Dropped, detail))
		case netName == config.MeshNetwork && a.Frames == 0:
			row = unknown(src, row.Destination, errors.New("no packet seen, although moat's query crossed this bridge: the capture is blind"))
		}
		for _, f := range a.Findings {
			flow := namedFlow(f.Flow, names)
			ev.Findings = append(ev.Findings, state.CaptureFinding{Network: netName, Interface: iface, Needle: f.Needle, Flow: flow})
			out = append(out, state.VerifyResult{Source: src, Destination: flow, Expected: state.Deny, Observed: "plaintext",
				Detail: "OPEN: " + f.Needle + " crosses the " + netName + " bridge in clear: whoever can capture on " + iface +
					" (root on the host, or any container with CAP_NET_RAW in the host's network namespace) reads it from " + flow})
		}
		if len(a.Findings) > 0 {
			row.Observed, row.OK = "plaintext", false
			row.Detail = fmt.Sprintf("%d needles found in plaintext; %s", len(a.Findings), detail)
		}
		out = append(out, row)
	}
	return out
}

func analyzeFile(path string, needles []probe.Needle) (probe.Analysis, error) {
	f, err := os.Open(path)
	if err != nil {
		return probe.Analysis{}, err
	}
	defer f.Close()
	return probe.AnalyzePcap(f, needles)
}

// addressNames maps the stack's container addresses to their services.
func addressNames(ctx context.Context, s *stack) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	inv, err := s.rt.List(ctx, s.cfg.Appliance.Project)
	if err != nil {
		return out
	}
	for _, in := range inv.Instances {
		full, err := s.rt.Inspect(ctx, in.ID)
		if err != nil {
			continue
		}
		for _, ip := range full.Addresses {
			if a, err := netip.ParseAddr(ip); err == nil {
				out[a] = in.Service
			}
		}
	}
	return out
}

// namedFlow is "notebook 172.28.10.5:41234 → trino-coordinator
// 172.28.10.3:21000 (tcp)"; an address of no container is the host's.
func namedFlow(f probe.Flow, names map[netip.Addr]string) string {
	name := func(ap netip.AddrPort) string {
		n, ok := names[ap.Addr()]
		if !ok {
			n = "host"
		}
		return n + " " + ap.String()
	}
	return name(f.Src) + " → " + name(f.Dst) + " (" + f.Proto + ")"
}

// collectRows keeps the distinct text values of a result (to search the
// capture for) and counts its rows.
type collectRows struct {
	n    int64
	seen map[string]bool
	list []string
}

func (c *collectRows) header([]trino.Column) error { return nil }
func (c *collectRows) flush() error                { return nil }
func (c *collectRows) row(vals []any) error {
	c.n++
	for _, v := range vals {
		s := cell(v)
		if len(s) < 6 || c.seen[s] { // shorter ones could match ciphertext by chance
			continue
		}
		if c.seen == nil {
			c.seen = map[string]bool{}
		}
		c.seen[s] = true
		c.list = append(c.list, s)
	}
	return nil
}

func (c *collectRows) values(max int) []string { return c.list[:min(max, len(c.list))] }

// observingQuerier hands every row a report reads to rows as well.
type observingQuerier struct {
	q    report.Querier
	rows *collectRows
}

func (o observingQuerier) Query(ctx context.Context, runAs, sql string) (report.Rows, error) {
	r, err := o.q.Query(ctx, runAs, sql)
	if err != nil {
		return nil, err
	}
	return observedRows{Rows: r, c: o.rows}, nil
}

type observedRows struct {
	report.Rows
	c *collectRows
}

func (o observedRows) Next() bool {
	if !o.Rows.Next() {
		return false
	}
	o.c.row(o.Rows.Values())
	return true
}

// discardRuns keeps the capture's report out of the report history.
type discardRuns struct{}

func (discardRuns) BeginReportRun(context.Context, string, string, string, time.Time) (int64, error) {
	return 0, nil
}
func (discardRuns) EndReportRun(context.Context, int64, string, int64, int64, time.Duration, string, string) error {
	return nil
}
