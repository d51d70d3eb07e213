package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"moat/appliance/config"
	"moat/appliance/control"
	"moat/supervisor"
	"moat/supervisor/docker"
)

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

// cliEnv is what every command gets: its output streams and the global
// flags, which also have environment variables (as Compose's).
type cliEnv struct {
	stdout, stderr io.Writer
	// configPath is -f/--file/--config or MOAT_FILE; "" looks for
	// moat.toml in the current folder and its parents, else the embedded
	// default.
	configPath string
	// project is -p/--project or MOAT_PROJECT: it replaces
	// appliance.project (the label and name prefix of every object).
	project string
	noted   bool // the embedded-default note was printed
}

func commands() []command {
	return []command{
		cmdInit(), cmdUp(), cmdDown(), cmdStatus(), cmdLogs(), cmdRestart(), cmdExec(), cmdPull(), cmdQuery(), cmdVerify(),
		cmdReport(), cmdImages(), cmdExport(), cmdConnect(), cmdConfig(), cmdDoctor(), cmdSecrets(), cmdCompletion(), cmdVersion(),
	}
}

// run is moat's whole command line: `moat` alone is `moat up --open`.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	env := &cliEnv{stdout: stdout, stderr: stderr, configPath: os.Getenv("MOAT_FILE"), project: os.Getenv("MOAT_PROJECT")}
	rest, err := env.globalFlags(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		if err := announceBare(ctx, env); err != nil {
			return err
		}
		rest = []string{"up", "--open"}
	}
	if len(rest) == 0 {
		return usageError{"no command after the global flags", "moat --file moat.toml status"}
	}
	name, rest := rest[0], rest[1:]
	switch name {
	case "help":
		if len(rest) > 0 {
			return helpFor(ctx, env, rest[0])
		}
		printUsage(stdout)
		return nil
	case probeCommand:
		return runProbe(ctx, env, rest)
	case control.TrinoShutdownCommand:
		return runTrinoShutdown(ctx, rest)
	}
	if c, ok := lookup(name); ok {
		return c.run(ctx, env, rest)
	}
	return usageError{fmt.Sprintf("unknown command %q", name), "moat help"}
}

// announceBare prints what the double-click (`moat` alone) does before it
// does it: the images, present or to download with their size as the
// registry states it ("size unknown" when it cannot say), where state
// goes, and the dashboard it opens. It changes nothing.
func announceBare(ctx context.Context, env *cliEnv) error {
	s, err := openStackMode(ctx, env, modeReadOnly)
	if err != nil {
		return err
	}
	defer s.close()
	w, cfg := env.stdout, s.cfg
	source := cfg.Path
	if source == "" {
		source = "the embedded default moat.toml"
	}
	fmt.Fprintf(w, "moat with no command runs `moat up --open` for %s (project %s):\n", source, cfg.Appliance.Project)
	fmt.Fprintln(w, "  images:")
	im, _ := s.rt.(supervisor.ImageManager)
	refs := stackImages(s)
	present := make([]bool, len(refs))
	sizes := make([]int64, len(refs))
	errs := make([]error, len(refs))
	hc := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i, ref := range refs {
		if im != nil {
			present[i], _ = im.ImagePresent(ctx, ref)
		}
		if present[i] || cfg.Appliance.Pull == "never" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sizes[i], errs[i] = docker.RemoteSize(ctx, hc, ref, runtime.GOARCH)
		}()
	}
	wg.Wait()
	var total int64
	unknown, download := 0, 0
	for i, ref := range refs {
		switch {
		case present[i]:
			fmt.Fprintf(w, "    present      %s\n", ref)
		case cfg.Appliance.Pull == "never":
			fmt.Fprintf(w, "    missing      %s (appliance.pull = never: `moat images load FILE` first)\n", ref)
		case errs[i] != nil:
			download++
			unknown++
			fmt.Fprintf(w, "    to download  %s (size unknown: %s)\n", ref, errs[i])
		default:
			download++
			total += sizes[i]
			fmt.Fprintf(w, "    to download  %s (%s)\n", ref, humanBytes(sizes[i]))
		}
	}
	images := func(n int) string {
		if n == 1 {
			return "1 image"
		}
		return fmt.Sprintf("%d images", n)
	}
	switch {
	case download == 0:
		fmt.Fprintln(w, "  nothing to download")
	case unknown == download:
		fmt.Fprintf(w, "  to download: %s of unknown size\n", images(unknown))
	case unknown == 0:
		fmt.Fprintf(w, "  to download: at most %s in %s (layers already here are not downloaded again)\n", humanBytes(total), images(download))
	default:
		fmt.Fprintf(w, "  to download: at most %s in %s, and %s of unknown size\n", humanBytes(total), images(download-unknown), images(unknown))
	}
	fmt.Fprintf(w, "  state: %s (database, secrets, reports; Docker volumes of project %s)\n", cfg.DataDir(), cfg.Appliance.Project)
	if cfg.Dashboard.Enabled {
		fmt.Fprintf(w, "  dashboard: http://%s/ui/ (opened in your browser once the stack is up)\n", cfg.Dashboard.Listen)
	} else {
		fmt.Fprintln(w, "  dashboard: disabled in the config (nothing to open)")
	}
	fmt.Fprintln(w, "Ctrl-C stops the stack.")
	return nil
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// globalFlags parses the flags before the command and returns the rest.
// --help and --version become the help and version commands.
func (env *cliEnv) globalFlags(args []string) ([]string, error) {
	fs := flag.NewFlagSet("moat", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	env.fileFlags(fs, true)
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	ver := fs.Bool("version", false, "")
	fs.BoolVar(ver, "v", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error(), "moat help"}
	}
	switch {
	case *help:
		return append([]string{"help"}, fs.Args()...), nil
	case *ver:
		return []string{"version"}, nil
	}
	return fs.Args(), nil
}

