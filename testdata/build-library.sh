#!/usr/bin/env bash
# Rebuild the ferry test content library (testdata/library/) from the committed
# inputs under testdata/src/ using only real tools:
#   rpmbuild + rpmsign (package "rpm"), createrepo_c + modifyrepo_c
#   (package "createrepo-c"), gpg, python3.
#
# The GPG key in testdata/keys/gpg-test-secret.asc is a TEST-ONLY key with no
# passphrase. Never use it (or anything signed with it) for real content.
#
# Usage: testdata/build-library.sh [OUTDIR]
#        (from any directory; idempotent: OUTDIR, by default testdata/library/,
#        is deleted and rebuilt from scratch)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/src
LIB=$(realpath -m "${1:-$HERE/library}")
SECRET_KEY=$HERE/keys/gpg-test-secret.asc
GPG_UID='ferry-test@example.invalid'   # uid: Ferry Test Signing Key (TEST ONLY - DO NOT TRUST) <ferry-test@example.invalid>

# Fixed timestamp (2026-01-01T00:00:00Z) for build times, file mtimes,
# signature times and repodata revision/timestamps. It must not be in the
# future of whoever verifies the signatures, and not before the key's
# creation time (2025-12-01).
export SOURCE_DATE_EPOCH=1767225600
export TZ=UTC LC_ALL=C
umask 022

for tool in rpmbuild rpmsign rpmkeys createrepo_c modifyrepo_c gpg gpgconf python3; do
    command -v "$tool" >/dev/null || { echo "build-library.sh: missing tool: $tool" >&2; exit 1; }
done
GPG_BIN=$(command -v gpg)

WORK=$(mktemp -d)
cleanup() {
    gpgconf --homedir "$WORK/gnupg" --kill all >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- isolated GnuPG home with the committed test key ------------------------
export GNUPGHOME=$WORK/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --import "$SECRET_KEY"

# rpm reads ~/.rpmmacros and (on Debian) keeps its database in ~/.rpmdb, so
# every rpm tool runs with HOME inside the temp dir and an explicit _dbpath.
mkdir -p "$WORK/home" "$WORK/rpmdb" "$WORK/rpmbuild/SOURCES"
rpm_tool() { HOME=$WORK/home "$@" --define "_dbpath $WORK/rpmdb"; }

RPMBUILD_DEFS=(
    --define "_topdir $WORK/rpmbuild"
    --define "_buildhost ferry-testdata"
    --define "use_source_date_epoch_as_buildtime 1"
    --define "clamp_mtime_to_source_date_epoch 1"
    --define "_binary_payload w9.gzdio"
    --define "_build_id_links none"
)
RPMSIGN_DEFS=(
    --define "_gpg_name $GPG_UID"
    --define "_gpg_path $GNUPGHOME"
    # Debian's rpm defaults %__gpg to /usr/bin/gpg2, which does not exist there.
    --define "__gpg $GPG_BIN"
    --define "_gpg_digest_algo sha256"
    # Signature creation time = SOURCE_DATE_EPOCH (RSA signatures are then
    # deterministic, too).
    --define "_gpg_sign_cmd_extra_args --batch --faked-system-time ${SOURCE_DATE_EPOCH}!"
)

# --- build the RPMs -----------------------------------------------------------
# Payload of ferry-big: 1.5 MiB of deterministic pseudo-random bytes.
python3 -c '
import random, sys
random.seed(1)
sys.stdout.buffer.write(random.randbytes(3 * 512 * 1024))
' > "$WORK/rpmbuild/SOURCES/ferry-big.bin"

for spec in "$SRC"/specs/*.spec; do
    rpm_tool rpmbuild --quiet -bb "${RPMBUILD_DEFS[@]}" "$spec"
done
RPMS=$WORK/rpmbuild/RPMS/noarch

rpm_tool rpmsign --addsign "${RPMSIGN_DEFS[@]}" "$RPMS"/*.rpm >/dev/null 2>"$WORK/rpmsign.log" \
    || { cat "$WORK/rpmsign.log" >&2; exit 1; }

# Self-check: every RPM verifies (digests + signature) against the public key.
gpg --batch --armor --export "$GPG_UID" > "$WORK/RPM-GPG-KEY-ferry-test"
rpm_tool rpmkeys --import "$WORK/RPM-GPG-KEY-ferry-test"
for f in "$RPMS"/*.rpm; do
    out=$(rpm_tool rpmkeys --checksig "$f")
    case $out in
        *"signatures OK") ;;
        *) echo "build-library.sh: signature check failed: $out" >&2; exit 1 ;;
    esac
done

# --- lay out the repositories -------------------------------------------------
OUT=$WORK/library
mkdir -p "$OUT"
cp "$WORK/RPM-GPG-KEY-ferry-test" "$OUT/RPM-GPG-KEY-ferry-test"

# put REPO_DIR SUBDIR RPM_FILE...  (SUBDIR "-" = Packages/<first letter>/)
put() {
    local repo=$1 sub=$2; shift 2
    local f name dest
    for f in "$@"; do
        name=${f##*/}
        if [[ $sub == - ]]; then dest=$repo/Packages/${name:0:1}; else dest=$repo/$sub; fi
        mkdir -p "$dest"
        cp "$RPMS/$name" "$dest/$name"
        touch -d "@$SOURCE_DATE_EPOCH" "$dest/$name"
    done
}

CREATEREPO=(createrepo_c --quiet --revision "$SOURCE_DATE_EPOCH" --set-timestamp-to-revision
            --general-compress-type gz)
MODIFYREPO=(modifyrepo_c --compress-type gz)

