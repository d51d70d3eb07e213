package mesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"
)

// problems renders ValidateIntentions' answer one problem a line, as
// "index field=value: message", so that a table can list them exactly.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs IntentionErrors
	if !errors.As(err, &errs) {
		t.Fatalf("ValidateIntentions returned a %T, not IntentionErrors: %v", err, err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%d %s=%v: %s", e.Index, e.Field, e.Value, e.Msg))
	}
	return out
}

func TestValidateIntentions(t *testing.T) {
	envoy := IntentionScope{Proxy: ProxyEnvoy}
	known := IntentionScope{Proxy: ProxyEnvoy, Names: []string{"notebook", "api", "trino", Wildcard}, OpaqueTLS: []string{"trino"}}
	allow := func(src, dst string, prefixes ...string) Intention {
		in := Intention{Source: src, Destination: dst, Action: Allow}
		for _, p := range prefixes {
			in.HTTP = append(in.HTTP, PathRule{PathPrefix: p})
		}
		return in
	}
	for _, tc := range []struct {
		name  string
		list  []Intention
		scope IntentionScope
		want  []string
	}{
		{"valid with Envoy", []Intention{DefaultDeny, allow("notebook", "api", "/v1/"), {Source: "notebook", Destination: "trino", Action: Deny}}, known, nil},
		{"any name without Names", []Intention{allow("x", "y")}, IntentionScope{}, nil},
		{"HTTP rules with the built-in proxy", []Intention{allow("notebook", "api", "/v1/")}, IntentionScope{Proxy: ProxyBuiltin},
			[]string{`0 http=<nil>: HTTP path and method rules need mesh.proxy = "envoy" (the built-in proxy only sees TCP): set it, or drop the rules`}},
		{"HTTP rules with no proxy named", []Intention{allow("notebook", "api", "/v1/")}, IntentionScope{},
			[]string{`0 http=<nil>: HTTP path and method rules need mesh.proxy = "envoy" (the built-in proxy only sees TCP): set it, or drop the rules`}},
		{"action", []Intention{{Source: "a", Destination: "b", Action: "permit"}}, envoy,
			[]string{`0 action=permit: must be allow or deny`}},
		{"pair twice", []Intention{allow("a", "b"), allow("c", "b"), {Source: "a", Destination: "b", Action: Deny}}, envoy,
			[]string{`2 =<nil>: a → b is declared twice (first at intention[0]): keep one`}},
		{"HTTP rules on a deny", []Intention{{Source: "a", Destination: "b", Action: Deny, HTTP: []PathRule{{PathPrefix: "/"}}}}, envoy,
			[]string{`0 http=<nil>: HTTP path rules narrow an allow; a deny takes none: drop the rules, or make the action allow`}},
		{"path prefix", []Intention{allow("a", "b", "/ok", "v1")}, envoy,
			[]string{`0 http[1].path_prefix=v1: must start with /, e.g. "/api/"`}},
		{"empty names", []Intention{{Action: Allow}}, envoy,
			[]string{`0 source=: must name a service, or "*" for every service`, `0 destination=: must name a service, or "*" for every service`}},
		{"unknown names", []Intention{allow("web", "db")}, known,
			[]string{`0 source=web: must be one of notebook, api, trino, *`, `0 destination=db: must be one of notebook, api, trino, *`}},
		{"HTTP rules to the wildcard", []Intention{allow("notebook", Wildcard, "/")}, known,
			[]string{`0 http=<nil>: HTTP path and method rules cannot apply to "*": they need one destination service, whose protocol moat sets to http; write the intention to that service`}},
		{"HTTP rules to an opaque-TLS destination", []Intention{allow("notebook", "trino", "/v1/")}, known,
			[]string{`0 http=<nil>: HTTP path and method rules cannot apply to trino: its clients speak TLS to the application itself, carried by the sidecar at L4, so no proxy sees their HTTP; use an allow or deny intention, and [[policy]] for what a user may do in Trino`}},
		// One list with a problem of every kind: all of them, in order.
		{"every problem at once", []Intention{
			allow("notebook", "api"),
			{Source: "web", Destination: "api", Action: "permit"},
			{Source: "notebook", Destination: "api", Action: Deny, HTTP: []PathRule{{PathPrefix: "v1"}, {PathPrefix: "/v2"}, {PathPrefix: ""}}},
			allow("notebook", "trino", "/v1/"),
		}, IntentionScope{Proxy: ProxyBuiltin, Names: known.Names, OpaqueTLS: known.OpaqueTLS}, []string{
			`1 source=web: must be one of notebook, api, trino, *`,
			`1 action=permit: must be allow or deny`,
			`2 =<nil>: notebook → api is declared twice (first at intention[0]): keep one`,
			`2 http=<nil>: HTTP path rules narrow an allow; a deny takes none: drop the rules, or make the action allow`,
			`2 http=<nil>: HTTP path and method rules need mesh.proxy = "envoy" (the built-in proxy only sees TCP): set it, or drop the rules`,
			`2 http[0].path_prefix=v1: must start with /, e.g. "/api/"`,
			`2 http[2].path_prefix=: must start with /, e.g. "/api/"`,
			`3 http=<nil>: HTTP path and method rules need mesh.proxy = "envoy" (the built-in proxy only sees TCP): set it, or drop the rules`,
			`3 http=<nil>: HTTP path and method rules cannot apply to trino: its clients speak TLS to the application itself, carried by the sidecar at L4, so no proxy sees their HTTP; use an allow or deny intention, and [[policy]] for what a user may do in Trino`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, ValidateIntentions(tc.list, tc.scope))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// The error text names each intention by index and pair, and the field
// with its value.
func TestIntentionErrorText(t *testing.T) {
	err := ValidateIntentions([]Intention{
		{Source: "a", Destination: "b", Action: "permit"},
		{Source: "a", Destination: "b", Action: Allow, HTTP: []PathRule{{PathPrefix: "/"}}},
	}, IntentionScope{})
	want := `intention[0] (a → b): action = "permit": must be allow or deny
intention[1] (a → b): a → b is declared twice (first at intention[0]): keep one
intention[1] (a → b): http: HTTP path and method rules need mesh.proxy = "envoy" (the built-in proxy only sees TCP): set it, or drop the rules`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// Reconciling refuses, before it asks Consul anything, what Consul could
// not store or apply, and reports all of it; HTTP rules as such pass (the
// proxy in use is the config's business), and any name does.
func TestReconcileValidatesFirst(t *testing.T) {
	client, err := api.NewClient(&api.Config{Address: "127.0.0.1:1"}) // nothing listens: any request would fail differently
	if err != nil {
		t.Fatal(err)
	}
	_, err = ReconcileIntentions(context.Background(), client, []Intention{
		{Source: "anything", Destination: "api", Action: Allow, HTTP: []PathRule{{PathPrefix: "/v1/"}}},
		{Source: "a", Destination: Wildcard, Action: Allow, HTTP: []PathRule{{PathPrefix: "/"}}},
		{Source: "a", Destination: "b", Action: "permit"},
	})
	want := `mesh: intentions (DefaultDeny is intention[0]):
intention[2] (a → *): http: HTTP path and method rules cannot apply to "*": they need one destination service, whose protocol moat sets to http; write the intention to that service
intention[3] (a → b): action = "permit": must be allow or deny`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}
