package trino

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sizes are bytes. Trino's DataSize and the JVM's -Xmx both count in powers
// of 1024 ("1GB" is 1 GiB to Trino), so the plan works in whole MiB.
const (
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

// Memory defaults and limits.
const (
	DefaultHeadroomPercent = 30        // Trino's default memory.heap-headroom-per-node
	MinHeap                = 512 * MiB // below this Trino does not start reliably
	// JVM memory outside the heap: metaspace for Trino and its plugins
	// (about 150-250 MiB), the code cache (ReservedCodeCacheSize=256M),
	// thread stacks, G1's remembered sets and Netty/Jetty direct buffers.
	// A container gets heap + max(MinJVMOverhead, JVMOverheadPercent% of heap).
	MinJVMOverhead     = 512 * MiB
	JVMOverheadPercent = 25
)

// MemoryFields names, in the caller's vocabulary (moat.toml keys), the
// settings a memory error tells the user to change.
type MemoryFields struct {
	CoordinatorHeap       string
	WorkerHeap            string
	QueryMaxMemoryPerNode string
	QueryMaxMemory        string
	Workers               string
}

func (f MemoryFields) withDefaults() MemoryFields {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	return MemoryFields{
		CoordinatorHeap:       def(f.CoordinatorHeap, "coordinator heap (-Xmx)"),
		WorkerHeap:            def(f.WorkerHeap, "worker heap (-Xmx)"),
		QueryMaxMemoryPerNode: def(f.QueryMaxMemoryPerNode, "query.max-memory-per-node"),
		QueryMaxMemory:        def(f.QueryMaxMemory, "query.max-memory"),
		Workers:               def(f.Workers, "workers"),
	}
}

// MemoryInput is what the user chose; zero values take defaults.
type MemoryInput struct {
	Workers               int
	CoordinatorHeap       int64 // -Xmx of the coordinator
	WorkerHeap            int64 // -Xmx of each worker
	QueryMaxMemoryPerNode int64 // 0: heap - headroom of a worker
	QueryMaxMemory        int64 // 0: QueryMaxMemoryPerNode × Workers
	HeadroomPercent       int   // 0: DefaultHeadroomPercent
	Fields                MemoryFields
}

// RoleMemory is the memory of one node of a role.
type RoleMemory struct {
	Heap                  int64 // -Xmx
	Headroom              int64 // memory.heap-headroom-per-node
	QueryMaxMemoryPerNode int64 // query.max-memory-per-node
	Container             int64 // heap + JVM overhead: the container's memory limit
}

// MemoryPlan is the memory of the whole cluster; Validate checks it.
type MemoryPlan struct {
	Workers         int
	HeadroomPercent int
	Coordinator     RoleMemory
	Worker          RoleMemory
	QueryMaxMemory  int64 // query.max-memory (cluster-wide, per query)
	// QueryMaxMemoryPerNodeSet records that the user chose the per-node limit,
	// so an error names that setting rather than the heap.
	QueryMaxMemoryPerNodeSet bool
	Fields                   MemoryFields
}

// PlanMemory fills defaults in. The coordinator does not run tasks
// (node-scheduler.include-coordinator=false) but validates its own
// query.max-memory-per-node at start, so it gets the worker's value capped to
// what its own heap allows.
func PlanMemory(in MemoryInput) MemoryPlan {
	pct := in.HeadroomPercent
	if pct == 0 {
		pct = DefaultHeadroomPercent
	}
	p := MemoryPlan{
		Workers:                  in.Workers,
		HeadroomPercent:          pct,
		Coordinator:              roleMemory(in.CoordinatorHeap, pct),
		Worker:                   roleMemory(in.WorkerHeap, pct),
		QueryMaxMemoryPerNodeSet: in.QueryMaxMemoryPerNode != 0,
		Fields:                   in.Fields.withDefaults(),
	}
	if in.QueryMaxMemoryPerNode != 0 {
		p.Worker.QueryMaxMemoryPerNode = in.QueryMaxMemoryPerNode
	}
	p.Coordinator.QueryMaxMemoryPerNode = max(0, min(p.Worker.QueryMaxMemoryPerNode, p.Coordinator.maxQueryPerNode()))
	p.QueryMaxMemory = in.QueryMaxMemory
	if p.QueryMaxMemory == 0 {
		p.QueryMaxMemory = p.Worker.QueryMaxMemoryPerNode * int64(max(in.Workers, 1))
	}
	return p
}

func roleMemory(heap int64, pct int) RoleMemory {
	r := RoleMemory{Heap: heap, Headroom: ceilMiB(heap * int64(pct) / 100)}
	r.QueryMaxMemoryPerNode = r.maxQueryPerNode()
	r.Container = heap + max(MinJVMOverhead, ceilMiB(heap*JVMOverheadPercent/100))
	return r
}

// maxQueryPerNode is Trino's limit: query.max-memory-per-node plus the
// headroom must not exceed the heap.
func (r RoleMemory) maxQueryPerNode() int64 { return r.Heap - r.Headroom }

func ceilMiB(b int64) int64 { return (b + MiB - 1) / MiB * MiB }

// Total is the memory all Trino containers need together.
func (p MemoryPlan) Total() int64 {
	return p.Coordinator.Container + int64(p.Workers)*p.Worker.Container
}

// Validate checks the plan against Trino's start-up rules and the memory
// hostMemory available to Trino (the caller subtracts what other services
// need). It reports every broken rule, each with its numbers and the fix.
func (p MemoryPlan) Validate(hostMemory int64) error {
	f := p.Fields.withDefaults()
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, memoryError(field, format, args...)) }
	if p.Workers < 1 {
		add(f.Workers, "%s = %d: a cluster needs at least 1 worker", f.Workers, p.Workers)
	}
	for _, h := range []struct {
		field string
		heap  int64
	}{{f.CoordinatorHeap, p.Coordinator.Heap}, {f.WorkerHeap, p.Worker.Heap}} {
		if h.heap < MinHeap {
			add(h.field, "%s = %s: must be at least %s", h.field, FormatSize(h.heap), FormatSize(MinHeap))
		} else if h.heap%MiB != 0 {
			add(h.field, "%s = %d bytes: must be a whole number of MiB", h.field, h.heap)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := p.checkPerNode(f); err != nil {
		errs = append(errs, err)
	}
	if p.QueryMaxMemory < p.Worker.QueryMaxMemoryPerNode {
		add(f.QueryMaxMemory, "%s = %s: must be at least %s (%s); raise %s or lower %s",
			f.QueryMaxMemory, FormatSize(p.QueryMaxMemory), f.QueryMaxMemoryPerNode,
			FormatSize(p.Worker.QueryMaxMemoryPerNode), f.QueryMaxMemory, f.QueryMaxMemoryPerNode)
	}
	if total := p.Total(); total > hostMemory {
		add(f.Workers, "Trino needs %s of memory (coordinator %s + %d × worker %s, each heap + JVM overhead) but only %s is available on this host; lower %s, %s or %s",
			FormatSize(total), FormatSize(p.Coordinator.Container), p.Workers, FormatSize(p.Worker.Container),
			FormatSize(hostMemory), f.Workers, f.WorkerHeap, f.CoordinatorHeap)
	}
	return errors.Join(errs...)
}

func (p MemoryPlan) checkPerNode(f MemoryFields) error {
	w := p.Worker
	if w.QueryMaxMemoryPerNode <= 0 {
		return memoryError(f.QueryMaxMemoryPerNode, "%s = %s: must be positive", f.QueryMaxMemoryPerNode, FormatSize(w.QueryMaxMemoryPerNode))
	}
	if w.QueryMaxMemoryPerNode%MiB != 0 {
		return memoryError(f.QueryMaxMemoryPerNode, "%s = %d bytes: must be a whole number of MiB", f.QueryMaxMemoryPerNode, w.QueryMaxMemoryPerNode)
	}
	if w.QueryMaxMemoryPerNode+w.Headroom <= w.Heap {
		return nil
	}
	field, size := f.QueryMaxMemoryPerNode, FormatSize(w.QueryMaxMemoryPerNode)
	if !p.QueryMaxMemoryPerNodeSet {
		field, size = f.WorkerHeap, FormatSize(w.Heap)
	}
	return memoryError(field, "%s = %s: with a %s heap and %s headroom (%d%%), query memory per node must be at most %s; raise %s or lower %s",
		field, size, FormatSize(w.Heap), FormatSize(w.Headroom), p.HeadroomPercent,
		FormatSize(w.maxQueryPerNode()), f.WorkerHeap, f.QueryMaxMemoryPerNode)
}

// MemoryError is one broken memory rule. Field is the setting it is about,
// in the caller's vocabulary (a MemoryFields value), so that the caller can
// point at the line that sets it.
type MemoryError struct {
	Field string
	msg   string
}

func (e *MemoryError) Error() string { return e.msg }

func memoryError(field, format string, args ...any) error {
	return &MemoryError{Field: field, msg: fmt.Sprintf(format, args...)}
}

// FormatSize writes b the way a person reads it: "1GiB", "716MiB", or bytes
// when b is not a whole MiB.
func FormatSize(b int64) string {
	switch {
	case b != 0 && b%GiB == 0:
		return strconv.FormatInt(b/GiB, 10) + "GiB"
	case b%MiB == 0:
		return strconv.FormatInt(b/MiB, 10) + "MiB"
	default:
		return strconv.FormatInt(b, 10) + "B"
	}
}

// trinoSize writes b as a Trino DataSize ("716MB" is 716 MiB to Trino).
func trinoSize(b int64) string {
	if b%GiB == 0 {
		return strconv.FormatInt(b/GiB, 10) + "GB"
	}
	return strconv.FormatInt(b/MiB, 10) + "MB"
}

// ParseSize reads a size such as "800MB", "1GiB", "1.5GB" or "512m", counting
// in powers of 1024 as Trino and the JVM do.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("size %q: want a number and a unit such as 512MB or 2GB", s)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := map[string]int64{
		"b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": MiB, "mb": MiB, "mib": MiB, "g": GiB, "gb": GiB, "gib": GiB,
		"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
	}[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KB, MB, GB or TB)", s, t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %q is not a number", s, num)
	}
	return int64(v * float64(mult)), nil
}
