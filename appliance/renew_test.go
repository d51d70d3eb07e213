package appliance

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/appliance/config"
	"moat/pki"
	"moat/supervisor"
	"moat/trino"
)

// A certificate that is no longer current is reissued, saved, and delivered
// to the running service holding it (Consul reloaded after its files);
// a service whose certificate is current gets nothing.
func TestRenewerDeliversReissuedCertificates(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+dir+"\"\n"), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	sec := fakeSecrets(t, dir)
	if err := Provision(c, sec); err != nil {
		t.Fatal(err)
	}
	running, err := Plan(c, sec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !HoldsCertificates(running) || HoldsCertificates(supervisor.Topology{Services: []supervisor.Spec{{Name: "web"}}}) {
		t.Error("HoldsCertificates: want true for the built-in stack, false for a service without certificates")
	}
	// Due: the Consul server's and the coordinator's certificates (an empty
	// one is never current); the worker's stays.
	sec.Set(certConsulServer+"_cert", "")
	sec.Set(trinoCertName(trino.Node{ID: config.ServiceCoordinator})+"_cert", "")
	got := map[string][]supervisor.File{}
	var reloads int
	var msgs []string
	r := &Renewer{Config: c, Secrets: sec, Running: running,
		Deliver: func(_ context.Context, svc string, files []supervisor.File) error {
			got[svc] = files
			return nil
		},
		ReloadConsul: func(context.Context) error { reloads++; return nil },
		Renewed: func(msg string, err error) {
			if err != nil {
				t.Errorf("renewal failed: %v", err)
			}
			msgs = append(msgs, msg)
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one pass: renew, then return at the wait
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{config.ServiceConsul, config.ServiceCoordinator}) || reloads != 1 {
		t.Fatalf("delivered to %v with %d Consul reloads; want consul and trino-coordinator, one reload", names, reloads)
	}
	before := map[string][]byte{}
	for _, s := range running.Services {
		for _, f := range holdsTLS(s) {
			before[s.Name+f.Path] = f.Content
		}
	}
	for svc, files := range got {
		for _, f := range files {
			if string(before[svc+f.Path]) == string(f.Content) || f.Mode == 0 {
				t.Errorf("%s %s: delivered unchanged (or without its mode)", svc, f.Path)
			}
		}
	}
	if cert, err := pki.FirstCert(got[config.ServiceCoordinator][0].Content); err != nil || cert.Subject.CommonName != config.ServiceCoordinator {
		t.Errorf("coordinator keystore: %v %v", cert, err)
	}
	again, err := OpenSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := again.Get(certConsulServer + "_cert"); v == "" || !strings.Contains(string(got[config.ServiceConsul][0].Content)+string(got[config.ServiceConsul][1].Content), v) {
		t.Error("the renewed Consul certificate was not saved before delivery")
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "consul, trino-coordinator") || strings.Contains(msgs[0], "PRIVATE") {
		t.Errorf("renewal messages %q", msgs)
	}
}

// Certificates issued together are renewed together: at the last due time
// within a sixth of the lifetime of the first.
func TestNextDueGroupsCertificates(t *testing.T) {
	now := time.Now()
	ca, _, err := pki.New("test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	l := pki.Leaf{Name: "n", Server: true, Lifetime: 3 * time.Minute}
	issue := func(at time.Time) []byte {
		cert, key, err := ca.Issue(l, at)
		if err != nil {
			t.Fatal(err)
		}
		return append(key, cert...)
	}
	pems := [][]byte{issue(now.Add(5 * time.Second)), issue(now), issue(now.Add(2 * time.Minute)), []byte("not a certificate")}
	due, ok := nextDue(pems, l.Lifetime)
	want := now.Add(5*time.Second + 2*time.Minute).Truncate(time.Second)
	if !ok || !due.Equal(want) {
		t.Errorf("next due %s, %v; want %s (the second certificate's, 5 s after the first's)", due, ok, want)
	}
}

// The test-only lifetime is validated with a message naming the variable.
func TestCertLifetimeEnv(t *testing.T) {
	t.Setenv(CertLifetimeEnv, "")
	if d, err := CertLifetime(); err != nil || d != pki.LeafLifetime {
		t.Errorf("unset: %s, %v", d, err)
	}
	for _, bad := range []string{"10s", "soon", "-1m", "9000h"} {
		t.Setenv(CertLifetimeEnv, bad)
		if _, err := CertLifetime(); err == nil || !strings.Contains(err.Error(), CertLifetimeEnv+`="`+bad+`"`) {
			t.Errorf("%s=%s: %v", CertLifetimeEnv, bad, err)
		}
	}
	t.Setenv(CertLifetimeEnv, "2m")
	sec := fakeSecrets(t, t.TempDir())
	ca, err := sec.CA()
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := sec.EnsureCert(ca, certMoatClient, moatClientLeaf())
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := pki.ParseCert(cert); c.NotAfter.Sub(c.NotBefore) != 2*time.Minute+time.Hour {
		t.Errorf("lifetime %s, want 2m (+1h of clock skew allowance)", c.NotAfter.Sub(c.NotBefore)-time.Hour)
	}
}
