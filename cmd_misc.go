package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	moatembed "moat/embed"
	"moat/supervisor"
	"moat/supervisor/process"
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
		systemd := fs.Bool("systemd", false, "write moat.service, a systemd unit that runs 'moat up --pull=never' for this moat.toml")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			if *systemd {
				return initSystemd(env, *force)
			}
			path := config.DefaultFile
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
		cfgPath = config.DefaultFile
	}
	if _, err := config.Load(cfgPath); err != nil {
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
	c := command{name: "logs", args: "[SERVICE...] [-f] [--tail N] [--since D|TIME] [--timestamps]", summary: "print services' logs",
		help: `
Prints the output of services' containers (every service when none is
named). With several services, lines are interleaved as they come, each
prefixed with its service's name. -f keeps following them. --since keeps
the lines written in the last DURATION (10m, 1h30m) or since an RFC 3339
time (2026-12-01T22:00:00Z); --timestamps starts each line with the time it
was written. The process runtime records no times: it refuses both.

Example:
  moat logs trino-coordinator --tail 50 -f
  moat logs -n 20 db api
  moat logs api --since 10m --timestamps`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		follow := fs.Bool("f", false, "follow the logs as they grow")
		fs.BoolVar(follow, "follow", false, "the same as -f")
		tail := fs.Int("tail", 100, "number of lines from the end of each log (0: all)")
		fs.IntVar(tail, "n", 100, "the same as --tail")
		since := fs.String("since", "", "only lines written in the last DURATION (10m) or since an RFC 3339 TIME")
		stamps := fs.Bool("timestamps", false, "start each line with the time it was written")
		fs.BoolVar(stamps, "t", false, "the same as --timestamps")
		return runParsed(func() error {
			pos, err := c.parse(fs, args, nil)
			if err != nil {
				return err
			}
			if *tail < 0 {
				return usageError{fmt.Sprintf("invalid --tail %d: must be 0 or more", *tail), "moat logs SERVICE --tail 100"}
			}
			from, err := parseSince(*since, time.Now())
			if err != nil {
				return err
			}
			s, err := openRunning(ctx, env, modeReadOnly)
			if err != nil {
				return err
			}
			defer s.close()
			err = logs(ctx, env, s, pos, supervisor.LogOptions{Tail: *tail, Follow: *follow, Since: from, Timestamps: *stamps})
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		})
	}
	return c
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time
// (zero when empty).
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, usageError{fmt.Sprintf("invalid --since %q: a duration must not be negative", v), "moat logs SERVICE --since 10m"}
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("invalid --since %q: want a duration (10m, 1h30m) or an RFC 3339 time (2026-12-01T22:00:00Z)", v),
		"moat logs SERVICE --since 10m"}
}

// logs writes the logs of the named services (all when none), each line
// prefixed with its service when there are several.
func logs(ctx context.Context, env *cliEnv, s *stack, names []string, o supervisor.LogOptions) error {
	var ins []supervisor.Instance
	if len(names) == 0 {
		inv, err := s.rt.List(ctx, s.cfg.Appliance.Project)
		if err != nil {
			return err
		}
		if len(inv.Instances) == 0 {
			return fmt.Errorf("the stack %s is down: nothing to show (`moat up -d` starts it)", s.cfg.Appliance.Project)
		}
		ins = inv.Instances
	}
	for _, n := range names {
		in, err := s.instance(ctx, n)
		if err != nil {
			return err
		}
		ins = append(ins, in)
	}
	if len(ins) == 1 {
		return s.rt.Logs(ctx, ins[0].ID, o, env.stdout)
	}
	width := 0
	for _, in := range ins {
		width = max(width, len(in.Service))
	}
	var mu sync.Mutex
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &prefixWriter{mu: &mu, w: env.stdout, prefix: fmt.Sprintf("%-*s | ", width, in.Service)}
			errs[i] = s.rt.Logs(ctx, in.ID, o, w)
			w.flush()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, process.ErrNoLogTimes) {
			return err // once, not once per service
		}
	}
	return errors.Join(errs...)
}

// prefixWriter writes whole lines, each with prefix, under a mutex shared
// by the writers of one output.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	part   []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.part = append(p.part, b...)
	for {
		i := bytes.IndexByte(p.part, '\n')
		if i < 0 {
			return len(b), nil
		}
		if err := p.line(p.part[:i+1]); err != nil {
			return 0, err
		}
		p.part = p.part[i+1:]
	}
}

func (p *prefixWriter) line(l []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := fmt.Fprintf(p.w, "%s%s", p.prefix, l)
	return err
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if len(p.part) > 0 {
		p.line(append(p.part, '\n'))
		p.part = nil
	}
}

func cmdDoctor() command {
	c := command{name: "doctor", args: "[--json]", summary: "check Docker, ports, disk, images and the config, and say how to fix each",
		help: `
Runs every pre-flight check of 'moat up' without creating anything and prints
each result with its fix. Exits non-zero when any check fails.

Example:
  moat doctor --config testdata/test-stack.toml`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "print the checks as JSON")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			checks := doctor(ctx, env)
			if *asJSON {
				if err := printJSON(env, checks); err != nil {
					return err
				}
			} else {
				for _, ck := range checks {
					printCheck(env, ck)
				}
			}
			if appliance.Failed(checks) != nil {
				return errors.New("doctor found problems (see FAIL lines)")
			}
			return nil
		})
	}
	return c
}

