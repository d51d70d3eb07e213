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
