#!/usr/bin/env bash
# Run the fuzz targets: each one (or those named) for SECONDS, one after the other, on its corpus
# (fuzz/corpus/<target>, seeded by fuzz/seed.sh). A crash fails the run and leaves its input in
# fuzz/artifacts/<target>/. Skips, saying why, without a nightly toolchain or cargo-fuzz.
#
#     fuzz/run.sh 20                   # CI: 20 s per target
#     nice -n 19 fuzz/run.sh 600 ipvs  # a long run of one target
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs=${1:-20}
shift || true
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped: no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped: cargo-fuzz is not installed (cargo install cargo-fuzz)"
    exit 0
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo +nightly fuzz list)
    [[ ${#targets[@]} -gt 0 ]] || { echo "fuzz: no targets listed"; exit 1; }
fi
bash seed.sh
# The fuzz build has flags of its own: its own target directory (DOCKMAP_FUZZ_TARGET_DIR).
fuzz() {
    CARGO_TARGET_DIR="${DOCKMAP_FUZZ_TARGET_DIR:-$PWD/target}" cargo +nightly fuzz "$@"
}
# No sanitizer: dockmap's own code has no unsafe on these paths, and the build is much quicker.
fuzz build -s none
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    log=$(mktemp)
    if ! fuzz run -s none "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        rm -f "$log"
        echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)"
        exit 1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $t: $execs runs in ${secs} s, no crash"
    rm -f "$log"
done
