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

	"moat/appliance"
	"moat/report"
)

func cmdReport() command {
	c := command{name: "report", args: "list | run NAME | open NAME", summary: "list, run or open SQL reports",
		help: `
Reports are [[report]] entries of moat.toml: SQL run through the mesh as the
orchestrator impersonating the report's run_as user, rendered into a static
site under <data_dir>/reports/NAME/RUN/ (index.html with paged tables, an SVG
chart when asked, data.csv, meta.json) that works without moat or a network.
Scheduled reports run while 'moat up' supervises.

Example:
  moat report run nations && moat report open nations`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n == 1 || n == 2 })
			if err != nil {
				return err
			}
			switch {
			case pos[0] == "list" && len(pos) == 1:
				return reportList(ctx, env)
			case pos[0] == "run" && len(pos) == 2:
				return reportRun(ctx, env, pos[1])
			case pos[0] == "open" && len(pos) == 2:
				return reportOpen(ctx, env, pos[1])
			}
			return usageError{"unknown report verb " + strings.Join(pos, " "), "moat report run NAME"}
		})
	}
	return c
}

func reportList(ctx context.Context, env *cliEnv) error {
	s, err := openStack(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORT\tRUN AS\tSCHEDULE\tLAST RUN\tSTATUS\tROWS")
	for _, d := range s.cfg.ReportDefinitions() {
		last, status, rows := "-", "-", "-"
		if r, ok, _ := s.store.LatestReportRun(ctx, d.Name); ok {
			last, status, rows = r.StartedAt.Local().Format("2006-01-02 15:04:05"), r.Status, fmt.Sprint(r.Rows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.RunAs, dash(d.Schedule), last, status, rows)
	}
	return tw.Flush()
}

// runner is the stack's report runner, querying through the mesh.
func (s *stack) runner(ctx context.Context) (*report.Runner, func(), error) {
	if s.control == nil || !s.cfg.Trino.Enabled {
		return nil, nil, errors.New("reports need Trino: enable [mesh] and [trino]")
	}
	db, err := s.control.DB(ctx, "", "moat-report")
	if err != nil {
		return nil, nil, err
	}
	dir := s.cfg.ReportsDir()
	return &report.Runner{Query: report.DBQuerier{DB: db}, Store: appliance.ReportStore{Store: s.store, Dir: dir}, Dir: dir,
			Timeout: s.cfg.Appliance.ReportTimeout.D()},
		func() { db.Close() }, nil
}

func reportRun(ctx context.Context, env *cliEnv, name string) error {
	s, err := openStack(ctx, env)
	if err != nil {
		return err
	}
	defer s.close()
	def, ok := s.cfg.Report(name)
	if !ok {
		return fmt.Errorf("no report %q in %s: `moat report list` shows them", name, configName(s.cfg))
	}
	r, done, err := s.runner(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := r.Run(ctx, def)
	if err != nil {
		return fmt.Errorf("report %s failed (%s): %w", name, res.Path, err)
	}
	fmt.Fprintf(env.stdout, "report %s: %d rows as %s\n%s\n", name, res.Meta.Rows, def.RunAs, filepath.Join(res.Path, "index.html"))
	return nil
}

func reportOpen(ctx context.Context, env *cliEnv, name string) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
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
