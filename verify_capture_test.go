package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/internal/testenv"
	"moat/state"
)

// checkCapture (run by checkMeshStack on its stack): the capture sees the query's traffic on the mesh bridge
// and finds nothing in plaintext; then code in the notebook sends a Trino
// user name in clear across the mesh bridge while verify captures, and
// verify fails naming that path.
func checkCapture(t *testing.T, s *testStack) {
	cfg, err := config.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verify --capture sees the mesh traffic and no plaintext", func(t *testing.T) {
		start := time.Now()
		out, err := s.moat("verify", "--capture", "--json")
		t.Logf("moat verify --capture --json took %v", time.Since(start).Round(time.Millisecond))
		var rep VerifyReport
		if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil || rep.Capture == nil {
			t.Fatalf("verify --capture --json: %v %v\n%s", err, jerr, out)
		}
		c := rep.Capture
		t.Logf("capture: %d packets, %d bytes, %d flows, %d payload bytes searched for %d needles", c.Packets, c.Bytes, c.Flows, c.Payload, len(c.Searched))
		for _, b := range c.Bridges {
			t.Logf("  %s %s: %d packets, %d bytes, %d flows, %d interfaces", b.Network, b.Interface, b.Packets, b.Bytes, b.Flows, b.Interfaces)
		}
		for _, r := range rep.Results {
			if strings.HasPrefix(r.Source, captureSource) && !r.OK {
				t.Errorf("capture result %+v", r)
			}
		}
		if err != nil || !rep.OK || !c.OK || len(c.Findings) != 0 {
			t.Errorf("verify --capture on a sound stack: %v, ok %v, evidence %+v\n%s", err, rep.OK, c, out)
		}
		i := slices.IndexFunc(c.Bridges, func(b state.CaptureBridge) bool { return b.Network == config.MeshNetwork })
		if i < 0 || c.Bridges[i].Packets == 0 || c.Bridges[i].Bytes == 0 || c.Bridges[i].Flows == 0 || c.Bridges[i].Interfaces < 3 {
			t.Errorf("the mesh bridge's capture %+v: want packets, bytes and flows seen on the bridge and its ports", c.Bridges)
		}
		// trinotest's coordinator reads every worker's /v1/info for the
		// nodes query: the capture sees the trino bridge through its ports,
		// whether or not the bridge has a host address.
		if i := slices.IndexFunc(c.Bridges, func(b state.CaptureBridge) bool { return b.Network == config.TrinoNetwork }); i < 0 || c.Bridges[i].Packets == 0 {
			t.Errorf("the trino bridge's capture %+v: want packets between the coordinator and the worker", c.Bridges)
		}
		if len(c.Bridges) < 3 {
			t.Errorf("captured bridges %+v: want mesh, trino and control", c.Bridges)
		}
		for _, want := range []string{"the password of Trino user analyst", "the HTTP Basic credentials of orchestrator (base64 of orchestrator:password)",
			"user analyst as a header (X-Trino-User: analyst)", "the query's SQL text (moat-capture-", "the query's result (MOAT-CAPTURE-", "a value of report "} {
			if !slices.ContainsFunc(c.Searched, func(s string) bool { return strings.Contains(s, want) }) {
				t.Errorf("searched for %q", want)
			}
		}
		if left, _ := filepath.Glob(filepath.Join(s.dataDir, "capture", "*")); len(left) != 0 {
			t.Errorf("the capture files were left behind: %v", left)
		}
		// The evidence, never a secret, is stored with the verify results.
		st, err := state.OpenReadOnly(filepath.Join(s.dataDir, state.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if got, ok, err := st.LatestCapture(t.Context()); err != nil || !ok || got.Packets != c.Packets || len(got.Searched) != len(c.Searched) {
			t.Errorf("stored evidence %+v ok=%v err=%v", got, ok, err)
		}
	})

	t.Run("a plaintext leak across the mesh bridge fails verify --capture, naming the path", func(t *testing.T) {
		addr := config.PlanAddresses(cfg)
		// The intruder: code in the notebook sends a Trino request in clear
		// (a user name header) to the coordinator's mesh address, over and
		// over, until told to stop.
		leaker := fmt.Sprintf(`import socket, time, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 170
while time.time() < end and not os.path.exists("/tmp/moat-stop-leak"):
    s.sendto(b"POST /v1/statement HTTP/1.1\r\nX-Trino-User: analyst\r\n\r\nSELECT 1", ("%s", 9))
    open("/tmp/moat-leaking", "w").close()
    time.sleep(0.02)
`, addr.CoordinatorMesh)
		nb := s.project + "-" + config.ServiceNotebook
		dockerCLI(t, "exec", "-d", nb, "python3", "-c", leaker)
		defer exec.Command("docker", "exec", nb, "touch", "/tmp/moat-stop-leak").Run()
		testenv.Eventually(t, 20*time.Second, 50*time.Millisecond, "the notebook leaks", func() error {
			return exec.Command("docker", "exec", nb, "test", "-e", "/tmp/moat-leaking").Run()
		})
		out, err := s.moat("verify", "--capture", "--keep-capture")
		flow := fmt.Sprintf("notebook %s:", addr.Notebook)
		dst := fmt.Sprintf("→ trino-coordinator %s:9 (udp)", addr.CoordinatorMesh)
		for _, want := range []string{"FAIL capture on the mesh bridge (br-", flow, dst,
			"OPEN: user analyst as a header (X-Trino-User: analyst) crosses the mesh bridge in clear: whoever can capture on br-",
			"observed plaintext"} {
			if !strings.Contains(out, want) {
				t.Errorf("verify --capture with a leak lacks %q", want)
			}
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "capture") {
				t.Log(l)
			}
		}
		if err == nil || t.Failed() {
			t.Errorf("verify --capture with a leak: %v\n%s", err, out)
		}
		// The supervising moat's dashboard shows the evidence.
		req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Dashboard.Listen+"/api/mesh", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(s.mustMoat("secrets", "show", "dashboard")))
		var mesh struct {
			Capture *state.Capture `json:"capture"`
		}
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Error(err)
		} else {
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&mesh); err != nil || mesh.Capture == nil || len(mesh.Capture.Findings) != 1 ||
				!strings.HasPrefix(mesh.Capture.Findings[0].Flow, flow) || !strings.HasSuffix(mesh.Capture.Findings[0].Flow, dst[len("→ "):]) {
				t.Errorf("/api/mesh capture: %v %+v", err, mesh.Capture)
			}
		}
		// Kept on request: a private folder of 0600 files.
		kept, _ := filepath.Glob(filepath.Join(s.dataDir, "capture", "*"))
		if len(kept) != 1 {
			t.Fatalf("kept captures %v, want one", kept)
		}
		defer os.RemoveAll(kept[0])
		files, _ := filepath.Glob(filepath.Join(kept[0], "*.pcap"))
		if len(files) < 3 {
			t.Errorf("kept capture files %v: want one pcap per bridge", files)
		}
		for _, f := range append(files, kept[0]) {
			want := os.FileMode(0o600)
			if f == kept[0] {
				want = 0o700
			}
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v, want mode %v", f, err, want)
			}
		}
	})
}

