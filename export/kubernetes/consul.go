package kubernetes

import (
	"fmt"
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"

	"moat/mesh"
)

func (pl *plan) consulValues() ([]byte, error) {
	values := obj(
		p("global", obj(
			p("name", ConsulRelease),
			pc("datacenter", "mesh.datacenter", pl.cfg.Mesh.Datacenter),
			pc("tls", "TLS on every Consul port; the plaintext HTTP port is off", obj(p("enabled", true), p("httpsOnly", true))),
			pc("acls", "the chart bootstraps ACLs and gives each mesh pod a token for its service account's identity;\n"+
				"the ACL default policy is deny, and so is the default intention policy that follows it", obj(p("manageSystemACLs", true))),
		)),
		p("server", obj(
			pc("replicas", "One server, as on one host. To scale, set 3 or 5 (an odd number: a quorum survives (n-1)/2 losses)\n"+
				"on nodes in different zones; bootstrapExpect follows replicas.", 1),
		)),
		p("connectInject", obj(
			p("enabled", true),
			pc("default", "only pods annotated consul.hashicorp.com/connect-inject: \"true\" join the mesh", false),
			pc("transparentProxy", "moat's upstreams are explicit localhost ports, the same as on one host; Trino workers must reach\n"+
				"the coordinator directly, which transparent redirection would break",
				obj(p("defaultEnabled", false))),
		)),
		pc("ui", "open it with: kubectl port-forward -n "+ConsulNS+" svc/consul-ui 8501:443 (token: see README.md)", obj(p("enabled", true))),
	)
	head := fmt.Sprintf(`consul-values.yaml: values for the hashicorp "consul" chart %s (Consul %s), written by
moat export kubernetes. Default deny: every source to every destination is denied (intentions.yaml
writes the * -> * deny that moat writes on one host) unless an intention there allows it.
  helm install %s hashicorp/consul --version %s -n %s --create-namespace -f consul-values.yaml`,
		ConsulChart, ConsulChartApp, ConsulRelease, ConsulChart, ConsulNS)
	return render(head, values)
}

// intentionsYAML writes one ServiceIntentions per destination, exactly the
// plan's intentions (default deny included), and a ServiceDefaults with
// protocol http for a destination that has L7 rules, as mesh does.
func (pl *plan) intentionsYAML() ([]byte, error) {
	var order []string
	byDst := map[string][]mesh.Intention{}
	for _, in := range pl.intentions {
		if _, ok := byDst[in.Destination]; !ok {
			order = append(order, in.Destination)
		}
		byDst[in.Destination] = append(byDst[in.Destination], in)
	}
	var docs []*yaml.Node
	for _, dst := range order {
		var sources []any
		l7 := false
		for _, in := range byDst[dst] {
			src := []kv{p("name", in.Source)}
			if len(in.HTTP) == 0 {
				src = append(src, p("action", string(in.Action)))
			} else {
				l7 = true
				var perms []any
				for _, r := range in.HTTP {
					h := []kv{p("pathPrefix", r.PathPrefix)}
					if len(r.Methods) > 0 {
						h = append(h, p("methods", r.Methods))
					}
					perms = append(perms, obj(p("action", string(mesh.Allow)), p("http", obj(h...))))
				}
				src = append(src, p("permissions", list(perms...)))
			}
			src = append(src, p("description", "managed by moat"))
			sources = append(sources, obj(src...))
		}
		if l7 && dst != mesh.Wildcard {
			docs = append(docs, obj(
				p("apiVersion", "consul.hashicorp.com/v1alpha1"),
				p("kind", "ServiceDefaults"),
				p("metadata", pl.meta(dst, nil)),
				pc("spec", "L7 (HTTP) intentions need the destination's protocol to be http", obj(p("protocol", "http"))),
			))
		}
		docs = append(docs, obj(
			p("apiVersion", "consul.hashicorp.com/v1alpha1"),
			p("kind", "ServiceIntentions"),
			p("metadata", pl.meta(intentionName(dst), nil)),
			p("spec", obj(
				p("destination", obj(p("name", dst))),
				p("sources", list(sources...)),
			)),
		))
	}
	head := `intentions.yaml: moat's intentions as consul-k8s ServiceIntentions, exactly those of one host:
the default deny (* -> *), the topology's allows and the [[intention]]s of moat.toml.
  kubectl apply -n ` + pl.opts.namespace() + ` -f intentions.yaml`
	return render(head, docs...)
}

func intentionName(dst string) string {
	if dst == mesh.Wildcard {
		return "default-deny"
	}
	return dst
}

// meta is an object's metadata in the export's namespace.
func (pl *plan) meta(name string, labels map[string]string) *yaml.Node {
	kvs := []kv{p("name", name), p("namespace", pl.opts.namespace())}
	l := []kv{p("app.kubernetes.io/part-of", "moat"), p("app.kubernetes.io/managed-by", "moat-export")}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		l = append(l, p(k, labels[k]))
	}
	return obj(append(kvs, p("labels", obj(l...)))...)
}
