#!/usr/bin/env bash
# `make run`: moat up with the embedded default moat.toml. Each image the
# default names is used when Docker has it or can pull it; where it cannot
# (a machine with no registry), the local image standing in for it is built
# and named in a generated copy of the default, and this says so plainly.
set -euo pipefail
cd "$(dirname "$0")/.."
moat=./bin/moat
default=embed/moat.toml
image_of() { sed -n "/^\[$1\]/,/^\[/s/^$2 = \"\([^\"]*\)\".*/\1/p" "$default" | head -1; }

have_or_pull() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  echo "pulling $1 …"
  timeout 600 docker pull "$1" >/dev/null 2>&1
}

declare -A local_for=(
  [consul]="moat-test/consul:dev|the pinned Consul server, built from its Go module (tools/consul): the real Consul"
  [trino]="moat-test/trinotest:dev|a Trino PROTOCOL STAND-IN (trino/trinotest) serving TPC-H tiny data: NOT Trino"
  [notebook]="moat-test/notebook:dev|a real Jupyter Notebook server built from Debian packages"
)
declare -A key_for=([consul]="mesh consul_image" [trino]="trino image" [notebook]="notebook image")
overrides=()
for part in consul trino notebook; do
  read -r section key <<<"${key_for[$part]}"
  official=$(image_of "$section" "$key")
  if have_or_pull "$official"; then
    echo "  $part: $official (official image)"
    continue
  fi
  IFS='|' read -r img what <<<"${local_for[$part]}"
  echo "  $part: $official cannot be had here; using the local $img — $what"
  overrides+=("$section|$key|$official|$img")
done

if [ ${#overrides[@]} -eq 0 ]; then
  exec "$moat" up "$@"
fi
echo "building the local images (cached; only what changed is rebuilt) …"
make -s test-images >/dev/null
dir=bin/run
mkdir -p "$dir"
cfg="$dir/moat.toml"
cp "$default" "$cfg"
for o in "${overrides[@]}"; do
  IFS='|' read -r section key official img <<<"$o"
  sed -i "s|^$key = \"$official\"|$key = \"$img\" # local stand-in for $official (make run)|" "$cfg"
done
echo "config: $cfg (the embedded default with the local images above; state in $dir/.moat)"
exec "$moat" up --config "$cfg" "$@"
