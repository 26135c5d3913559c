#!/usr/bin/env bash
# Benchmark: pack, verify, verify --deep and import a synthetic library of real RPMs, and compare
# with the yardsticks of the field notes (openssl's SHA-256; tar | zstd | split + sha256sum).
#
# Usage: bench/pack.sh [TOTAL_MB] [RPM_MB]     (default 2048 MB in 64 MB packages)
# Needs rpmbuild, createrepo_c, openssl, zstd, GNU time (/usr/bin/time).
# The library is kept in $BENCH_DIR (default /tmp/ferry-bench) between runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOTAL_MB=${1:-2048}
RPM_MB=${2:-64}
DIR=${BENCH_DIR:-/tmp/ferry-bench}
N=$((TOTAL_MB / RPM_MB))
LIB=$DIR/lib-$TOTAL_MB-$RPM_MB
cargo build --release --locked --quiet
FERRY=$PWD/target/release/ferry

# make_rpm I: build bench$I (RPM_MB of random bytes, stored uncompressed) into $LIB/Packages
source bench/rpm.sh

if [[ ! -f $LIB/repodata/repomd.xml ]]; then
    echo "building $N RPMs of $RPM_MB MB in $LIB ..." >&2
    for i in $(seq 1 "$N"); do make_rpm "$i"; done
    createrepo_c --quiet "$LIB"
fi
rm -f "$LIB"/Packages/bench-new*.rpm "$LIB"/Packages/bench0-*.rpm
createrepo_c --quiet --update "$LIB"
write_catalog "$DIR/catalog.toml" "Synthetic RPMs"
bytes=$(du -sb "$LIB" | cut -f1)
mb=$((bytes / 1000000))
echo "library: $mb MB in $N RPMs" >&2
rm -rf "$DIR/out" "$DIR/inc"* "$DIR/key".*
"$FERRY" keygen --out "$DIR/key" >/dev/null

t() { # t LABEL CMD...  -> "LABEL: S s, MB/s, max RSS KB"
    local label=$1; shift
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    /usr/bin/time -f "%e %M" -o "$DIR/time" "$@" >/dev/null 2>&1
    read -r secs rss < "$DIR/time"
    printf '%-34s %7.2f s %8.0f MB/s   max RSS %6d KB\n' "$label" "$secs" "$(echo "$mb / $secs" | bc -l)" "$rss"
}
echo "(caches dropped before each run when allowed: $( [[ -w /proc/sys/vm/drop_caches ]] && echo yes || echo no))"
t "openssl dgst -sha256 (read+hash)" sh -c "cat $LIB/Packages/*.rpm | openssl dgst -sha256"
t "tar|zstd -T0 -3|split + sha256sum" sh -c "tar -C $LIB -cf - . | zstd -T0 -3 -q | split -b 4000M - $DIR/split. && sha256sum $DIR/split.*"
rm -f "$DIR"/split.*
t "ferry pack (4G media)" "$FERRY" pack --catalog "$DIR/catalog.toml" --key "$DIR/key.key" --out "$DIR/out" --media-size 4G
t "ferry verify" sh -c "$FERRY verify --trust $DIR/key.pub $DIR/out/vol-*"
t "ferry verify --deep" sh -c "$FERRY verify --deep --trust $DIR/key.pub $DIR/out/vol-*"
rm -rf "$DIR/store"
t "ferry import (every object decoded)" "$FERRY" import --init --store "$DIR/store" --trust "$DIR/key.pub" "$DIR"/out/vol-*
t "ferry import again (media checked)" "$FERRY" import --store "$DIR/store" --trust "$DIR/key.pub" "$DIR"/out/vol-*
rm -rf "$DIR/store"
t "ferry pack --incremental (no change)" "$FERRY" pack --catalog "$DIR/catalog.toml" --key "$DIR/key.key" --out "$DIR/inc1" --media-size 4G --incremental
make_rpm 0 && createrepo_c --quiet --update "$LIB"
t "ferry pack --incremental (+1 RPM)" "$FERRY" pack --catalog "$DIR/catalog.toml" --key "$DIR/key.key" --out "$DIR/inc2" --media-size 4G --incremental
du -sb "$DIR/inc2" | awk '{printf "incremental bundle (+1 RPM of '"$RPM_MB"' MB) on media: %.1f MB\n", $1/1000000}'
rm -f "$LIB"/Packages/bench0-*.rpm && createrepo_c --quiet --update "$LIB"
du -sb "$DIR/out" | awk -v m="$mb" '{printf "bundle on media: %d MB (%.2f%% of the library)\n", $1/1000000, $1/10000/m}'
