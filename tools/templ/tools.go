//go:build tools

// Package templ pins the templ code generator that `make generate` runs. It
// is a module of its own so that the generator's dependencies never enter
// moat's; the runtime library github.com/a-h/templ is pinned in moat's
// go.mod at the same version.
package templ

import _ "github.com/a-h/templ/cmd/templ"
