package appliance

import (
	"strings"
	"testing"
	"time"

	"moat/appliance/config"
	"moat/supervisor"
)

// The crash-loop keys: validated at their line, and handed to the
// supervisor as its rule.
func TestCrashLoopKeys(t *testing.T) {
	for _, tc := range []struct {
		toml, want string
	}{
		{"[appliance]\ncrash_loop = \"sometimes\"\n", `crash.toml:2: appliance.crash_loop = "sometimes": must be retry`},
		{"[appliance]\ncrash_loop_failures = 3\ncrash_loop_retry = \"0s\"\n", `crash.toml:3: appliance.crash_loop_retry = "0s": must be a positive duration`},
		{"[appliance]\ncrash_loop_retry = \"soon\"\n", `crash.toml:2: appliance.crash_loop_retry`},
	} {
		if _, err := config.Parse([]byte(tc.toml), "crash.toml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q", tc.toml, err, tc.want)
		}
	}
	c, err := config.Parse([]byte("[appliance]\ncrash_loop = \"stop\"\ncrash_loop_retry = \"0s\"\n"), "crash.toml")
	if err != nil {
		t.Fatalf("stop needs no retry delay: %v", err)
	}
	if got := c.Appliance.CrashLoopPolicy(); !got.Stop {
		t.Errorf("stop: %+v", got)
	}
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	want := supervisor.CrashLoop{Failures: 5, Window: 2 * time.Minute, Retry: 5 * time.Minute}
	if got := def.Appliance.CrashLoopPolicy(); got != want || want != supervisor.DefaultCrashLoop {
		t.Errorf("default rule %+v; want %+v (the supervisor's default)", got, want)
	}
}
