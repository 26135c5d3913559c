#!/usr/bin/env bash
# The benchmark of issue 12: ferry beside the machine's limits and its peers, on the same files,
# in the same run, best of ROUNDS (default 3) rounds, the tools taking turns in each round.
#
# Usage: bench/run.sh [SIZE]      (SIZE like 2G, 500M, 1.5G: powers of 1024; default 2G)
#
# It builds, and keeps in $BENCH_DIR (default /tmp/ferry-bench) for the next run:
#  - a library of SIZE with valid repodata (createrepo_c): real, incompressible RPMs (random
#    bytes stored uncompressed), half of SIZE in a few packages of 50–500 MB (bench/rpm.sh's
#    make_rpm), half in many of 10 KB–1 MB (sizes log-uniform); each package its own name;
#  - a repository of $BENCH_PACKAGES (default 50,000) small RPMs, each its own name and
#    payload (0.5–4 KB of random bytes);
#  - for each, 1% of its package count as spare new packages, for the incremental pack.
# Many small RPMs are built cheaply as the subpackages of one spec (one rpmbuild per 500
# packages, two rpmbuilds at a time), not one rpmbuild each.
#
# It times, on the library: cat to /dev/null (read limit), openssl dgst -sha256 of every file
# (SHA-256 limit, one core), cp -r + sync (copy limit), tar | zstd -T0 -3 | split + sha256sum,
# restic backup into a fresh repository, ferry pack (--media-size 4G), verify, verify --deep,
# import (--init, fresh store), status, and pack --incremental after a 1% change (1% of the
# packages by count replaced by new ones, createrepo_c --update; the pack that precedes it is
# the round's full pack). On the 50,000-package repository: the three limits, ferry pack,
# verify, verify --deep, import, status, and the incremental pack after a 1% change.
#
# The copies and stores of every round are kept until the end of the run: a write timed right
# after 50,000 files were deleted is slowed on an ext4 without a journal (its inode allocator
# skips inodes freed in the last few minutes; BENCHMARKS.md), which would favour whichever tool
# runs first.
#
# Every command that writes is timed up to a `sync` after it (ferry's own fsyncs leave nothing
# to do there; cp, tar and restic are charged for their writeback). Caches: BENCH_CACHE=warm
# (default) reads the inputs of each command once before timing it, so that every command reads
# from the page cache; BENCH_CACHE=cold drops the page cache before each command (root only).
# A markdown table is printed on stdout; progress, the load before each timing and every
# round's times go to stderr and to $BENCH_DIR/run-*.log.
#
# Environment: BENCH_DIR, BENCH_CACHE, ROUNDS, BENCH_PACKAGES (0: skip that repository),
# FERRY (a ferry binary to use instead of building target/release/ferry).
# Needs rpmbuild, createrepo_c, openssl, zstd, restic, GNU time, bc, python3; installs the
# Debian packages of those that are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE=${1:-2G}
ROUNDS=${ROUNDS:-3}
CACHE=${BENCH_CACHE:-warm}
NPKG=${BENCH_PACKAGES:-50000}
DIR=${BENCH_DIR:-/tmp/ferry-bench}
[[ $CACHE == warm || $CACHE == cold ]] || { echo "BENCH_CACHE is warm or cold" >&2; exit 2; }
SIZE_BYTES=$(python3 -c '
import re, sys
m = re.fullmatch(r"([0-9.]+)([KMGT]?)i?B?", sys.argv[1].upper())
if not m: sys.exit("SIZE: a number with K, M, G or T, like 2G or 500M")
print(int(float(m[1]) * 1024 ** " KMGT".index(m[2] or " ")))' "$SIZE")
mkdir -p "$DIR"
export LC_ALL=C
LOG=$DIR/run-$(date -u +%Y%m%dT%H%M%SZ).log
say() { echo "$*" | tee -a "$LOG" >&2; }

need=()
command -v rpmbuild >/dev/null || need+=(rpm)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
command -v openssl >/dev/null || need+=(openssl)
command -v zstd >/dev/null || need+=(zstd)
command -v restic >/dev/null || need+=(restic)
command -v bc >/dev/null || need+=(bc)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
    say "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

# The binary is copied, so that a rebuild of target/ during the run does not change it.
if [[ -z ${FERRY:-} ]]; then
    cargo build --release --locked --quiet
    FERRY_ID="built from $(git describe --always --dirty 2>/dev/null || echo unknown)"
    FERRY=target/release/ferry
else
    FERRY_ID="$FERRY (given)"
fi
cp "$FERRY" "$DIR/ferry.new"
mv "$DIR/ferry.new" "$DIR/ferry"
FERRY=$DIR/ferry
export FERRY RESTIC_PASSWORD=bench
FERRY_ID="$FERRY_ID, binary sha256 $(sha256sum "$FERRY" | cut -c1-12)"

source bench/rpm.sh

# make_rpm_batch PLAN DEST: one RPM per line "NAME BYTES" of PLAN, holding BYTES random bytes
# stored uncompressed, built as the subpackages of one spec by one rpmbuild, into DEST.
make_rpm_batch() {
    local W
    W=$(mktemp -d -p "$DIR")
    python3 - "$1" "$W" <<'PY'
import os, sys
plan, w = sys.argv[1], sys.argv[2]
os.makedirs(f"{w}/SOURCES"); os.makedirs(f"{w}/SPECS")
rows = [line.split() for line in open(plan) if line.strip()]
with open(f"{w}/SPECS/batch.spec", "w") as spec:
    spec.write("Name: benchbatch\nVersion: 1\nRelease: 1\nSummary: benchmark payload\n"
               "License: none\nBuildArch: noarch\n%description\npayload\n%install\n"
               "mkdir -p %{buildroot}/opt\nmv %{_sourcedir} %{buildroot}/opt/bench\n")
    for name, size in rows:
        with open(f"{w}/SOURCES/{name}.bin", "wb") as f:
            f.write(os.urandom(int(size)))
        spec.write(f"%package -n {name}\nSummary: benchmark payload\n"
                   f"%description -n {name}\npayload\n%files -n {name}\n/opt/bench/{name}.bin\n")
PY
    HOME=$W rpmbuild -bb --define "_topdir $W" --define "_binary_payload w0.ufdio" \
        --define "_build_id_links none" "$W/SPECS/batch.spec" > "$W/log" 2>&1 ||
        { cat "$W/log" >&2; rm -rf "$W"; return 1; }
    mv "$W"/RPMS/noarch/*.rpm "$2/"
    rm -rf "$W"
}
export -f make_rpm_batch
export DIR

# build_batches PLAN DEST: make_rpm_batch over PLAN, 500 lines at a time, two at once.
build_batches() {
    local parts
    parts=$(mktemp -d -p "$DIR")
    mkdir -p "$2"
    split -l 500 "$1" "$parts/plan."
    printf '%s\n' "$parts"/plan.* | xargs -P2 -I{} bash -c 'make_rpm_batch "$1" "$2"' _ {} "$2"
    rm -rf "$parts"
}

# plan_library BYTES PREFIX: "NAME BYTES" lines: the small packages (10 KB–1 MB, log-uniform)
# of a library of BYTES whose half (at most) is in big ones; "big NAME MIB" lines for those;
# "spare NAME BYTES" lines for 1% of the package count. Always the same for the same BYTES.
plan_library() {
    python3 - "$1" "$2" <<'PY'
import math, random, sys
total, prefix = int(sys.argv[1]), sys.argv[2]
rng = random.Random(total)
MIB = 1 << 20
budget, bigs = total // 2, []
while budget >= 50 * MIB:
    mib = min(500, max(50, round(budget * 0.45 / MIB)))
    bigs.append(mib); budget -= mib * MIB
small = total - sum(bigs) * MIB
def size(): return round(math.exp(rng.uniform(math.log(10_000), math.log(1_000_000))))
n = 0
while small > 0:
    s = min(size(), max(small, 10_000)); small -= s; n += 1
    print(f"{prefix}{n:05d} {s}")
for i, mib in enumerate(bigs, 1):
    print(f"big {prefix}big{i} {mib}")
for i in range(1, math.ceil((n + len(bigs)) / 100) + 1):
    print(f"spare {prefix}new{i:04d} {size()}")
PY
}

LIB=$DIR/lib-$SIZE
if [[ ! -f $LIB/.complete ]]; then
    say "building a library of $SIZE in $LIB ..."
    rm -rf "$LIB" "$LIB.spare" "$LIB.out"
    mkdir -p "$LIB/Packages" "$LIB.spare"
    plan_library "$SIZE_BYTES" benchs > "$DIR/plan"
    grep -v '^big \|^spare ' "$DIR/plan" > "$DIR/plan.small"
    build_batches "$DIR/plan.small" "$LIB/Packages"
    grep '^spare ' "$DIR/plan" | cut -d' ' -f2- > "$DIR/plan.spare"
    build_batches "$DIR/plan.spare" "$LIB.spare"
    while read -r _ name mib; do
        RPM_MB=$mib make_rpm "${name#bench}"
    done < <(grep '^big ' "$DIR/plan")
    createrepo_c --quiet --workers 2 "$LIB"
    rm -f "$DIR"/plan*
    touch "$LIB/.complete"
fi
REPO=$DIR/repo-$NPKG
if ((NPKG)) && [[ ! -f $REPO/.complete ]]; then
    say "building a repository of $NPKG small RPMs in $REPO ..."
    rm -rf "$REPO" "$REPO.spare"
    mkdir -p "$REPO/Packages" "$REPO.spare"
    python3 -c '
import random, sys
n = int(sys.argv[1]); rng = random.Random(n)
for i in range(1, n + 1): print(f"benchp{i:06d} {rng.randint(512, 4096)}")' "$NPKG" > "$DIR/plan.repo"
    build_batches "$DIR/plan.repo" "$REPO/Packages"
    python3 -c '
import random, sys
n = int(sys.argv[1]); rng = random.Random(-n)
for i in range(1, (n + 99) // 100 + 1): print(f"benchpnew{i:05d} {rng.randint(512, 4096)}")' "$NPKG" > "$DIR/plan.repo"
    build_batches "$DIR/plan.repo" "$REPO.spare"
    createrepo_c --quiet --workers 2 "$REPO"
    rm -f "$DIR/plan.repo"
    touch "$REPO/.complete"
fi

# ---- timing -------------------------------------------------------------------------------
declare -A BEST RSS LOADAT ALL
WORK=$DIR/work
rm -rf "$WORK"
mkdir -p "$WORK"
"$FERRY" keygen --out "$WORK/key" > /dev/null
export WORK

# warm PATH...: read every file under the paths (warm cache) or drop the page cache (cold).
warm() {
    sync
    if [[ $CACHE == cold ]]; then
        echo 3 > /proc/sys/vm/drop_caches
    else
        find "$@" -type f -print0 | xargs -0 cat > /dev/null
    fi
}
# builds: the compilers and linkers running now (other people's builds share the 2 cores).
builds() { ps -eo comm= | grep -cE '^(rustc|cargo|cc1|cc1plus|ld|ld.lld|clang|rust-lld)$' || true; }
# timed KEY 'CMD' PATH...: one timing of CMD (bash -c, run in $WORK) after warm PATH...; keeps
# the best time of KEY, its peak RSS and the load before it.
timed() {
    local key=$1 cmd=$2 start end secs rss load b busy=
    shift 2
    warm "$@"
    load=$(cut -d' ' -f1 /proc/loadavg)
    b=$(builds)
    if ((b)); then busy=", $b compiler/linker processes running"; fi
    start=$(date +%s.%N)
    if ! (cd "$WORK" && /usr/bin/time -f %M -o "$WORK/rss" bash -c "$cmd" > "$WORK/cmd.log" 2>&1); then
        say "$key failed: $cmd"
        cat "$WORK/cmd.log" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc -l)
    rss=$(tail -1 "$WORK/rss")
    printf '  %-18s %8.3f s  peak RSS %7d KB  load %s%s\n' "$key" "$secs" "$rss" "$load" "$busy" |
        tee -a "$LOG" >&2
    ALL[$key]="${ALL[$key]:-}${ALL[$key]:+, }$(printf %.2f "$secs")"
    if [[ -z ${BEST[$key]:-} ]] || (($(echo "$secs < ${BEST[$key]}" | bc -l))); then
        BEST[$key]=$secs RSS[$key]=$rss LOADAT[$key]=$load${busy:+ (build)}
    fi
}

# change_start LIB MATCH: replace 1% of LIB's packages by count (every 100th whose name matches
# MATCH) by the spare ones, and update the repodata; change_undo LIB puts them back.
change_start() {
    local lib=$1
    mkdir -p "$lib.removed"
    find "$lib/Packages" -name "$2" | sort | awk 'NR % 100 == 50' | xargs -r mv -t "$lib.removed"
    find "$lib.spare" -name '*.rpm' -print0 | xargs -0 mv -t "$lib/Packages"
    createrepo_c --quiet --update --workers 2 "$lib"
}
change_undo() {
    local lib=$1
    find "$lib/Packages" -name '*new*.rpm' -print0 | xargs -0 -r mv -t "$lib.spare"
    find "$lib.removed" -name '*.rpm' -print0 | xargs -0 -r mv -t "$lib/Packages"
    rmdir "$lib.removed"
    createrepo_c --quiet --update --workers 2 "$lib"
}
change_undo_if_needed() { [[ ! -d $1.removed ]] || change_undo "$1"; }
change_undo_if_needed "$LIB"
((NPKG == 0)) || change_undo_if_needed "$REPO"

# ferry_round TAG LIB MATCH: one round of ferry over LIB, keys TAG:step.
ferry_round() {
    local t=$1 lib=$2
    export LIBDIR=$lib T=$t
    LIB=$lib write_catalog "$WORK/$t.toml" "Benchmark $t"
    rm -rf "$WORK/$t.out" "$WORK/$t.state" "$WORK/$t.store" "$WORK/$t.inc"
    timed "$t:pack" '"$FERRY" pack --catalog $T.toml --key key.key --state $T.state --out $T.out --media-size 4G && sync' "$lib"
    timed "$t:verify" '"$FERRY" verify --trust key.pub $T.out/vol-*' "$WORK/$t.out"
    timed "$t:verify-deep" '"$FERRY" verify --deep --trust key.pub $T.out/vol-*' "$WORK/$t.out"
    export STORE=$t.store.$ROUND
    timed "$t:import" '"$FERRY" import --init --store $STORE --trust key.pub $T.out/vol-* && sync' "$WORK/$t.out"
    timed "$t:status" '"$FERRY" status --store $STORE' "$WORK/$STORE"
    BUNDLE_MB[$t]=$(du -sb "$WORK/$t.out" | awk '{print int($1 / 1000000)}')
    rm -rf "$WORK/$t.out"
    sync
    change_start "$lib" "$3"
    CHANGE_MB[$t]=$(find "$lib/Packages" -name '*new*.rpm' -print0 | du -cb --files0-from=- | tail -1 | awk '{printf "%.1f", $1 / 1000000}')
    CHANGE_N[$t]=$(find "$lib/Packages" -name '*new*.rpm' | wc -l)
    timed "$t:incremental" '"$FERRY" pack --catalog $T.toml --key key.key --state $T.state --out $T.inc --media-size 4G --incremental && sync' "$lib"
    INC_MB[$t]=$(du -sb "$WORK/$t.inc" | awk '{printf "%.1f", $1 / 1000000}')
    change_undo "$lib"
    rm -rf "$WORK/$t.inc" "$WORK/$t.state"
}
declare -A BUNDLE_MB CHANGE_MB CHANGE_N INC_MB

# limits_round TAG LIB: the read, SHA-256 and copy limits over LIB.
limits_round() {
    local t=$1 lib=$2
    export LIBDIR=$lib T=$t
    timed "$t:cat" 'find "$LIBDIR" -type f -print0 | xargs -0 cat > /dev/null' "$lib"
    timed "$t:sha256" 'find "$LIBDIR" -type f -print0 | xargs -0 openssl dgst -sha256 > /dev/null' "$lib"
    export COPY=$t.copy.$ROUND
    timed "$t:cp" 'cp -r "$LIBDIR" $COPY && sync' "$lib"
}

lib_mb=$(du -sb --exclude=.complete "$LIB" | awk '{print int($1 / 1000000)}')
lib_n=$(find "$LIB/Packages" -name '*.rpm' | wc -l)
lib_big=$(find "$LIB/Packages" -name '*.rpm' -size +40M | wc -l)
if ((NPKG)); then
    repo_mb=$(du -sb --exclude=.complete "$REPO" | awk '{print int($1 / 1000000)}')
fi
say "library: $lib_mb MB in $lib_n RPMs ($lib_big of 50–500 MB); cache: $CACHE; rounds: $ROUNDS; ferry $FERRY_ID"
df -h "$DIR" | tail -1 >> "$LOG"
for r in $(seq "$ROUNDS"); do
    ROUND=$r
    say "round $r of $ROUNDS (library)"
    limits_round lib "$LIB"
    export LIBDIR=$LIB
    timed "lib:tar-zstd" 'mkdir -p parts && tar -C "$LIBDIR" -cf - . | zstd -T0 -3 -q | split -b 4G - parts/part. && sha256sum parts/part.* > parts/SHA256SUMS && sync' "$LIB"
    rm -rf "$WORK/parts"
    rm -rf "$WORK/restic" "$WORK/restic-cache"
    restic init -q --repo "$WORK/restic" > /dev/null
    timed "lib:restic" 'RESTIC_CACHE_DIR=restic-cache restic backup -q --repo restic "$LIBDIR" && sync' "$LIB"
    rm -rf "$WORK/restic" "$WORK/restic-cache"
    ferry_round lib "$LIB" 'benchs[0-9]*.rpm'
    if ((NPKG)); then
        say "round $r of $ROUNDS ($NPKG-package repository)"
        limits_round repo "$REPO"
        ferry_round repo "$REPO" 'benchp[0-9]*.rpm'
    fi
done

# ---- the tables ---------------------------------------------------------------------------
s() { printf '%.2f s' "${BEST[$1]}"; }
mbs() { printf '%.0f' "$(echo "$2 / ${BEST[$1]}" | bc -l)"; }
ratio() { printf '%.2f× %s' "$(echo "${BEST[$2]} / ${BEST[$1]}" | bc -l)" "$3"; }
pct() { printf '%.1f%% of the full pack' "$(echo "100 * ${BEST[$1]} / ${BEST[$2]}" | bc -l)"; }
rss() { printf '%.1f MB' "$(echo "${RSS[$1]} / 1024" | bc -l)"; }
row() { # row LABEL KEY MB RATIO
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(s "$2")" "${3:+$(mbs "$2" "$3")}" "$4" \
        "$(rss "$2")" "${LOADAT[$2]}" "${ALL[$2]}"
}
echo
echo "ferry $FERRY_ID; $(nproc) cores; page cache $CACHE; best of $ROUNDS; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| $lib_mb MB in $lib_n RPMs ($lib_big of 50–500 MB, the rest 10 KB–1 MB) | best | MB/s | vs limit | peak RSS | load before | all rounds (s) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
M=$lib_mb
row '`cat` of every file to /dev/null (read limit)' lib:cat $M ''
row '`openssl dgst -sha256` of every file (SHA-256 limit)' lib:sha256 $M ''
row '`cp -r` + `sync` (copy limit)' lib:cp $M ''
row '`tar \| zstd -T0 -3 \| split -b 4G` + `sha256sum` + `sync`' lib:tar-zstd $M "$(ratio lib:tar-zstd lib:cp copy)"
row '`restic backup` (fresh repository) + `sync`' lib:restic $M "$(ratio lib:restic lib:cp copy)"
row '`ferry pack --media-size 4G`' lib:pack $M "$(ratio lib:pack lib:cp copy) (target ≥ 0.8)"
row '`ferry verify`' lib:verify $M "$(ratio lib:verify lib:sha256 SHA-256)"
row '`ferry verify --deep`' lib:verify-deep $M "$(ratio lib:verify-deep lib:sha256 SHA-256) (target ≥ 0.8)"
row '`ferry import --init` (fresh store)' lib:import $M "$(ratio lib:import lib:cp copy) (target ≥ 0.8)"
row '`ferry status`' lib:status '' ''
row "\`ferry pack --incremental\` after a 1% change (${CHANGE_N[lib]} of $lib_n RPMs replaced, ${CHANGE_MB[lib]} MB new)" \
    lib:incremental '' "$(pct lib:incremental lib:pack) (target < 10%)"
echo
echo "Bundle: ${BUNDLE_MB[lib]} MB; incremental bundle: ${INC_MB[lib]} MB."
if ((NPKG)); then
    echo
    echo "| $NPKG RPMs, $repo_mb MB | best | MB/s | vs limit | peak RSS | load before | all rounds (s) |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    M=$repo_mb
    row '`cat` of every file to /dev/null (read limit)' repo:cat $M ''
    row '`openssl dgst -sha256` of every file (SHA-256 limit)' repo:sha256 $M ''
    row '`cp -r` + `sync` (copy limit)' repo:cp $M ''
    row '`ferry pack --media-size 4G`' repo:pack $M "$(ratio repo:pack repo:cp copy)"
    row '`ferry verify`' repo:verify $M "$(ratio repo:verify repo:sha256 SHA-256)"
    row '`ferry verify --deep`' repo:verify-deep $M "$(ratio repo:verify-deep repo:sha256 SHA-256)"
    row '`ferry import --init` (fresh store)' repo:import $M "$(ratio repo:import repo:cp copy)"
    row '`ferry status`' repo:status '' ''
    row "\`ferry pack --incremental\` after a 1% change (${CHANGE_N[repo]} of $NPKG RPMs replaced)" \
        repo:incremental '' "$(pct repo:incremental repo:pack) (target < 10%)"
    echo
    echo "Bundle: ${BUNDLE_MB[repo]} MB; incremental bundle: ${INC_MB[repo]} MB. Memory target: peak RSS < 256 MiB (262144 KB)."
fi
rm -rf "$WORK"
say "log: $LOG"
