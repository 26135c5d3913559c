#!/usr/bin/env bash
# Regenerate the bundle test vectors in testdata/vectors/cases/ with the ferry built from
# this tree (cargo build --release first), createrepo_c and signify-openbsd.
#
# Every case is a directory of volume directories plus an `expect` file saying what a
# reader given all of them must conclude (see README.md). The keys in keys/ are TEST-ONLY.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FERRY=${FERRY:-$HERE/../../target/release/ferry}
export SOURCE_DATE_EPOCH=1767225600 TZ=UTC LC_ALL=C
umask 022
for tool in "$FERRY" createrepo_c signify-openbsd python3; do
    command -v "$tool" >/dev/null || { echo "make-vectors.sh: missing $tool" >&2; exit 1; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# ferry refuses a secret key that other users can read, and git checks keys/ out with
# mode 0644: sign with private copies. signify signs only with keys named NAME.sec.
mkdir -m 700 "$WORK/keys"
install -m 600 "$HERE/keys/vector.key" "$WORK/keys/vector.key"
install -m 600 "$HERE/keys/other.key" "$WORK/keys/other.key"
install -m 600 "$HERE/keys/vector.key" "$WORK/vector.sec"

# The content: the two tiny RPMs of testdata/yum-vectors, as a createrepo_c repository.
# createrepo_c's gzip output differs from run to run, so the committed repo/ is kept
# (and the vectors come out byte for byte the same); remove repo/ to build it anew.
if [[ ! -f $HERE/repo/repodata/repomd.xml ]]; then
    rm -rf "$HERE/repo"
    mkdir -p "$HERE/repo"
    cp -r "$HERE/../yum-vectors/packages/." "$HERE/repo/"
    createrepo_c --quiet --no-database --revision "$SOURCE_DATE_EPOCH" --set-timestamp-to-revision "$HERE/repo"
fi

CASES=$HERE/cases
rm -rf "$CASES"
mkdir -p "$CASES"
pack() { # pack OUT KEY [CATALOG]   (each with a fresh export state: sequence 1)
    rm -rf "$WORK/state"
    "$FERRY" pack --catalog "${3:-$HERE/catalog.toml}" --key "$2" --state "$WORK/state" --out "$1" --media-size 24K >/dev/null 2>&1
}
pack "$CASES/good" "$WORK/keys/vector.key"
n=$(ls -d "$CASES"/good/vol-* | wc -l)
[[ $n == 2 ]] || { echo "make-vectors.sh: expected 2 volumes, got $n" >&2; exit 1; }

variant() { rm -rf "$CASES/$1"; cp -r "$CASES/good" "$CASES/$1"; }

# py CASE CODE: run Python with helpers inside case directory CASE.
py() {
    (cd "$CASES/$1" && WORK=$WORK python3 - "$2") <<'PY'
import hashlib, os, subprocess, sys

def flip(path, at):
    b = bytearray(open(path, 'rb').read()); b[at] ^= 0x40; open(path, 'wb').write(b)

def sha(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()

def resign(vol):
    """Write a fresh signed list for a volume, as a writer would (signify, embedded)."""
    files = ['volume.toml', 'manifest.toml', 'README.txt'] + sorted(
        'packs/' + f for f in os.listdir(os.path.join(vol, 'packs')))
    msg = ''.join('SHA256 (%s) = %s\n' % (f, sha(os.path.join(vol, f))) for f in files)
    open(os.path.join(os.environ['WORK'], 'list'), 'w').write(msg)
    subprocess.run(['signify-openbsd', '-S', '-e', '-s', os.path.join(os.environ['WORK'], 'vector.sec'),
                    '-m', os.path.join(os.environ['WORK'], 'list'), '-x', os.path.join(vol, 'SHA256.sig')], check=True)

def rewrite_manifest(edit):
    """Change the manifest on every volume, point volume.toml at it, and re-sign."""
    vols = sorted(v for v in os.listdir('.') if v.startswith('vol-'))
    text = edit(open(os.path.join(vols[0], 'manifest.toml')).read())
    bundle = hashlib.sha256(text.encode()).hexdigest()
    for v in vols:
        open(os.path.join(v, 'manifest.toml'), 'w').write(text)
        vt = open(os.path.join(v, 'volume.toml')).read().splitlines()
        vt = [('bundle = "%s"' % bundle) if l.startswith('bundle = ') else l for l in vt]
        open(os.path.join(v, 'volume.toml'), 'w').write('\n'.join(vt) + '\n')
        resign(v)

exec(sys.argv[1])
PY
}
expect() { cat > "$CASES/$1/expect"; }

expect good <<'E'
# A complete, intact bundle of two volumes.
result: ok
E

variant flipped-pack
py flipped-pack "flip('vol-01/packs/0001.ferrypack', 1500)"
expect flipped-pack <<'E'
# One byte of a pack changed: its SHA-256 no longer matches the signed list.
result: fail
finding: 1 packs/0001.ferrypack corrupt
E

variant truncated-pack
py truncated-pack "os.truncate('vol-02/packs/0002.ferrypack', 1024)"
expect truncated-pack <<'E'
# A pack cut short (a copy that did not finish).
result: fail
finding: 2 packs/0002.ferrypack truncated
E

variant missing-pack
rm "$CASES/missing-pack/vol-02/packs/0002.ferrypack"
expect missing-pack <<'E'
result: fail
finding: 2 packs/0002.ferrypack missing
E

variant missing-volume
rm -r "$CASES/missing-volume/vol-02"
expect missing-volume <<'E'
# Only volume 1 of 2 is present: the reader says which volume is missing.
result: fail
missing: 2
E

variant bad-signature
py bad-signature "
b = open('vol-01/SHA256.sig').read().split('\n')
b[1] = b[1][:40] + ('A' if b[1][40] != 'A' else 'B') + b[1][41:]
open('vol-01/SHA256.sig', 'w').write('\n'.join(b))"
expect bad-signature <<'E'
# The Ed25519 signature bytes of volume 1 are altered.
result: fail
finding: - SHA256.sig bad-signature
missing: 1
E

variant altered-list
py altered-list "
t = open('vol-02/SHA256.sig').read()
i = t.index('SHA256 (README.txt) = ') + len('SHA256 (README.txt) = ')
t = t[:i] + ('0' if t[i] != '0' else '1') + t[i+1:]
open('vol-02/SHA256.sig', 'w').write(t)"
expect altered-list <<'E'
# A checksum in the signed list of volume 2 is altered: the signature no longer verifies.
result: fail
finding: - SHA256.sig bad-signature
missing: 2
E

rm -rf "$CASES/wrong-key"
pack "$CASES/wrong-key" "$WORK/keys/other.key"
expect wrong-key <<'E'
# Signed by keys/other.key, checked with keys/vector.pub: an untrusted key, named.
result: fail
finding: - SHA256.sig untrusted-key
finding: - SHA256.sig untrusted-key
E

variant unknown-version
py unknown-version "rewrite_manifest(lambda t: t.replace('format = \"ferry-bundle/1\"', 'format = \"ferry-bundle/2\"', 1))"
expect unknown-version <<'E'
# A correctly signed bundle of a format version this reader does not know.
result: fail
finding: 1 manifest.toml malformed
E

variant hostile-path
py hostile-path "rewrite_manifest(lambda t: t.replace('\"repodata/repomd.xml\" =', '\"../../../etc/repomd.xml\" =', 1))"
expect hostile-path <<'E'
# A correctly signed manifest whose tree names a path outside the repository.
result: fail
finding: 1 manifest.toml malformed
E

variant damaged-object
py damaged-object "
import re
# Change one byte inside an object's data, then make pack hash, manifest and signatures
# consistent again: only decoding the object (--deep) can find it.
m = open('vol-01/manifest.toml').read()
off = int(re.search(r'pack = \"0001\", offset = (\d+)', m).group(1))
flip('vol-01/packs/0001.ferrypack', off + 10)
p = 'vol-01/packs/0001.ferrypack'
def edit(t):
    return re.sub(r'(0001 = \{ volume = 1, size = \d+, sha256 = \")[0-9a-f]+', lambda x: x.group(1) + sha(p), t)
rewrite_manifest(edit)"
expect damaged-object <<'E'
# Consistently signed, but one object's bytes do not hash to its id (a writer bug or a
# forgery by the key holder): found only by decoding objects.
deep: true
result: fail
finding: 1 packs/0001.ferrypack damaged-object
E

variant mixed-bundles
sed 's/name = "Tiny"/name = "Tiny, again"/' "$HERE/catalog.toml" > "$WORK/other.toml"
sed -i "s|path = \"repo\"|path = \"$HERE/repo\"|" "$WORK/other.toml"
pack "$WORK/other" "$WORK/keys/vector.key" "$WORK/other.toml"
cp -r "$WORK/other/vol-01" "$CASES/mixed-bundles/other-vol-01"
expect mixed-bundles <<'E'
# Volumes 1 and 2 of this bundle, and volume 1 of another bundle by the same signer
# (given as other-vol-01): the stray volume is named, the bundle itself is complete.
result: fail
finding: 1 - wrong-bundle
E

variant duplicate-volume
cp -r "$CASES/duplicate-volume/vol-01" "$CASES/duplicate-volume/vol-01-again"
expect duplicate-volume <<'E'
# Volume 1 given twice (as vol-01 and vol-01-again), with volume 2: each volume must be
# given once; the second copy is named.
result: fail
finding: 1 - duplicate
E

variant symlinked-pack
rm "$CASES/symlinked-pack/vol-02/packs/0002.ferrypack"
ln -s ../../../good/vol-02/packs/0002.ferrypack "$CASES/symlinked-pack/vol-02/packs/0002.ferrypack"
expect symlinked-pack <<'E'
# The pack of volume 2 is a symbolic link to an intact copy: files on a volume are
# never links, and readers do not follow them.
result: fail
finding: 2 packs/0002.ferrypack unreadable
E

variant missing-signature
rm "$CASES/missing-signature/vol-02/SHA256.sig"
expect missing-signature <<'E'
# Volume 2 has no SHA256.sig (a copy that stopped before its last file): nothing on it
# can be trusted, so it is missing too.
result: fail
finding: - SHA256.sig missing
missing: 2
E

# The cases only a signer can make (hostile content, correctly signed), from `good`.
(cd "$HERE/../.." && cargo run --quiet --release --locked --example forge_vectors -- "$CASES")

echo "vectors written to $CASES: $(ls "$CASES" | tr '\n' ' ')"
