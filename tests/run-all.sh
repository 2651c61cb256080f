#!/usr/bin/env bash
# The one command that runs every test, as root on a fresh Debian machine (and again on the same one):
#
#     bash tests/run-all.sh [extra cargo test arguments]
#
# 1. installs what the tests need (apt-get update + install, only when something is missing);
# 2. checks the code's form before anything is started: `cargo fmt --check`, then builds the tests
#    and benches with clippy's lints as errors (`-D warnings`; the library also warns on missing
#    docs);
# 3. starts containerd + dockerd unless an engine already answers (tests/engine-up.sh), every address
#    inside 198.18.0.0/15, with a single-node swarm and the busybox test image;
# 4. sweeps objects left by an earlier run that was killed (label dockmap-test);
# 5. runs `cargo test` (library, binaries, integration and doc tests); benches are built in step 2
#    but never run in CI;
# 6. runs every fuzz target in fuzz/ for 20 s (fuzz/run.sh; needs nightly and cargo-fuzz, else skipped);
# 7. stops what step 3 started (tests/engine-down.sh), also when the tests fail or the run is interrupted.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "run-all: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    say "must run as root (it installs packages, starts dockerd and creates namespaces)"
    exit 1
fi

PACKAGES=(
    docker.io containerd runc tini iptables nftables iproute2 util-linux procps
    busybox-static chromium chromium-driver fonts-liberation ca-certificates
)

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages must not start services (docker.io's init script would start a dockerd with
    # 172.17.0.0/16): the engine is started below, with the test addresses.
    local policy=/usr/sbin/policy-rc.d added=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        added=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    ((added == 0)) || rm -f "$policy"
}

find_cargo() {
    if ! command -v cargo >/dev/null && [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
        export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null; then
        say "cargo not found: install a Rust toolchain (rust-version in Cargo.toml) first"
        exit 1
    fi
}

# Objects of an earlier run that died before its guards could remove them.
sweep_leftovers() {
    local ids
    ids=$(docker service ls -q --filter label=dockmap-test 2>/dev/null || true)
    [[ -z $ids ]] || docker service rm $ids >/dev/null 2>&1 || true
    ids=$(docker ps -aq --filter label=dockmap-test)
    [[ -z $ids ]] || docker rm -f -v $ids >/dev/null 2>&1 || true
    ids=$(docker network ls -q --filter label=dockmap-test)
    [[ -z $ids ]] || docker network rm $ids >/dev/null 2>&1 || true
    # path_mesh and path_walk bind-mount lab namespaces under Docker's names; a killed run leaves
    # them mounted.
    local d f
    for d in /run/dmt*-meshns /run/dmt*-walkns; do
        [[ -d $d ]] || continue
        for f in "$d"/*; do umount "$f" 2>/dev/null || true; done
        rm -rf "$d"
    done
}

started=0
finish() {
    local rc=$?
    trap - EXIT INT TERM
    if ((started)); then
        bash tests/engine-down.sh || true
        rm -rf "$DOCKMAP_ENGINE_STATE"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# rustfmt and clippy come with rustup's default profile; a minimal toolchain gets them here.
lint() {
    local c
    for c in rustfmt clippy; do
        if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1 && command -v rustup >/dev/null; then
            rustup component add "$c"
        fi
    done
    SECONDS=0
    say "cargo fmt --check"
    cargo fmt --check
    # Clippy lints our crate while the tests are built, as `cargo clippy` itself does it (clippy-driver
    # as the workspace's rustc wrapper, its arguments in CLIPPY_ARGS): a separate `cargo clippy
    # --all-targets` type-checked every dependency a second time, some 400 s of CPU per cold run.
    RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver || echo "$(rustc --print sysroot)/bin/clippy-driver")
    if [[ ! -x $RUSTC_WORKSPACE_WRAPPER ]]; then
        say "clippy-driver not found (looked in PATH and the toolchain's bin/): install clippy (rustup component add clippy)"
        exit 1
    fi
    export RUSTC_WORKSPACE_WRAPPER
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
    say "cargo test --no-run, and the benches, with clippy -D warnings"
    cargo test --quiet --no-run "$@"
    cargo test --quiet --benches --no-run
    say "form checked and tests built in ${SECONDS}s"
}

install_packages
find_cargo
lint "$@"

# A state directory of this run's own: engine-down.sh then stops only what this run started.
DOCKMAP_ENGINE_STATE=$(mktemp -d /run/dockmap-run-all.XXXXXX)
export DOCKMAP_ENGINE_STATE
started=1
bash tests/engine-up.sh

export DOCKER_HOST=unix:///var/run/docker.sock
# Tests that lack what they need (root, the engine, a swarm) fail here instead of skipping: this
# script just set all of it up, so a skip would hide a broken setup behind a green run.
export CI="${CI:-1}"
sweep_leftovers

# Most integration tests wait (on engines starting, namespaces, chromium, timeouts), so more
# threads than cores pay: the `it` binary took 253 s with 2 threads and 202 s with 4 here (2
# cores). Three, so a slower CI machine is not pushed into its tests' deadlines.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-3}"
SECONDS=0
say "cargo test $* (${RUST_TEST_THREADS} test threads)"
cargo test "$@"
say "tests passed in ${SECONDS}s"
# Keeps the fuzz targets building and alive: 20 s each (skipped, saying why, without nightly or
# cargo-fuzz). Their build has its own target directory, outside the repository.
SECONDS=0
DOCKMAP_FUZZ_TARGET_DIR="${DOCKMAP_FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}" \
    bash fuzz/run.sh 20
say "fuzz targets ran in ${SECONDS}s"
