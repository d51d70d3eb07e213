package embed

import _ "embed"

// MoatTOML is the default, commented moat.toml.
//
//go:embed moat.toml
var MoatTOML []byte

// SampleNotebook is the Jupyter notebook moat puts in the notebook's work
// folder: Trino through the sidecar's localhost upstream, standard library
// only.
//
//go:embed moat-trino.ipynb
var SampleNotebook []byte

// SystemdUnit is the template of the unit `moat init --systemd` writes.
//
//go:embed moat.service
var SystemdUnit string
