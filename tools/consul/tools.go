//go:build tools

// Package consul pins the Consul server that moat's tests and test images use.
// It is a module of its own so that Consul's dependencies never enter moat's.
package consul

import _ "github.com/hashicorp/consul"
