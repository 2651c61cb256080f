#!/usr/bin/env bash
# Stop exactly what tests/engine-up.sh started (as recorded in its state directory):
# leave the swarm it created, stop dockerd and containerd, remove the swarm's link.
# An engine that was already running before engine-up.sh is left alone.
set -uo pipefail

STATE_DIR=${DOCKMAP_ENGINE_STATE:-/run/dockmap-test-engine}
SWARM_LINK=dmswarm0
export DOCKER_HOST=unix:///var/run/docker.sock

say() { echo "engine-down: $*" >&2; }

[[ -d $STATE_DIR ]] || exit 0

# Stops the process whose pid is in $1 (if it is still the command named $2), TERM then KILL.
stop_pid() {
    local file=$1 name=$2 pid
    [[ -f $file ]] || return 0
    pid=$(<"$file")
    if [[ -n $pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
        say "stopping $name ($pid)"
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name did not stop in 30 s: killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$file"
}

stopped_engine=0
if [[ -f $STATE_DIR/dockerd.pid ]]; then
    # Only when dockerd goes too: a swarm on an engine we did not start is someone else's.
    if [[ -f $STATE_DIR/created-swarm ]]; then
        docker swarm leave --force >/dev/null 2>&1 && say "left the swarm"
    fi
    # Its user-defined bridge networks' links (br-<id>, or the name an option gives), learned
    # while it still answers: a stopped dockerd leaves them behind like docker0.
    bridges=$(docker network ls -q --filter driver=bridge 2>/dev/null |
        xargs -r docker network inspect -f '{{.Id}} {{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null |
        awk '{ print ($2 != "" && $2 != "<no" ? $2 : "br-" substr($1, 1, 12)) }')
    stop_pid "$STATE_DIR/dockerd.pid" dockerd
    stopped_engine=1
fi
# A stopped dockerd leaves its bridges behind: ours go with it (never another engine's).
if ((stopped_engine)) && ! docker version >/dev/null 2>&1; then
    for link in docker0 docker_gwbridge ${bridges:-}; do
        ip link del "$link" 2>/dev/null && say "removed $link"
    done
    # And its namespace bind mounts: dockerd leaves /run/docker/netns/default (the host's own
    # namespace, mounted at start) mounted after it stops.
    for ns in /run/docker/netns/*; do
        [[ -e $ns ]] || continue
        umount "$ns" 2>/dev/null && rm -f "$ns" && say "unmounted $ns"
    done
fi
rm -f "$STATE_DIR/created-swarm"
stop_pid "$STATE_DIR/containerd.pid" containerd
# The link carries the swarm's address: keep it while an engine still answers on the socket.
if [[ -f $STATE_DIR/created-link ]] && ! docker version >/dev/null 2>&1; then
    ip link del "$SWARM_LINK" 2>/dev/null
    rm -f "$STATE_DIR/created-link"
fi
rmdir "$STATE_DIR" 2>/dev/null || true
exit 0
