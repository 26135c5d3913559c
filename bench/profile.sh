#!/usr/bin/env bash
# Where ferry's time goes, for issue 12's closing note: `perf record` of the steps that do not
# reach their targets, and of import on the library for comparison, on the libraries that
# bench/run.sh built (run it first). Writes bench/profiles/NAME.txt: the command, its wall,
# user and system time, and perf's report by thread and symbol (the top 40 lines).
#
# Usage: bench/profile.sh      (BENCH_DIR as for bench/run.sh; needs perf: linux-perf)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${BENCH_DIR:-/tmp/ferry-bench}
LIB=$DIR/lib-1G
REPO=$DIR/repo-50000
[[ -d $LIB && -d $REPO ]] || { echo "run bench/run.sh 1G first (no $LIB or $REPO)" >&2; exit 2; }
command -v perf >/dev/null || { apt-get install -y -qq linux-perf >/dev/null; }
cargo build --release --locked --quiet
FERRY=$PWD/target/release/ferry
OUT=$PWD/bench/profiles
mkdir -p "$OUT"
source bench/rpm.sh
WORK=$(mktemp -d "$DIR/profile.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$FERRY" keygen --out key > /dev/null

# profile NAME CMD...: perf record of CMD (after a sync), then the report into $OUT/NAME.txt.
profile() {
    local name=$1
    shift
    sync
    {
        echo "# $* (ferry $(git -C "$OLDPWD" describe --always --dirty 2>/dev/null || echo '?'), $(date -u +%FT%TZ))"
        /usr/bin/time -f "# %e s wall, %U s user, %S s system, %M KB peak RSS" \
            perf record -q -g -F 999 -o "$WORK/perf.data" "$@" 2>&1 >/dev/null | grep '^#'
        perf report -i "$WORK/perf.data" --no-children --sort pid,symbol --stdio -g none 2>/dev/null |
            awk '/%/ && n++ < 40'
    } > "$OUT/$name.txt"
    echo "wrote $OUT/$name.txt" >&2
}

LIB=$LIB write_catalog lib.toml "Library"
LIB=$REPO write_catalog repo.toml "50,000 packages"
"$FERRY" pack --quiet --catalog lib.toml --key key.key --state lib.state --out lib.out --media-size 4G
"$FERRY" pack --quiet --catalog repo.toml --key key.key --state repo.state --out repo.out --media-size 4G
profile import-library "$FERRY" import --quiet --init --store lib.store --trust key.pub lib.out/vol-01
profile import-50000 "$FERRY" import --quiet --init --store repo.store --trust key.pub repo.out/vol-01
profile incremental-50000-unchanged "$FERRY" pack --quiet --catalog repo.toml --key key.key \
    --state repo.state --out repo.inc --media-size 4G --incremental
