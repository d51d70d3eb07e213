package webui

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"moat/supervisor"
)

// metrics is /metrics in the Prometheus text exposition format (0.0.4).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	snap, err := s.src.Snapshot(r.Context())
	if err != nil {
		http.Error(w, "moat dashboard: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	reports, err := s.src.Reports(r.Context())
	if err != nil {
		http.Error(w, "moat dashboard: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	writeMetrics(&b, snap, reports, s.now())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// metricWriter writes families: a HELP and TYPE line, then samples.
type metricWriter struct{ b *bytes.Buffer }

func (m metricWriter) family(name, typ, help string) {
	fmt.Fprintf(m.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes name{k="v",…} value; labels come in key, value pairs.
func (m metricWriter) sample(name string, value float64, labels ...string) {
	m.b.WriteString(name)
	if len(labels) > 0 {
		m.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.b.WriteByte(',')
			}
			fmt.Fprintf(m.b, "%s=\"%s\"", labels[i], labelEscaper.Replace(labels[i+1]))
		}
		m.b.WriteByte('}')
	}
	m.b.WriteString(" " + strconv.FormatFloat(value, 'f', -1, 64) + "\n")
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

func writeMetrics(b *bytes.Buffer, snap Snapshot, reports []ReportInfo, now time.Time) {
	m := metricWriter{b}
	byPhase := map[supervisor.Phase]int{}
	for _, s := range snap.Services {
		byPhase[s.Phase]++
	}
	m.family("moat_services", "gauge", "Services by supervisor phase.")
	for _, p := range phases {
		m.sample("moat_services", float64(byPhase[p]), "phase", string(p))
	}
	m.family("moat_service_healthy", "gauge", "1 when the service is healthy (or running without a probe), else 0.")
	for _, s := range snap.Services {
		m.sample("moat_service_healthy", b2f(healthy(s)), "service", s.Name, "kind", s.Kind)
	}
	m.family("moat_service_restarts_total", "counter", "Restarts of the service by moat's supervisor.")
	for _, s := range snap.Services {
		m.sample("moat_service_restarts_total", float64(s.Restarts), "service", s.Name)
	}
	m.family("moat_service_uptime_seconds", "gauge", "Seconds since the service's current instance started (0 when down).")
	for _, s := range snap.Services {
		up := 0.0
		if uptime(s, now) != "" {
			up = float64(now.Sub(s.StartedAt).Milliseconds()) / 1000
		}
		m.sample("moat_service_uptime_seconds", up, "service", s.Name)
	}
	writeMeshMetrics(m, snap)
	writeReportMetrics(m, reports)
}

func writeMeshMetrics(m metricWriter, snap Snapshot) {
	byAction := map[string]int{"allow": 0, "deny": 0}
	for _, in := range snap.Intentions {
		byAction[in.Action]++
	}
	m.family("moat_intentions", "gauge", "Consul intentions by action.")
	for _, a := range []string{"allow", "deny"} {
		m.sample("moat_intentions", float64(byAction[a]), "action", a)
	}
	m.family("moat_verify_ok", "gauge", "1 when the last `moat verify` of the pair observed what the intentions say.")
	for _, v := range snap.Verify {
		m.sample("moat_verify_ok", b2f(v.OK), "source", v.Source, "destination", v.Destination, "expected", v.Expected)
	}
}

func writeReportMetrics(m metricWriter, reports []ReportInfo) {
	m.family("moat_report_last_run_ok", "gauge", "1 when the report's latest run succeeded, 0 when it failed or runs.")
	for _, r := range reports {
		if run, ok := r.Latest(); ok {
			m.sample("moat_report_last_run_ok", b2f(run.Status == "ok"), "report", r.Name)
		}
	}
	m.family("moat_report_last_run_timestamp_seconds", "gauge", "Unix time the report's latest run started.")
	for _, r := range reports {
		if run, ok := r.Latest(); ok {
			m.sample("moat_report_last_run_timestamp_seconds", float64(run.StartedAt.Unix()), "report", r.Name)
		}
	}
	m.family("moat_report_runs", "gauge", "Runs of the report the history holds.")
	for _, r := range reports {
		m.sample("moat_report_runs", float64(len(r.Runs)), "report", r.Name)
	}
}
