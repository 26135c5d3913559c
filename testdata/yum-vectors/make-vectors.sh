#!/bin/sh
# Regenerates the yum test vectors in this directory from the two tiny RPMs in packages/.
# Needs createrepo_c (0.17.3 was used), zstd and, to rebuild the RPMs, rpmbuild.
#
#   sh make-vectors.sh              # regenerate repodata only, from the committed RPMs
#   sh make-vectors.sh --rpms       # also rebuild the RPMs from specs/ first
#
# Only repomd.xml and primary.xml.* of each variant are kept (repomd.xml still lists the others); package hrefs resolve against packages/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "${1:-}" = "--rpms" ]; then
    for spec in "$here"/specs/*.spec; do
        rpmbuild --define "_topdir $tmp/rpmbuild" -bb "$spec" >/dev/null
    done
    cp "$tmp"/rpmbuild/RPMS/noarch/ferry-tiny+extra-*.rpm "$here/packages/Packages/f/"
    cp "$tmp"/rpmbuild/RPMS/noarch/ferry-dep-*.rpm "$here/packages/extras/R&D/"
fi

variant() {
    name=$1; shift
    rm -rf "$tmp/repo" "$here/$name"
    cp -r "$here/packages" "$tmp/repo"
    createrepo_c --no-database "$@" "$tmp/repo" >/dev/null
    mkdir -p "$here/$name"
    cp -r "$tmp/repo/repodata" "$here/$name/"
    # keep the vectors small: only repomd.xml and the primary metadata file(s) are used by the tests
    find "$here/$name/repodata" -type f ! -name repomd.xml ! -name '*primary.xml*' -delete
    rm -f "$here/$name"/repodata/*primary.xml.zck
}

variant sha256-gz
variant sha1-gz --checksum sha1
variant sha-gz --checksum sha
variant sha224-gz --checksum sha224
variant sha384-bz2 --checksum sha384 --general-compress-type bz2
variant sha512-xz --checksum sha512 --general-compress-type xz
variant md5-gz --checksum md5
variant xmlbase-gz --baseurl http://example.invalid/repo/
variant zck-gz --zck
variant simple-names-gz --simple-md-filenames

# createrepo_c 0.17.3 cannot write zstd metadata: recompress the real sha256 primary with the zstd CLI.
mkdir -p "$here/zstd"
gzip -dc "$here"/sha256-gz/repodata/*-primary.xml.gz | zstd -q -19 -o "$here/zstd/primary.xml.zst" -f
