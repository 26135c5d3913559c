#!/usr/bin/env bash
# Benchmark of packing from a URL: `ferry pack` of a repository served by nginx on loopback
# (fetch, check, pack), beside `dnf reposync` of the same repository followed by `ferry pack`
# of the copy it made, in one run. Then an incremental pack from the URL when nothing changed
# upstream (everything comes from the cache).
#
# Usage: bench/fetch.sh [PACKAGES] [RPM_MB]     (default 16 packages of 64 MB: 1 GiB)
# Needs rpmbuild, createrepo_c, nginx and dnf-plugins-core (installed from Debian when
# missing), GNU time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-16}
RPM_MB=${2:-64}
DIR=${BENCH_DIR:-/tmp/ferry-bench}/fetch-${N}x$RPM_MB
LIB=$DIR/www/repo
need=()
command -v nginx >/dev/null || need+=(nginx)
dnf reposync --help >/dev/null 2>&1 || need+=(dnf-plugins-core)
if ((${#need[@]})); then apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; fi
cargo build --release --locked --quiet
FERRY=$PWD/target/release/ferry
source bench/rpm.sh

if [[ ! -f $LIB/repodata/repomd.xml ]]; then
    echo "building $N RPMs of $RPM_MB MB in $LIB ..." >&2
    for i in $(seq "$N"); do make_rpm "$i"; done
    createrepo_c --quiet "$LIB"
fi
rm -rf "$DIR/nginx" "$DIR/run"
mkdir -p "$DIR/run"
P=$(free_port)
nginx_conf "$DIR/nginx" "$P" "$DIR/www"
nginx -c "$DIR/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
trap 'kill $NGINX_PID 2>/dev/null || true' EXIT
sleep 1

R=$DIR/run
"$FERRY" keygen --out "$R/key" >/dev/null
write_catalog "$R/url.toml" "Benchmark over HTTP" "url = \"http://127.0.0.1:$P/repo/\""
mb=$(du -sbL "$LIB" | awk '{print int($1/1000000)}')
# timed NAME CMD...: wall time and peak RSS of one command.
timed() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$R/time" "$@" > /dev/null 2> "$R/err" || { cat "$R/err" >&2; exit 1; }
    read -r secs rss < "$R/time"
    printf '%-58s %7.2f s %6.0f MB/s  peak RSS %7d KB\n' "$name" "$secs" "$(echo "$mb / $secs" | bc -l)" "$rss"
    echo "$secs" > "$R/last"
}
echo "a repository of $N packages, $mb MB, served by nginx on loopback:"
timed "ferry pack from the URL (fetch, check, pack)" \
    "$FERRY" pack --catalog "$R/url.toml" --key "$R/key.key" --out "$R/out-url" --state "$R/state-url"
ferry_secs=$(cat "$R/last")
timed "dnf reposync (download only)" \
    dnf -q -y --releasever=9 --setopt=reposdir=/nonexistent --setopt="cachedir=$R/dnf-cache" \
    --repofrompath="bench,http://127.0.0.1:$P/repo/" --repo=bench \
    reposync -p "$R/sync" --download-metadata --norepopath
sync_secs=$(cat "$R/last")
LIB=$R/sync write_catalog "$R/disk.toml" "Benchmark from the reposync copy"
timed "ferry pack of the reposync copy" \
    "$FERRY" pack --catalog "$R/disk.toml" --key "$R/key.key" --out "$R/out-disk" --state "$R/state-disk"
pack_secs=$(cat "$R/last")
printf '%-58s %7.2f s\n' "dnf reposync + ferry pack" "$(echo "$sync_secs + $pack_secs" | bc -l)"
timed "ferry pack from the URL again, nothing changed (cache)" \
    "$FERRY" pack --catalog "$R/url.toml" --key "$R/key.key" --out "$R/out-again" --state "$R/state-url" --incremental
printf 'ferry pack from the URL / dnf reposync alone: %.2f (below 1: faster)\n' "$(echo "$ferry_secs / $sync_secs" | bc -l)"
