package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"

	"github.com/BurntSushi/toml"

	"moat/appliance/config"
)

func cmdConfig() command {
	c := command{name: "config", args: "[-q] [--json]", summary: "print the effective config with every default filled in",
		help: `
Loads moat.toml as 'moat up' would (on top of the embedded defaults, every
rule checked) and prints the result as TOML, or JSON with --json. With -q it
only checks and prints nothing: the exit code tells. Passwords and secret
looking environment values are shown as "(hidden)". It needs no Docker and
changes nothing.

Example:
  moat config -q && moat config --json | jq .trino.workers`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		quiet := fs.Bool("q", false, "check only: print nothing, exit non-zero on an error")
		asJSON := fs.Bool("json", false, "print JSON")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			cfg, err := env.loadConfig()
			if err != nil || *quiet {
				return err
			}
			doc, err := configDocument(cfg)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, doc)
			}
			fmt.Fprintf(env.stdout, "# the effective config of %s (data dir %s)\n", configName(cfg), cfg.DataDir())
			return toml.NewEncoder(env.stdout).Encode(doc)
		})
	}
	return c
}

// secretKey is an environment variable name that holds a secret.
var secretKey = regexp.MustCompile(`(?i)pass|secret|token|key|credential`)

// configDocument is cfg as TOML's own tables (the same keys in TOML and
// JSON), with passwords hidden.
func configDocument(cfg *config.Config) (map[string]any, error) {
	c := *cfg
	c.Users = append([]config.User(nil), cfg.Users...)
	for i := range c.Users {
		if c.Users[i].Password != "" {
			c.Users[i].Password = "(hidden)"
		}
	}
	c.Services = append([]config.Service(nil), cfg.Services...)
	for i, s := range c.Services {
		env := map[string]string{}
		for k, v := range s.Env {
			if secretKey.MatchString(k) {
				v = "(hidden)"
			}
			env[k] = v
		}
		c.Services[i].Env = env
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return nil, err
	}
	doc := map[string]any{}
	_, err := toml.Decode(buf.String(), &doc)
	return doc, err
}
