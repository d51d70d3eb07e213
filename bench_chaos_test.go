package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"moat/internal/testenv"
)

// BenchmarkRecoverAfterKillPerKind: for each container kind of the mesh
// stack (Consul, the coordinator, a worker, both sidecars, the notebook, a
// [[service]]), the time from a kill to healthy again, under moat and under
// Docker's own `restart: always` on the same containers. It prints and
// asserts nothing:
//
//	go test -run '^$' -bench RecoverAfterKillPerKind -benchtime 1x .
//
// moat_<kind>_s: from `docker kill` to moat's healthy transition (its gates
// included: Consul's leader, tokens and registrations; Trino's readiness;
// the upstream through the mesh), from moat's state database. Each kind is
// killed benchReps times in a row, so the restart backoff grows (100ms,
// 200ms, 400ms: moat's default).
//
// docker_<kind>_s: moat's supervisor is SIGKILLed, every container gets
// `docker update --restart always`, and the container's process is killed
// from the host (Docker takes `docker kill` for a manual stop and does not
// restart it); from the engine's die event to its next health_status:
// healthy, or to its start for a container without a healthcheck (the
// sidecars: their readiness is moat's gate). Docker restarts only the
// container that died: a sidecar in a killed application's namespace is
// left in the old one, which this number does not show.
func BenchmarkRecoverAfterKillPerKind(b *testing.B) {
	for _, img := range []string{testenv.WorkloadImage, testenv.ConsulImage, testenv.TrinotestImage, testenv.NotebookImage} {
		testenv.RequireImage(b, img)
	}
	kinds := []string{"consul", "trino-coordinator", "trino-worker-1", "trino-coordinator-sidecar", "notebook", "notebook-sidecar", "web"}
	s := newChaosMeshStack(b)
	s.mustMoat("up", "-d")
	s.allUp("the mesh stack up", 2*time.Minute)
	samples := map[string][]time.Duration{}
	for _, kind := range kinds {
		for range benchReps {
			at := time.Now()
			dockerCLI(b, "kill", s.project+"-"+kind)
			s.allUp(kind+" healthy again under moat", 3*time.Minute)
			if healthy, ok := s.healthyAfter(kind, at); ok {
				samples["moat_"+kind+"_s"] = append(samples["moat_"+kind+"_s"], healthy.Sub(at))
			}
		}
	}

	// Docker alone: moat no longer supervises.
	pid := s.status().Supervisor
	if pid <= 0 {
		b.Fatal("no supervisor to stop")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		b.Fatalf("SIGKILL moat (pid %d): %v", pid, err)
	}
	for _, kind := range kinds {
		dockerCLI(b, "update", "--restart", "always", s.project+"-"+kind)
	}
	for _, kind := range kinds {
		name := s.project + "-" + kind
		probed := strings.TrimSpace(dockerCLI(b, "inspect", "-f", "{{if .Config.Healthcheck}}yes{{end}}", name)) == "yes"
		if !probed {
			b.Logf("docker_%s_s is die → start: the container has no healthcheck (its readiness is moat's gate)", kind)
		}
		for range benchReps {
			w := watchEvents(b, time.Now(), "container="+name)
			killHostProcess(b, name)
			die, err := w.next(time.Minute, name+" die", isAction("die"))
			if err != nil {
				b.Fatal(err)
			}
			back := isAction("start")
			if probed {
				back = isAction(eventHealthy)
			}
			up, err := w.next(3*time.Minute, name+" back under restart: always", back)
			if err != nil {
				b.Fatal(err)
			}
			w.stop()
			samples["docker_"+kind+"_s"] = append(samples["docker_"+kind+"_s"], up.at().Sub(die.at()))
		}
	}
	m := reportMedians(b, samples)
	for _, kind := range kinds {
		if d := m["docker_"+kind+"_s"]; d > 0 {
			b.ReportMetric(m["moat_"+kind+"_s"]-d, "moat_minus_docker_"+kind+"_s")
		}
	}
}
