package kubernetes

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The files are built as YAML node trees: keys keep the order written here
// and carry comments, which a values file needs to be read by a person.

// kv is one key of a mapping, with an optional comment above it.
type kv struct {
	key     string
	comment string
	value   *yaml.Node
}

// p is a key and its value (see val).
func p(key string, v any) kv { return kv{key: key, value: val(v)} }

// pc is p with a comment above the key.
func pc(key, comment string, v any) kv { return kv{key: key, comment: comment, value: val(v)} }

// obj is a mapping of kvs in order.
func obj(kvs ...kv) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, e := range kvs {
		k := scalar(e.key)
		k.HeadComment = e.comment
		n.Content = append(n.Content, k, e.value)
	}
	return n
}

// list is a sequence.
func list(items ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, it := range items {
		n.Content = append(n.Content, val(it))
	}
	return n
}

// val turns a Go value into a node: nodes as they are, strings (literal
// blocks when they span lines), ints, bools, nil (null), []string.
func val(v any) *yaml.Node {
	switch x := v.(type) {
	case *yaml.Node:
		return x
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case []string:
		n := list()
		for _, s := range x {
			n.Content = append(n.Content, scalar(s))
		}
		return n
	case string:
		n := scalar(x)
		if strings.Contains(x, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n
	default:
		var n yaml.Node
		if err := n.Encode(x); err != nil {
			panic(fmt.Sprintf("export: cannot encode %T: %v", v, err))
		}
		return &n
	}
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// render writes docs as one YAML stream (--- between documents), with
// head as the comment at the top of the file.
func render(head string, docs ...*yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	if head != "" {
		for _, line := range strings.Split(strings.TrimRight(head, "\n"), "\n") {
			b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
