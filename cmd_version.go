package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version may be set at build time with -ldflags "-X main.version=…";
// otherwise it comes from the build info (a module version, or the VCS stamp
// that `go build` in a checkout records).
var version = ""

// VersionInfo is `moat version --json`.
type VersionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

func versionInfo() VersionInfo {
	v := VersionInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	return v
}

func (v VersionInfo) String() string {
	s := "moat " + v.Version
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (" + rev
		if v.Modified {
			s += ", modified"
		}
		if v.Time != "" {
			s += ", " + v.Time
		}
		s += ")"
	} else {
		s += " (no VCS stamp: built outside a git checkout or with -buildvcs=false)"
	}
	return s + " " + v.GoVersion + " " + v.Platform
}

func cmdVersion() command {
	c := command{name: "version", args: "[--json]", summary: "print moat's version",
		help: `
Prints the version from the build: the module version or the git revision
and time that 'make build' stamps, whether the checkout was modified, the Go
version and the platform.

Example:
  moat version --json`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		asJSON := fs.Bool("json", false, "print JSON")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			v := versionInfo()
			if *asJSON {
				return printJSON(env, v)
			}
			fmt.Fprintln(env.stdout, v)
			return nil
		})
	}
	return c
}
