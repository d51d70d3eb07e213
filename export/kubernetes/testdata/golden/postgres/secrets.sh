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
value MOAT_SECRET_PG_PASSWORD 'pg_password' >"$tmp/MOAT_SECRET_PG_PASSWORD" # catalog pg: connection-password
apply moat-trino-env --from-file=TRINO_SHARED_SECRET="$tmp/TRINO_SHARED_SECRET" --from-file=MOAT_SECRET_PG_PASSWORD="$tmp/MOAT_SECRET_PG_PASSWORD"

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

# moat-reports: the report Jobs' Trino password (user orchestrator) only.
value TRINO_PASSWORD_ORCHESTRATOR 'orchestrator_password' >"$tmp/trino-password"
apply moat-reports --from-file=trino-password="$tmp/trino-password"

# moat-trino-tls and moat-trino-ca: Trino's keystore and CA, made with openssl. A CA of this cluster's own
# signs one certificate for loopback and the coordinator's Service; the CA's key stays in the
# temporary folder and is gone when this script ends. Kept when the Secret exists: RENEW_TLS=1
# makes new ones (then restart Trino and the notebook; the report Jobs read the CA at each run).
if [ "${RENEW_TLS:-}" = 1 ] || ! kubectl get secret moat-trino-tls -n "$NS" >/dev/null 2>&1; then
	san="DNS:localhost,DNS:trino-coordinator,DNS:trino-coordinator.$NS,DNS:trino-coordinator.$NS.svc,DNS:trino-coordinator.$NS.svc.cluster.local,IP:127.0.0.1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=moat Trino CA ($NS)" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=trino-coordinator" \
		-keyout "$tmp/tls.key" -out "$tmp/tls.csr" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$san" >"$tmp/tls.ext"
	openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 397 \
		-extfile "$tmp/tls.ext" -out "$tmp/tls.crt" 2>/dev/null
	openssl pkcs8 -topk8 -nocrypt -in "$tmp/tls.key" -out "$tmp/tls.p8"
	# key, certificate, CA: a PEM keystore as Trino reads it
	cat "$tmp/tls.p8" "$tmp/tls.crt" "$tmp/ca.pem" >"$tmp/keystore.pem"
	apply moat-trino-tls --from-file=keystore.pem="$tmp/keystore.pem" --from-file=ca.pem="$tmp/ca.pem"
	kubectl create configmap moat-trino-ca -n "$NS" --from-file=ca.pem="$tmp/ca.pem" --dry-run=client -o yaml | kubectl apply -n "$NS" -f - >/dev/null
	echo "configmap moat-trino-ca: applied"
fi
