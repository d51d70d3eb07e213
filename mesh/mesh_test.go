package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"moat/internal/testenv"
)

// meshPair is app B (echo) behind its sidecar, and A's sidecar with an
// upstream to B on 127.0.0.1:upstreamPort, all on a real Consul.
type meshPair struct {
	tc                    *testConsul
	upstreamPort, bPublic int
}

func startPair(t testing.TB) *meshPair {
	t.Helper()
	tc := startConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := &meshPair{tc: tc, upstreamPort: testenv.FreePort(t), bPublic: testenv.FreePort(t)}
	regs := []Registration{
		{Service: "b", Address: "127.0.0.1", Port: startApp(t),
			SidecarPort: p.bPublic, SidecarAddress: "127.0.0.1", SidecarBindAddress: "127.0.0.1"},
		{Service: "a", Address: "127.0.0.1", Port: testenv.FreePort(t),
			SidecarPort: testenv.FreePort(t), SidecarAddress: "127.0.0.1", SidecarBindAddress: "127.0.0.1",
			Upstreams: []Upstream{{DestinationName: "b", LocalBindPort: p.upstreamPort}}},
	}
	for _, r := range regs {
		// Each service registers and reports with its own scoped token,
		// as its sidecar would: the service identity must be enough.
		tok, err := SidecarToken(ctx, tc.client, r.Service)
		if err != nil {
			t.Fatal(err)
		}
		c := tc.clientWith(t, tok)
		if _, err := Register(ctx, c, r); err != nil {
			t.Fatal(err)
		}
		if err := UpdateHealth(ctx, c, r.Service, Passing, "test app listening"); err != nil {
			t.Fatal(err)
		}
		startSidecar(t, tc, r.Service, tok)
	}
	if _, err := ReconcileIntentions(ctx, tc.client, nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, "b's sidecar passing in the catalog", func() error {
		e, _, err := tc.client.Health().Connect("b", "", true, nil)
		if err == nil && len(e) == 0 {
			err = errors.New("no passing instance")
		}
		return err
	})
	// The sidecar's health is its application's (an alias check), so the
	// catalog says nothing of its listener: wait until that is bound, and
	// a's upstream too.
	for _, port := range []int{p.bPublic, p.upstreamPort} {
		testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, "a sidecar listening on "+itoa(port), func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	return p
}

func TestMeshIntentionsTakeEffectWithoutRestart(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	up := "127.0.0.1:" + itoa(p.upstreamPort)
	msg := []byte("hello through the mesh")

	if ok, err := CheckIntention(ctx, p.tc.client, "a", "b"); err != nil || ok {
		t.Fatalf("with only the default deny, a → b: allowed=%v err=%v; want denied", ok, err)
	}
	allow := []Intention{{Source: "a", Destination: "b", Action: Allow}}
	changes, err := ReconcileIntentions(ctx, p.tc.client, allow)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].String() != "added allow a → b" {
		t.Fatalf("changes = %v, want [added allow a → b]", changes)
	}
	testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, "a → b data flows once allowed", func() error {
		return roundTrip(up, msg)
	})

	changes, err = ReconcileIntentions(ctx, p.tc.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].String() != "removed allow a → b" {
		t.Fatalf("changes = %v, want [removed allow a → b]", changes)
	}
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "a → b refused once the allow is gone", func() error {
		if err := roundTrip(up, msg); err == nil {
			return errors.New("data still flows")
		}
		return nil
	})
	if ok, _ := CheckIntention(ctx, p.tc.client, "a", "b"); ok {
		t.Fatal("Consul still reports a → b allowed")
	}

	if _, err := ReconcileIntentions(ctx, p.tc.client, allow); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "a → b flows again, same proxies", func() error {
		return roundTrip(up, msg)
	})
}

func TestIntentionWritesNeedAToken(t *testing.T) {
	tc := startConsul(t)
	ctx := context.Background()
	entry := &api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "trino-coordinator",
		Sources: []*api.SourceIntention{{Name: "notebook", Action: api.IntentionActionAllow}}}
	sidecarTok, err := SidecarToken(ctx, tc.client, "notebook")
	if err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"no token": "", "the notebook's sidecar token": sidecarTok} {
		_, _, err := tc.clientWith(t, token).ConfigEntries().Set(entry, nil)
		if !isStatus(err, 403) {
			t.Errorf("writing an intention with %s: err = %v, want 403 Permission denied", name, err)
		}
	}
	if _, _, err := tc.client.ConfigEntries().Set(entry, nil); err != nil {
		t.Errorf("the management token cannot write an intention: %v", err)
	}
	again, err := SidecarToken(ctx, tc.client, "notebook")
	if err != nil || again != sidecarTok {
		t.Errorf("asking twice for the notebook's token gave another token (err %v)", err)
	}
	info, err := ReadAgentInfo(ctx, tc.client)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || len(info.EnvoyVersions) == 0 || info.NodeName != "moat-test" {
		t.Errorf("agent info %+v: want a version, Envoy versions and node moat-test", info)
	}
}

