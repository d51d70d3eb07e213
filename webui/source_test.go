package webui

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestUpstreamJSONIsItsString(t *testing.T) {
	in := []Upstream{{Destination: "trino-coordinator", LocalBind: "127.0.0.1:8080"}}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `["trino-coordinator@127.0.0.1:8080"]` {
		t.Fatalf("JSON %s, %v", b, err)
	}
	var back []Upstream
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, in) {
		t.Errorf("read back %+v, %v", back, err)
	}
	for _, bad := range []string{`["trino-coordinator"]`, `["@127.0.0.1:8080"]`, `["trino@"]`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil || !strings.Contains(err.Error(), "DESTINATION@LOCAL_BIND") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}
