#!/usr/bin/env bash
# swarm-lab.sh: a real N-node Docker swarm on this one machine, for dockmap's tests and as a demo.
#
# Each node is a network namespace (/run/netns/nodeI) holding its own dockerd; all engines share one
# containerd of the lab's own (never the host's). The nodes meet on an underlay bridge that lives in a
# namespace of its own (dmlab-ul), because a bridge in the root namespace would meet the host's
# FORWARD policy. Every address is inside 198.19.0.0/16 (part of the 198.18.0.0/15 benchmarking range)
# and no node has a default route, so nothing the lab does can reach past this machine.
#
#   up [N]      tear down any previous lab, then start N nodes (default 3) and form a swarm
#   deploy      an overlay, a service of 3 replicas with a published port, an attachable overlay
#               with a plain container on node2
#   status      what is running
#   env NODE    export lines for DOCKER_HOST and the node's namespaces
#   exec NODE COMMAND...  run COMMAND as if on the node (its network and UTS namespaces, DOCKER_HOST)
#   demo [N]    the lab as a demo (brought up and deployed first if it is not): a `dockmap agent` in
#               every node, the lab's underlay reachable from this (the root) namespace, and the
#               `dockmap serve` command to run here; uses $DOCKMAP_BIN, else target/{release,debug}/dockmap
#   down        tear everything down (idempotent; safe after a failed or half-done `up` or `demo`)
#
# Environment:
#   DMLAB_SAME_HOSTNAME=1 (for `up`)  every engine keeps this machine's hostname (no UTS namespace of
#               its own), so all swarm nodes share one hostname, as cloned VMs do; default: nodeI
#   DMLAB_KEEP=1 keep a failed `up` for a look; DMLAB_VERBOSE=1 time `down`'s steps;
#   DMLAB_WAIT=S bound each wait (default 60)
#
# Needs root and: docker.io (dockerd, docker, containerd, runc), iproute2, iptables, busybox-static,
# util-linux (nsenter, unshare, setsid).
set -euo pipefail

LAB_RUN=/run/dockmap-lab
LAB_LIB=/var/lib/dockmap-lab
UL_NS=dmlab-ul
UL_BR=br-ul
UL_GW=198.19.0.1
CTRD_SOCK=$LAB_RUN/containerd.sock
IMAGE=dockmap-lab/busybox:latest
OVERLAY=lab-overlay
ATTACHABLE=lab-attach
SERVICE=web
PUBLISHED_PORT=8080
HOST_PORT=8081
MAX_NODES=8
# The demo's link from the root namespace to the underlay bridge: a veth whose root end holds an
# address on the underlay's own /24, so the root namespace gains exactly one route (198.19.0.0/24,
# on that link) and nothing needs forwarding: it is one more port on the bridge.
ROOT_LINK=dmlab-root
UL_ROOT_LINK=ul-root
ROOT_ADDR=198.19.0.254
AGENT_PORT=7879
TOKEN_FILE=$LAB_RUN/agent-token
SERVE_DATA=$LAB_RUN/serve-data
# Seconds to wait for any one thing to come up; each wait polls and returns as soon as it can.
WAIT=${DMLAB_WAIT:-60}

log() { printf 'swarm-lab: %s\n' "$*" >&2; }
# With DMLAB_VERBOSE=1, says how long each step took.
phase() { [[ -z ${DMLAB_VERBOSE:-} ]] || log "$(date +%T.%3N) $*"; }
die() {
  log "error: $*"
  exit 1
}

node_addr() { echo "198.19.0.$((10 + $1))"; }
node_sock() { echo "/run/docker-node$1.sock"; }
node_exec_root() { echo "/run/docker-node$1"; }
dk() {
  local i=$1
  shift
  docker -H "unix://$(node_sock "$i")" "$@"
}