func TestNativeClientThroughSidecar(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	orch, err := NewIdentity(ctx, p.tc.client, "orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	defer orch.Close()

	// Denied: the error names the missing intention.
	conn, err := orch.Dial(ctx, "b")
	if err == nil {
		err = echo(conn, []byte("ping"))
		conn.Close()
	}
	var refused *RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "no intention allows orchestrator → b") {
		t.Fatalf("orchestrator → b without an intention: %v; want a RefusedError naming the intention", err)
	}

	if _, err := ReconcileIntentions(ctx, p.tc.client, []Intention{{Source: "orchestrator", Destination: "b", Action: Allow}}); err != nil {
		t.Fatal(err)
	}
	dialEcho := func() error {
		c, err := orch.Dial(ctx, "b")
		if err != nil {
			return err
		}
		defer c.Close()
		return echo(c, []byte("native hello"))
	}
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "orchestrator → b allowed", dialEcho)

	// Renewal: rotate the CA (leaf TTLs cannot go below 1h) and wait for
	// the identity to hold a new leaf; connections keep working.
	before := orch.leafSerial()
	changed := orch.nextChange()
	rotateCA(t, p.tc.client)
	deadline := time.After(60 * time.Second)
	for orch.leafSerial() == before {
		select {
		case <-changed:
			changed = orch.nextChange()
		case <-deadline:
			t.Fatalf("no new leaf 60s after a CA rotation (last watch error: %v)", orch.Err())
		}
	}
	testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "orchestrator → b after the renewal", dialEcho)
}

// leafSerial is the serial number of the identity's current leaf (hex).
func (id *Identity) leafSerial() string {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.serial
}

// nextChange is closed at the next change of the identity's leaf or roots.
func (id *Identity) nextChange() <-chan struct{} {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.changed
}

// rotateCA makes the built-in CA generate a new root (a new key type),
// which re-issues every leaf certificate.
func rotateCA(t *testing.T, c *api.Client) {
	t.Helper()
	conf, _, err := c.Connect().CAGetConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	conf.Config["PrivateKeyType"] = "ec"
	conf.Config["PrivateKeyBits"] = 384
	if _, err := c.Connect().CASetConfig(conf, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSPIFFEMismatchIsRejected(t *testing.T) {
	tc := startConsul(t)
	ctx := context.Background()
	orch, err := NewIdentity(ctx, tc.client, "orchestrator")
	if err != nil {
		t.Fatal(err)
	}
	defer orch.Close()
	impostor, err := NewIdentity(ctx, tc.client, "impostor")
	if err != nil {
		t.Fatal(err)
	}
	defer impostor.Close()
	addr := serveTLS(t, serverTLSConfig(impostor))

	orch.SetAddress("trino-coordinator", addr)
	_, err = orch.Dial(ctx, "trino-coordinator")
	var mismatch *IdentityMismatchError
	if !errors.As(err, &mismatch) || !strings.HasSuffix(mismatch.Got, "/svc/impostor") || !strings.HasSuffix(mismatch.Want, "/svc/trino-coordinator") {
		t.Fatalf("dialing trino-coordinator at a server of identity impostor: %v; want an IdentityMismatchError", err)
	}
	// Control: the same server is accepted under its real name, and its
	// URI has the documented SPIFFE form.
	orch.SetAddress("impostor", addr)
	c, err := orch.Dial(ctx, "impostor")
	if err != nil {
		t.Fatalf("dialing impostor as impostor: %v", err)
	}
	defer c.Close()
	want := fmt.Sprintf("spiffe://%s/ns/default/dc/dc1/svc/impostor", orch.trustDomain)
	if got := c.(*meshConn).Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].URIs[0].String(); got != want {
		t.Errorf("peer URI %s, want %s", got, want)
	}
}

// serverTLSConfig is a Connect-native server's configuration with id: it
// presents id's current leaf and requires a client certificate of the same
// CA, without checking intentions.
func serverTLSConfig(id *Identity) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			id.mu.RLock()
			defer id.mu.RUnlock()
			return id.cert, nil
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return id.verifyPeer(cs.PeerCertificates, "")
		},
	}
}

// serveTLS accepts TLS connections with cfg and echoes; it returns host:port.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, func(c net.Conn) { defer c.Close(); io.Copy(c, c) })
	return l.Addr().String()
}

