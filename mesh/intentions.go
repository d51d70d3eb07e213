package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/consul/api"
)

// Action of an intention.
type Action string

const (
	Allow Action = "allow"
	Deny  Action = "deny"
)

// Wildcard names every service in an intention.
const Wildcard = "*"

// PathRule narrows an allow intention to HTTP requests whose path starts
// with PathPrefix and (when given) whose method is one of Methods. Only
// Envoy enforces them, and only for destinations of protocol http.
type PathRule struct {
	PathPrefix string   `json:"path_prefix"`
	Methods    []string `json:"methods,omitempty"`
}

// Intention says whether Source may open connections to Destination.
type Intention struct {
	Source      string     `json:"source"`
	Destination string     `json:"destination"`
	Action      Action     `json:"action"`
	HTTP        []PathRule `json:"http,omitempty"`
}

func (i Intention) String() string {
	s := fmt.Sprintf("%s %s → %s", i.Action, i.Source, i.Destination)
	for _, r := range i.HTTP {
		s += fmt.Sprintf(" [%s %s]", strings.Join(r.Methods, ","), r.PathPrefix)
	}
	return s
}

// DefaultDeny is the wildcard intention moat always writes: every source to
// every destination is denied unless an exact intention allows it. It is a
// service-intentions entry named "*" with one source "*" (precedence 1;
// exact allows are precedence 9 and win). moat writes it instead of relying
// on the default intention policy (which follows acl.default_policy), so the
// rule is visible in `consul intention list` and the UI, and stays in force
// if someone relaxes the ACL default.
var DefaultDeny = Intention{Source: Wildcard, Destination: Wildcard, Action: Deny}

// ProxyKind is the sidecar implementation: it decides which intention
// features are enforced.
type ProxyKind string

const (
	ProxyEnvoy   ProxyKind = "envoy"
	ProxyBuiltin ProxyKind = "builtin"
)

// IntentionChange is one difference ReconcileIntentions applied.
type IntentionChange struct {
	Op        string // "added", "updated" or "removed"
	Intention Intention
}

func (c IntentionChange) String() string { return c.Op + " " + c.Intention.String() }

// ReconcileIntentions makes Consul's intentions exactly desired plus
// DefaultDeny: it writes one service-intentions config entry per
// destination and deletes the entries and sources that desired no longer
// names (so removing an [[intention]] from moat.toml removes it).
// Destinations with HTTP rules get a service-defaults entry with protocol
// http, which Consul requires for L7 intentions. client needs
// intentions:write (the management token). It returns what changed.
func ReconcileIntentions(ctx context.Context, client *api.Client, desired []Intention) ([]IntentionChange, error) {
	want, have, err := wantAndHave(ctx, client, desired)
	if err != nil {
		return nil, err
	}
	var changes []IntentionChange
	for _, dst := range sortedKeys(want) {
		diff := diffSources(have[dst], want[dst])
		if len(diff) == 0 {
			continue
		}
		if err := ensureHTTPProtocol(ctx, client, want[dst]); err != nil {
			return changes, err
		}
		if err := writeIntentionEntry(ctx, client, dst, want[dst]); err != nil {
			return changes, err
		}
		changes = append(changes, diff...)
	}
	for _, dst := range sortedKeys(have) {
		if _, keep := want[dst]; keep {
			continue
		}
		wo := (&api.WriteOptions{}).WithContext(ctx)
		if _, err := client.ConfigEntries().Delete(api.ServiceIntentions, dst, wo); err != nil {
			return changes, fmt.Errorf("mesh: remove intentions to %s: %w", dst, err)
		}
		changes = append(changes, diffSources(have[dst], nil)...)
	}
	return changes, nil
}

// IntentionDrift reports, without changing anything, how Consul's
// intentions differ from desired plus DefaultDeny: "added" is one Consul
// lacks, "removed" one Consul has that nobody declared (for example an
// allow written behind moat's back), "updated" one whose action or rules
// differ. Every intention counts, also those no probe could observe.
func IntentionDrift(ctx context.Context, client *api.Client, desired []Intention) ([]IntentionChange, error) {
	want, have, err := wantAndHave(ctx, client, desired)
	if err != nil {
		return nil, err
	}
	var drift []IntentionChange
	for _, dst := range sortedKeys(want) {
		drift = append(drift, diffSources(have[dst], want[dst])...)
	}
	for _, dst := range sortedKeys(have) {
		if _, ok := want[dst]; !ok {
			drift = append(drift, diffSources(have[dst], nil)...)
		}
	}
	return drift, nil
}

func wantAndHave(ctx context.Context, client *api.Client, desired []Intention) (want, have map[string][]Intention, err error) {
	all := append([]Intention{DefaultDeny}, desired...)
	// What is written here is what Consul can store and apply: set names,
	// allow|deny, one entry per pair, path prefixes starting with /, no
	// HTTP rules on a deny or to "*". Consul stores HTTP rules whatever
	// sidecar runs, so the check is Envoy's, the proxy that accepts the
	// most; whether the sidecars in use enforce them (mesh.proxy), which
	// names exist and which destinations are opaque TLS are facts of the
	// config, checked with them where it is loaded.
	if err := ValidateIntentions(all, IntentionScope{Proxy: ProxyEnvoy}); err != nil {
		return nil, nil, fmt.Errorf("mesh: intentions (DefaultDeny is intention[0]):\n%w", err)
	}
	have, err = readIntentions(ctx, client)
	return groupByDestination(all), have, err
}

