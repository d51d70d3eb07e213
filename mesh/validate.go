package mesh

import (
	"fmt"
	"slices"
	"strings"
)

// IntentionScope is what ValidateIntentions needs to know of the mesh the
// intentions are for.
type IntentionScope struct {
	// Proxy is the sidecar in use. HTTP rules need ProxyEnvoy: the
	// built-in proxy only checks connections and would ignore them. Any
	// other value, the zero value included, refuses HTTP rules.
	Proxy ProxyKind
	// Names are the names a source or destination may be (Wildcard among
	// them when it is allowed). Nil accepts any non-empty name.
	Names []string
	// OpaqueTLS are the destinations whose clients speak TLS to the
	// application itself, carried by the sidecars at L4: no proxy sees
	// their HTTP, so HTTP rules cannot apply to them.
	OpaqueTLS []string
}

// IntentionError is one problem of one intention in a list.
type IntentionError struct {
	Index int // position of the intention in the list
	// Field is the intention's field at fault: "source", "destination",
	// "action", "http" or "http[j].path_prefix"; "" is the intention as
	// a whole.
	Field string
	// Value is the field's value (a string), nil when Msg says it all.
	Value any
	// Msg says what is wrong and how to fix it.
	Msg string

	pair string // "source → destination", for Error
}

func (e *IntentionError) Error() string {
	where := fmt.Sprintf("intention[%d] (%s)", e.Index, e.pair)
	if e.Field == "" {
		return where + ": " + e.Msg
	}
	if e.Value != nil {
		return fmt.Sprintf("%s: %s = %q: %s", where, e.Field, e.Value, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", where, e.Field, e.Msg)
}

// IntentionErrors is every problem of a list of intentions, in list order.
type IntentionErrors []*IntentionError

func (es IntentionErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// ValidateIntentions checks list for the mesh described by scope and
// reports every problem at once (nil, or IntentionErrors): source and
// destination set (and among scope.Names), action allow or deny, no pair
// declared twice, and HTTP path rules only on an allow, only with Envoy,
// never to Wildcard or an opaque-TLS destination, each path prefix
// starting with /.
func ValidateIntentions(list []Intention, scope IntentionScope) error {
	var errs IntentionErrors
	first := map[[2]string]int{} // pair → index of its first declaration
	for i, in := range list {
		add := func(field string, value any, format string, args ...any) {
			errs = append(errs, &IntentionError{Index: i, Field: field, Value: value,
				Msg: fmt.Sprintf(format, args...), pair: in.Source + " → " + in.Destination})
		}
		scope.checkName(add, "source", in.Source)
		scope.checkName(add, "destination", in.Destination)
		if in.Action != Allow && in.Action != Deny {
			add("action", string(in.Action), "must be allow or deny")
		}
		if in.Source != "" && in.Destination != "" {
			pair := [2]string{in.Source, in.Destination}
			if j, dup := first[pair]; dup {
				add("", nil, "%s → %s is declared twice (first at intention[%d]): keep one", in.Source, in.Destination, j)
			} else {
				first[pair] = i
			}
		}
		if len(in.HTTP) > 0 {
			scope.checkHTTP(add, in)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

type addFunc func(field string, value any, format string, args ...any)

func (s IntentionScope) checkName(add addFunc, field, name string) {
	switch {
	case s.Names != nil && !slices.Contains(s.Names, name):
		add(field, name, "must be one of %s", strings.Join(s.Names, ", "))
	case name == "":
		add(field, name, "must name a service, or %q for every service", Wildcard)
	}
}

// checkHTTP checks the HTTP path rules of in (which has some).
func (s IntentionScope) checkHTTP(add addFunc, in Intention) {
	if in.Action == Deny {
		add("http", nil, "HTTP path rules narrow an allow; a deny takes none: drop the rules, or make the action allow")
	}
	if s.Proxy != ProxyEnvoy {
		add("http", nil, "HTTP path and method rules need mesh.proxy = \"envoy\" (the built-in proxy only sees TCP): set it, or drop the rules")
	}
	switch {
	case in.Destination == Wildcard:
		add("http", nil, "HTTP path and method rules cannot apply to %q: they need one destination service, whose protocol moat sets to http; "+
			"write the intention to that service", Wildcard)
	case slices.Contains(s.OpaqueTLS, in.Destination):
		add("http", nil, "HTTP path and method rules cannot apply to %s: its clients speak TLS to the application itself, "+
			"carried by the sidecar at L4, so no proxy sees their HTTP; use an allow or deny intention, and [[policy]] for what a user may do in Trino", in.Destination)
	}
	for j, r := range in.HTTP {
		if !strings.HasPrefix(r.PathPrefix, "/") {
			add(fmt.Sprintf("http[%d].path_prefix", j), r.PathPrefix, "must start with /, e.g. \"/api/\"")
		}
	}
}
