#!/usr/bin/env bash
# Start the Docker engine the tests use, unless one already answers, and prepare it:
# a single-node swarm and the busybox image. Idempotent: safe to run again on the same machine.
#
# Every address the engine hands out lies inside 198.18.0.0/15 (the benchmarking range):
#   198.18.0.0/24      docker0 (--bip)
#   198.18.64.0/18     local networks (--default-address-pool, /24 each)
#   198.18.128.0/18    swarm networks (swarm init --default-addr-pool, /24 each)
#   198.18.192.1/32    the swarm's advertise address, on a port-less bridge of its own (this kernel has no dummy links)
# Other tests configure 198.18.1-63.x and 198.19.x themselves: the engine stays out of those.
#
# What this script started is written to $STATE_DIR so that engine-down.sh stops exactly that.
set -euo pipefail

STATE_DIR=${DOCKMAP_ENGINE_STATE:-/run/dockmap-test-engine}
SOCK=/var/run/docker.sock
CONTAINERD_SOCK=/run/containerd/containerd.sock
SWARM_LINK=dmswarm0
SWARM_ADDR=198.18.192.1
IMAGE=dockmap-test/busybox:latest
LOG_DIR=${DOCKMAP_ENGINE_LOGS:-/var/log/dockmap-test}

mkdir -p "$STATE_DIR" "$LOG_DIR"
export DOCKER_HOST=unix://$SOCK

say() { echo "engine-up: $*" >&2; }

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

containerd_answers() { ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }

wait_for() { # seconds, description, command...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            say "timed out waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

# The swarm's advertise address must exist before dockerd starts, or a swarm
# initialised in an earlier run cannot come back up.
ensure_swarm_link() {
    if ! ip link show "$SWARM_LINK" >/dev/null 2>&1; then
        ip link add "$SWARM_LINK" type bridge
        touch "$STATE_DIR/created-link"
    fi
    ip addr replace "$SWARM_ADDR/32" dev "$SWARM_LINK"
    ip link set "$SWARM_LINK" up
}

start_containerd() {
    if [[ -S $CONTAINERD_SOCK ]] && containerd_answers; then
        return
    fi
    say "starting containerd"
    setsid containerd >"$LOG_DIR/containerd.log" 2>&1 </dev/null &
    echo $! >"$STATE_DIR/containerd.pid"
    wait_for 30 containerd containerd_answers
}

start_dockerd() {
    say "starting dockerd"
    setsid dockerd \
        -H "unix://$SOCK" \
        --containerd "$CONTAINERD_SOCK" \
        --pidfile "$STATE_DIR/dockerd.pidfile" \
        --bip 198.18.0.1/24 \
        --default-address-pool base=198.18.64.0/18,size=24 \
        --log-level warn \
        >"$LOG_DIR/dockerd.log" 2>&1 </dev/null &
    echo $! >"$STATE_DIR/dockerd.pid"
    if ! wait_for 60 dockerd engine_answers; then
        tail -n 40 "$LOG_DIR/dockerd.log" >&2 || true
        return 1
    fi
}

ensure_swarm() {
    local state
    state=$(docker info --format '{{.Swarm.LocalNodeState}}')
    if [[ $state == active ]]; then
        return
    fi
    if [[ $state != inactive ]]; then
        say "swarm is '$state': leaving it first"
        docker swarm leave --force >/dev/null 2>&1 || true
    fi
    say "initialising a single-node swarm on $SWARM_ADDR"
    # Not fatal: the tests that need the swarm say so; the others still run.
    if docker swarm init \
        --advertise-addr "$SWARM_ADDR" \
        --listen-addr "$SWARM_ADDR:2377" \
        --default-addr-pool 198.18.128.0/18 \
        --default-addr-pool-mask-length 24 >/dev/null; then
        touch "$STATE_DIR/created-swarm"
    else
        say "swarm init failed: swarm tests will fail"
    fi
}

# No image can be pulled here: build one from the static busybox and its applet links.
ensure_image() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        return
    fi
    say "building $IMAGE from busybox-static"
    local root
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/etc"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in $("$root/bin/busybox" --list); do
        [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
    done
    tar -C "$root" -c . | docker import \
        --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/bin' \
        - "$IMAGE" >/dev/null
    rm -rf "$root"
}

# An engine started by someone else must still hand out test addresses only.
check_addresses() {
    local subnets
    subnets=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}')
    case " $subnets" in
    *" 198.18."* | *" 198.19."*) return ;;
    esac
    say "the engine on $SOCK hands out $subnets, outside 198.18.0.0/15: stop it, and this script starts one that does not"
    [[ -z ${CI:-} ]] || exit 1
}

ensure_swarm_link
if engine_answers; then
    say "engine already answers on $SOCK: using it"
    check_addresses
else
    start_containerd
    start_dockerd
fi
ensure_swarm
ensure_image
say "ready: $(docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})')"
