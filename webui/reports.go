package webui

import (
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// reportCSP is the policy of the static report pages: their own inline CSS,
// images from the dashboard, no scripts at all.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

// reportFile serves the report site under ReportsDir at /reports/<path>.
// The path is resolved inside an os.Root, so neither "..", nor an absolute
// path, nor a symlink can leave ReportsDir; hidden names are refused too. A
// folder is served as its index.html, never listed.
func (s *Server) reportFile(w http.ResponseWriter, r *http.Request) {
	rel, ok := cleanReportPath(r.PathValue("path"))
	if !ok || s.reportsDir == "" {
		s.notFoundPage(w, r, "no such report file")
		return
	}
	if to, ok := dashboardIndex(rel); ok {
		http.Redirect(w, r, to, http.StatusMovedPermanently)
		return
	}
	root, err := os.OpenRoot(s.reportsDir)
	if err != nil {
		s.log.Warn("dashboard: reports folder", "err", err)
		s.notFoundPage(w, r, "no reports yet")
		return
	}
	defer root.Close()
	fsys := root.FS()
	if st, err := fs.Stat(fsys, rel); err == nil && st.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.EscapedPath()+"/", http.StatusMovedPermanently)
			return
		}
		rel = path.Join(rel, "index.html")
	}
	if st, err := fs.Stat(fsys, rel); err != nil || !st.Mode().IsRegular() {
		s.notFoundPage(w, r, "no such report file")
		return
	}
	w.Header().Set("Content-Security-Policy", reportCSP)
	http.ServeFileFS(w, r, fsys, rel)
}

// dashboardIndex sends the report site's history of one report to the
// dashboard's page, which shows the same and can run the report. (The
// site's index of every report is routed to /reports by the mux.)
func dashboardIndex(rel string) (string, bool) {
	if name, file, ok := strings.Cut(rel, "/"); ok && file == "index.html" {
		return reportPath(name), true
	}
	return "", false
}

// cleanReportPath accepts a slash-separated relative path of plain names:
// no "", ".", ".." or hidden segments, no backslashes or NULs.
func cleanReportPath(p string) (string, bool) {
	p = strings.TrimSuffix(p, "/")
	if p == "" || strings.ContainsAny(p, "\\\x00") {
		return "", false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") {
			return "", false
		}
	}
	return p, true
}

func (s *Server) runReport(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rep, err := s.findReport(r, name)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	runDir, err := s.src.RunReport(r.Context(), rep.Name)
	if err != nil {
		s.log.Warn("dashboard: run now failed", "report", rep.Name, "err", err)
		s.errorPage(w, r, errors.New("report "+quote(rep.Name)+" failed: "+err.Error()))
		return
	}
	key := filepath.Base(runDir)
	http.Redirect(w, r, reportPath(rep.Name)+"?ran="+url.QueryEscape(key), http.StatusSeeOther)
}

func (s *Server) findReport(r *http.Request, name string) (ReportInfo, error) {
	reports, err := s.src.Reports(r.Context())
	if err != nil {
		return ReportInfo{}, err
	}
	for _, rep := range reports {
		if rep.Name == name {
			return rep, nil
		}
	}
	return ReportInfo{}, notFound("no report named " + quote(name) + " in moat.toml")
}
