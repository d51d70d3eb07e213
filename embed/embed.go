package embed

import _ "embed"

// MoatTOML is the default, commented moat.toml.
//
//go:embed moat.toml
var MoatTOML []byte
