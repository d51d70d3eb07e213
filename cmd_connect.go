package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"moat/appliance/config"
)

func cmdConnect() command {
	c := command{name: "connect", args: "[--user U] [--json]", summary: "print ready-to-paste settings for DBeaver, JDBC, the trino CLI and Python",
		help: `
While moat supervises, tools on this host reach Trino at
https://127.0.0.1:<mesh.workstation_port>: moat carries the tool's own TLS,
at L4, inside mesh mTLS as identity "workstation" to the coordinator's
sidecar, so Trino checks the password and the mesh checks the intention
workstation → trino-coordinator. Tools verify Trino's certificate with
moat's CA, <data_dir>/ca.pem: no insecure flag is needed. The password is
never printed: the settings say how to get it.

Example:
  moat connect --user analyst`}
	c.run = func(ctx context.Context, env *cliEnv, args []string) error {
		fs := c.flags(env)
		user := fs.String("user", "", "the Trino user to connect as (default notebook.user)")
		asJSON := fs.Bool("json", false, "print JSON")
		return runParsed(func() error {
			if _, err := c.parse(fs, args, func(n int) bool { return n == 0 }); err != nil {
				return err
			}
			cfg, err := env.loadConfig()
			if err != nil {
				return err
			}
			cs, err := connectSettings(cfg, *user)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, cs)
			}
			printConnect(env, cs)
			return nil
		})
	}
	return c
}

// ConnectSettings are `moat connect`'s answer.
type ConnectSettings struct {
	URL        string `json:"url"`
	CAFile     string `json:"ca_file"`
	User       string `json:"user"`
	PasswordIs string `json:"password_is"` // how to get it, never the password
	JDBC       string `json:"jdbc"`
	TrinoCLI   string `json:"trino_cli"`
	Python     string `json:"python"`
	DBeaver    string `json:"dbeaver"`
}

func connectSettings(cfg *config.Config, user string) (ConnectSettings, error) {
	if !config.HasWorkstation(cfg) {
		return ConnectSettings{}, errors.New("the host endpoint is off: set mesh.workstation_port in moat.toml (with [mesh] and [trino] on), then `moat up`")
	}
	if user == "" {
		user = cfg.Notebook.User
	}
	known := false
	for _, u := range cfg.Users {
		known = known || u.Name == user
	}
	if !known {
		return ConnectSettings{}, usageError{fmt.Sprintf("no [[user]] %q in %s", user, configName(cfg)), "moat connect --user NAME (a [[user]] of moat.toml)"}
	}
	ca := filepath.Join(cfg.DataDir(), CAFile)
	if _, err := os.Stat(ca); err != nil {
		return ConnectSettings{}, fmt.Errorf("%s does not exist yet: the endpoint and its CA file exist once `moat up` runs", ca)
	}
	port := strconv.Itoa(cfg.Mesh.WorkstationPort)
	url := "https://127.0.0.1:" + port
	pw := "moat secrets show user_" + user
	for _, u := range cfg.Users {
		if u.Name == user && u.Password != "" {
			pw = "the password of [[user]] " + user + " in moat.toml"
		}
	}
	jdbc := "jdbc:trino://127.0.0.1:" + port + "?SSL=true&SSLTrustStorePath=" + ca + "&SSLTrustStoreType=PEM"
	return ConnectSettings{
		URL: url, CAFile: ca, User: user, PasswordIs: pw, JDBC: jdbc,
		TrinoCLI: "trino --server " + url + " --truststore-path " + ca + " --user " + user + " --password",
		Python: "import trino; conn = trino.dbapi.connect(host='127.0.0.1', port=" + port + ", http_scheme='https', verify='" + ca +
			"', auth=trino.auth.BasicAuthentication('" + user + "', PASSWORD))",
		DBeaver: "New connection → Trino; URL " + jdbc + "; user " + user + "; password: " + pw,
	}, nil
}

func printConnect(env *cliEnv, cs ConnectSettings) {
	w := env.stdout
	fmt.Fprintln(w, connectLine(cs))
	fmt.Fprintf(w, "  JDBC       %s\n", cs.JDBC)
	fmt.Fprintf(w, "  DBeaver    %s\n", cs.DBeaver)
	fmt.Fprintf(w, "  trino CLI  %s\n", cs.TrinoCLI)
	fmt.Fprintf(w, "  Python     %s\n", cs.Python)
}

// connectLine is `moat connect`'s first line, which `moat up` prints too.
func connectLine(cs ConnectSettings) string {
	return fmt.Sprintf("Trino for tools on this host: %s (user %s; password: %s; CA %s)", cs.URL, cs.User, cs.PasswordIs, cs.CAFile)
}
