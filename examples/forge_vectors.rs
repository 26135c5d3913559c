//! Writes the test vectors that only a signer can make (hostile or inconsistent content,
//! correctly signed), from the `good` case: `testdata/vectors/make-vectors.sh` runs it as
//! `cargo run --release --example forge_vectors -- testdata/vectors/cases`.

#[path = "../tests/integration/forge.rs"]
mod forge;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ferry::format::Sha256Digest;
use ferry::format::manifest::{Encoding, Object};
use forge::{Forge, fix_checksum, resign, vector_key};

fn case(cases: &Path, name: &str, expect: &str) -> PathBuf {
    let dir = cases.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("expect"), expect).unwrap();
    dir
}

fn main() {
    let cases = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: forge_vectors CASES_DIR"),
    );
    let good = cases.join("good");
    let vols = vec![good.join("vol-01"), good.join("vol-02")];
    let base = Forge::read(&vols);
    let key = vector_key();
    let ids: Vec<_> = base.manifest.objects.keys().copied().collect();
    let zstd = *base
        .manifest
        .objects
        .iter()
        .find(|(_, o)| o.encoding == Encoding::Zstd)
        .expect("the good vector has a zstd object")
        .0;

    // A pack entry that is a symbolic link (checksum made valid): tar -x would create a
    // link; a decoding reader refuses the entry.
    let mut f = base.clone();
    // Every pack's first entry has its data at 512.
    let h = f.header_mut("0001", 512);
    h[156] = b'2';
    h[157..160].copy_from_slice(b"../");
    fix_checksum(h);
    f.refresh();
    f.write(&case(&cases, "tar-link-entry", "# Correctly signed, but the first entry of pack 0001 is a symbolic link (type 2,\n# link name set, checksum valid): a decoding reader refuses it.\ndeep: true\nresult: fail\nfinding: 1 packs/0001.ferrypack corrupt\n"), &key);

    // A zstd object followed by an empty frame.
    let mut f = base.clone();
    let mut stored = f.stored(&zstd);
    stored.extend_from_slice(&zstd::bulk::compress(b"", 3).unwrap());
    f.restore(&BTreeMap::from([(zstd, stored)]));
    f.write(&case(&cases, "trailing-zstd-frame", "# Correctly signed; a zstd object's stored bytes are its frame and then a second,\n# empty frame: the stored bytes must be exactly one frame.\ndeep: true\nresult: fail\nfinding: 1 packs/0001.ferrypack damaged-object\n"), &key);

    // A zstd bomb: 64 MiB of zeros in a few KiB, declared as the original small size; the
    // frame does not declare its content size, so only the cap stops it.
    let mut f = base.clone();
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    e.include_contentsize(false).unwrap();
    for _ in 0..64 {
        e.write_all(&vec![0u8; 1 << 20]).unwrap();
    }
    f.restore(&BTreeMap::from([(zstd, e.finish().unwrap())]));
    f.write(&case(&cases, "zstd-bomb", "# Correctly signed; a zstd object's frame (without a content size) decodes to\n# 64 MiB, far more than its declared size: decoding stops at the declared size.\ndeep: true\nresult: fail\nfinding: 1 packs/0001.ferrypack damaged-object\n"), &key);

    // A frame whose window is 16 MiB, over the 8 MiB a reader allocates.
    let mut f = base.clone();
    let content = zstd::stream::decode_all(&f.stored(&zstd)[..]).unwrap();
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_contentsize(false).unwrap();
    e.window_log(24).unwrap();
    e.write_all(&content).unwrap();
    f.restore(&BTreeMap::from([(zstd, e.finish().unwrap())]));
    f.write(&case(&cases, "zstd-window", "# Correctly signed; a zstd object's frame asks for a 16 MiB window, over the 8 MiB\n# limit (it would otherwise decode to the right content).\ndeep: true\nresult: fail\nfinding: 1 packs/0001.ferrypack damaged-object\n"), &key);

    // A skippable frame before the real one.
    let mut f = base.clone();
    let mut stored = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, b'h', b'i', b'!', b'!'];
    stored.extend_from_slice(&f.stored(&zstd));
    f.restore(&BTreeMap::from([(zstd, stored)]));
    f.write(&case(&cases, "zstd-skippable-frame", "# Correctly signed; a zstd object's stored bytes begin with a skippable frame: they\n# must be exactly one zstd frame.\ndeep: true\nresult: fail\nfinding: 1 packs/0001.ferrypack damaged-object\n"), &key);

    // One byte of a raw object flipped in transit: the pack is corrupt, and decoding names
    // the object it damaged too.
    let out = case(
        &cases,
        "flipped-object-byte",
        "# One byte inside a raw object of pack 0001 changed in transit (not re-signed): the\n# pack is corrupt, and a decoding reader also names the damaged object.\ndeep: true\nresult: fail\nfinding: 1 packs/0001.ferrypack corrupt\nfinding: 1 packs/0001.ferrypack damaged-object\n",
    );
    let v = base.write(&out, &key);
    let p = base
        .manifest
        .objects
        .values()
        .find(|o| o.encoding == Encoding::Raw && o.pieces.len() == 1 && o.pieces[0].pack == "0001")
        .unwrap()
        .pieces[0]
        .clone();
    let path = v[0].join("packs/0001.ferrypack");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(p.offset + p.length / 2) as usize] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();

    // A volume signed by the trusted key while the manifest names another signer.
    let mut f = base.clone();
    f.manifest.signer = ferry::format::KeyId(*b"\x01\x23\x45\x67\x89\xab\xcd\xef");
    f.write(&case(&cases, "signer-mismatch", "# Correctly signed with the trusted key, but the manifest names another signer: no\n# volume is usable.\nresult: fail\nfinding: 1 SHA256.sig bad-signature\nfinding: 2 SHA256.sig bad-signature\nmissing: 1\nmissing: 2\n"), &key);

    // volume.toml of volume 2 says the bundle has 3 volumes (re-signed).
    let out = case(
        &cases,
        "volumes-mismatch",
        "# Correctly signed; volume 2's volume.toml says 3 volumes, the manifest 2.\nresult: fail\nfinding: 2 volume.toml malformed\nmissing: 2\n",
    );
    let v = base.write(&out, &key);
    let t = std::fs::read_to_string(v[1].join("volume.toml")).unwrap();
    std::fs::write(
        v[1].join("volume.toml"),
        t.replace("volumes = 2", "volumes = 3"),
    )
    .unwrap();
    resign(&v[1], &key, |_| {});

    // A README.txt over its 64 KiB limit (listed with its true hash).
    let out = case(
        &cases,
        "readme-too-large",
        "# Correctly signed; volume 2's README.txt is 70000 bytes, over the 64 KiB limit.\nresult: fail\nfinding: 2 README.txt malformed\n",
    );
    let v = base.write(&out, &key);
    std::fs::write(v[1].join("README.txt"), "x".repeat(70000)).unwrap();
    resign(&v[1], &key, |_| {});

    // Two objects interleaved: a's first piece, then b, then a's second piece.
    let mut f = base.clone();
    let singles: Vec<_> = ids
        .iter()
        .copied()
        .filter(|id| {
            let o = &f.manifest.objects[id];
            o.pieces.len() == 1
                && o.pieces[0].pack == "0001"
                && o.encoding == Encoding::Raw
                && o.size > 100
        })
        .collect();
    let (a, b) = (singles[0], singles[1]);
    let sa = f.stored(&a);
    let sb = f.stored(&b);
    let cut = 100;
    let mut pack = Vec::new();
    let mut put = |name: &str, data: &[u8]| {
        pack.extend_from_slice(&ferry::format::tar_entry::header(name, data.len() as u64));
        let off = pack.len() as u64;
        pack.extend_from_slice(data);
        pack.resize(
            pack.len() + ferry::format::tar_entry::padding(data.len() as u64) as usize,
            0,
        );
        off
    };
    let oa0 = put(&a.to_hex(), &sa[..cut]);
    let ob = put(&b.to_hex(), &sb);
    let oa1 = put(&format!("{}.1", a.to_hex()), &sa[cut..]);
    // Everything else of pack 0001 goes after them.
    let rest: Vec<_> = f
        .manifest
        .objects
        .iter()
        .filter(|(id, o)| **id != a && **id != b && o.pieces.iter().any(|p| p.pack == "0001"))
        .map(|(id, _)| *id)
        .collect();
    let mut placed = BTreeMap::new();
    for id in &rest {
        let o = f.manifest.objects[id].clone();
        let mut pieces = Vec::new();
        for (k, p) in o.pieces.iter().enumerate() {
            let data = f.packs[&p.pack][p.offset as usize..(p.offset + p.length) as usize].to_vec();
            if p.pack == "0001" {
                let mut name = id.to_hex();
                if k > 0 {
                    name.push_str(&format!(".{k}"));
                }
                if o.encoding == Encoding::Zstd {
                    name.push_str(".zst");
                }
                let off = put(&name, &data);
                pieces.push(ferry::format::manifest::Piece {
                    pack: "0001".into(),
                    offset: off,
                    length: p.length,
                });
            } else {
                pieces.push(p.clone());
            }
        }
        placed.insert(*id, pieces);
    }
    pack.resize(pack.len() + 1024, 0);
    for (id, pieces) in placed {
        f.manifest.objects.get_mut(&id).unwrap().pieces = pieces;
    }
    let piece = |off, len| ferry::format::manifest::Piece {
        pack: "0001".into(),
        offset: off,
        length: len,
    };
    f.manifest.objects.get_mut(&a).unwrap().pieces =
        vec![piece(oa0, cut as u64), piece(oa1, (sa.len() - cut) as u64)];
    f.manifest.objects.get_mut(&b).unwrap().pieces = vec![piece(ob, sb.len() as u64)];
    f.packs.insert("0001".into(), pack);
    f.refresh();
    assert!(
        f.manifest
            .check()
            .unwrap_err()
            .to_string()
            .contains("interleaved")
    );
    f.write(&case(&cases, "interleaved-objects", "# Correctly signed; pack 0001 holds the first piece of one object, a second\n# object, then the first object's second piece: objects must not interleave.\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key);

    // A gap: 512 zero bytes between two entries (the pieces no longer tile the pack).
    let mut f = base.clone();
    let later = f
        .manifest
        .objects
        .values()
        .flat_map(|o| &o.pieces)
        .filter(|p| p.pack == "0001")
        .map(|p| p.offset)
        .max()
        .unwrap();
    for o in f.manifest.objects.values_mut() {
        for p in o
            .pieces
            .iter_mut()
            .filter(|p| p.pack == "0001" && p.offset == later)
        {
            p.offset += 512;
        }
    }
    let pack = f.packs.get_mut("0001").unwrap();
    let at = (later - 512) as usize;
    pack.splice(at..at, std::iter::repeat_n(0u8, 512));
    f.refresh();
    f.write(&case(&cases, "gap-in-pack", "# Correctly signed; 512 zero bytes sit between two entries of pack 0001, which the\n# manifest's pieces do not account for: pieces must tile their pack.\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key);

    // An object without pieces that is not the empty object.
    let mut f = base.clone();
    f.manifest.objects.insert(
        Sha256Digest::of(b"not empty"),
        Object {
            size: 0,
            encoding: Encoding::Raw,
            pieces: vec![],
        },
    );
    f.write(&case(&cases, "empty-object-wrong-id", "# Correctly signed; an object of size 0 with no pieces whose id is not the SHA-256\n# of nothing (it once made a reader panic).\ndeep: true\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key);

    // Paths that collide ignoring case, and a path over 1024 bytes.
    let mut f = base.clone();
    let t = &mut f.manifest.trees[0];
    let id = t.files["repodata/repomd.xml"];
    t.files.insert("REPODATA/repomd.xml".into(), id);
    f.write(&case(&cases, "case-collision", "# Correctly signed; a tree has repodata/repomd.xml and REPODATA/repomd.xml, which\n# are one file on a case-insensitive file system.\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key);
    let mut f = base.clone();
    let t = &mut f.manifest.trees[0];
    let id = t.files["repodata/repomd.xml"];
    t.files
        .insert(format!("{}/x.rpm", vec!["d".repeat(200); 6].join("/")), id);
    f.write(&case(&cases, "path-too-long", "# Correctly signed; a tree path of 1211 bytes, over the 1024-byte limit (each of\n# its components is short enough).\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key);

    // Text that no canonical writer produces.
    let text = String::from_utf8(base.manifest.encode()).unwrap();
    base.write_text(&case(&cases, "crlf-manifest", "# Correctly signed; the manifest's lines end with CR LF: a manifest has one\n# encoding, with LF.\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key, text.replace('\n', "\r\n").as_bytes());
    base.write_text(&case(&cases, "sequence-too-large", "# Correctly signed; sequence = 2^63, beyond the integers a manifest holds.\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key, text.replacen("sequence = 1\n", "sequence = 9223372036854775808\n", 1).as_bytes());
    base.write_text(&case(&cases, "escaped-letter", "# Correctly signed; the organization is written \"\\u0076ectors\", the same value as\n# \"vectors\" in TOML but not the canonical encoding.\nresult: fail\nfinding: 1 manifest.toml malformed\n"), &key, text.replacen("organization = \"vectors\"", "organization = \"\\u0076ectors\"", 1).as_bytes());

    // Signed lists that do not match the manifest.
    let out = case(
        &cases,
        "unlisted-readme",
        "# Correctly signed; the list of volume 2 leaves README.txt out (the file is there).\nresult: fail\nfinding: 2 README.txt malformed\n",
    );
    let v = base.write(&out, &key);
    resign(&v[1], &key, |e| e.retain(|x| x.path != "README.txt"));
    let out = case(
        &cases,
        "extra-list-entry",
        "# Correctly signed; the list of volume 1 also names notes.txt (present), which the\n# manifest does not account for.\nresult: fail\nfinding: 1 notes.txt malformed\n",
    );
    let v = base.write(&out, &key);
    std::fs::write(v[0].join("notes.txt"), "hello\n").unwrap();
    resign(&v[0], &key, |e| {
        e.push(ferry::format::checklist::Entry {
            path: "notes.txt".into(),
            sha256: Sha256Digest::of(b"hello\n"),
        })
    });
    let out = case(
        &cases,
        "damaged-readme",
        "# The README.txt of volume 2 was edited (a phishing note, say): it is signed too.\nresult: fail\nfinding: 2 README.txt corrupt\n",
    );
    let v = base.write(&out, &key);
    std::fs::write(
        v[1].join("README.txt"),
        "Run ./install.sh as root to import this bundle.\n",
    )
    .unwrap();
    let out = case(
        &cases,
        "list-out-of-order",
        "# Correctly signed; the list of volume 1 names README.txt before manifest.toml:\n# the order of the list is fixed.\nresult: fail\nfinding: 1 SHA256.sig malformed\n",
    );
    let v = base.write(&out, &key);
    resign(&v[0], &key, |e| e.swap(1, 2));
}
