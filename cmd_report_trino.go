package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/report"
	"moat/state"
	"moat/trino"
)

// trinoDirect is `moat report run NAME --trino-url URL ...`: the report
// runs against a Trino coordinator the caller names, with no local stack.
// It is the mode of the report CronJobs of `moat export kubernetes`: in
// the pod, Consul's connect injection gives the upstream to the
// coordinator on 127.0.0.1, and the TLS to Trino inside it is verified
// against the CA file. Nothing here talks to Docker or Consul: the config
// gives the report definitions and data_dir (the run history and the
// report sites) only.
type trinoDirect struct {
	url, caFile, user, passwordFile string
	// sidecarShutdown is POSTed once the run is over, failed or not: a
	// Job's pod completes only when its injected sidecar stops too
	// (consul-k8s's proxy lifecycle endpoint, /graceful_shutdown).
	sidecarShutdown string
}

func (o *trinoDirect) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "trino-url", "", "run: query this coordinator instead of the local stack, e.g. https://127.0.0.1:21000 (a pod's mesh upstream); needs no Docker and no Consul")
	fs.StringVar(&o.caFile, "trino-ca", "", "run with --trino-url: PEM file of the CA that signed Trino's certificate (verification is never turned off)")
	fs.StringVar(&o.user, "trino-user", config.OrchestratorUser, "run with --trino-url: the Trino user that authenticates and impersonates each report's run_as")
	fs.StringVar(&o.passwordFile, "trino-password-file", "", "run with --trino-url: file holding that user's password (never give a password on the command line)")
	fs.StringVar(&o.sidecarShutdown, "sidecar-shutdown", "", "run with --trino-url: POST this loopback URL when the run is over, e.g. http://127.0.0.1:20600/graceful_shutdown (consul-k8s), so that a Job's sidecar stops too")
}

func (o *trinoDirect) set() bool { return o.url != "" }

// check reports every flag that is wrong or missing, each with its fix.
func (o *trinoDirect) check() error {
	if !o.set() {
		if o.caFile != "" || o.passwordFile != "" || o.sidecarShutdown != "" {
			return usageError{"--trino-ca, --trino-password-file and --sidecar-shutdown go with --trino-url", "moat report run NAME --trino-url https://127.0.0.1:PORT --trino-ca ca.pem --trino-password-file FILE"}
		}
		return nil
	}
	var errs []error
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("invalid --trino-url %q: want https://HOST:PORT with nothing else (passwords travel only over TLS, and only from --trino-password-file)", redactedURL(o.url)))
	}
	if o.caFile == "" {
		errs = append(errs, errors.New("--trino-ca is missing: give the PEM file of the CA that signed Trino's certificate"))
	}
	if o.user == "" {
		errs = append(errs, errors.New("--trino-user is empty: give the Trino user (default "+config.OrchestratorUser+")"))
	}
	if o.passwordFile == "" {
		errs = append(errs, errors.New("--trino-password-file is missing: give the file holding the password of --trino-user"))
	}
	if o.sidecarShutdown != "" {
		if u, err := url.Parse(o.sidecarShutdown); err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("invalid --sidecar-shutdown %q: want http://127.0.0.1:PORT/PATH (the pod's own sidecar)", redactedURL(o.sidecarShutdown)))
		}
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...).Error(), "moat report run NAME --trino-url https://127.0.0.1:PORT --trino-ca ca.pem --trino-password-file FILE"}
	}
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// stopSidecar POSTs o.sidecarShutdown, when set; its error is the caller's
// to join with the run's.
func (o *trinoDirect) stopSidecar(ctx context.Context) error {
	if o.sidecarShutdown == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.sidecarShutdown, nil)
	if err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("--sidecar-shutdown: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("--sidecar-shutdown %s: %s", o.sidecarShutdown, resp.Status)
	}
	return nil
}

func redactedURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// open returns the database handle: TLS verified against the CA file
// alone, password from its file.
func (o *trinoDirect) open(ctx context.Context) (*sql.DB, error) {
	caPEM, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, fmt.Errorf("--trino-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("--trino-ca %s: no PEM certificate in it", o.caFile)
	}
	pw, err := os.ReadFile(o.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("--trino-password-file: %w", err)
	}
	pw = bytes.TrimRight(pw, "\r\n")
	if len(pw) == 0 {
		return nil, fmt.Errorf("--trino-password-file %s is empty", o.passwordFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the upstream is local: never through an HTTPS_PROXY
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return trino.Open(ctx, trino.Endpoint{URL: o.url, User: o.user, Password: string(pw),
		HTTPClient: &http.Client{Transport: tr}, Source: "moat-report"})
}

// reportRunDirect runs report name against o's coordinator, recording the
// run in data_dir's state database and writing its site under data_dir.
func reportRunDirect(ctx context.Context, env *cliEnv, name string, rawCSV bool, o *trinoDirect) error {
	err := runDirect(ctx, env, name, rawCSV, o)
	return errors.Join(err, o.stopSidecar(ctx))
}

func runDirect(ctx context.Context, env *cliEnv, name string, rawCSV bool, o *trinoDirect) error {
	cfg, err := env.loadConfig()
	if err != nil {
		return err
	}
	def, ok := cfg.Report(name)
	if !ok {
		return fmt.Errorf("no report %q in %s: `moat report list` shows them", name, configName(cfg))
	}
	db, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := os.MkdirAll(cfg.DataDir(), 0o700); err != nil {
		return err
	}
	st, err := state.Open(filepath.Join(cfg.DataDir(), state.FileName))
	if err != nil {
		return err
	}
	defer st.Close()
	return runReport(ctx, env, def, reportRunner(cfg, db, st), rawCSV)
}

// reportRunner runs reports of cfg through db, recording them in st.
func reportRunner(cfg *config.Config, db *sql.DB, st *state.Store) *report.Runner {
	dir := cfg.ReportsDir()
	return &report.Runner{Query: report.DBQuerier{DB: db}, Store: appliance.ReportStore{Store: st, Dir: dir}, Dir: dir,
		Timeout: cfg.Appliance.ReportTimeout.D()}
}

// runReport runs def once with r and says where its site is.
func runReport(ctx context.Context, env *cliEnv, def report.Definition, r *report.Runner, rawCSV bool) error {
	r.RawCSV = rawCSV
	res, err := r.Run(ctx, def)
	if err != nil {
		return fmt.Errorf("report %s failed (%s): %w", def.Name, res.Path, err)
	}
	fmt.Fprintf(env.stdout, "report %s: %d rows as %s\n%s\n", def.Name, res.Meta.Rows, def.RunAs, filepath.Join(res.Path, "index.html"))
	return nil
}
