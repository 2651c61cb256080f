#!/usr/bin/env bash
# build-image.sh: the dockmap image, built from this checkout without pulling anything.
#
#   deploy/build-image.sh [--tag dockmap:VERSION] [--save FILE.tar] [--rootfs-only DIR]
#
# 1. `cargo build --release` (or takes the binary in $DOCKMAP_BIN);
# 2. assembles a root filesystem holding only `dockmap` and the tools it runs to read packet filters
#    (iptables-nft-save, iptables-legacy-save, ip6tables-nft-save, ip6tables-legacy-save, the plain
#    iptables-save / ip6tables-save it falls back to, nft), taken from this machine, with the shared
#    libraries they load (ldd) and iptables' extension modules (dlopened from the xtables directory
#    at run time: without them iptables-save cannot print a rule); no shell, no package manager;
# 3. `docker import`s it into the engine at $DOCKER_HOST (default: the local one), ENTRYPOINT dockmap;
# 4. with --save, also writes the image as a tar for `docker load -i FILE.tar` on the other nodes.
#
# The default tag is dockmap:<the version in Cargo.toml>, the image deploy/dockmap-stack.yml runs.
# Also writes, when they do not exist (mode 0600): a fresh random token to $DOCKMAP_TOKEN_FILE (default
# deploy/dockmap-token), which the stack file makes the agents' and the server's docker secret; and
# the page's tokens to $DOCKMAP_TOKENS_FILE (default deploy/dockmap-tokens; `serve --tokens` format:
# one `read` and one `write` token), the server's second secret: give people the read token to look,
# the write token to save and upload.
#
# Needs: docker (CLI), ldd, tar; cargo unless DOCKMAP_BIN is set; the tools above installed here
# (Debian: apt-get install iptables nftables).
set -euo pipefail

say() { printf 'build-image: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
[[ -n $version ]] || die "no version in $repo/Cargo.toml"
tag=dockmap:$version
save=
rootfs_only=

while (($# > 0)); do
    case $1 in
    --tag)
        tag=${2:?--tag needs a value}
        shift 2
        ;;
    --save)
        save=${2:?--save needs a file}
        shift 2
        ;;
    --rootfs-only)
        rootfs_only=${2:?--rootfs-only needs a directory}
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done

for t in ldd tar; do
    command -v "$t" >/dev/null || die "needs $t"
done
[[ -n $rootfs_only ]] || command -v docker >/dev/null || die "needs the docker CLI"

# The binary.
if [[ -n ${DOCKMAP_BIN:-} ]]; then
    bin=$DOCKMAP_BIN
else
    command -v cargo >/dev/null || die "needs cargo (or set DOCKMAP_BIN to a built dockmap)"
    say "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
    bin=${CARGO_TARGET_DIR:-$repo/target}/release/dockmap
fi
[[ -x $bin ]] || die "not an executable: $bin"

# The tools dockmap execs (server/collect/firewall/plan.rs, stage.rs): per family the backend's own
# `*-nft-save` / `*-legacy-save`, the plain `*-save` where both backends hold tables, and `nft -j`
# where native nftables tables exist. The iptables ones are links to two multi-call binaries.
tool_path() {
    local p
    p=$(PATH=$PATH:/usr/sbin:/sbin command -v "$1") || die "$1 not found here (apt-get install iptables nftables)"
    realpath "$p"
}
nft_multi=$(tool_path iptables-nft-save)
legacy_multi=$(tool_path iptables-legacy-save)
nft=$(tool_path nft)
[[ $(tool_path ip6tables-nft-save) == "$nft_multi" ]] || die "ip6tables-nft-save is not $nft_multi"
[[ $(tool_path ip6tables-legacy-save) == "$legacy_multi" ]] || die "ip6tables-legacy-save is not $legacy_multi"
# The plain names follow this machine's alternatives (Debian's default is nf_tables).
default_multi=$(tool_path iptables-save)
xtables_dir=
for d in /usr/lib/x86_64-linux-gnu/xtables /usr/lib/"$(uname -m)"-linux-gnu/xtables /usr/lib64/xtables /usr/lib/xtables; do
    if [[ -d $d ]] && compgen -G "$d/libxt_*.so" >/dev/null; then
        xtables_dir=$d
        break
    fi
done
[[ -n $xtables_dir ]] || die "iptables' extension modules (libxt_*.so) not found"

if [[ -n $rootfs_only ]]; then
    root=$rootfs_only
    mkdir -p "$root"
    [[ -z $(ls -A "$root") ]] || die "$root is not empty"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/dockmap-image.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    root=$work/rootfs
    mkdir -p "$root"
fi

