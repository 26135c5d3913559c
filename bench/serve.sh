#!/usr/bin/env bash
# Benchmark of `ferry serve`: upload a 1 GiB volume over loopback with `ferry push` (which
# the server checks and imports), then serve the 1 GiB package in it to 8 parallel clients,
# beside `python3 -m http.server` and nginx serving the same file, in the same run (best of
# ROUNDS rounds each, default 5, taken in turn).
#
# Usage: bench/serve.sh [RPM_MB] [CLIENTS]     (default 1024 MB, 8 clients)
# Needs rpmbuild, createrepo_c, curl, nginx (installed from Debian when missing), GNU time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RPM_MB=${1:-1024}
CLIENTS=${2:-8}
DIR=${BENCH_DIR:-/tmp/ferry-bench}/serve-$RPM_MB
LIB=$DIR/lib
command -v nginx >/dev/null || { apt-get install -y -qq nginx >/dev/null; }
cargo build --release --locked --quiet
FERRY=$PWD/target/release/ferry
source bench/rpm.sh

if [[ ! -f $LIB/repodata/repomd.xml ]]; then
    echo "building one RPM of $RPM_MB MB in $LIB ..." >&2
    make_rpm 1
    createrepo_c --quiet "$LIB"
fi
write_catalog "$DIR/catalog.toml" "One big RPM"
rm -rf "$DIR/out" "$DIR/store" "$DIR/key".* "$DIR/nginx"
"$FERRY" keygen --out "$DIR/key" >/dev/null
"$FERRY" pack --catalog "$DIR/catalog.toml" --key "$DIR/key.key" --out "$DIR/out" >/dev/null 2>&1
"$FERRY" trust add --store "$DIR/store" "$DIR/key.pub" >/dev/null
volume_mb=$(du -sbL "$DIR/out/vol-01" | awk '{print int($1/1000000)}')

rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

echo "ferry push of a $volume_mb MB volume over loopback:"
P=$(free_port)
"$FERRY" serve --store "$DIR/store" --listen "127.0.0.1:$P" > "$DIR/serve.log" 2>&1 &
pids+=($!); SERVER=$!
for _ in $(seq 50); do grep -q listening "$DIR/serve.log" && break; sleep 0.1; done
idle=$(rss $SERVER)

/usr/bin/time -f "%e %M" -o "$DIR/time" "$FERRY" push --server "http://127.0.0.1:$P" \
    --token-file "$DIR/store/admin-token" "$DIR/out/vol-01" > /dev/null 2> "$DIR/push.err"
read -r secs client_rss < "$DIR/time"
# The upload alone: push's progress line "uploading …: done in N.Ns" (plain lines off a terminal).
up=$(grep -o 'uploading .*: done in [0-9.]*s' "$DIR/push.err" | grep -o '[0-9.]*s$' | tr -d s)
printf '%-44s %6.2f s %7.0f MB/s\n' "  upload (checked as it arrives)" "$up" "$(echo "$volume_mb / $up" | bc -l)"
printf '%-44s %6.2f s %7.0f MB/s   server peak RSS %6d KB (idle %d), client %d KB\n' \
    "  upload + import (until push returns)" "$secs" \
    "$(echo "$volume_mb / $secs" | bc -l)" "$(rss $SERVER)" "$idle" "$client_rss"

REL=bench/library/bench/repo/Packages/bench1-1-1.noarch.rpm
size=$(stat -L -c %s "$DIR/store/published/$REL")

P2=$(free_port)
(cd "$DIR/store/published" && exec python3 -m http.server "$P2" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
P3=$(free_port)
nginx_conf "$DIR/nginx" "$P3" "$DIR/store/published"
nginx -c "$DIR/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
sleep 1

# round URL: CLIENTS parallel downloads of the package; prints the seconds.
round() {
    local start end curls=()
    start=$(date +%s.%N)
    for _ in $(seq "$CLIENTS"); do curl -sf -o /dev/null "$1" & curls+=($!); done
    wait "${curls[@]}"
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
names=("ferry serve" "python3 -m http.server" "nginx (sendfile)")
urls=("http://127.0.0.1:$P/repos/$REL" "http://127.0.0.1:$P2/$REL" "http://127.0.0.1:$P3/$REL")
best=("" "" "")
for u in "${urls[@]}"; do curl -sf -o /dev/null "$u"; done # warm the page cache, check the URLs
# Rounds alternate between the servers, so that the machine's ups and downs fall on all
# three; each keeps its best of ROUNDS.
for _ in $(seq "${ROUNDS:-5}"); do
    for i in 0 1 2; do
        secs=$(round "${urls[$i]}")
        if [[ -z ${best[$i]} ]] || (( $(echo "$secs < ${best[$i]}" | bc -l) )); then best[$i]=$secs; fi
    done
done
mbs=()
for i in 0 1 2; do
    mbs[$i]=$(echo "$CLIENTS * $size / 1000000 / ${best[$i]}" | bc -l)
    printf '%-44s %6.2f s %7.0f MB/s' "${names[$i]}: $CLIENTS x $((size / 1000000)) MB" "${best[$i]}" "${mbs[$i]}"
    if [[ $i == 0 ]]; then printf '   server peak RSS %6d KB' "$(rss $SERVER)"; fi
    echo
done
printf 'ferry serve / nginx: %.2f\n' "$(echo "${mbs[0]} / ${mbs[2]}" | bc -l)"