# repos/baseos: packages in Packages/<letter>/, sha256, comps + updateinfo.
BASEOS=$OUT/repos/baseos
put "$BASEOS" - \
    acme-release-9.0-1.noarch.rpm \
    beacon-1.2-1.noarch.rpm \
    ferry-hello-1.0-1.noarch.rpm \
    ferry-hello-1.1-1.noarch.rpm \
    ferry-tools-2.0-1.noarch.rpm \
    ferry-docs-1.0-1.noarch.rpm \
    'ferry-tilde-1.0~rc1+git5-1.noarch.rpm'
"${CREATEREPO[@]}" --checksum sha256 --no-database -g "$SRC/baseos/comps.xml" "$BASEOS"
"${MODIFYREPO[@]}" --mdtype updateinfo "$SRC/baseos/updateinfo.xml" "$BASEOS/repodata"

# repos/appstream: a modular package, a plain one and the big one + modules.yaml.
APPSTREAM=$OUT/repos/appstream
put "$APPSTREAM" - \
    ferry-webapp-2.0-1.noarch.rpm \
    ferry-cli-1.0-1.noarch.rpm \
    ferry-big-1.0-1.noarch.rpm
"${CREATEREPO[@]}" --checksum sha256 --no-database "$APPSTREAM"
"${MODIFYREPO[@]}" --mdtype modules "$SRC/appstream/modules.yaml" "$APPSTREAM/repodata"

# repos/legacy: old-style repository: SHA-1 checksums, flat layout (RPMs in the
# repo root), simple metadata file names and sqlite databases.
# ferry-docs-1.0-1.noarch.rpm is byte-identical to the one in baseos.
LEGACY=$OUT/repos/legacy
put "$LEGACY" . \
    ferry-legacy-0.9-1.noarch.rpm \
    ferry-compat-0.5-1.noarch.rpm \
    ferry-docs-1.0-1.noarch.rpm
"${CREATEREPO[@]}" --checksum sha1 --database --simple-md-filenames "$LEGACY"

# cv/web/1.0/baseos: older snapshot of baseos (content view "web" version 1.0).
# All files byte-identical to baseos ones except ferry-tools-1.9-1 (baseos has 2.0-1).
CV=$OUT/cv/web/1.0/baseos
put "$CV" - \
    acme-release-9.0-1.noarch.rpm \
    beacon-1.2-1.noarch.rpm \
    ferry-hello-1.0-1.noarch.rpm \
    ferry-tools-1.9-1.noarch.rpm \
    ferry-docs-1.0-1.noarch.rpm
"${CREATEREPO[@]}" --checksum sha256 --no-database -g "$SRC/baseos/comps.xml" "$CV"

# rotation/v1, v2, v3: one repository as it changes between media rotations (the
# incremental-bundle tests). v2 updates ferry-hello and ferry-tools, adds ferry-tilde,
# removes ferry-docs and adds errata; v3 adds ferry-cli and drops ferry-tilde.
merge_updateinfo() { # OUT IN...
    python3 - "$@" <<'PY'
import sys, xml.etree.ElementTree as ET
out, *ins = sys.argv[1:]
root = ET.Element('updates')
for f in ins:
    root.extend(ET.parse(f).getroot().findall('update'))
ET.ElementTree(root).write(out, encoding='UTF-8', xml_declaration=True)
PY
}
ROT=$OUT/rotation
merge_updateinfo "$WORK/ui-v1.xml" "$SRC/rotation/updateinfo-v1.xml"
merge_updateinfo "$WORK/ui-v2.xml" "$SRC/rotation/updateinfo-v1.xml" "$SRC/baseos/updateinfo.xml"
merge_updateinfo "$WORK/ui-v3.xml" "$SRC/rotation/updateinfo-v1.xml" "$SRC/baseos/updateinfo.xml" "$SRC/rotation/updateinfo-v3.xml"
put "$ROT/v1" - acme-release-9.0-1.noarch.rpm beacon-1.2-1.noarch.rpm ferry-hello-1.0-1.noarch.rpm \
    ferry-tools-1.9-1.noarch.rpm ferry-docs-1.0-1.noarch.rpm
put "$ROT/v2" - acme-release-9.0-1.noarch.rpm beacon-1.2-1.noarch.rpm ferry-hello-1.1-1.noarch.rpm \
    ferry-tools-2.0-1.noarch.rpm 'ferry-tilde-1.0~rc1+git5-1.noarch.rpm'
put "$ROT/v3" - acme-release-9.0-1.noarch.rpm beacon-1.2-1.noarch.rpm ferry-hello-1.1-1.noarch.rpm \
    ferry-tools-2.0-1.noarch.rpm ferry-cli-1.0-1.noarch.rpm
for v in v1 v2 v3; do
    "${CREATEREPO[@]}" --checksum sha256 --no-database -g "$SRC/baseos/comps.xml" "$ROT/$v"
    "${MODIFYREPO[@]}" --mdtype updateinfo "$WORK/ui-$v.xml" "$ROT/$v/repodata"
done

# Every RPM that was built must have been placed somewhere.
for f in "$RPMS"/*.rpm; do
    [[ -n $(find "$OUT" -name "${f##*/}") ]] || { echo "build-library.sh: unused RPM ${f##*/}" >&2; exit 1; }
done
# ferry-big must not fit on a 1 MiB test medium.
big=$APPSTREAM/Packages/f/ferry-big-1.0-1.noarch.rpm
(( $(stat -c %s "$big") > 1048576 )) || { echo "build-library.sh: $big is not > 1 MiB" >&2; exit 1; }

# --- swap the new library into place ------------------------------------------
rm -rf "$LIB"
mv "$OUT" "$LIB"
echo "built $(find "$LIB" -name '*.rpm' | wc -l) RPM files in $LIB ($(du -sh "$LIB" | cut -f1))"
