package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"moat/appliance"
	moatembed "moat/embed"
	"moat/supervisor"
)

func cmdInit() command {
	c := command{name: "init", args: "[--systemd] [--force]", summary: "write a commented moat.toml into this folder",
		help: `
Writes the embedded default moat.toml, every key commented, into the current
folder. With --systemd it writes moat.service instead: a systemd unit that
runs 'moat up' for that moat.toml (images loaded beforehand, nothing pulled).
It refuses to overwrite an existing file unless --force.

Example:
  moat init && $EDITOR moat.toml && moat up
  moat init --systemd --config /srv/moat/moat.toml`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		force := fs.Bool("force", false, "overwrite an existing file")
		systemd := fs.Bool("systemd", false, "write moat.service, a systemd unit that runs `moat up` for this moat.toml")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			if *systemd {
				return initSystemd(env, *force)
			}
			path := appliance.DefaultFile
			if env.configPath != "" {
				path = env.configPath
			}
			if _, err := os.Stat(path); err == nil && !*force {
				return usageError{path + " already exists; nothing was written", "moat init --force (overwrites it)"}
			}
			if err := os.WriteFile(path, moatembed.MoatTOML, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "wrote %s: edit it, then `moat up`\n", path)
			return nil
		})
	}
	return c
}

// initSystemd writes moat.service for the config of env.
func initSystemd(env *cliEnv, force bool) error {
	cfgPath := env.configPath
	if cfgPath == "" {
		cfgPath = appliance.DefaultFile
	}
	if _, err := appliance.Load(cfgPath); err != nil {
		return err
	}
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	const out = "moat.service"
	if _, err := os.Stat(out); err == nil && !force {
		return usageError{out + " already exists; nothing was written", "moat init --systemd --force (overwrites it)"}
	}
	var buf strings.Builder
	tmpl := template.Must(template.New("unit").Parse(moatembed.SystemdUnit))
	if err := tmpl.Execute(&buf, map[string]string{"Config": abs, "Dir": filepath.Dir(abs), "Moat": self, "Unit": out}); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(buf.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s: sudo cp %s /etc/systemd/system/ && sudo systemctl enable --now moat\n", out, out)
	return nil
}

func cmdLogs() command {
	c := command{name: "logs", args: "SERVICE [-f] [--tail N]", summary: "print a service's logs",
		help: `
Prints the output of a service's container. -f keeps following it.

Example:
  moat logs trino-coordinator --tail 50 -f`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		follow := fs.Bool("f", false, "follow the log as it grows")
		tail := fs.Int("tail", 100, "number of lines from the end (0: all)")
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n == 1 })
			if err != nil {
				return err
			}
			if *tail < 0 {
				return usageError{fmt.Sprintf("invalid --tail %d: must be 0 or more", *tail), "moat logs SERVICE --tail 100"}
			}
			s, err := openStack(ctx, env)
			if err != nil {
				return err
			}
			defer s.close()
			in, err := s.instance(ctx, pos[0])
			if err != nil {
				return err
			}
			err = s.rt.Logs(ctx, in.ID, supervisor.LogOptions{Tail: *tail, Follow: *follow}, env.stdout)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		})
	}
	return c
}

func cmdDoctor() command {
	c := command{name: "doctor", args: "", summary: "check Docker, ports, disk, images and the config, and say how to fix each",
		help: `
Runs every pre-flight check of 'moat up' without creating anything and prints
each result with its fix. Exits non-zero when any check fails.

Example:
  moat doctor --config testdata/test-stack.toml`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			return doctor(ctx, env)
		})
	}
	return c
}

func doctor(ctx context.Context, env *cliEnv) error {
	report := func(ck appliance.Check) {
		mark := "ok  "
		if !ck.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(env.stdout, "%s %s: %s\n", mark, ck.Name, ck.Detail)
		if !ck.OK && ck.Fix != "" {
			fmt.Fprintf(env.stdout, "     fix: %s\n", ck.Fix)
		}
	}
	cfg, err := env.loadConfig()
	if err != nil {
		report(appliance.Check{Name: "config", Detail: err.Error(), Fix: "correct the lines named above"})
		return errors.New("doctor found problems")
	}
	report(appliance.Check{Name: "config", OK: true, Detail: configName(cfg) + " is valid"})
	s, err := openConfig(ctx, cfg)
	if err != nil {
		report(appliance.Check{Name: "stack", Detail: err.Error()})
		return errors.New("doctor found problems")
	}
	defer s.close()
	checks := appliance.Preflight(ctx, s.cfg, s.topo, s.rt, s.cfg.Appliance.Pull)
	for _, ck := range checks {
		report(ck)
	}
	if appliance.Failed(checks) != nil {
		return errors.New("doctor found problems (see FAIL lines)")
	}
	return nil
}

func configName(c *appliance.Config) string {
	if c.Path == "" {
		return "the embedded default moat.toml"
	}
	return c.Path
}

func cmdSecrets() command {
	c := command{name: "secrets", args: "list | show NAME | set NAME", summary: "list, show or set moat's secrets",
		help: `
Secrets (tokens, passwords, the Trino shared secret) are generated on first
'moat up' into <data_dir>/secrets.toml (mode 0600) and shown only here.
'set' reads the value from standard input.

Example:
  moat secrets show dashboard
  printf %s "$PGPASS" | moat secrets set pg_password`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n >= 1 && n <= 2 })
			if err != nil {
				return err
			}
			cfg, err := env.loadConfig()
			if err != nil {
				return err
			}
			sec, err := appliance.OpenSecrets(cfg.DataDir())
			if err != nil {
				return err
			}
			return secretsVerb(env, sec, pos)
		})
	}
	return c
}

func secretsVerb(env *cliEnv, sec *appliance.Secrets, pos []string) error {
	switch {
	case pos[0] == "list" && len(pos) == 1:
		for _, n := range sec.Names() {
			fmt.Fprintln(env.stdout, n)
		}
		return nil
	case pos[0] == "show" && len(pos) == 2:
		v, ok := sec.Get(pos[1])
		if !ok {
			return fmt.Errorf("no secret %q (there are: %s); `moat up` generates them", pos[1], strings.Join(sec.Names(), ", "))
		}
		fmt.Fprintln(env.stdout, v)
		return nil
	case pos[0] == "set" && len(pos) == 2:
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return fmt.Errorf("no value on standard input for %s (%v)", pos[1], err)
		}
		sec.Set(pos[1], line)
		return sec.Save()
	}
	return usageError{"unknown secrets verb " + strings.Join(pos, " "), "moat secrets show NAME"}
}

func cmdVersion() command {
	c := command{name: "version", args: "", summary: "print moat's version",
		help: `
Example:
  moat version`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			exe, _ := os.Executable()
			fmt.Fprintf(env.stdout, "moat %s (%s, %s/%s) %s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, filepath.Base(exe))
			return nil
		})
	}
	return c
}
