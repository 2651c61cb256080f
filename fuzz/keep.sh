#!/usr/bin/env bash
# Keep what the last fuzz runs learned: minimize each target's corpus (`cargo fuzz cmin`) and copy it
# to fuzz/seeds/<target>/, which git keeps and tests/fuzz_replay.rs replays in every test run.
# Inputs over 64 KiB are left out. Seeds are shared: start from a corpus without this host's own
# state,
#
#     rm -rf fuzz/corpus && DOCKMAP_SEED_HOST=0 fuzz/run.sh 600 && fuzz/keep.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
fuzz() {
    CARGO_TARGET_DIR="${DOCKMAP_FUZZ_TARGET_DIR:-$PWD/target}" cargo +nightly fuzz "$@"
}
for d in corpus/*/; do
    t=$(basename "$d")
    fuzz cmin -s none "$t" "corpus/$t" >/dev/null 2>&1
    rm -rf "seeds/$t"
    mkdir -p "seeds/$t"
    kept=0
    for f in "corpus/$t"/*; do
        [[ -f $f ]] || continue
        (($(stat -c %s "$f") <= 65536)) || continue
        cp "$f" "seeds/$t/"
        kept=$((kept + 1))
    done
    echo "keep: $t: $kept seeds ($(du -sh "seeds/$t" | cut -f1))"
done
