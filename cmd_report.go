package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"moat/appliance/config"
	"moat/report"
	"moat/state"
)

func cmdReport() command {
	c := command{name: "report", args: "list | run NAME | open NAME", summary: "list, run or open SQL reports",
		help: `
Reports are [[report]] entries of moat.toml: SQL run through the mesh as the
orchestrator impersonating the report's run_as user, rendered into a static
site under <data_dir>/reports/NAME/RUN/ (index.html with paged tables, an SVG
chart when asked, data.csv, meta.json) that works without moat or a network.
In data.csv a cell that begins with =, +, -, @, tab or CR gets a leading '
(so a spreadsheet shows it instead of running it as a formula), except plain
negative numbers in numeric columns; --raw-csv also writes data-raw.csv with
every value unchanged.
Scheduled reports run while 'moat up' supervises. With --trino-url, run NAME
queries that coordinator directly (TLS verified against --trino-ca, password
from --trino-password-file), with no local stack, Docker or Consul: the mode
of the report CronJobs that 'moat export kubernetes' writes.

Example:
  moat report run nations && moat report open nations`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "list: print JSON")
		rawCSV := fs.Bool("raw-csv", false, "run: also write data-raw.csv, the values unchanged (data.csv neutralises cells a spreadsheet would run as formulas)")
		var direct trinoDirect
		direct.flags(fs)
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n >= 1 && n <= 2 })
			if err != nil {
				return err
			}
			if err := direct.check(); err != nil {
				return err
			}
			if direct.set() && pos[0] != "run" {
				return usageError{"--trino-url goes with moat report run NAME only", "moat report run NAME --trino-url https://127.0.0.1:PORT --trino-ca ca.pem --trino-password-file FILE"}
			}
			verb := pos[0]
			switch {
			case verb == "list" && len(pos) == 1:
				return reportList(ctx, env, *asJSON)
			case (verb == "run" || verb == "open") && len(pos) == 1:
				return usageError{"moat report " + verb + ": the report's name is missing", "moat report list (names), then moat report " + verb + " NAME"}
			case verb == "run" && direct.set():
				return reportRunDirect(ctx, env, pos[1], *rawCSV, &direct)
			case verb == "run":
				return reportRun(ctx, env, pos[1], *rawCSV)
			case verb == "open":
				return reportOpen(ctx, env, pos[1])
			}
			return usageError{"unknown report verb " + strings.Join(pos, " ") + ": it is list, run NAME or open NAME", "moat report run NAME"}
		})
	}
	return c
}

// ReportStatus is one report of `moat report list --json`.
type ReportStatus struct {
	Name     string `json:"name"`
	RunAs    string `json:"run_as"`
	Schedule string `json:"schedule,omitempty"`
	LastRun  string `json:"last_run,omitempty"` // RFC 3339
	Status   string `json:"status,omitempty"`
	Rows     int64  `json:"rows"`
}

func reportList(ctx context.Context, env *cliEnv, asJSON bool) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	// The history only: no runtime, no plan.
	st, err := state.OpenReadOnly(filepath.Join(cfg.DataDir(), state.FileName))
	if err != nil {
		return err
	}
	defer st.Close()
	list := []ReportStatus{}
	for _, d := range cfg.ReportDefinitions() {
		rs := ReportStatus{Name: d.Name, RunAs: d.RunAs, Schedule: d.Schedule}
		if r, ok, _ := st.LatestReportRun(ctx, d.Name); ok {
			rs.LastRun, rs.Status, rs.Rows = r.StartedAt.Format(time.RFC3339), r.Status, r.Rows
		}
		list = append(list, rs)
	}
	if asJSON {
		return printJSON(env, list)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORT\tRUN AS\tSCHEDULE\tLAST RUN\tSTATUS\tROWS")
	for _, r := range list {
		last, rows := "-", "-"
		if r.LastRun != "" {
			t, _ := time.Parse(time.RFC3339, r.LastRun)
			last, rows = t.Local().Format("2006-01-02 15:04:05"), fmt.Sprint(r.Rows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.RunAs, dash(r.Schedule), last, dash(r.Status), rows)
	}
	return tw.Flush()
}

// runner is the stack's report runner, querying through the mesh.
func (s *stack) runner(ctx context.Context) (*report.Runner, func(), error) {
	if !s.queriesTrino() {
		return nil, nil, errors.New("reports need Trino: enable [mesh] and [trino]")
	}
	db, err := s.control.DB(ctx, "", "moat-report")
	if err != nil {
		return nil, nil, err
	}
	return reportRunner(s.cfg, db, s.store), func() { db.Close() }, nil
}

// reportOnce runs def once on a runner of its own (a connection through
// the mesh, closed after the run): a scheduled run, or the dashboard's
// "run now".
func (s *stack) reportOnce(ctx context.Context, def report.Definition) (report.RunResult, error) {
	r, done, err := s.runner(ctx)
	if err != nil {
		return report.RunResult{}, err
	}
	defer done()
	return r.Run(ctx, def)
}

func reportRun(ctx context.Context, env *cliEnv, name string, rawCSV bool) error {
	s, err := openStack(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	def, ok := s.cfg.Report(name)
	if !ok {
		return fmt.Errorf("no report %q in %s: `moat report list` shows them", name, configName(s.cfg))
	}
	if s.queriesTrino() {
		if err := s.requireRunning(ctx, config.ServiceCoordinator); err != nil {
			return err
		}
	}
	r, done, err := s.runner(ctx)
	if err != nil {
		return err
	}
	defer done()
	return runReport(ctx, env, def, r, rawCSV)
}

func reportOpen(ctx context.Context, env *cliEnv, name string) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	if _, ok := cfg.Report(name); !ok {
		return fmt.Errorf("no report %q in %s: `moat report list` shows them", name, configName(cfg))
	}
	runs, err := report.ListRuns(cfg.ReportsDir(), name)
	if err != nil || len(runs) == 0 {
		return fmt.Errorf("report %s has no runs yet: `moat report run %s`", name, name)
	}
	page := filepath.Join(cfg.ReportsDir(), name, runs[0].RunKey, "index.html")
	fmt.Fprintln(env.stdout, page)
	return openBrowser(page)
}

// openBrowser opens target in the desktop's browser, when there is one.
func openBrowser(target string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", target)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", target)
	default:
		if _, err := exec.LookPath("xdg-open"); err != nil {
			return nil // no desktop: the path or URL was printed
		}
		cmd = exec.Command("xdg-open", target)
	}
	return cmd.Start()
}
