package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"moat/appliance"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// usageError is a mistake on the command line: a message and what to try.
type usageError struct{ message, hint string }

func (e usageError) Error() string { return e.message + " (try: " + e.hint + ")" }

// command is one `moat` subcommand.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	help    string // long help with an example
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every command gets: its output streams and the config flag.
type cliEnv struct {
	stdout, stderr io.Writer
	configPath     string // --config, "" = ./moat.toml or the embedded default
}

func commands() []command {
	return []command{
		cmdInit(), cmdUp(), cmdDown(), cmdStatus(), cmdLogs(), cmdQuery(), cmdVerify(), cmdReport(), cmdImages(), cmdDoctor(), cmdSecrets(), cmdVersion(),
	}
}

// run is moat's whole command line: `moat` alone is `moat up --open`.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		args = []string{"up", "--open"}
	}
	env := &cliEnv{stdout: stdout, stderr: stderr}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "--help":
		if len(rest) > 0 {
			return helpFor(env, rest[0])
		}
		printUsage(stdout)
		return nil
	case "-v", "--version":
		name = "version"
	case probeCommand:
		return runProbe(ctx, env, rest)
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, env, rest)
		}
	}
	return usageError{fmt.Sprintf("unknown command %q", name), "moat help"}
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `moat brings up a zero-trust analytics stack on this host and keeps it healthy.

Usage: moat COMMAND [flags]   (no command: moat up --open)

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun `moat help COMMAND` or `moat COMMAND --help` for a command's flags and an example.\n")
}

func helpFor(env *cliEnv, name string) error {
	for _, c := range commands() {
		if c.name == name {
			fs := c.flags(env)
			fs.SetOutput(env.stdout)
			fs.Usage()
			return nil
		}
	}
	return usageError{fmt.Sprintf("no command %q", name), "moat help"}
}

// flags returns a FlagSet whose usage prints the command's help; commands
// add their own flags to it.
func (c command) flags(env *cliEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("moat "+c.name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.StringVar(&env.configPath, "config", "", "the moat.toml to use (default ./moat.toml, else the embedded default)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: moat %s %s\n\n%s\n\n%s\nFlags:\n", c.name, c.args, c.summary, strings.TrimSpace(c.help)+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments.
func (c command) parse(fs *flag.FlagSet, args []string, nargs func(int) bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelpShown
			}
			return nil, usageError{err.Error(), "moat " + c.name + " --help"}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if nargs != nil && !nargs(len(pos)) {
		return nil, usageError{fmt.Sprintf("wrong number of arguments: moat %s %s", c.name, c.args), "moat " + c.name + " --help"}
	}
	return pos, nil
}

// errHelpShown ends a command after --help printed its usage.
var errHelpShown = errors.New("help shown")

// runParsed wraps a command's body so that --help exits 0.
func runParsed(f func() error) error {
	if err := f(); err != nil && !errors.Is(err, errHelpShown) {
		return err
	}
	return nil
}

// loadConfig reads --config, ./moat.toml, or the embedded default.
func (env *cliEnv) loadConfig() (*appliance.Config, error) {
	if env.configPath != "" {
		return appliance.Load(env.configPath)
	}
	if _, err := os.Stat(appliance.DefaultFile); err == nil {
		return appliance.Load(appliance.DefaultFile)
	}
	return appliance.Default()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
