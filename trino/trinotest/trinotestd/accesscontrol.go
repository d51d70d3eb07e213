package main

import (
	"fmt"
	"sort"
)

// fileAccessControlProperties are the properties Trino's file-based system
// access control reads (FileBasedAccessControlConfig) besides
// access-control.name.
var fileAccessControlProperties = map[string]bool{
	"security.config-file":    true,
	"security.refresh-period": true,
	"security.json-pointer":   true,
}

// checkFileAccessControlProperties refuses what Trino refuses at start in
// access-control.properties for access-control.name=file: a property it
// does not use, no security.config-file, a refresh period that is not a
// duration. A JSON pointer (rules nested in a document) is not supported by
// trinotestd.
func checkFileAccessControlProperties(p map[string]string) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "access-control.name" && !fileAccessControlProperties[k] {
			return fmt.Errorf("access-control.properties: Configuration property '%s' was not used", k)
		}
	}
	if p["security.config-file"] == "" {
		return fmt.Errorf("access-control.properties: Invalid configuration property security.config-file: must not be null")
	}
	if v, ok := p["security.refresh-period"]; ok {
		if _, err := airliftDuration(v); err != nil {
			return fmt.Errorf("access-control.properties: Invalid configuration property security.refresh-period: %w", err)
		}
	}
	if v, ok := p["security.json-pointer"]; ok && v != "" {
		return fmt.Errorf("access-control.properties: security.json-pointer=%s: trinotestd reads a rules file whose top level is the rules object; remove it", v)
	}
	return nil
}
