package kubernetes

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"moat/appliance"
	"moat/appliance/config"
	"moat/trino"
)

// Trino's TLS material on Kubernetes: the Secret SecretTLS holds the
// keystore and the CA (the files the plan's properties name in tlsDir),
// the ConfigMap ConfigMapCA the CA certificate alone, for clients (the
// notebook, the report Jobs). secrets.sh makes both.
const (
	SecretTLS   = "moat-trino-tls"
	ConfigMapCA = "moat-trino-ca"
	CAKey       = "ca.pem"
)

// secretValue is one value secrets.sh puts into a Secret: from the
// environment variable Env, else `moat secrets show Name` on the old host.
type secretValue struct {
	Key, Env, Name, What string
}

func envName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// trinoEnvSecrets are the variables the Trino pods read: the shared secret
// and every catalog secret, named as on one host.
func (pl *plan) trinoEnvSecrets() []secretValue {
	out := []secretValue{{Key: "TRINO_SHARED_SECRET", Env: "TRINO_SHARED_SECRET", Name: appliance.SecretTrinoShared, What: "internal-communication.shared-secret"}}
	for i, cat := range pl.cfg.Catalogs {
		tc := pl.cluster.Catalogs[i]
		props := make([]string, 0, len(cat.Secrets))
		for prop := range cat.Secrets {
			props = append(props, prop)
		}
		slices.Sort(props)
		for _, prop := range props {
			env := tc.SecretEnv[prop]
			out = append(out, secretValue{Key: env, Env: env, Name: cat.Secrets[prop], What: "catalog " + cat.Name + ": " + prop})
		}
	}
	return out
}

// trinoUsers are the users of password.db, with where each password is.
func (pl *plan) trinoUsers() []secretValue {
	out := []secretValue{
		{Key: config.ManagementUser, Env: "TRINO_PASSWORD_" + envName(config.ManagementUser), Name: appliance.SecretManagement},
		{Key: config.OrchestratorUser, Env: "TRINO_PASSWORD_" + envName(config.OrchestratorUser), Name: appliance.SecretOrchestrator},
	}
	for _, u := range pl.cfg.Users {
		v := secretValue{Key: u.Name, Env: "TRINO_PASSWORD_" + envName(u.Name), Name: appliance.UserSecret(u.Name)}
		if u.Password != "" {
			v.Name, v.What = "", "set in moat.toml: give it in "+v.Env
		}
		out = append(out, v)
	}
	return out
}

func (pl *plan) userSecret(name string) secretValue {
	for _, u := range pl.trinoUsers() {
		if u.Key == name {
			return u
		}
	}
	return secretValue{}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (pl *plan) secretsScript() ([]byte, error) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ns := pl.opts.namespace()
	w(`#!/bin/sh
# secrets.sh: creates the Kubernetes Secrets of moat's export in namespace %s. Written by
# moat export kubernetes; it holds no secret value, so this folder is safe to commit.
#
# Each value comes from an environment variable when it is set, else from
#   moat secrets show NAME
# on the old host: run this script there (from the folder of its moat.toml, kubectl pointing at the
# cluster), or set the variables. Values go to kubectl through files in a private temporary folder,
# never on a command line, and are never printed.
set -eu
NS=${NS:-%s}
MOAT=${MOAT:-moat}
MOAT_DATA_DIR=${MOAT_DATA_DIR:-%s} # data_dir of moat.toml, relative to its folder
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# value ENV NAME: $ENV if set, else moat secrets show NAME.
value() {
	eval "v=\${$1:-}"
	if [ -n "$v" ]; then printf %%s "$v"; return; fi
	if [ -z "$2" ]; then echo "secrets.sh: set $1" >&2; exit 1; fi
	if ! v=$("$MOAT" secrets show "$2" 2>/dev/null); then
		echo "secrets.sh: set $1, or run this where moat secrets show $2 works" >&2
		exit 1
	fi
	printf %%s "$v"
}

# apply NAME ARGS...: creates or replaces the generic Secret NAME.
apply() {
	name=$1; shift
	kubectl create secret generic "$name" -n "$NS" "$@" --dry-run=client -o yaml | kubectl apply -n "$NS" -f - >/dev/null
	echo "secret $name: applied"
}
`, ns, shellQuote(ns), shellQuote(pl.cfg.Appliance.DataDir))

	w("\n# %s: the Trino pods' environment (envFrom in trino-values.yaml).\n", SecretTrinoEnv)
	var args []string
	for _, s := range pl.trinoEnvSecrets() {
		w("value %s %s >\"$tmp/%s\" # %s\n", s.Env, shellQuote(s.Name), s.Key, s.What)
		args = append(args, fmt.Sprintf("--from-file=%s=\"$tmp/%s\"", s.Key, s.Key))
	}
	w("apply %s %s\n", SecretTrinoEnv, strings.Join(args, " "))

	w(`
# %s: password.db (bcrypt). The old host's own file when it is there (it holds
# hashes only), else one made with htpasswd (apache2-utils) from the passwords.
if [ -n "${PASSWORD_DB:-}" ]; then
	cp "$PASSWORD_DB" "$tmp/password.db"
elif [ -f "$MOAT_DATA_DIR/trino/password.db" ]; then
	cp "$MOAT_DATA_DIR/trino/password.db" "$tmp/password.db"
else
	: >"$tmp/password.db"
`, SecretPassword)
	for _, u := range pl.trinoUsers() {
		comment := ""
		if u.What != "" {
			comment = " # " + u.What
		}
		w("\tvalue %s %s | htpasswd -niBC 10 %s >>\"$tmp/password.db\"%s\n", u.Env, shellQuote(u.Name), shellQuote(u.Key), comment)
	}
	w("\tsed -i '/^$/d' \"$tmp/password.db\"\nfi\n")
	w("apply %s --from-file=password.db=\"$tmp/password.db\"\n", SecretPassword)

	nbUser := pl.userSecret(pl.cfg.Notebook.User)
	w("\n# %s: the notebook's Jupyter token and its Trino user's (%s) password.\n", SecretNotebook, pl.cfg.Notebook.User)
	w("value JUPYTER_TOKEN %s >\"$tmp/JUPYTER_TOKEN\"\n", shellQuote(appliance.SecretNotebook))
	w("value %s %s >\"$tmp/TRINO_PASSWORD\"\n", nbUser.Env, shellQuote(nbUser.Name))
	w("apply %s --from-file=JUPYTER_TOKEN=\"$tmp/JUPYTER_TOKEN\" --from-file=TRINO_PASSWORD=\"$tmp/TRINO_PASSWORD\"\n", SecretNotebook)

	orch := pl.userSecret(config.OrchestratorUser)
	w("\n# %s: the report Jobs' Trino password (user %s) only.\n", SecretReports, config.OrchestratorUser)
	w("value %s %s >\"$tmp/%s\"\n", orch.Env, shellQuote(orch.Name), reportPasswordKey)
	w("apply %s --from-file=%s=\"$tmp/%s\"\n", SecretReports, reportPasswordKey, reportPasswordKey)

	if pl.usesTLSFiles() {
		pl.tlsScript(w)
	}
	return []byte(b.String()), nil
}

