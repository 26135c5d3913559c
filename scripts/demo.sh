#!/usr/bin/env bash
# Pack the test content library (testdata/) into a signed bundle of 1 MiB volumes, then
# verify it with ferry and, volume by volume, with signify-openbsd when it is installed;
# then import it into a store (demo/store) and print its status and dnf repo file.
# Output goes to ./demo/ (removed and rewritten on every run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --locked --quiet
ferry=target/release/ferry
rm -rf demo && mkdir -p demo

$ferry keygen --out demo/demo
$ferry pack --catalog testdata/catalog.toml --key demo/demo.key --out demo/bundle --media-size 1M
$ferry verify --trust demo/demo.pub --deep demo/bundle/vol-*

if command -v signify-openbsd >/dev/null; then
    for v in demo/bundle/vol-*; do
        (cd "$v" && signify-openbsd -C -q -p ../../demo.pub -x SHA256.sig) && echo "signify: $v OK"
    done
fi

# The disconnected side: import into a store and show what dnf would be given.
$ferry import --init --store demo/store --trust demo/demo.pub demo/bundle/vol-*
$ferry status --store demo/store
$ferry repofile --store demo/store | head -8