# wait_for DESCRIPTION COMMAND...: poll COMMAND until it succeeds or WAIT seconds have passed.
wait_for() {
  local what=$1
  shift
  local deadline=$((SECONDS + WAIT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${WAIT}s waiting for: $what"
      return 1
    fi
    sleep 0.2
  done
}

need_root() { [[ $(id -u) == 0 ]] || die "needs root"; }

need_tools() {
  local t missing=()
  for t in dockerd docker containerd containerd-shim-runc-v2 runc ctr ip bridge iptables nsenter unshare setsid hostname tar busybox; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (apt-get install docker.io iptables busybox-static iproute2)"
}

node_count() {
  [[ -f $LAB_RUN/nodes ]] || die "no lab is up (run: $0 up)"
  cat "$LAB_RUN/nodes"
}

# Runs one command per node in parallel; fails if any of them failed.
for_nodes() {
  local n=$1 fn=$2 i pids=() rc=0
  for ((i = 1; i <= n; i++)); do
    "$fn" "$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || rc=1; done
  return $rc
}

# ---------------------------------------------------------------- up

start_containerd() {
  mkdir -p "$LAB_RUN" "$LAB_LIB/containerd" "$LAB_RUN/containerd-state"
  # The CRI plugin would start its own CNI machinery; the lab's engines need none of it.
  cat >"$LAB_RUN/containerd.toml" <<EOF
version = 2
root = "$LAB_LIB/containerd"
state = "$LAB_RUN/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  setsid containerd --config "$LAB_RUN/containerd.toml" >"$LAB_RUN/containerd.log" 2>&1 </dev/null &
  echo $! >"$LAB_RUN/containerd.pid"
  wait_for "containerd at $CTRD_SOCK" ctr --address "$CTRD_SOCK" version
}

make_underlay() {
  ip netns add "$UL_NS"
  ip -n "$UL_NS" link set lo up
  ip -n "$UL_NS" link add "$UL_BR" type bridge
  ip -n "$UL_NS" addr add "$UL_GW/24" dev "$UL_BR"
  ip -n "$UL_NS" link set "$UL_BR" up
}

make_node_netns() {
  local i=$1 ns=node$1
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # Created straight into their namespaces, so no end ever shows up in the root namespace.
  ip link add "ul-$ns" netns "$UL_NS" type veth peer name eth0 netns "$ns"
  ip -n "$UL_NS" link set "ul-$ns" master "$UL_BR" up
  ip -n "$ns" addr add "$(node_addr "$i")/24" dev eth0
  ip -n "$ns" link set eth0 up
  # No default route on purpose: the engines get --advertise-addr/--data-path-addr explicitly, and
  # without one any attempt to reach the internet (image pulls, DNS) fails at once, inside the node.
}

start_dockerd() {
  local i=$1 ns=node$1 exec_root
  exec_root=$(node_exec_root "$i")
  mkdir -p "$LAB_LIB/$ns" "$exec_root"
  # The exec root as a shared mount of its own, as /run is on a systemd host: a container that
  # bind-mounts it with rslave propagation (the dockmap agent as a swarm service) then sees the
  # sandboxes the engine mounts there later. A private parent (as / is in some build containers)
  # makes the engine refuse such a mount: "is mounted on / but it is not a shared or slave mount".
  # Bound once: an engine restarted (restart-engine) finds it in place, with its sandboxes below.
  if ! mountpoint -q "$exec_root"; then
    mount --bind "$exec_root" "$exec_root"
    mount --make-shared "$exec_root"
  fi
  # A config file of its own keeps /etc/docker/daemon.json (maybe another engine's) out, and a key
  # of its own gives each engine its own ID (all engines on a machine would otherwise share
  # /etc/docker/key.json, and so `docker info`'s ID).
  echo "{\"deprecated-key-path\": \"$LAB_LIB/$ns/key.json\"}" >"$LAB_RUN/$ns.json"
  # Default: a UTS namespace of its own gives each engine its node name as hostname, which is what
  # swarm shows as the node's name. DMLAB_SAME_HOSTNAME=1: every engine keeps this machine's.
  local uts=(unshare --uts sh -c "hostname $ns && exec \"\$0\" \"\$@\"")
  [[ -z ${DMLAB_SAME_HOSTNAME:-} ]] || uts=()
  # nsenter, not `ip netns exec`: the latter remounts /sys and dockerd then fails with "Devices
  # cgroup isn't mounted".
  # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: swarm tasks use the imported image without trying a pull.
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid nsenter --net="/run/netns/$ns" "${uts[@]}" dockerd \
    --containerd="$CTRD_SOCK" --containerd-namespace "$ns" --containerd-plugins-namespace "$ns-p" \
    --config-file "$LAB_RUN/$ns.json" --data-root "$LAB_LIB/$ns" --exec-root "$exec_root" \
    -H "unix://$(node_sock "$i")" --pidfile "$LAB_RUN/$ns.pid" \
    --bip "198.19.$((16 + i)).1/24" \
    --default-address-pool "base=198.19.$((64 + 8 * (i - 1))).0/21,size=24" \
    --cgroup-parent "/dockmap-lab-$ns" \
    --shutdown-timeout 2 \
    >"$LAB_RUN/$ns.log" 2>&1 </dev/null &
  wait_for "dockerd of $ns" dk "$i" version
}

make_image_tar() {
  local root=$LAB_RUN/image-root a
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
  cp "$(command -v busybox)" "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list); do
    [[ $a == busybox ]] || ln -sf busybox "$root/bin/$a"
  done
  echo 'dockmap swarm lab' >"$root/www/index.html"
  echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  tar -C "$root" -cf "$LAB_RUN/busybox.tar" .
  rm -rf "$root"
}

import_image() { dk "$1" import "$LAB_RUN/busybox.tar" "$IMAGE" >/dev/null; }

join_swarm() {
  local i=$1
  ((i == 1)) && return 0
  local a
  a=$(node_addr "$i")
  dk "$i" swarm join --token "$(cat "$LAB_RUN/worker-token")" \
    --listen-addr "$a:2377" --advertise-addr "$a" --data-path-addr "$a" "$(node_addr 1):2377" >/dev/null
}

ready_count() { dk 1 node ls --format '{{.Status}}' | grep -c '^Ready$'; }
all_ready() { [[ $(ready_count) == "$1" ]]; }

# The last lines each engine and containerd logged: what a failed run needs to be understood.
show_logs() {
  local f
  for f in "$LAB_RUN"/containerd.log "$LAB_RUN"/node*.log; do
    [[ -f $f ]] || continue
    log "---- last lines of $f"
    tail -n 15 "$f" >&2
  done
}

# A failed `up` leaves nothing behind, unless DMLAB_KEEP=1 asks to keep it for a look.
up_exit() {
  local rc=$?
  ((rc == 0)) && return 0
  show_logs
  if [[ -n ${DMLAB_KEEP:-} ]]; then
    log "up failed; kept for inspection (DMLAB_KEEP=1); run: $0 down"
  else
    log "up failed; tearing down"
    cmd_down quiet || true
  fi
  exit "$rc"
}

cmd_up() {
  local n=${1:-3}
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= MAX_NODES)) || die "N must be 1..$MAX_NODES"
  need_root
  need_tools
  cmd_down quiet
  trap up_exit EXIT
  mkdir -p "$LAB_RUN" "$LAB_LIB"
  echo "$n" >"$LAB_RUN/nodes"
  local t0=$SECONDS
  start_containerd
  make_underlay
  local i
  for ((i = 1; i <= n; i++)); do make_node_netns "$i"; done
  make_image_tar
  for_nodes "$n" start_dockerd || die "an engine did not start (see $LAB_RUN/node*.log)"
  for_nodes "$n" import_image || die "image import failed"
  local a1
  a1=$(node_addr 1)
  dk 1 swarm init --listen-addr "$a1:2377" --advertise-addr "$a1" --data-path-addr "$a1" \
    --default-addr-pool 198.19.128.0/17 --default-addr-pool-mask-length 24 >/dev/null
  dk 1 swarm join-token -q worker >"$LAB_RUN/worker-token"
  for_nodes "$n" join_swarm || die "a node did not join the swarm"
  wait_for "$n nodes Ready" all_ready "$n"
  trap - EXIT
  log "up: $n nodes in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- deploy

running_tasks() { dk 1 service ps "$SERVICE" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running'; }
service_running() { [[ $(running_tasks) == 3 ]]; }

deploy_exit() {
  local rc=$?
  ((rc == 0)) && return 0
  dk 1 service ps --no-trunc "$SERVICE" >&2 || true
  show_logs
  log "deploy failed; the lab is still up (inspect, then: $0 down)"
  exit "$rc"
}

cmd_deploy() {
  need_root
  node_count >/dev/null
  trap deploy_exit EXIT
  local t0=$SECONDS
  local n
  n=$(node_count)
  dk 1 network create -d overlay "$OVERLAY" >/dev/null
  # Two published ports, because this kernel has no IPVS:
  # - 8080 in ingress mode (the routing mesh). The engine accepts it: the service attaches to the
  #   ingress network and every node gets ingress_sbox and lb_* namespaces, but with IPVS missing
  #   libnetwork programs no load balancer at all (no VIP alias, no mangle MARK, no DOCKER-INGRESS
  #   DNAT, no IPVS service; dockerd logs "Could not get ipvs family information from the kernel"
  #   once). So 8080 is refused on every node and the service's VIP does not answer: exactly the
  #   broken picture dockmap has to show on such a kernel.
  # - 8081 in host mode: a plain DNAT in each node's namespace to the local task via docker_gwbridge.
  #   That one works, here too.
  # Names resolve (tasks.web lists the tasks, over the overlay's VXLAN); the VIP does not.
  # Host mode binds the port on the node itself, so one task per node: a fixed port only when the
  # three tasks land on three nodes, else the engine picks a free port per task.
  local host_publish="mode=host,target=80"
  ((n < 3)) || host_publish+=",published=$HOST_PORT"
  # --replicas-max-per-node spreads the three tasks over the nodes (one each when N >= 3).
  # --no-resolve-image: no registry can be reached; the image was imported into every engine.
  dk 1 service create --detach --name "$SERVICE" --replicas 3 --replicas-max-per-node $(((3 + n - 1) / n)) \
    --network "$OVERLAY" --publish "published=$PUBLISHED_PORT,target=80" \
    --publish "$host_publish" \
    --no-resolve-image --stop-grace-period 1s "$IMAGE" httpd -f -p 80 -h /www >/dev/null
  dk 1 network create -d overlay --attachable "$ATTACHABLE" >/dev/null
  local on=2
  ((n >= 2)) || on=1
  dk "$on" run -d --name lab-plain --network "$ATTACHABLE" --stop-timeout 1 "$IMAGE" \
    httpd -f -p 80 -h /www >/dev/null
  wait_for "3 running tasks of $SERVICE" service_running
  trap - EXIT
  log "deploy: done in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- status / env

cmd_status() {
  local n i
  n=$(node_count)
  dk 1 node ls || true
  dk 1 service ls || true
  dk 1 service ps "$SERVICE" 2>/dev/null || true
  for ((i = 1; i <= n; i++)); do
    echo "== node$i ($(node_addr "$i")): $(ls "$(node_exec_root "$i")/netns" 2>/dev/null | tr '\n' ' ')"
    dk "$i" ps --format '{{.Names}} {{.Status}}' || true
  done
}

# node_index NODE: I of nodeI, or die.
node_index() {
  [[ ${1:-} =~ ^node([0-9]+)$ ]] || die "not a node name: '${1:-}' (node1, node2...)"
  local i=${BASH_REMATCH[1]}
  ((i >= 1 && i <= MAX_NODES)) || die "no such node: $1"
  echo "$i"
}

cmd_env() {
  local node=${1:-} i pid
  i=$(node_index "$node")
  echo "export DOCKER_HOST=unix://$(node_sock "$i")"
  echo "export DMLAB_NETNS=/run/netns/$node"
  echo "export DMLAB_EXEC_NETNS=$(node_exec_root "$i")/netns"
  echo "export DMLAB_UNDERLAY_ADDR=$(node_addr "$i")"
  echo "export DMLAB_UNDERLAY_NETNS=/run/netns/$UL_NS"
  pid=$(pid_from "$LAB_RUN/$node.pid")
  [[ -z $pid ]] || echo "export DMLAB_UTS=/proc/$pid/ns/uts"
}

# Runs a command as if on the node: in its network namespace and its engine's UTS namespace (so
# the hostname is the node's), with DOCKER_HOST pointing at its engine.
cmd_exec() {
  local node=${1:-} i pid
  i=$(node_index "$node")
  shift
  (($# > 0)) || die "usage: $0 exec NODE COMMAND..."
  pid=$(pid_from "$LAB_RUN/$node.pid")
  [[ -n $pid ]] || die "$node's engine is not running"
  DOCKER_HOST=unix://$(node_sock "$i") exec nsenter --net="/run/netns/$node" --uts="/proc/$pid/ns/uts" -- "$@"
}

# ---------------------------------------------------------------- demo

# The dockmap binary the demo's agents run: $DOCKMAP_BIN, else this checkout's release or debug build
# (in $CARGO_TARGET_DIR when set), else one on PATH.
dockmap_bin() {
  if [[ -n ${DOCKMAP_BIN:-} ]]; then
    [[ -x $DOCKMAP_BIN ]] || die "DOCKMAP_BIN=$DOCKMAP_BIN is not an executable"
    realpath "$DOCKMAP_BIN"
    return 0
  fi
  local repo target b
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  target=${CARGO_TARGET_DIR:-$repo/target}
  for b in "$target/release/dockmap" "$target/debug/dockmap" "$(command -v dockmap || true)"; do
    if [[ -n $b && -x $b ]]; then
      realpath "$b"
      return 0
    fi
  done
  die "no dockmap binary: run \`cargo build --release\` first (or set DOCKMAP_BIN)"
}

# health_ok ADDR: the agent at ADDR:AGENT_PORT answers its health check with 200, seen from here.
health_ok() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET /v1/health HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3' \
    "$1" "$AGENT_PORT" 2>/dev/null | grep -q ' 200 '
}

start_agent() {
  local i=$1 bin=$2 ns=node$1 pid
  pid=$(pid_from "$LAB_RUN/$ns.pid")
  [[ -n $pid ]] || die "$ns's engine is not running"
  # As the lab's tests start it: in the node's network and UTS namespaces, asking the node's own
  # engine and reading only the node's sandboxes (/run/netns holds every lab node's namespace).
  # nsenter execs in place, so $! is the agent itself; its command line names $LAB_RUN (the token
  # file), which is what pid_from checks before `down` kills it.
  setsid nsenter --net="/run/netns/$ns" --uts="/proc/$pid/ns/uts" -- "$bin" agent \
    --docker "unix://$(node_sock "$i")" --netns-dir "$(node_exec_root "$i")/netns" --node-name "$ns" \
    --token-file "$TOKEN_FILE" --listen "$(node_addr "$i"):$AGENT_PORT" \
    >"$LAB_RUN/agent-$ns.log" 2>&1 </dev/null &
  echo $! >"$LAB_RUN/agent-$ns.pid"
}

# Stops the demo's agents and removes its link and token; the lab itself stays.
demo_down() {
  local f pids=()
  for f in "$LAB_RUN"/agent-node*.pid; do
    [[ -e $f ]] || continue
    pids+=($(pid_from "$f"))
    rm -f "$f"
  done
  kill_wait "${pids[@]}"
  # Deleting either end deletes the pair, and with it the root namespace's route to the underlay.
  ip link del "$ROOT_LINK" 2>/dev/null || true
  ip -n "$UL_NS" link del "$UL_ROOT_LINK" 2>/dev/null || true
  rm -f "$TOKEN_FILE"
}

demo_exit() {
  local rc=$?
  ((rc == 0)) && return 0
  local f
  for f in "$LAB_RUN"/agent-node*.log; do
    [[ -f $f ]] || continue
    log "---- last lines of $f"
    tail -n 15 "$f" >&2
  done
  log "demo failed; agents, link and token removed, the lab is still up (then: $0 down)"
  demo_down
  exit "$rc"
}

cmd_demo() {
  local n=${1:-3} bin i
  need_root
  need_tools
  bin=$(dockmap_bin)
  if [[ ! -f $LAB_RUN/nodes ]]; then
    cmd_up "$n"
    cmd_deploy
  elif ! dk 1 service inspect "$SERVICE" >/dev/null 2>&1; then
    cmd_deploy
  fi
  n=$(node_count)
  trap demo_exit EXIT
  demo_down
  local t0=$SECONDS
  ip link add "$ROOT_LINK" type veth peer name "$UL_ROOT_LINK" netns "$UL_NS"
  ip -n "$UL_NS" link set "$UL_ROOT_LINK" master "$UL_BR" up
  ip addr add "$ROOT_ADDR/24" dev "$ROOT_LINK"
  ip link set "$ROOT_LINK" up
  (
    umask 077
    head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$TOKEN_FILE"
  )
  for ((i = 1; i <= n; i++)); do start_agent "$i" "$bin"; done
  for ((i = 1; i <= n; i++)); do
    wait_for "the agent of node$i at $(node_addr "$i"):$AGENT_PORT" health_ok "$(node_addr "$i")" ||
      die "the agent of node$i did not answer (see $LAB_RUN/agent-node$i.log)"
  done
  trap - EXIT
  log "demo: $n agents answering in $((SECONDS - t0))s"
  local urls=()
  for ((i = 1; i <= n; i++)); do urls+=("http://$(node_addr "$i"):$AGENT_PORT"); done
  local list
  list=$(
    IFS=,
    echo "${urls[*]}"
  )
  cat <<EOF
The lab is up, with a dockmap agent in each of its $n nodes ($bin).
This (the root) namespace reaches the nodes' underlay over $ROOT_LINK ($ROOT_ADDR/24).

Run the server here, as root (the token file is root's); node1's engine is the swarm manager and lists the nodes and their addresses:

  $bin serve --agents auto --docker unix://$(node_sock 1) --token-file $TOKEN_FILE --data-dir $SERVE_DATA

or name the agents yourself:

  $bin serve --agents $list --token-file $TOKEN_FILE --data-dir $SERVE_DATA

then open http://127.0.0.1:7878/ (the same data as JSON: /api/status, /api/graph).
The sample service answers here too: curl http://$(node_addr 1):$HOST_PORT/
Stop the server with Ctrl-C; \`$0 down\` removes the lab with its agents, link and token.
EOF
}

# ---------------------------------------------------------------- down

# Nodes to tear down: those recorded, plus any whose traces are left (a run that died before
# recording, or one started with a larger N).
lab_nodes() {
  local i
  for ((i = 1; i <= MAX_NODES; i++)); do
    if [[ -e /run/netns/node$i || -e $(node_exec_root "$i") || -e $(node_sock "$i") ||
      -e $LAB_RUN/node$i.pid || -e $LAB_LIB/node$i ]]; then
      echo "$i"
    fi
  done
}

# kill_wait PID...: SIGTERM, wait up to 10s, then SIGKILL.
kill_wait() {
  local p alive deadline=$((SECONDS + 10))
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  while :; do
    alive=()
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    ((${#alive[@]} > 0)) || return 0
    ((SECONDS < deadline)) || break
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

# kill_now PID...: SIGKILL, then wait (bounded) until they are gone.
kill_now() {
  local p deadline=$((SECONDS + 10))
  (($# > 0)) || return 0
  kill -KILL "$@" 2>/dev/null || true
  for p in "$@"; do
    while kill -0 "$p" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  done
}

# pid_from FILE: the pid in FILE, only if that process is still one of the lab's (its command line
# names the lab's run directory), so a stale pidfile never gets an unrelated process killed.
pid_from() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  grep -qsF -- "$LAB_RUN/" "/proc/$pid/cmdline" && echo "$pid"
  true
}

# Shims left behind by a killed containerd: their command line holds the lab's containerd socket as an
# argument of its own, so the host's shims never match. (The bracket keeps grep from matching itself.)
lab_shim_pids() {
  grep -lzsx -- "${CTRD_SOCK%.sock}[.]sock" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true
}

# The lab's cgroup parents: /sys/fs/cgroup/CONTROLLER/dockmap-lab-nodeI (v1) or
# /sys/fs/cgroup/dockmap-lab-nodeI (v2).
lab_cgroups() {
  find /sys/fs/cgroup -maxdepth 2 -type d -name 'dockmap-lab-node*' 2>/dev/null || true
}

# Processes living in the lab's container cgroups.
lab_cgroup_pids() {
  local c
  for c in $(lab_cgroups); do
    find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
  true
}

# Processes whose network namespace is one of the lab's (a docker-proxy orphaned by a killed dockerd).
lab_netns_pids() {
  local ns ino
  for ns in /run/netns/node[0-9]* /run/netns/$UL_NS; do
    [[ -e $ns ]] || continue
    ino=$(stat -L -c %i "$ns" 2>/dev/null) || continue
    find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/net' -lname "net:\[$ino\]" 2>/dev/null | cut -d/ -f3
  done
  true
}

# Every mount point under the lab's directories, deepest first.
lab_mounts() {
  awk '{print $5}' /proc/self/mountinfo |
    grep -E "^($LAB_RUN|$LAB_LIB|/run/docker-node[0-9]+)(/|$)" | sort -r || true
}

leave_and_clear() {
  local i=$1
  [[ -S $(node_sock "$i") ]] || return 0
  timeout 15 docker -H "unix://$(node_sock "$i")" swarm leave --force >/dev/null 2>&1 || true
  local ids
  ids=$(timeout 10 docker -H "unix://$(node_sock "$i")" ps -aq 2>/dev/null || true)
  [[ -z $ids ]] || timeout 20 docker -H "unix://$(node_sock "$i")" rm -f $ids >/dev/null 2>&1 || true
}

cmd_down() {
  local quiet=${1:-}
  need_root
  local t0=$SECONDS nodes i pids m
  nodes=$(lab_nodes)
  # The demo's agents and link first: the agents read the engines, and the link is the one thing of
  # the lab in the root namespace (it would go with dmlab-ul's deletion too, but not if that fails).
  demo_down
  # Leaving the swarm and removing containers first keeps the engines' shutdown short.
  pids=()
  for i in $nodes; do
    leave_and_clear "$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  phase "left the swarm, containers removed"
  pids=()
  for i in $nodes; do pids+=($(pid_from "$LAB_RUN/node$i.pid")); done
  kill_wait "${pids[@]}"
  phase "engines stopped"
  kill_wait $(pid_from "$LAB_RUN/containerd.pid")
  phase "containerd stopped"
  # Orphans of a killed engine or containerd: nothing left to shut down gracefully for.
  kill_now $(lab_shim_pids) $(lab_cgroup_pids) $(lab_netns_pids)
  phase "leftover processes gone"
  # Deepest first; more passes when one mount hid others (a bind over a directory with mounts below).
  local pass
  for pass in 1 2 3; do
    [[ -n $(lab_mounts) ]] || break
    for m in $(lab_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
  phase "unmounted"
  for i in $nodes; do ip netns del "node$i" 2>/dev/null || true; done
  ip netns del "$UL_NS" 2>/dev/null || true
  local c
  for c in $(lab_cgroups); do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  for i in $nodes; do rm -rf "$(node_exec_root "$i")" "$(node_sock "$i")"; done
  rm -rf "$LAB_RUN" "$LAB_LIB"
  [[ -n $quiet ]] || log "down: done in $((SECONDS - t0))s"
}

# Stop one node's engine and start it again, as an operator's `systemctl restart docker` does:
# its event stream ends, its containers stop, swarm tasks come back.
cmd_restart_engine() {
  local i=${1:-} pid
  [[ $i =~ ^[0-9]+$ ]] || die "usage: $0 restart-engine NODE (a number)"
  pid=$(pid_from "$LAB_RUN/node$i.pid")
  [[ -n $pid ]] || die "node$i has no engine running"
  kill_wait "$pid"
  start_dockerd "$i"
  log "node$i: engine restarted"
}

case ${1:-} in
up) cmd_up "${2:-3}" ;;
restart-engine) cmd_restart_engine "${2:-}" ;;
deploy) cmd_deploy ;;
status) cmd_status ;;
env) cmd_env "${2:-}" ;;
exec)
  shift
  cmd_exec "$@"
  ;;
demo) cmd_demo "${2:-3}" ;;
down) cmd_down ;;
*)
  echo "usage: $0 up [N] | deploy | status | env NODE | exec NODE COMMAND... | restart-engine NODE | demo [N] | down" >&2
  exit 2
  ;;
esac
