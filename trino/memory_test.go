package trino

import (
	"strings"
	"testing"
)

var tomlFields = MemoryFields{
	CoordinatorHeap:       "trino.coordinator_heap",
	WorkerHeap:            "trino.worker_heap",
	QueryMaxMemoryPerNode: "trino.query_max_memory_per_node",
	QueryMaxMemory:        "trino.query_max_memory",
	Workers:               "trino.workers",
}

func TestMemoryRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   MemoryInput
		host int64
		want string // "" = valid
	}{
		{"defaults fit", MemoryInput{Workers: 2, CoordinatorHeap: GiB, WorkerHeap: GiB}, 8 * GiB, ""},
		{"per node at the limit", MemoryInput{Workers: 1, CoordinatorHeap: GiB, WorkerHeap: GiB, QueryMaxMemoryPerNode: 716 * MiB}, 8 * GiB, ""},
		{"per node too big", MemoryInput{Workers: 1, CoordinatorHeap: GiB, WorkerHeap: GiB, QueryMaxMemoryPerNode: 800 * MiB}, 8 * GiB,
			"trino.query_max_memory_per_node = 800MiB: with a 1GiB heap and 308MiB headroom (30%), query memory per node must be at most 716MiB; raise trino.worker_heap or lower trino.query_max_memory_per_node"},
		{"per node one MiB too big", MemoryInput{Workers: 1, CoordinatorHeap: GiB, WorkerHeap: GiB, QueryMaxMemoryPerNode: 717 * MiB}, 8 * GiB,
			"trino.query_max_memory_per_node = 717MiB: with a 1GiB heap and 308MiB headroom (30%), query memory per node must be at most 716MiB; raise trino.worker_heap or lower trino.query_max_memory_per_node"},
		{"headroom 50%", MemoryInput{Workers: 1, CoordinatorHeap: GiB, WorkerHeap: 2 * GiB, QueryMaxMemoryPerNode: 1200 * MiB, HeadroomPercent: 50}, 8 * GiB,
			"trino.query_max_memory_per_node = 1200MiB: with a 2GiB heap and 1GiB headroom (50%), query memory per node must be at most 1GiB; raise trino.worker_heap or lower trino.query_max_memory_per_node"},
		{"cluster max below per node", MemoryInput{Workers: 3, CoordinatorHeap: GiB, WorkerHeap: GiB, QueryMaxMemory: 500 * MiB}, 8 * GiB,
			"trino.query_max_memory = 500MiB: must be at least trino.query_max_memory_per_node (716MiB); raise trino.query_max_memory or lower trino.query_max_memory_per_node"},
		{"heap too small", MemoryInput{Workers: 1, CoordinatorHeap: 256 * MiB, WorkerHeap: GiB}, 8 * GiB,
			"trino.coordinator_heap = 256MiB: must be at least 512MiB"},
		{"no workers", MemoryInput{Workers: 0, CoordinatorHeap: GiB, WorkerHeap: GiB}, 8 * GiB,
			"trino.workers = 0: a cluster needs at least 1 worker"},
		{"host too small", MemoryInput{Workers: 3, CoordinatorHeap: GiB, WorkerHeap: GiB}, 4 * GiB,
			"Trino needs 6GiB of memory (coordinator 1536MiB + 3 × worker 1536MiB, each heap + JVM overhead) but only 4GiB is available on this host; lower trino.workers, trino.worker_heap or trino.coordinator_heap"},
		{"big heap overhead is 25%", MemoryInput{Workers: 1, CoordinatorHeap: GiB, WorkerHeap: 8 * GiB}, 11 * GiB,
			"Trino needs 11776MiB of memory (coordinator 1536MiB + 1 × worker 10GiB, each heap + JVM overhead) but only 11GiB is available on this host; lower trino.workers, trino.worker_heap or trino.coordinator_heap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Fields = tomlFields
			err := PlanMemory(tc.in).Validate(tc.host)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("want valid, got %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestPlanMemoryDefaults(t *testing.T) {
	p := PlanMemory(MemoryInput{Workers: 3, CoordinatorHeap: GiB, WorkerHeap: 2 * GiB})
	check := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %s, want %s", name, FormatSize(got), FormatSize(want))
		}
	}
	check("worker headroom", p.Worker.Headroom, 615*MiB) // ceil(30% of 2048MiB)
	check("worker per node", p.Worker.QueryMaxMemoryPerNode, 1433*MiB)
	check("coordinator headroom", p.Coordinator.Headroom, 308*MiB)
	check("coordinator per node (capped by its heap)", p.Coordinator.QueryMaxMemoryPerNode, 716*MiB)
	check("query.max-memory", p.QueryMaxMemory, 3*1433*MiB)
	check("worker container", p.Worker.Container, 2*GiB+512*MiB)
	check("total", p.Total(), 1536*MiB+3*2560*MiB)
	// The rule Trino applies at start: per node + headroom <= heap, on every node.
	for _, r := range []RoleMemory{p.Coordinator, p.Worker} {
		if r.QueryMaxMemoryPerNode+r.Headroom > r.Heap {
			t.Errorf("%+v breaks Trino's memory rule", r)
		}
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]int64{"800MB": 800 * MiB, "1GiB": GiB, "1.5GB": 1536 * MiB, "512m": 512 * MiB, "2 GB": 2 * GiB} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "12XB", "1.2.3GB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
	if got := FormatSize(716 * MiB); got != "716MiB" {
		t.Errorf("FormatSize = %s", got)
	}
	if got := trinoSize(1433 * MiB); got != "1433MB" {
		t.Errorf("trinoSize = %s", got)
	}
	if err := PlanMemory(MemoryInput{Workers: 1, CoordinatorHeap: GiB, WorkerHeap: GiB + 5}).Validate(8 * GiB); err == nil || !strings.Contains(err.Error(), "whole number of MiB") {
		t.Errorf("a heap that is not whole MiB: %v", err)
	}
}
