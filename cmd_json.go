package main

import "encoding/json"

// printJSON is every --json: indented, one document.
func printJSON(env *cliEnv, v any) error {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