# copy SRC DEST: SRC's content (symlinks followed) at DEST inside the rootfs.
copy() {
    mkdir -p "$root$(dirname "$2")"
    cp -L "$1" "$root$2"
}

copy "$bin" /usr/bin/dockmap
# Symbols are for profiling on the build machine; the image does without (binutils comes with the C
# linker cargo needs, so strip is there wherever cargo built the binary).
if command -v strip >/dev/null; then
    strip --strip-unneeded "$root/usr/bin/dockmap"
fi
copy "$nft_multi" /usr/sbin/xtables-nft-multi
copy "$legacy_multi" /usr/sbin/xtables-legacy-multi
copy "$nft" /usr/sbin/nft
for fam in iptables ip6tables; do
    ln -s xtables-nft-multi "$root/usr/sbin/$fam-nft-save"
    ln -s xtables-legacy-multi "$root/usr/sbin/$fam-legacy-save"
    ln -s "$(basename "$default_multi")" "$root/usr/sbin/$fam-save"
done
mkdir -p "$root$xtables_dir"
cp -L "$xtables_dir"/*.so "$root$xtables_dir/"

# Every shared library those load, where the loader looks for it (ldd prints each library's path as
# found by this machine's loader; the dynamic loader itself has no "=>").
libs=$(
    for f in "$root"/usr/bin/dockmap "$root"/usr/sbin/* "$root$xtables_dir"/*.so; do
        [[ -L $f ]] && continue
        ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
    done | sort -u
)
[[ -n $libs ]] || die "ldd found no libraries (is ldd working?)"
# Each goes into its directory's real place under its loaded name (with merged /usr, ldd says
# /lib/x86_64-linux-gnu/libc.so.6 for /usr/lib/x86_64-linux-gnu/libc.so.6).
for lib in $libs; do
    dest=$(realpath "$(dirname "$lib")")/$(basename "$lib")
    [[ -e $root$dest ]] || copy "$lib" "$dest"
done
# Where this machine has merged /usr (/lib -> usr/lib), the image gets the same links, so that the
# loader's paths (/lib64/ld-linux-x86-64.so.2, /lib/x86_64-linux-gnu) resolve.
for d in lib lib64 bin sbin; do
    if [[ -L /$d && ! -e $root/$d ]]; then
        ln -s "$(readlink "/$d")" "$root/$d"
    fi
done
# The rest is empty directories: mount points and the agent's rule cache.
mkdir -p "$root/tmp" "$root/run" "$root/etc" "$root/var/lib/dockmap" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
# Protocol names as iptables prints them (-p tcp): libxtables reads /etc/protocols for names it
# does not know itself.
[[ ! -f /etc/protocols ]] || cp /etc/protocols "$root/etc/protocols"

"$root/usr/bin/dockmap" --version >/dev/null 2>&1 || say "warning: $bin --version failed here"

if [[ -n $rootfs_only ]]; then
    say "root filesystem in $root ($(du -sh "$root" | cut -f1))"
    exit 0
fi

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .
say "docker import as $tag ($(du -sh "$root" | cut -f1) unpacked) into ${DOCKER_HOST:-the local engine}"
docker import \
    --change 'ENTRYPOINT ["/usr/bin/dockmap"]' \
    --change 'CMD ["agent", "--token-file", "/run/secrets/dockmap-token"]' \
    --change 'ENV PATH=/usr/sbin:/usr/bin' \
    --change 'WORKDIR /' \
    --change "LABEL org.opencontainers.image.title=dockmap org.opencontainers.image.version=$version" \
    --change 'EXPOSE 7879/tcp 7878/tcp' \
    --message "dockmap $version" \
    "$work/rootfs.tar" "$tag" >/dev/null
say "$tag: $(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1 / 1e6}')"
if [[ -n $save ]]; then
    docker save -o "$save" "$tag"
    say "saved to $save (load it on every node: docker load -i $save)"
fi

random_token() { head -c 32 /dev/urandom | base64 | tr -d '\n=/+'; }

token=${DOCKMAP_TOKEN_FILE:-$repo/deploy/dockmap-token}
if [[ ! -e $token ]]; then
    (
        umask 077
        random_token >"$token"
    )
    say "wrote a fresh token to $token (the agents' secret; keep it private)"
fi
tokens=${DOCKMAP_TOKENS_FILE:-$repo/deploy/dockmap-tokens}
if [[ ! -e $tokens ]]; then
    (
        umask 077
        printf '# dockmap serve --tokens: who may open the page (read) and save or upload (write).\n' >"$tokens"
        printf 'read %s\nwrite %s\n' "$(random_token)" "$(random_token)" >>"$tokens"
    )
    say "wrote the page's read and write tokens to $tokens (the server's secret)"
fi
