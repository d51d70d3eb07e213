// Package embed holds the files compiled into the moat binary: the default,
// commented moat.toml that `moat init` writes and `moat up` uses when there
// is none.
//
// Imported by: main, appliance and appliance/config.
package embed
