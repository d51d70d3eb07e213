package trino

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fake secret values: no rendered file may contain any of them.
var fakeSecrets = []string{"fake-shared-secret-7f3a", "fake-pg-password-91c2", "fake-s3-secret-55aa", "fake-alice-pw-0e1d", "fake-moat-pw-c4b8"}

func testUsers() []User {
	return []User{
		{Name: "moat", Password: "fake-moat-pw-c4b8"},
		{Name: "orchestrator", Password: "fake-orch-pw-2b77"},
		{Name: "alice", Password: "fake-alice-pw-0e1d"},
		{Name: "bob", Password: "fake-bob-pw-6f90"},
	}
}

// testPolicies has masks, row filters, column denials, impersonation and a
// passthrough grant.
func testPolicies() Policies {
	return Policies{Users: []UserPolicy{
		{
			User:     "alice",
			Catalogs: []CatalogGrant{{Catalog: "tpch", Allow: AccessReadOnly}, {Catalog: "pg", Allow: AccessReadOnly}},
			Tables: []TableGrant{
				{Catalog: "tpch", Schema: "tiny", Table: "customer", Privileges: []string{"SELECT"},
					Columns: []ColumnRule{{Name: "phone", Mask: "'***-' || substr(phone, -4)"}, {Name: "acctbal", Deny: true}},
					Filter:  "nationkey < 10"},
				{Catalog: "tpch", Schema: "*", Table: "*", Privileges: []string{"SELECT"}},
				{Catalog: "pg", Schema: "sales", Table: "orders", Privileges: []string{"SELECT"}, Filter: "region = 'EU' AND amount > 0"},
			},
			ReportOwner: true,
		},
		{
			User:        "bob",
			Catalogs:    []CatalogGrant{{Catalog: "*", Allow: AccessAll}},
			Schemas:     []SchemaGrant{{Catalog: "lake", Schema: "bob", Owner: true}},
			Tables:      []TableGrant{{Catalog: "*", Schema: "*", Table: "*", Privileges: []string{"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP"}}},
			Passthrough: []string{"pg"},
			ReportOwner: true,
		},
		{
			User:     "carol.d",
			Catalogs: []CatalogGrant{{Catalog: "tpch", Allow: AccessReadOnly}},
			Tables:   []TableGrant{{Catalog: "tpch", Schema: "tiny", Table: "nation", Privileges: []string{"SELECT"}}},
		},
	}}
}

func testCluster(workers int) Cluster {
	c := Cluster{
		Environment: "moat",
		Version:     483,
		Coordinator: Node{ID: "trino-coordinator", IP: netip.MustParseAddr("172.30.0.10")},
		Catalogs: []Catalog{
			{Name: "tpch", Connector: "tpch"},
			{Name: "memory", Connector: "memory", Properties: map[string]string{"memory.max-data-per-node": "128MB"}},
			PostgreSQL("pg", "jdbc:postgresql://172.30.0.5:5432/sales", "trino", "PG_PASSWORD"),
			IcebergREST("lake", "http://172.30.0.6:8181", "s3://warehouse/", "http://172.30.0.7:9000", "us-east-1", "LAKE_S3_ACCESS_KEY", "LAKE_S3_SECRET_KEY"),
		},
		Policies:    testPolicies(),
		System:      SystemUsers{Management: "moat", Orchestrator: "orchestrator"},
		GracePeriod: 30 * time.Second,
	}
	for i := 1; i <= workers; i++ {
		c.Workers = append(c.Workers, Node{ID: fmt.Sprintf("trino-worker-%d", i), IP: netip.MustParseAddr(fmt.Sprintf("172.30.0.%d", 10+i))})
	}
	c.Memory = PlanMemory(MemoryInput{Workers: workers, CoordinatorHeap: GiB, WorkerHeap: 2 * GiB})
	return c
}

// renderAll renders every node of c into one text: "=== node/path" headers.
func renderAll(t *testing.T, c Cluster) (string, map[string]map[string][]byte) {
	t.Helper()
	var b strings.Builder
	all := map[string]map[string][]byte{}
	for _, n := range c.nodes() {
		files, err := RenderNode(c, n)
		if err != nil {
			t.Fatalf("RenderNode(%s): %v", n.ID, err)
		}
		all[n.ID] = files
		for _, p := range slices.Sorted(maps.Keys(files)) {
			fmt.Fprintf(&b, "=== %s/%s\n%s", n.ID, p, files[p])
		}
	}
	return b.String(), all
}