// fileFlags are the flags that choose the project: before the command
// (with the short -f and -p) and after it (long forms only: `logs -f` is
// follow).
func (env *cliEnv) fileFlags(fs *flag.FlagSet, short bool) {
	const file = "the moat.toml to use (default: moat.toml here or in a parent folder, else the embedded default; env MOAT_FILE)"
	const project = "the project name, replacing appliance.project (env MOAT_PROJECT)"
	fs.StringVar(&env.configPath, "config", env.configPath, file)
	fs.StringVar(&env.configPath, "file", env.configPath, file)
	fs.StringVar(&env.project, "project", env.project, project)
	if short {
		fs.StringVar(&env.configPath, "f", env.configPath, file)
		fs.StringVar(&env.project, "p", env.project, project)
	}
}

// globalFlagNames are listed apart in every command's help.
var globalFlagNames = map[string]bool{"config": true, "file": true, "project": true}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `moat brings up a zero-trust analytics stack on this host and keeps it healthy.

Usage: moat [-f FILE] [-p PROJECT] COMMAND [flags]   (no command: moat up --open)

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Global flags (before the command; --config, --file and --project also after it):
  -f, --file, --config FILE   the moat.toml (env MOAT_FILE); default: moat.toml in
                              this folder or the nearest parent, else the embedded default
  -p, --project NAME          the project name, replacing appliance.project (env MOAT_PROJECT)
  -h, --help                  this text; -v, --version: moat's version

Run 'moat help COMMAND' or 'moat COMMAND --help' for a command's flags and an example.
`)
}

// helpFor prints a command's help with its own flags: the command defines
// them as it runs, so it runs with --help.
func helpFor(ctx context.Context, env *cliEnv, name string) error {
	c, ok := lookup(name)
	if !ok {
		return usageError{fmt.Sprintf("no command %q", name), "moat help"}
	}
	return c.run(ctx, env, []string{"--help"})
}

// flags returns a FlagSet whose usage prints the command's help; commands
// add their own flags to it.
func (c command) flags(env *cliEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("moat "+c.name, flag.ContinueOnError)
	fs.SetOutput(env.stdout)
	env.fileFlags(fs, false)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: moat %s %s\n\n%s\n\n%s\n", c.name, c.args, c.summary, strings.TrimSpace(c.help))
		printFlags(w, fs)
	}
	return fs
}

// printFlags lists a command's flags, then the global ones; flags whose
// usage starts with "internal:" are not shown. Unlike flag.PrintDefaults it
// leaves backquotes in a usage as they are.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var own []string
	fs.VisitAll(func(f *flag.Flag) {
		if globalFlagNames[f.Name] || strings.HasPrefix(f.Usage, "internal:") {
			return
		}
		name := "-" + f.Name
		if len(f.Name) > 1 {
			name = "-" + name
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			name += " VALUE"
		}
		line := fmt.Sprintf("  %-18s %s", name, f.Usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		own = append(own, line)
	})
	if len(own) > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s\n", strings.Join(own, "\n"))
	}
	fmt.Fprint(w, "\nGlobal flags: --file FILE (or --config), --project NAME; see 'moat help'\n")
}

// parse parses flags that may come before or after positional arguments;
// after "--" everything is positional. A flag error is one line and a hint,
// never the whole usage.
func (c command) parse(fs *flag.FlagSet, args []string, nargs func(int) bool) ([]string, error) {
	var pos []string
	out := fs.Output()
	fs.SetOutput(io.Discard)
	defer fs.SetOutput(out)
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				fs.Usage()
				return nil, errHelpShown
			}
			return nil, usageError{err.Error(), "moat " + c.name + " --help"}
		}
		rest := fs.Args()
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			pos = append(pos, rest...) // after "--": all positional
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
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

// findConfig is the moat.toml a command uses: the flag or MOAT_FILE, else
// moat.toml in the current folder or the nearest parent (as Compose finds
// its file), else "" for the embedded default.
func (env *cliEnv) findConfig() (string, error) {
	if env.configPath != "" {
		return env.configPath, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, config.DefaultFile)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// loadConfig reads the config findConfig names, or the embedded default
// (saying so once, with its data dir), and applies --project.
func (env *cliEnv) loadConfig() (*config.Config, error) {
	path, err := env.findConfig()
	if err != nil {
		return nil, err
	}
	var cfg *config.Config
	if path != "" {
		cfg, err = config.Load(path)
	} else {
		cfg, err = config.Default()
	}
	if err != nil {
		return nil, err
	}
	if err := env.applyProject(cfg); err != nil {
		return nil, err
	}
	if path == "" && !env.noted {
		env.noted = true
		fmt.Fprintf(env.stderr, "moat: no %s in this folder or a parent: using the embedded default (project %s, data dir %s)\n",
			config.DefaultFile, cfg.Appliance.Project, cfg.DataDir())
	}
	return cfg, nil
}

// applyProject puts --project into cfg, checked by the config's own rule.
func (env *cliEnv) applyProject(cfg *config.Config) error {
	if env.project == "" || env.project == cfg.Appliance.Project {
		return nil
	}
	_, err := config.Parse([]byte(fmt.Sprintf("[appliance]\nproject = %q\n", env.project)), "--project")
	var ces config.ConfigErrors
	if errors.As(err, &ces) {
		for _, e := range ces {
			if strings.HasPrefix(e.Field, "appliance.project") { // "appliance.project = …"
				return usageError{fmt.Sprintf("invalid --project %q: %s", env.project, e.Msg), "moat -p mystack status"}
			}
		}
	}
	cfg.Appliance.Project = env.project
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
