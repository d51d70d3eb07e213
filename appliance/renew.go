package appliance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"moat/appliance/config"
	"moat/pki"
	"moat/supervisor"
	"moat/trino"
)

// Renewer keeps the certificates of moat's CA current while moat
// supervises. A certificate is reissued once a third of its lifetime is
// left (pki.CA.Current), then put to use without a restart:
//
//   - Trino nodes: the new keystore is written into the running container;
//     airlift's HTTP server reads its keystore again every
//     http-server.https.ssl-context.refresh-time (rendered as 10 s), so new
//     connections get the new certificate and running queries carry on.
//     The internal client reads its keystore once, at start, but Trino asks
//     for no client certificate unless CERTIFICATE authentication is on
//     (ServerSecurityModule), so nothing verifies it.
//   - Consul: the new certificate and key are written into the container
//     and the agent is reloaded (PUT /v1/agent/reload, as SIGHUP), which
//     reloads its TLS files since Consul 1.4.4 (hashicorp/consul#5419).
//   - moat's own client certificate: every handshake asks the secrets for
//     the current one (clientCertificate), so nothing is pushed.
//
// The renewed key pairs are saved in the secrets file before they are
// delivered, so a moat killed in between delivers them at its next start.
type Renewer struct {
	Config  *config.Config
	Secrets *Secrets
	// Running is the topology the running services were made from: the
	// TLS files each one holds now.
	Running supervisor.Topology
	// Deliver writes files into service's instance (running or not).
	Deliver func(ctx context.Context, service string, files []supervisor.File) error
	// ReloadConsul makes Consul read its TLS files again; nil without the
	// mesh.
	ReloadConsul func(ctx context.Context) error
	// Renewed reports what was renewed and delivered, or what failed: a
	// line for the log and the events table (no secret in it).
	Renewed func(msg string, err error)

	delivered map[string][]supervisor.File // service -> TLS files it holds
}

// tlsFiles are the files holding a certificate of moat's CA that a
// renewal replaces in a running service. The CA itself lives ten years and
// is not renewed here.
var tlsFiles = []string{ConsulSeal.CertFile, ConsulSeal.KeyFile, trino.KeystorePath}

// renewRetry is how soon a renewal that failed (a container being
// replaced, Consul down) is tried again.
const renewRetry = time.Minute

// renewCheck is the longest the renewer waits without looking again: a
// timer does not count the time a host spends suspended, the wall clock
// does.
const renewCheck = time.Hour

// Run renews and delivers certificates as they fall due until ctx ends.
// A failed renewal is reported and retried; it never stops moat.
func (r *Renewer) Run(ctx context.Context) error {
	r.delivered = map[string][]supervisor.File{}
	for _, s := range r.Running.Services {
		if f := holdsTLS(s); len(f) > 0 {
			r.delivered[s.Name] = f
		}
	}
	failed := false
	for first := true; ; first = false {
		if due, ok := r.nextDue(); first || failed || ok && !time.Now().Before(due) {
			failed = false
			if err := r.renew(ctx); err != nil {
				r.Renewed("", err)
				failed = true
			}
		}
		wait := renewCheck
		switch due, ok := r.nextDue(); {
		case failed:
			wait = renewRetry
		case ok && !due.After(time.Now()):
			// Still due right after a renewal: moat's CA ends sooner than a
			// leaf's lifetime (its last months), so every leaf is cut short;
			// renewing the CA itself is not automated.
			wait = renewCheck
		case ok:
			wait = min(wait, time.Until(due))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// renew reissues what is due (provisioning calls EnsureCert for every
// certificate, and saves), then delivers what changed, as the plan now has
// it, to the services holding it.
func (r *Renewer) renew(ctx context.Context) error {
	if err := Provision(r.Config, r.Secrets); err != nil {
		return err
	}
	topo, err := Plan(r.Config, r.Secrets, nil)
	if err != nil {
		return err
	}
	if ca, err := r.Secrets.CA(); err == nil {
		_, _, err = r.Secrets.EnsureCert(ca, certMoatClient, moatClientLeaf())
		if err != nil {
			return err
		}
	}
	if err := r.Secrets.Save(); err != nil && !errors.Is(err, ErrSecretsReadOnly) {
		return fmt.Errorf("saving the renewed certificates: %w", err)
	}
	var done []string
	var errs []error
	for _, s := range topo.Services {
		files := holdsTLS(s)
		old, running := r.delivered[s.Name]
		if !running || sameFiles(old, files) {
			continue
		}
		if err := r.deliver(ctx, s.Name, files); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
			continue
		}
		r.delivered[s.Name] = files
		done = append(done, s.Name)
	}
	if len(done) > 0 {
		until := ""
		if due, ok := r.nextDue(); ok {
			until = fmt.Sprintf(" (next renewal %s)", due.Format(time.RFC3339))
		}
		r.Renewed(fmt.Sprintf("renewed the TLS certificates of %s%s", strings.Join(done, ", "), until), nil)
	}
	return errors.Join(errs...)
}

func (r *Renewer) deliver(ctx context.Context, service string, files []supervisor.File) error {
	if err := r.Deliver(ctx, service, files); err != nil {
		return err
	}
	if service == config.ServiceConsul && r.ReloadConsul != nil {
		if err := r.ReloadConsul(ctx); err != nil {
			return fmt.Errorf("reloading Consul's TLS files: %w", err)
		}
	}
	return nil
}

// nextDue is when the first certificate moat's services or moat itself
// hold stops being current (a third of its lifetime left).
func (r *Renewer) nextDue() (time.Time, bool) {
	lifetime, err := CertLifetime()
	if err != nil {
		return time.Time{}, false
	}
	var pems [][]byte
	for _, files := range r.delivered {
		for _, f := range files {
			pems = append(pems, f.Content)
		}
	}
	if c, ok := r.Secrets.Get(certMoatClient + "_cert"); ok {
		pems = append(pems, []byte(c))
	}
	return nextDue(pems, lifetime)
}

// nextDue is when to renew the certificates among pems (the first
// certificate of each: a keystore's leaf): when the first one has a third
// of lifetime left, or a little later, when the last one falling due within
// a sixth of lifetime after it does, so that certificates issued together
// (at up) are renewed together. They all have more than a sixth left then.
func nextDue(pems [][]byte, lifetime time.Duration) (time.Time, bool) {
	var dues []time.Time
	for _, p := range pems {
		c, err := pki.FirstCert(p)
		if err != nil {
			continue // a key file
		}
		dues = append(dues, c.NotAfter.Add(-lifetime/3))
	}
	if len(dues) == 0 {
		return time.Time{}, false
	}
	slices.SortFunc(dues, time.Time.Compare)
	at := dues[0]
	for _, d := range dues[1:] {
		if d.Sub(dues[0]) <= lifetime/6 {
			at = d
		}
	}
	return at, true
}

// HoldsCertificates reports whether a service of topo holds a certificate
// of moat's CA that a Renewer would renew.
func HoldsCertificates(topo supervisor.Topology) bool {
	return slices.ContainsFunc(topo.Services, func(s supervisor.Spec) bool { return len(holdsTLS(s)) > 0 })
}

// holdsTLS is s's files that renewal replaces.
func holdsTLS(s supervisor.Spec) []supervisor.File {
	var out []supervisor.File
	for _, f := range s.Files {
		if slices.Contains(tlsFiles, f.Path) {
			out = append(out, f)
		}
	}
	return out
}

func sameFiles(a, b []supervisor.File) bool {
	return slices.EqualFunc(a, b, func(x, y supervisor.File) bool {
		return x.Path == y.Path && bytes.Equal(x.Content, y.Content)
	})
}