// readIntentions returns Consul's intentions grouped by destination.
func readIntentions(ctx context.Context, client *api.Client) (map[string][]Intention, error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	entries, _, err := client.ConfigEntries().List(api.ServiceIntentions, q)
	if err != nil {
		return nil, fmt.Errorf("mesh: read intentions (service-intentions config entries): %w", err)
	}
	out := map[string][]Intention{}
	for _, e := range entries {
		si, ok := e.(*api.ServiceIntentionsConfigEntry)
		if !ok {
			continue
		}
		out[si.Name] = []Intention{} // an entry with no sources still exists
		for _, s := range si.Sources {
			out[si.Name] = append(out[si.Name], fromSource(si.Name, s))
		}
	}
	return out, nil
}

func fromSource(dst string, s *api.SourceIntention) Intention {
	in := Intention{Source: s.Name, Destination: dst, Action: Action(s.Action)}
	for _, p := range s.Permissions {
		in.Action = Allow
		if p.HTTP != nil {
			in.HTTP = append(in.HTTP, PathRule{PathPrefix: p.HTTP.PathPrefix, Methods: p.HTTP.Methods})
		}
	}
	return in
}

func toSource(in Intention) *api.SourceIntention {
	s := &api.SourceIntention{Name: in.Source, Type: api.IntentionSourceConsul,
		Description: "managed by moat"}
	if len(in.HTTP) == 0 {
		s.Action = api.IntentionAction(in.Action)
		return s
	}
	for _, r := range in.HTTP {
		s.Permissions = append(s.Permissions, &api.IntentionPermission{
			Action: api.IntentionActionAllow,
			HTTP:   &api.IntentionHTTPPermission{PathPrefix: r.PathPrefix, Methods: r.Methods},
		})
	}
	return s
}

func writeIntentionEntry(ctx context.Context, client *api.Client, dst string, sources []Intention) error {
	entry := &api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: dst,
		Meta: map[string]string{"managed-by": "moat"}}
	for _, in := range sources {
		entry.Sources = append(entry.Sources, toSource(in))
	}
	wo := (&api.WriteOptions{}).WithContext(ctx)
	if _, _, err := client.ConfigEntries().Set(entry, wo); err != nil {
		return fmt.Errorf("mesh: write intentions to %s: %w", dst, err)
	}
	return nil
}

// ensureHTTPProtocol sets protocol http in the destination's
// service-defaults when its intentions carry HTTP rules.
func ensureHTTPProtocol(ctx context.Context, client *api.Client, sources []Intention) error {
	for _, in := range sources {
		if len(in.HTTP) == 0 || in.Destination == Wildcard {
			continue
		}
		wo := (&api.WriteOptions{}).WithContext(ctx)
		entry := &api.ServiceConfigEntry{Kind: api.ServiceDefaults, Name: in.Destination, Protocol: "http"}
		if _, _, err := client.ConfigEntries().Set(entry, wo); err != nil {
			return fmt.Errorf("mesh: set protocol http for %s (needed by HTTP intention rules): %w", in.Destination, err)
		}
		return nil
	}
	return nil
}

// diffSources lists what turns have into want (both for one destination).
func diffSources(have, want []Intention) []IntentionChange {
	key := func(in Intention) string { b, _ := json.Marshal(in); return string(b) }
	haveBy := map[string]Intention{}
	for _, in := range have {
		haveBy[in.Source] = in
	}
	var out []IntentionChange
	wantSrc := map[string]bool{}
	for _, in := range want {
		wantSrc[in.Source] = true
		old, ok := haveBy[in.Source]
		switch {
		case !ok:
			out = append(out, IntentionChange{"added", in})
		case key(old) != key(in):
			out = append(out, IntentionChange{"updated", in})
		}
	}
	for _, in := range have {
		if !wantSrc[in.Source] {
			out = append(out, IntentionChange{"removed", in})
		}
	}
	return out
}

func groupByDestination(all []Intention) map[string][]Intention {
	out := map[string][]Intention{}
	for _, in := range all {
		out[in.Destination] = append(out[in.Destination], in)
	}
	for _, v := range out {
		sort.Slice(v, func(i, j int) bool { return v[i].Source < v[j].Source })
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckIntention asks Consul whether src may connect to dst under the
// current intentions (GET /v1/connect/intentions/check). For destinations
// with HTTP rules Consul answers for the connection as a whole.
func CheckIntention(ctx context.Context, client *api.Client, src, dst string) (allowed bool, err error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	ok, _, err := client.Connect().IntentionCheck(&api.IntentionCheck{
		Source: src, Destination: dst, SourceType: api.IntentionSourceConsul}, q)
	if err != nil {
		return false, fmt.Errorf("mesh: check intention %s → %s: %w", src, dst, err)
	}
	return ok, nil
}