func TestVerifyPairObservesTheMesh(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	intentions := []Intention{{Source: "a", Destination: "b", Action: Allow}}
	if _, err := ReconcileIntentions(ctx, p.tc.client, intentions); err != nil {
		t.Fatal(err)
	}
	m := ExpectedMatrix([]string{"a", "notebook"}, []string{"b"}, append([]Intention{DefaultDeny}, intentions...))
	for _, pair := range []Pair{{"a", "b"}, {"notebook", "b"}} {
		var o Observation
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "verify "+pair.Source, func() error {
			var err error
			o, err = VerifyPair(ctx, p.tc.client, pair.Source, pair.Destination, VerifyOptions{})
			if err == nil && o.Allowed != m.Expected[pair] {
				err = fmt.Errorf("observed %+v, expected allowed=%v", o, m.Expected[pair])
			}
			return err
		})
		m.Observe(pair, o, nil)
	}
	if mm := m.Mismatches(); len(mm) != 0 {
		t.Fatalf("mismatches %v:\n%s", mm, m.Render())
	}
}

func TestRegisterIsIdempotent(t *testing.T) {
	tc := startConsul(t)
	ctx := context.Background()
	r := Registration{Service: "notebook", Address: "127.0.0.1", Port: 8888, SidecarPort: 21001,
		SidecarAddress: "10.0.0.5", Upstreams: []Upstream{{DestinationName: "trino-coordinator", LocalBindPort: 28080}}}
	if changed, err := Register(ctx, tc.client, r); err != nil || !changed {
		t.Fatalf("first Register: changed=%v err=%v", changed, err)
	}
	if err := UpdateHealth(ctx, tc.client, "notebook", Passing, "jupyter answers"); err != nil {
		t.Fatal(err)
	}
	if changed, err := Register(ctx, tc.client, r); err != nil || changed {
		t.Fatalf("same Register again: changed=%v err=%v, want no change", changed, err)
	}
	checks, err := tc.client.Agent().ChecksWithFilter(`CheckID == "moat:notebook"`)
	if err != nil || checks["moat:notebook"] == nil || checks["moat:notebook"].Status != api.HealthPassing {
		t.Fatalf("after an identical re-registration the moat:notebook check is %+v (err %v), want still passing", checks["moat:notebook"], err)
	}
	r.SidecarPort = 21002
	if changed, err := Register(ctx, tc.client, r); err != nil || !changed {
		t.Fatalf("Register with a new sidecar port: changed=%v err=%v", changed, err)
	}
	sc, _, err := tc.client.Agent().Service(SidecarID("notebook"), nil)
	if err != nil || sc.Port != 21002 || sc.Proxy.Upstreams[0].LocalBindPort != 28080 {
		t.Fatalf("sidecar after update: %+v err %v", sc, err)
	}
	if err := UpdateHealth(ctx, tc.client, "notebook", "fine", ""); err == nil {
		t.Error("UpdateHealth accepted status \"fine\"")
	}
}

func TestReconcileIntentionsRemovesExtras(t *testing.T) {
	tc := startConsul(t)
	ctx := context.Background()
	first := []Intention{
		{Source: "notebook", Destination: "trino-coordinator", Action: Allow},
		{Source: "orchestrator", Destination: "trino-coordinator", Action: Allow},
		{Source: "notebook", Destination: "grafana", Action: Allow},
		{Source: "orchestrator", Destination: "api", Action: Allow,
			HTTP: []PathRule{{PathPrefix: "/v1/statement", Methods: []string{"GET", "POST"}}}},
	}
	changes, err := ReconcileIntentions(ctx, tc.client, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 5 { // the default deny and four allows
		t.Fatalf("first reconcile: %v, want 5 additions", changes)
	}
	if again, err := ReconcileIntentions(ctx, tc.client, first); err != nil || len(again) != 0 {
		t.Fatalf("second identical reconcile: %v %v, want no change", again, err)
	}
	// A user-made intention is an extra too.
	extra := &api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: "hand-made",
		Sources: []*api.SourceIntention{{Name: "x", Action: api.IntentionActionAllow}}}
	if _, _, err := tc.client.ConfigEntries().Set(extra, nil); err != nil {
		t.Fatal(err)
	}
	changes, err = ReconcileIntentions(ctx, tc.client, first[:1])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	want := []string{"removed allow orchestrator → trino-coordinator", // kept destination, one source less
		"removed allow orchestrator → api [GET,POST /v1/statement]", "removed allow notebook → grafana",
		"removed allow x → hand-made"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for pair, allowed := range map[[2]string]bool{
		{"notebook", "trino-coordinator"}: true, {"orchestrator", "trino-coordinator"}: false,
		{"notebook", "grafana"}: false, {"x", "hand-made"}: false} {
		if ok, err := CheckIntention(ctx, tc.client, pair[0], pair[1]); err != nil || ok != allowed {
			t.Errorf("%s → %s: allowed=%v err=%v, want %v", pair[0], pair[1], ok, err, allowed)
		}
	}
}
