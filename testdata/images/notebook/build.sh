#!/usr/bin/env bash
# Builds moat-test/notebook:dev, a real Jupyter Notebook server made of Debian
# bookworm packages, without any image registry: mmdebstrap writes a root
# filesystem as a tar to stdout and `docker import` turns it into an image.
#
#   testdata/images/notebook/build.sh STAMP    (what `make notebook-image` runs)
#
# The recipe is every file in this folder (this script, packages.txt, files/).
# Its hash is kept in the image's label dev.moat.recipe and in STAMP; when the
# image on the engine already carries the hash, nothing is built.
#
# Packages come from mmdebstrap's default mirrors for a stable suite (the
# Debian mirror and its -updates and -security suites), which are the ones
# this machine's /etc/apt/sources.list.d/debian.sources names. http_proxy and
# friends are honoured by apt as usual.
#
# The image follows the official Jupyter images where moat relies on them:
# user jovyan uid 1000, group users gid 100, home /home/jovyan with work/,
# the server on 0.0.0.0:8888, tini as PID 1, the token from JUPYTER_TOKEN.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=moat-test/notebook:dev
stamp=${1:?usage: build.sh STAMP_FILE}

recipe=$(cd "$here" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
have=$(docker image inspect -f '{{index .Config.Labels "dev.moat.recipe"}}' "$image" 2>/dev/null || true)
if [[ $have == "$recipe" ]]; then
	echo "$image is up to date (recipe ${recipe:0:12})"
	mkdir -p "$(dirname "$stamp")" && echo "$recipe" >"$stamp"
	exit 0
fi

if ! command -v mmdebstrap >/dev/null; then
	echo "installing mmdebstrap (Debian package)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

# packages.txt: a package a line; "-pkg" lines are purged after installation.
packages=$(sed -e 's/#.*//' "$here/packages.txt" | grep -v '^[[:space:]]*-' | xargs | tr ' ' ,)
purge=$(sed -e 's/#.*//' "$here/packages.txt" | sed -n 's/^[[:space:]]*-//p' | xargs)
echo "building $image from Debian bookworm packages (recipe ${recipe:0:12}; a minute or two, once): $packages"
start=$SECONDS

# Import under a temporary tag and move the real tag only once the whole
# pipeline succeeded: a truncated tar must never become an image that carries
# the recipe's label.
tmp="moat-test/notebook:building-$$"
trap 'docker image rm -f "$tmp" >/dev/null 2>&1 || true' EXIT

# Files of the image: jovyan (uid 1000, in the base-passwd group users, gid
# 100) and its home, the start and health scripts, and a matplotlib font
# cache built once as jovyan so that the first plot does not pay for it.
hooks=(
	--customize-hook='grep -q "^users:[^:]*:100:" "$1/etc/group"'
	--customize-hook='if [ -e "$1/etc/shadow" ]; then pw=x; echo "jovyan:!::0:99999:7:::" >>"$1/etc/shadow"; else pw="*"; fi; echo "jovyan:$pw:1000:100:Jupyter user:/home/jovyan:/bin/bash" >>"$1/etc/passwd"'
	--customize-hook='install -d -o 1000 -g 100 -m 0755 "$1/home/jovyan" "$1/home/jovyan/work"'
	--customize-hook="install -m 0755 '$here/files/usr/local/bin/moat-notebook-start' '$here/files/usr/local/bin/moat-notebook-health' \"\$1/usr/local/bin/\""
	# The official images' health check path, so that moat's default
	# health_check (python3 /etc/jupyter/docker_healthcheck.py) works too.
	--customize-hook='install -d -m 0755 "$1/etc/jupyter" && ln -s /usr/local/bin/moat-notebook-health "$1/etc/jupyter/docker_healthcheck.py"'
	--customize-hook='chroot --userspec=1000:100 "$1" env HOME=/home/jovyan MPLBACKEND=Agg python3 -c "import matplotlib.pyplot"'
	--customize-hook="if [ -n '$purge' ]; then chroot \"\$1\" dpkg --purge --force-depends $purge; fi"
	--customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/cache/debconf/*-old "$1"/var/log/*'
)

# No documentation, manual pages or translations (copyright files stay).
dpkgopts=(
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-exclude=/usr/share/lintian/*'
)

# force-unsafe-io: no fsync per file for a tree that only becomes a tar
# (about twice as fast here).
mmdebstrap --variant=essential --include="$packages" \
	--aptopt='APT::Install-Recommends "false"' --aptopt='APT::Install-Suggests "false"' \
	--dpkgopt=force-unsafe-io \
	"${dpkgopts[@]}" "${hooks[@]}" \
	bookworm - |
	docker import \
		--change 'USER 1000:100' \
		--change 'WORKDIR /home/jovyan' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV HOME=/home/jovyan' \
		--change 'ENV SHELL=/bin/bash' \
		--change 'ENV LANG=C.UTF-8' \
		--change 'EXPOSE 8888' \
		--change 'ENTRYPOINT ["/usr/bin/tini", "-g", "--"]' \
		--change 'CMD ["/usr/local/bin/moat-notebook-start"]' \
		--change "LABEL dev.moat.recipe=$recipe" \
		--message "moat-test/notebook: Debian bookworm, $packages" \
		- "$tmp" >/dev/null

old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
docker tag "$tmp" "$image"
# The image this one replaces, unless a container still uses it.
if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
	docker image rm "$old" >/dev/null 2>&1 || true
fi
mkdir -p "$(dirname "$stamp")" && echo "$recipe" >"$stamp"
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "built $image in $((SECONDS - start)) s: $((size / 1000000)) MB"
