package trinotest_test

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/trinodb/trino-go-client/trino"

	"moat/trino/trinotest"
)

// BenchmarkCustomerScan reads all 1500 customers through the official
// client, with small and default pages, to show the cost of paging.
func BenchmarkCustomerScan(b *testing.B) {
	for _, ps := range []int{100, 1000} {
		b.Run(fmt.Sprintf("page=%d", ps), func(b *testing.B) {
			s := trinotest.NewServer(trinotest.Options{Coordinator: true, PageSize: ps})
			defer s.Close()
			c, err := trino.NewConnector(&trino.Config{ServerURI: userURL(s, "bench")})
			if err != nil {
				b.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()
			for b.Loop() {
				rows, err := db.Query("SELECT * FROM tpch.tiny.customer")
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				rows.Close()
				if n != 1500 {
					b.Fatalf("%d rows", n)
				}
			}
		})
	}
}

// BenchmarkAccessControl runs the same query with no access control, with
// rules that only check (a plain SELECT grant) and with a row filter and a
// column mask (a restricted copy of the table per statement), side by side.
func BenchmarkAccessControl(b *testing.B) {
	const grant = `{"tables": [{"privileges": ["SELECT"]}]}`
	const masked = `{"tables": [{"table": "customer", "privileges": ["SELECT"], "filter": "nationkey < 10",
	  "columns": [{"name": "phone", "mask": "'***'"}]}, {"privileges": ["SELECT"]}]}`
	for _, tc := range []struct{ name, rules, sql string }{
		{"none/nation", "", "SELECT nationkey, name FROM tpch.tiny.nation"},
		{"grant/nation", grant, "SELECT nationkey, name FROM tpch.tiny.nation"},
		{"none/customer", "", "SELECT custkey, phone FROM tpch.tiny.customer"},
		{"grant/customer", grant, "SELECT custkey, phone FROM tpch.tiny.customer"},
		{"masked/customer", masked, "SELECT custkey, phone FROM tpch.tiny.customer"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := trinotest.Options{Coordinator: true}
			if tc.rules != "" {
				ac, err := trinotest.ParseAccessControl([]byte(tc.rules))
				if err != nil {
					b.Fatal(err)
				}
				opts.AccessControl = ac
			}
			s := trinotest.NewServer(opts)
			defer s.Close()
			c, err := trino.NewConnector(&trino.Config{ServerURI: userURL(s, "bench")})
			if err != nil {
				b.Fatal(err)
			}
			db := sql.OpenDB(c)
			defer db.Close()
			for b.Loop() {
				rows, err := db.Query(tc.sql)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				rows.Close()
			}
		})
	}
}
