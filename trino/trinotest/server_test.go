package trinotest_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trinodb/trino-go-client/trino"
	"golang.org/x/crypto/bcrypt"

	"moat/trino/trinotest"
)

// open returns a database/sql handle on s through the official client.
func open(t *testing.T, conf trino.Config) *sql.DB {
	t.Helper()
	c, err := trino.NewConnector(&conf)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func coordinator(t *testing.T, opts trinotest.Options) *trinotest.Server {
	t.Helper()
	opts.Coordinator = true
	s := trinotest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

func userURL(s *trinotest.Server, user string) string {
	return strings.Replace(s.URL, "http://", "http://"+user+"@", 1)
}

func TestSelectNation(t *testing.T) {
	s := coordinator(t, trinotest.Options{})
	db := open(t, trino.Config{ServerURI: userURL(s, "alice"), Source: "moat-test"})
	rows, err := db.Query("SELECT nationkey, name, regionkey FROM tpch.tiny.nation ORDER BY nationkey")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	if got := types[1].DatabaseTypeName(); got != "VARCHAR" {
		t.Errorf("name column type = %s, want VARCHAR", got)
	}
	if n, ok := types[1].Length(); !ok || n != 25 {
		t.Errorf("name column length = %d %v, want varchar(25)", n, ok)
	}
	var count int
	for rows.Next() {
		var key, region int64
		var name string
		if err := rows.Scan(&key, &name, &region); err != nil {
			t.Fatal(err)
		}
		if key == 24 && (name != "UNITED STATES" || region != 1) {
			t.Errorf("nation 24 = %s in region %d, want UNITED STATES in region 1", name, region)
		}
		count++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if count != 25 {
		t.Errorf("got %d nations, want 25", count)
	}
	q := s.Queries()
	if len(q) != 1 || q[0].User != "alice" || q[0].Principal != "alice" || q[0].Source != "moat-test" || q[0].State != "FINISHED" {
		t.Errorf("recorded %+v, want one FINISHED query by alice from moat-test", q)
	}
}

func TestSessionCatalogSchemaAndJoin(t *testing.T) {
	s := coordinator(t, trinotest.Options{})
	db := open(t, trino.Config{ServerURI: userURL(s, "alice"), Catalog: "tpch", Schema: "tiny"})
	var region string
	var n int64
	err := db.QueryRow(`SELECT r.name, count(*) FROM nation n JOIN tiny.region r ON n.regionkey = r.regionkey
		WHERE r.name = 'EUROPE' GROUP BY r.name`).Scan(&region, &n)
	if err != nil {
		t.Fatal(err)
	}
	if region != "EUROPE" || n != 5 {
		t.Errorf("got %s %d, want EUROPE 5", region, n)
	}
	var user string
	if err := db.QueryRow("SELECT current_user").Scan(&user); err != nil || user != "alice" {
		t.Errorf("current_user = %q, %v; want alice", user, err)
	}
}

func TestQueryArguments(t *testing.T) {
	s := coordinator(t, trinotest.Options{})
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	var name string
	if err := db.QueryRow("SELECT name FROM tpch.tiny.nation WHERE nationkey = ? AND name <> ?", 6, "x").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "FRANCE" {
		t.Errorf("nation 6 = %q, want FRANCE", name)
	}
}

func TestPagingCustomer(t *testing.T) {
	s := coordinator(t, trinotest.Options{PageSize: 100})
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	rows, err := db.Query("SELECT custkey, acctbal, mktsegment FROM tpch.tiny.customer ORDER BY custkey")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := int64(1)
	for rows.Next() {
		var key int64
		var bal float64
		var seg string
		if err := rows.Scan(&key, &bal, &seg); err != nil {
			t.Fatal(err)
		}
		if key != want {
			t.Fatalf("row %d has custkey %d: rows lost or reordered across pages", want, key)
		}
		if bal < -999.99 || bal > 9999.99 || seg == "" {
			t.Errorf("customer %d: acctbal %v, segment %q out of TPC-H ranges", key, bal, seg)
		}
		want++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want-1 != 1500 {
		t.Errorf("got %d customers, want 1500", want-1)
	}
}

func TestSQLErrorCarriesTrinoMessage(t *testing.T) {
	s := coordinator(t, trinotest.Options{})
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	tests := []struct{ sql, name, msg string }{
		{"SELECT * FROM tpch.tiny.nope", "TABLE_NOT_FOUND", "line 1:15: Table 'tpch.tiny.nope' does not exist"},
		{"SELECT * FROM nation", "MISSING_CATALOG_NAME", "line 1:15: Catalog must be specified when session catalog is not set"},
		{"SELECT nope FROM tpch.tiny.nation", "COLUMN_NOT_FOUND", "line 1:8: Column 'nope' cannot be resolved"},
		{"SELEC 1", "SYNTAX_ERROR", "line 1:1: mismatched input 'SELEC'"},
	}
	for _, tt := range tests {
		_, err := db.Query(tt.sql)
		var te *trino.ErrTrino
		if !errors.As(err, &te) {
			t.Errorf("%s: error %v is not a Trino error", tt.sql, err)
			continue
		}
		if te.ErrorName != tt.name || te.ErrorType != "USER_ERROR" || te.Message != tt.msg {
			t.Errorf("%s: got %s %s %q, want %s USER_ERROR %q", tt.sql, te.ErrorName, te.ErrorType, te.Message, tt.name, tt.msg)
		}
	}
}

func TestCancelViaContext(t *testing.T) {
	s := coordinator(t, trinotest.Options{PageSize: 10})
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := db.QueryContext(ctx, "SELECT * FROM tpch.tiny.customer")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no first row:", rows.Err())
	}
	// The client reads ahead; once it holds pages it has not handed out,
	// cancelling makes it DELETE the query (before that it may just stop).
	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if _, err := s.WaitQuery(wait, func(q trinotest.RecordedQuery) bool { return q.Pages >= 3 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	rows.Close()

	q, err := s.WaitQuery(wait, func(q trinotest.RecordedQuery) bool { return q.ErrorName == "USER_CANCELED" })
	if err != nil {
		t.Fatalf("query not recorded as cancelled: %v; recorded %+v", err, s.Queries())
	}
	if q.State != "FAILED" || q.Error != "Query was canceled" {
		t.Errorf("cancelled query recorded as %+v", q)
	}
}

func TestRetriesGatewayErrors(t *testing.T) {
	s := coordinator(t, trinotest.Options{})
	s.FailNext(2, http.StatusBadGateway)
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.region").Scan(&n); err != nil {
		t.Fatalf("query failed despite retries: %v", err)
	}
	if n != 5 || s.PendingFailures() != 0 || len(s.Queries()) != 1 {
		t.Errorf("count %d, pending failures %d, queries %d; want 5, 0, 1", n, s.PendingFailures(), len(s.Queries()))
	}
}

func TestStartingUntilReady(t *testing.T) {
	s := coordinator(t, trinotest.Options{Starting: true})
	if info := getInfo(t, s.URL); !info.Starting {
		t.Fatal("a server created with Starting says starting:false")
	}
	db := open(t, trino.Config{ServerURI: userURL(s, "alice")})
	_, err := db.Query("SELECT 1")
	var te *trino.ErrTrino
	if !errors.As(err, &te) || te.ErrorName != "SERVER_STARTING_UP" {
		t.Errorf("query while starting: %v, want SERVER_STARTING_UP", err)
	}
	s.SetStarting(false)
	if info := getInfo(t, s.URL); info.Starting || info.State != "ACTIVE" || !info.Coordinator {
		t.Errorf("after SetStarting(false): %+v", info)
	}
}

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), 8)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}
