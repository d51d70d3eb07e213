package trino

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Catalog is one catalog/<Name>.properties, written on every node (Trino 477
// and newer require every catalog on every node).
type Catalog struct {
	Name       string
	Connector  string            // one of Connectors
	Properties map[string]string // plain (non-secret) properties
	// SecretEnv maps a property to the environment variable holding its value
	// (written as ${ENV:NAME}); e.g. connection-password -> PG_PASSWORD.
	SecretEnv map[string]string
}

// Connectors lists the connectors moat configures and the properties each
// requires (plain or secret).
var Connectors = map[string][]string{
	"tpch":       nil,
	"tpcds":      nil,
	"memory":     nil,
	"postgresql": {"connection-url", "connection-user", "connection-password"},
	"iceberg":    {"iceberg.catalog.type", "iceberg.rest-catalog.uri"},
}

var (
	catalogNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	envNameRE     = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	propertyKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// Words in a property name that mark its value as a secret: such a value
	// must come through SecretEnv, never as plain text in a file.
	secretWords = []string{"password", "secret", "token", "credential", "access-key", "json-key", "private-key"}
)

// RemovedProperties maps a property to the first Trino release that rejects
// it; Trino stops at start on any property it does not use.
var RemovedProperties = map[string]int{
	"query.max-total-memory-per-node":           370, // trinodb/charts#18
	"experimental.late-materialization.enabled": 432,
	"experimental.work-processor-pipelines":     432,
	"query.low-memory-killer.delay":             454,
	"discovery-server.enabled":                  477, // announce discovery is the default since 477
	"s3.socket-read-timeout":                    477, // renamed s3.socket-timeout
	"iceberg.rest-catalog.sigv4-enabled":        477, // now iceberg.rest-catalog.security=SIGV4
	"task.statistics-cpu-timer-enabled":         479,
}

func isSecretProperty(key string) bool {
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(key, w) })
}

func validateCatalogs(cs []Catalog) []error {
	var errs []error
	seen := map[string]bool{}
	for _, c := range cs {
		if !catalogNameRE.MatchString(c.Name) {
			errs = append(errs, fmt.Errorf("catalog %q: use lowercase letters, digits and _, starting with a letter", c.Name))
		}
		if seen[c.Name] {
			errs = append(errs, fmt.Errorf("catalog %q is declared twice", c.Name))
		}
		seen[c.Name] = true
		errs = append(errs, c.validate()...)
	}
	return errs
}

func (c Catalog) validate() []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("catalog %s: "+format, append([]any{c.Name}, args...)...))
	}
	required, ok := Connectors[c.Connector]
	if !ok {
		add("connector %q is not supported; use one of %s", c.Connector, strings.Join(slices.Sorted(maps.Keys(Connectors)), ", "))
	}
	for _, k := range required {
		_, plain := c.Properties[k]
		_, secret := c.SecretEnv[k]
		if !plain && !secret {
			add("property %s is required by the %s connector", k, c.Connector)
		}
	}
	for k := range c.Properties {
		switch {
		case !propertyKeyRE.MatchString(k) || k == "connector.name":
			add("property %q cannot be set here", k)
		case isSecretProperty(k):
			add("property %s holds a secret: give it through a secret (environment variable), not as plain text", k)
		case strings.ContainsAny(c.Properties[k], "\n\r"):
			add("property %s: the value spans lines", k)
		}
		if _, dup := c.SecretEnv[k]; dup {
			add("property %s is given both as plain text and as a secret", k)
		}
	}
	for k, env := range c.SecretEnv {
		if !propertyKeyRE.MatchString(k) {
			add("property %q cannot be set here", k)
		}
		if !envNameRE.MatchString(env) || env == SharedSecretEnv {
			add("property %s: environment variable name %q must be upper case letters, digits and _ and not %s", k, env, SharedSecretEnv)
		}
	}
	return errs
}

// render writes catalog/<name>.properties: connector.name first, then the
// other properties sorted, secrets as ${ENV:NAME}.
func (c Catalog) render() []byte {
	var p props
	p.set("connector.name", c.Connector)
	all := map[string]string{}
	maps.Copy(all, c.Properties)
	for k, env := range c.SecretEnv {
		all[k] = envRef(env)
	}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		p.set(k, all[k])
	}
	return p.bytes()
}

func envRef(name string) string { return "${ENV:" + name + "}" }

// PostgreSQL returns a postgresql catalog; passwordEnv names the variable
// holding the password.
func PostgreSQL(name, jdbcURL, user, passwordEnv string) Catalog {
	return Catalog{
		Name: name, Connector: "postgresql",
		Properties: map[string]string{"connection-url": jdbcURL, "connection-user": user},
		SecretEnv:  map[string]string{"connection-password": passwordEnv},
	}
}

// IcebergREST returns an iceberg catalog on an Iceberg REST catalog with
// S3-compatible storage (native S3 file system). The access key pair comes
// from the variables accessKeyEnv and secretKeyEnv.
func IcebergREST(name, restURI, warehouse, s3Endpoint, s3Region, accessKeyEnv, secretKeyEnv string) Catalog {
	c := Catalog{
		Name: name, Connector: "iceberg",
		Properties: map[string]string{
			"iceberg.catalog.type":     "rest",
			"iceberg.rest-catalog.uri": restURI,
			"fs.native-s3.enabled":     "true",
			"s3.endpoint":              s3Endpoint,
			"s3.region":                s3Region,
			"s3.path-style-access":     "true",
		},
		SecretEnv: map[string]string{"s3.aws-access-key": accessKeyEnv, "s3.aws-secret-key": secretKeyEnv},
	}
	if warehouse != "" {
		c.Properties["iceberg.rest-catalog.warehouse"] = warehouse
	}
	return c
}
