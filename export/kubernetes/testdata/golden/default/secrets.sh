#!/bin/sh
# secrets.sh: creates the Kubernetes Secrets of moat's export in namespace analytics. Written by
# moat export kubernetes; it holds no secret value, so this folder is safe to commit.
#
# Each value comes from an environment variable when it is set, else from
#   moat secrets show NAME
# on the old host: run this script there (from the folder of its moat.toml, kubectl pointing at the
# cluster), or set the variables. Values go to kubectl through files in a private temporary folder,
# never on a command line, and are never printed.
set -eu
NS=${NS:-'analytics'}
MOAT=${MOAT:-moat}
MOAT_DATA_DIR=${MOAT_DATA_DIR:-'.moat'} # data_dir of moat.toml, relative to its folder
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# value ENV NAME: $ENV if set, else moat secrets show NAME.
value() {
	eval "v=\${$1:-}"
	if [ -n "$v" ]; then printf %s "$v"; return; fi
	if [ -z "$2" ]; then echo "secrets.sh: set $1" >&2; exit 1; fi
	if ! v=$("$MOAT" secrets show "$2" 2>/dev/null); then
		echo "secrets.sh: set $1, or run this where moat secrets show $2 works" >&2
		exit 1
	fi
	printf %s "$v"
}

# apply NAME ARGS...: creates or replaces the generic Secret NAME.
apply() {
	name=$1; shift
	kubectl create secret generic "$name" -n "$NS" "$@" --dry-run=client -o yaml | kubectl apply -n "$NS" -f - >/dev/null
	echo "secret $name: applied"
}

# moat-trino-env: the Trino pods' environment (envFrom in trino-values.yaml).
value TRINO_SHARED_SECRET 'trino_shared' >"$tmp/TRINO_SHARED_SECRET" # internal-communication.shared-secret
apply moat-trino-env --from-file=TRINO_SHARED_SECRET="$tmp/TRINO_SHARED_SECRET"

# moat-trino-password: password.db (bcrypt). The old host's own file when it is there (it holds
# hashes only), else one made with htpasswd (apache2-utils) from the passwords.
if [ -n "${PASSWORD_DB:-}" ]; then
	cp "$PASSWORD_DB" "$tmp/password.db"
elif [ -f "$MOAT_DATA_DIR/trino/password.db" ]; then
	cp "$MOAT_DATA_DIR/trino/password.db" "$tmp/password.db"
else
	: >"$tmp/password.db"
	value TRINO_PASSWORD_MOAT 'moat_password' | htpasswd -niBC 10 'moat' >>"$tmp/password.db"
	value TRINO_PASSWORD_ORCHESTRATOR 'orchestrator_password' | htpasswd -niBC 10 'orchestrator' >>"$tmp/password.db"
	value TRINO_PASSWORD_ANALYST 'user_analyst' | htpasswd -niBC 10 'analyst' >>"$tmp/password.db"
	sed -i '/^$/d' "$tmp/password.db"
fi
apply moat-trino-password --from-file=password.db="$tmp/password.db"

# moat-notebook: the notebook's Jupyter token and its Trino user's (analyst) password.
value JUPYTER_TOKEN 'notebook' >"$tmp/JUPYTER_TOKEN"
value TRINO_PASSWORD_ANALYST 'user_analyst' >"$tmp/TRINO_PASSWORD"
apply moat-notebook --from-file=JUPYTER_TOKEN="$tmp/JUPYTER_TOKEN" --from-file=TRINO_PASSWORD="$tmp/TRINO_PASSWORD"

# moat-reports: the secrets file of the report Jobs: the orchestrator's Trino password only.
printf 'orchestrator_password = "%s"\n' "$(value TRINO_PASSWORD_ORCHESTRATOR 'orchestrator_password')" >"$tmp/secrets.toml"
apply moat-reports --from-file=secrets.toml="$tmp/secrets.toml"

# moat-trino-tls: Trino's keystore and CA. moat's CA signs them on one host for fixed node IPs, which
# pods do not have: issue them in the cluster (e.g. cert-manager) and create this Secret with
# keys keystore.pem and ca.pem. This script does not make them.
if ! kubectl get secret moat-trino-tls -n "$NS" >/dev/null 2>&1; then
	echo "secrets.sh: create secret moat-trino-tls (keystore.pem, ca.pem) before installing Trino: see README.md" >&2
fi
