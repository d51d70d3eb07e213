package main

import (
	"context"
	"fmt"
	"strings"
)

func cmdCompletion() command {
	c := command{name: "completion", args: "bash|zsh|fish", summary: "print a shell completion script",
		help: `
Prints a script that completes moat's commands and their flags.

Example:
  source <(moat completion bash)
  moat completion zsh > "${fpath[1]}/_moat"
  moat completion fish > ~/.config/fish/completions/moat.fish`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n == 1 })
			if err != nil {
				return err
			}
			script, ok := completionScript(pos[0], commandFlags(ctx))
			if !ok {
				return usageError{fmt.Sprintf("no completion for shell %q: bash, zsh or fish", pos[0]), "moat completion bash"}
			}
			fmt.Fprint(env.stdout, script)
			return nil
		})
	}
	return c
}

// commandFlags maps each command to its flags ("--json", "-q"), found by
// asking each command for its help: the flags are defined where they run.
func commandFlags(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	for _, c := range commands() {
		var help strings.Builder
		c.run(ctx, &cliEnv{stdout: &help, stderr: &help}, []string{"--help"})
		for _, line := range strings.Split(help.String(), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && strings.HasPrefix(line, "  -") {
				out[c.name] = append(out[c.name], f[0])
			}
		}
		out[c.name] = append(out[c.name], "--file", "--project")
	}
	return out
}

func completionScript(shell string, flags map[string][]string) (string, bool) {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	cmds := strings.Join(names, " ")
	var b strings.Builder
	switch shell {
	case "bash":
		fmt.Fprintf(&b, "# bash completion for moat\n_moat() {\n  local cur=${COMP_WORDS[COMP_CWORD]} cmd=\"\" i\n")
		fmt.Fprintf(&b, "  for ((i=1; i<COMP_CWORD; i++)); do case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break;; esac; done\n")
		fmt.Fprintf(&b, "  case $cmd in\n    \"\") COMPREPLY=($(compgen -W \"%s -f --file -p --project --help --version\" -- \"$cur\"));;\n", cmds)
		for _, n := range names {
			fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\"));;\n", n, strings.Join(flags[n], " "))
		}
		fmt.Fprintf(&b, "  esac\n}\ncomplete -o default -F _moat moat\n")
	case "zsh":
		fmt.Fprintf(&b, "#compdef moat\n_moat() {\n  if (( CURRENT == 2 )); then\n    compadd -- %s\n    return\n  fi\n  case $words[2] in\n", cmds)
		for _, n := range names {
			fmt.Fprintf(&b, "    %s) compadd -- %s;;\n", n, strings.Join(flags[n], " "))
		}
		fmt.Fprintf(&b, "  esac\n  _files\n}\ncompdef _moat moat\n")
	case "fish":
		fmt.Fprintf(&b, "# fish completion for moat\ncomplete -c moat -f -n __fish_use_subcommand -a '%s'\n", cmds)
		for _, n := range names {
			for _, f := range flags[n] {
				long := strings.TrimLeft(f, "-")
				opt := "-l"
				if len(long) == 1 {
					opt = "-s"
				}
				fmt.Fprintf(&b, "complete -c moat -n '__fish_seen_subcommand_from %s' %s %s\n", n, opt, long)
			}
		}
	default:
		return "", false
	}
	return b.String(), true
}
