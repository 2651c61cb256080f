#!/usr/bin/env bash
# Seed each fuzz target's corpus (fuzz/corpus/<target>/, not kept in git) from fuzz/seeds/ (kept)
# and from what dockmap really reads: tests/fixtures, the recorded IPVS and XFRM answers of tests/ipvs_decode.rs and
# tests/xfrm_decode.rs, and, as root, this host's own rtnetlink dumps, `nft -j list ruleset`,
# `iptables-save` and a `dockmap snapshot` (with the engine if one answers; not with
# DOCKMAP_SEED_HOST=0). Read-only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
C=corpus
mkdir -p $C/{iptables_save,nft_json,snapshot_upload,agent_answer,rtnetlink,ipvs,xfrm,view_query,snapshot_pipeline}
# The committed seeds (fuzz/keep.sh: earlier runs' corpora, minimized) first: a run starts where
# the last one left off.
for d in seeds/*/; do
    t=$(basename "$d")
    cp -n "$d"* "$C/$t/" 2>/dev/null || true
done

cp ../tests/fixtures/*iptables-save.txt $C/iptables_save/
# Chains that jump several times to the next (the walk must stay linear) and one that loops.
python3 - >$C/iptables_save/fan-out.txt <<'PY'
print("*filter\n:FORWARD DROP [0:0]")
for i in range(5): print(f":F{i} - [0:0]")
print("-A FORWARD -j F0")
for i in range(4):
    for _ in range(4): print(f"-A F{i} -j F{i+1}")
print("-A F4 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0x0\n-A FORWARD -o br0 -j ACCEPT\nCOMMIT")
PY
printf '*nat\n:PREROUTING ACCEPT [0:0]\n:X - [0:0]\n-A PREROUTING -j X\n-A X -j X\n-A X -j X\nCOMMIT\n' >$C/iptables_save/loop.txt

printf 'open=host%%3Anode-01&hide=loopback,down&sel=ctr%%3Anode-01%%2Fweb.1\n' >$C/view_query/open
printf 'shut=host%%3Anode-02&hide=&snap=abc\n' >$C/view_query/shut
head -c 64 /dev/urandom >$C/snapshot_pipeline/random1
head -c 32 /dev/urandom >$C/snapshot_pipeline/random2

cargo_test() {
    DOCKMAP_FUZZ_SEEDS="$PWD/$C/$1" cargo test -q --manifest-path ../Cargo.toml --test it "$2::" >/dev/null
}
cargo_test ipvs ipvs_decode
cargo_test xfrm xfrm_decode

# This host's own state: not when the corpus is to become committed seeds (DOCKMAP_SEED_HOST=0).
if [[ $(id -u) -eq 0 && ${DOCKMAP_SEED_HOST:-1} != 0 ]]; then
    nft -j list ruleset >$C/nft_json/host.json 2>/dev/null || true
    iptables-save >$C/iptables_save/host.txt 2>/dev/null || true
    python3 rtnl-dump.py $C/rtnetlink
    bin=${CARGO_TARGET_DIR:-../target}/debug/dockmap
    if [[ -x $bin ]] && "$bin" snapshot --out $C/snapshot_upload/host.json 2>/dev/null; then
        cp $C/snapshot_upload/host.json $C/agent_answer/host.json
        python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(json.dumps([s,s]))' \
            $C/snapshot_upload/host.json >$C/snapshot_upload/array.json
    fi
fi
echo "seed: $(find $C -type f | wc -l) inputs in fuzz/$C"
