package main

import (
	"fmt"
	"testing"
	"time"

	"moat/internal/testenv"
)

// TestKilledServiceAlwaysReturns is the short, bounded fault matrix of
// `make test`: db of the test stack (crash_loop_failures = 3 within 1m) is
// killed from outside 6 times in a row and comes back healthy every time:
// a kill of a healthy service is not a crash loop.
func TestKilledServiceAlwaysReturns(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")
	for i := 1; i <= 6; i++ {
		before := s.service("db")
		dockerCLI(t, "kill", s.project+"-db")
		testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, fmt.Sprintf("db healthy again after kill %d", i), func() error {
			db := s.service("db")
			if db.Restarts != before.Restarts+1 || db.Phase != "healthy" || db.Health != "healthy" || db.State != "running" {
				return fmt.Errorf("db: %+v", db)
			}
			return nil
		})
	}
	for _, tr := range s.transitions() {
		if tr.Service == "db" && (tr.To == "crash-looping" || tr.To == "failed") {
			t.Errorf("db was %s: %s", tr.To, tr.Reason)
		}
	}
	if api := s.service("api"); api.Phase != "healthy" || api.Restarts != 0 {
		t.Errorf("api after db's kills: %+v", api)
	}
}
