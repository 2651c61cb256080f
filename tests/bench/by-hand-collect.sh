#!/usr/bin/env bash
# The way people gather a Docker host's networking facts by hand today, as a script: the baseline
# that tests/bench/snapshot_vs_script.rs times `dockmap snapshot` against.
#
#     bash tests/bench/by-hand-collect.sh [OUT_DIR]
#
# `docker inspect` of every container and every network; then in the host's namespace and in every
# namespace file of the engine (the directory of the containers' SandboxKey, never assumed):
# `ip -d -j link`, `ip -j addr`, `ip -j route`, `bridge -j fdb`, `iptables-save`.
# Writes OUT_DIR/containers.json, OUT_DIR/networks.json, OUT_DIR/netns_dir,
# OUT_DIR/ns/<name>/{link,addr,route,fdb}.json + iptables.txt (<name> = host or the netns file name),
# and OUT_DIR/failed (namespace files that could not be entered). Needs root.
set -euo pipefail

out=${1:-$(mktemp -d /tmp/by-hand.XXXXXX)}
mkdir -p "$out/ns"

containers=$(docker ps -aq --no-trunc)
if [[ -n $containers ]]; then
    # shellcheck disable=SC2086
    docker inspect $containers >"$out/containers.json"
else
    echo '[]' >"$out/containers.json"
fi
# shellcheck disable=SC2046
docker network inspect $(docker network ls -q) >"$out/networks.json"

key=$(grep -m1 -o '"SandboxKey": *"/[^"]*"' "$out/containers.json" | sed 's/.*"\(\/[^"]*\)"$/\1/' || true)
netns_dir=${key:+$(dirname "$key")}
echo "$netns_dir" >"$out/netns_dir"

# dump NAME [COMMAND PREFIX...]: the kernel's view from inside one namespace.
dump() {
    local dir=$out/ns/$1
    shift
    mkdir -p "$dir"
    "$@" ip -d -j link >"$dir/link.json" || return 1
    "$@" ip -j addr >"$dir/addr.json"
    "$@" ip -j route >"$dir/route.json"
    "$@" bridge -j fdb >"$dir/fdb.json"
    "$@" iptables-save >"$dir/iptables.txt"
}

: >"$out/failed"
dump host
if [[ -n $netns_dir && -d $netns_dir ]]; then
    for f in "$netns_dir"/*; do
        [[ -e $f ]] || continue
        name=$(basename "$f")
        if ! dump "$name" nsenter --net="$f" 2>/dev/null; then
            rm -rf "${out:?}/ns/$name"
            echo "$f" >>"$out/failed"
        fi
    done
fi
echo "$out"