// The needles' descriptions, which are stored and shown, never carry the
// secret they stand for; the HTTP Basic one is the exact header value.
func TestCaptureNeedlesNameNoSecret(t *testing.T) {
	cfg, err := config.Load(filepath.Join(testenv.RepoRoot(t), "testdata", "mesh-stack.toml"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := appliance.OpenSecrets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{appliance.SecretManagement, appliance.SecretOrchestrator, appliance.SecretTrinoShared,
		appliance.SecretConsul, appliance.SecretNotebook, appliance.SecretDashboard} {
		sec.Ensure(name)
	}
	needles := credentialNeedles(&stack{cfg: cfg, secrets: sec})
	if want := 3*(2+len(cfg.Users)) + 4; len(needles) != want {
		t.Errorf("%d needles, want %d (3 per Trino user, 4 other secrets)", len(needles), want)
	}
	basic := ""
	for _, n := range needles {
		if len(n.Value) < 8 || strings.Contains(n.What, string(n.Value)) && !strings.HasPrefix(string(n.Value), "X-Trino-User: ") {
			t.Errorf("needle %q shows its value or is too short to search for", n.What)
		}
		if strings.HasPrefix(n.What, "the HTTP Basic credentials of analyst") {
			basic = string(n.Value)
		}
	}
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.SetBasicAuth("analyst", appliance.UserPassword(cfg, sec, "analyst"))
	if got := req.Header.Get("Authorization"); got != "Basic "+basic {
		t.Errorf("the Basic needle %q is not what a client sends (%q)", basic, got)
	}
}