// tlsNames are the names Trino's certificate carries on Kubernetes in
// namespace ns: loopback (the sidecar's hop to Trino, the image's
// health-check) and the coordinator's Service, where workers announce
// (discovery.uri).
func tlsNames(ns string) (dns []string, ips []string) {
	svc := config.ServiceCoordinator
	return []string{"localhost", svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}, []string{"127.0.0.1"}
}

// tlsScript writes the part of secrets.sh that makes Trino's keystore and
// CA: a CA of the cluster's own (its key never leaves the temporary
// folder), one certificate for tlsNames, the Secret SecretTLS (keystore
// and CA, the files the plan's properties name) and the ConfigMap
// ConfigMapCA (the CA alone, for clients).
func (pl *plan) tlsScript(w func(string, ...any)) {
	dns, ips := tlsNames("$NS")
	var san []string
	for _, d := range dns {
		san = append(san, "DNS:"+d)
	}
	for _, ip := range ips {
		san = append(san, "IP:"+ip)
	}
	ks, ca := path.Base(trino.KeystorePath), path.Base(trino.TruststorePath)
	w(`
# %[1]s and %[2]s: Trino's keystore and CA, made with openssl. A CA of this cluster's own
# signs one certificate for loopback and the coordinator's Service; the CA's key stays in the
# temporary folder and is gone when this script ends. Kept when the Secret exists: RENEW_TLS=1
# makes new ones (then restart Trino and the notebook; the report Jobs read the CA at each run).
if [ "${RENEW_TLS:-}" = 1 ] || ! kubectl get secret %[1]s -n "$NS" >/dev/null 2>&1; then
	san="%[3]s"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=moat Trino CA ($NS)" -keyout "$tmp/ca.key" -out "$tmp/%[5]s" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=%[6]s" \
		-keyout "$tmp/tls.key" -out "$tmp/tls.csr" 2>/dev/null
	printf 'subjectAltName=%%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$san" >"$tmp/tls.ext"
	openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/%[5]s" -CAkey "$tmp/ca.key" -CAcreateserial -days 397 \
		-extfile "$tmp/tls.ext" -out "$tmp/tls.crt" 2>/dev/null
	openssl pkcs8 -topk8 -nocrypt -in "$tmp/tls.key" -out "$tmp/tls.p8"
	# key, certificate, CA: a PEM keystore as Trino reads it
	cat "$tmp/tls.p8" "$tmp/tls.crt" "$tmp/%[5]s" >"$tmp/%[4]s"
	apply %[1]s --from-file=%[4]s="$tmp/%[4]s" --from-file=%[5]s="$tmp/%[5]s"
	kubectl create configmap %[2]s -n "$NS" --from-file=%[7]s="$tmp/%[5]s" --dry-run=client -o yaml | kubectl apply -n "$NS" -f - >/dev/null
	echo "configmap %[2]s: applied"
fi
`, SecretTLS, ConfigMapCA, strings.Join(san, ","), ks, ca, config.ServiceCoordinator, CAKey)
}
