package main

import (
	"context"
	"fmt"
	"os"

	"moat/export/kubernetes"
)

func cmdExport() command {
	c := command{name: "export", args: "kubernetes DIR [--namespace NS]", summary: "write Helm values and manifests to move this stack to Kubernetes",
		help: `
Writes into DIR, from the same plan 'moat up' runs: values for the official
consul (connect injection, ACLs, TLS) and trino charts, ServiceIntentions,
the notebook, the report CronJobs and their image's Dockerfile, secrets.sh
(which also makes Trino's keystore and CA) and a README with the commands in
order. No secret value is written: the folder is safe to commit.

Example:
  moat export kubernetes ./k8s --namespace analytics`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		ns := fs.String("namespace", "default", "the Kubernetes namespace of Trino, the notebook and the reports")
		return runParsed(func() error {
			pos, err := c.parse(fs, args, func(n int) bool { return n == 2 })
			if err != nil {
				return err
			}
			if pos[0] != "kubernetes" {
				return usageError{fmt.Sprintf("unknown export target %q", pos[0]), "moat export kubernetes DIR"}
			}
			cfg, err := env.loadConfig()
			if err != nil {
				return err
			}
			files, err := kubernetes.Export(cfg, kubernetes.Options{Namespace: *ns, Runtime: os.Getenv("MOAT_RUNTIME")})
			if err != nil {
				return fmt.Errorf("moat export kubernetes: this config cannot run on Kubernetes as it is:\n%w", err)
			}
			if err := kubernetes.Write(pos[1], files); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "wrote %d files to %s: follow %s/README.md\n", len(files), pos[1], pos[1])
			return nil
		})
	}
	return c
}
