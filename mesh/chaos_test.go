package mesh

import (
	"context"
	"testing"

	"github.com/hashicorp/consul/api"
)

// A Consul bootstrapped again (its data lost) gets back the same token:
// the AccessorID is derived from moat's SecretID. A token of the service
// with another AccessorID (made by an older moat) is replaced by it.
func TestServiceTokenIDsAreReproduced(t *testing.T) {
	tc := startConsul(t)
	ctx := context.Background()
	const secret = "6f1c3c0e-2d1b-4e47-9a53-0d7f3b3c1a10"
	check := func(when string) {
		t.Helper()
		tok, _, err := tc.client.ACL().TokenRead(AccessorFor(secret), nil)
		if err != nil || tok == nil || tok.SecretID != secret {
			t.Fatalf("%s: token %s: %+v %v", when, AccessorFor(secret), tok, err)
		}
	}
	if _, err := ServiceToken(ctx, tc.client, "notebook", secret); err != nil {
		t.Fatal(err)
	}
	check("created")
	if _, err := tc.client.ACL().TokenDelete(AccessorFor(secret), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tc.client.ACL().TokenCreate(&api.ACLToken{Description: sidecarTokenDescription("notebook"), SecretID: secret,
		ServiceIdentities: []*api.ACLServiceIdentity{{ServiceName: "notebook"}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ServiceToken(ctx, tc.client, "notebook", secret); err != nil {
		t.Fatal(err)
	}
	check("replaced")
	if AccessorFor(secret) == AccessorFor(secret+"x") || len(AccessorFor(secret)) != 36 {
		t.Errorf("AccessorFor: %s", AccessorFor(secret))
	}
}

// Checks moat does not define on a service or its sidecar (Consul's default
// sidecar checks, which a restarted agent adds again) are removed.
func TestPruneChecksRemovesForeignChecks(t *testing.T) {
	tc := startConsul(t)
	ctx := context.Background()
	r := Registration{Service: "notebook", Address: "127.0.0.1", Port: 8888, SidecarPort: 21001, SidecarAddress: "10.0.0.5"}
	if _, err := Register(ctx, tc.client, r); err != nil {
		t.Fatal(err)
	}
	foreign := "service:" + SidecarID("notebook") + ":1"
	if err := tc.client.Agent().CheckRegister(&api.AgentCheckRegistration{ID: foreign, Name: "Connect Sidecar Listening",
		ServiceID: SidecarID("notebook"), AgentServiceCheck: api.AgentServiceCheck{TTL: "1m"}}); err != nil {
		t.Fatal(err)
	}
	if err := PruneChecks(ctx, tc.client, r); err != nil {
		t.Fatal(err)
	}
	checks, err := tc.client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := checks[foreign]; ok {
		t.Errorf("the foreign check %s is still there", foreign)
	}
	for _, want := range []string{HealthCheckID("notebook"), HealthCheckID("notebook") + ":sidecar"} {
		if _, ok := checks[want]; !ok {
			t.Errorf("moat's check %s was removed", want)
		}
	}
}