// doctor runs the checks of moat up, changing nothing.
func doctor(ctx context.Context, env *cliEnv) []appliance.Check {
	cfg, err := env.loadConfig()
	if err != nil {
		return []appliance.Check{{Name: "config", Detail: err.Error(), Fix: "correct the lines named above"}}
	}
	checks := []appliance.Check{{Name: "config", OK: true, Detail: configName(cfg) + " is valid"}}
	s, err := openConfigMode(ctx, cfg, modeReadOnly)
	if err != nil {
		return append(checks, appliance.Check{Name: "stack", Detail: err.Error()})
	}
	defer s.close()
	return append(checks, appliance.Preflight(ctx, s.cfg, s.topo, s.rt, s.cfg.Appliance.Pull)...)
}

func printCheck(env *cliEnv, ck appliance.Check) {
	mark := "ok  "
	if !ck.OK {
		mark = "FAIL"
	}
	fmt.Fprintf(env.stdout, "%s %s: %s\n", mark, ck.Name, ck.Detail)
	if !ck.OK && ck.Fix != "" {
		fmt.Fprintf(env.stdout, "     fix: %s\n", ck.Fix)
	}
}

func configName(c *config.Config) string {
	if c.Path == "" {
		return "the embedded default moat.toml"
	}
	return c.Path
}

func cmdSecrets() command {
	c := command{name: "secrets", args: "list | show NAME | set NAME", summary: "list, show or set moat's secrets",
		help: `
Secrets (tokens, passwords, the Trino shared secret) are generated on first
'moat up' into <data_dir>/secrets.toml (mode 0600) and shown only by
'show'. 'list' prints the names only. 'set' stores a value of your own (a
catalog's password, say): it prompts when standard input is a terminal,
otherwise reads one line from it. Names moat generates and uses itself are
refused unless --force, as changing one breaks what moat set up with it.

Example:
  moat secrets show dashboard
  printf %s "$PGPASS" | moat secrets set pg_password`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "list: print the names as JSON")
		force := fs.Bool("force", false, "set: also replace a secret that moat generated")
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n >= 1 && n <= 2 })
			if err != nil {
				return err
			}
			cfg, err := env.loadConfig()
			if err != nil {
				return err
			}
			if pos[0] == "set" && len(pos) == 2 {
				return secretsSet(env, cfg, pos[1], *force)
			}
			sec, err := appliance.OpenSecretsReadOnly(cfg.DataDir())
			if err != nil {
				return err
			}
			switch {
			case pos[0] == "list" && len(pos) == 1:
				names := sec.Names()
				if *asJSON {
					return printJSON(env, append([]string{}, names...))
				}
				if len(names) == 0 {
					fmt.Fprintf(env.stderr, "no secrets in %s yet: `moat up` generates them\n", cfg.DataDir())
				}
				for _, n := range names {
					fmt.Fprintln(env.stdout, n)
				}
				return nil
			case pos[0] == "show" && len(pos) == 2:
				v, ok := sec.Get(pos[1])
				if !ok {
					return fmt.Errorf("no secret %q (there are: %s); `moat up` generates them", pos[1], dash(strings.Join(sec.Names(), ", ")))
				}
				fmt.Fprintln(env.stdout, v)
				return nil
			}
			return usageError{"unknown secrets verb " + strings.Join(pos, " ") + ": it is list, show NAME or set NAME", "moat secrets show NAME"}
		})
	}
	return c
}

// secretName is what `moat secrets set` accepts (a TOML bare key, and an
// environment variable's name once upper-cased).
var secretName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func secretsSet(env *cliEnv, cfg *config.Config, name string, force bool) error {
	if !secretName.MatchString(name) {
		return usageError{fmt.Sprintf("invalid secret name %q: lowercase letters, digits and _, starting with a letter, at most 64", name), "moat secrets set pg_password"}
	}
	if appliance.Generated(name) && !force {
		return usageError{fmt.Sprintf("%s is generated and used by moat itself: replacing it breaks what moat set up with it", name),
			"moat secrets set --force " + name + " (then `moat up` replaces the services that use it)"}
	}
	value, err := readSecretValue(env, name)
	if err != nil {
		return err
	}
	sec, err := appliance.OpenSecrets(cfg.DataDir())
	if err != nil {
		return err
	}
	sec.Set(name, value)
	if err := sec.Save(); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "saved %s in %s; %s\n", name, filepath.Join(cfg.DataDir(), appliance.SecretsFile), secretUsers(cfg, name))
	return nil
}

// secretUsers says what a change of the secret name restarts.
func secretUsers(cfg *config.Config, name string) string {
	var users []string
	for _, cat := range cfg.Catalogs {
		for _, s := range cat.Secrets {
			if s == name {
				users = append(users, "catalog "+cat.Name)
			}
		}
	}
	if strings.HasPrefix(name, "user_") || len(users) > 0 {
		return "the next `moat up` replaces the Trino nodes that use it (" + dash(strings.Join(users, ", ")) + ")"
	}
	if appliance.Generated(name) {
		return "the next `moat up` replaces the services that use it"
	}
	return "nothing in " + configName(cfg) + " uses it yet"
}

// readSecretValue prompts for the value on a terminal (not echoed), or
// reads one line of standard input.
func readSecretValue(env *cliEnv, name string) (string, error) {
	read := func() (string, error) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		return strings.TrimRight(line, "\r\n"), err
	}
	var line string
	var err error
	if stdinIsTerminal() {
		fmt.Fprintf(env.stderr, "value for %s: ", name)
		line, err = withoutEcho(read)
		fmt.Fprintln(env.stderr)
	} else {
		line, err = read()
	}
	if line == "" {
		return "", fmt.Errorf("no value for %s on standard input (%v): `printf %%s VALUE | moat secrets set %s`", name, err, name)
	}
	return line, nil
}
