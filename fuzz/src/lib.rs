//! Bodies of ferry's fuzz targets, one plain function per target.
//!
//! The files in `fuzz_targets/` only call these, and ferry's integration test
//! `tests/integration/fuzz_corpus.rs` includes this file as a module to run the same bodies
//! over the committed corpus on a stable toolchain. So this file must use only `ferry::…`
//! and crates that ferry itself depends on (`zstd`, `tempfile`), and no crate attributes.
//!
//! Every body must never panic, whatever the input; the `assert!`s are oracles (a round trip,
//! a bundle built intact that must verify as intact), and a failing one is a bug in ferry.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ferry::bundle::object::Decoder;
use ferry::format::checklist;
use ferry::format::constants::{
    MANIFEST_FILE, PACK_EXTENSION, PACKS_DIR, README_FILE, SIGNATURE_FILE, TAR_MAX_ENTRY,
    VOLUME_FILE,
};
use ferry::format::manifest::{
    Encoding, Manifest, Object, Pack, Piece, Product, Repository, Tree, pack_name,
};
use ferry::format::signify::{self, PublicKey, SecretKey};
use ferry::format::tar_entry;
use ferry::format::volume_info::VolumeInfo;
use ferry::format::{KeyId, ObjectId, Sha256Digest};

/// Target `manifest`: the strict manifest reader accepts only canonical bytes, and what it
/// accepts round-trips exactly.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = Manifest::parse(data) {
        let enc = m.encode();
        assert!(enc == data, "a parsed manifest re-encodes to other bytes");
        let back = Manifest::parse(&enc).expect("the canonical encoding of a manifest parses");
        assert_eq!(back, m, "the manifest changed in a round trip");
        assert_eq!(
            m.check(),
            Ok(()),
            "parse accepted a manifest that check refuses"
        );
    }
}

/// Target `volume_and_list`: `volume.toml`, the signed checksum list, signify signatures
/// and public keys, all from the same bytes.
pub fn volume_and_list(data: &[u8]) {
    if let Ok(v) = VolumeInfo::parse(data) {
        assert!(v.encode() == data, "volume.toml re-encodes to other bytes");
        assert_eq!(VolumeInfo::parse(&v.encode()), Ok(v));
    }
    list_round_trip(data);
    if let Ok((sig, message)) = signify::decode_embedded(data) {
        // What a volume does next with the signed message.
        list_round_trip(message);
        let comment = "fuzz";
        let again = signify::encode_embedded(&sig, comment, message);
        let (sig2, message2) =
            signify::decode_embedded(&again).expect("an encoded signature decodes");
        assert_eq!(sig2, sig);
        assert!(message2 == message);
    }
    if let Ok(pk) = PublicKey::parse(data) {
        let again = pk.encode("fuzz");
        assert_eq!(PublicKey::parse(&again).as_ref(), Ok(&pk));
    }
    let _ = SecretKey::parse(data);
}

fn list_round_trip(data: &[u8]) {
    if let Ok(entries) = checklist::decode(data) {
        assert!(
            checklist::encode(&entries).as_bytes() == data,
            "a checksum list re-encodes to other bytes"
        );
    }
}

/// Target `yum`: repomd.xml and primary.xml parsers.
pub fn yum(data: &[u8]) {
    let _ = ferry::yum::repomd::parse_repomd(data);
    let _ = ferry::yum::primary::parse_primary(std::io::Cursor::new(data));
}

/// Target `object`: the object decoder fed directly (raw and zstd, in several pieces), and
/// the pack entry header check on 512-byte windows.
///
/// Input: byte 0 = flags (bit 0 zstd, bit 1 id from the reference decoding, bits 2-4 number
/// of pieces - 1), bytes 1-4 = declared size (u32 LE), the rest = stored bytes.
pub fn object(data: &[u8]) {
    headers(data);
    if data.len() < 5 {
        return;
    }
    let flags = data[0];
    let declared = u64::from(u32::from_le_bytes([data[1], data[2], data[3], data[4]]));
    let stored = &data[5..];
    let encoding = if flags & 1 == 1 {
        Encoding::Zstd
    } else {
        Encoding::Raw
    };
    // The id and size: often the real ones, so that the success path runs too.
    let (id, size) = match (encoding, flags & 2 == 2) {
        (Encoding::Raw, true) => (Sha256Digest::of(stored), stored.len() as u64),
        (Encoding::Zstd, true) => match zstd::bulk::decompress(stored, 1 << 20) {
            Ok(out) => (Sha256Digest::of(&out), out.len() as u64),
            Err(_) => (Sha256Digest::of(stored), declared),
        },
        (_, false) => (Sha256Digest::of(stored), declared),
    };
    let obj = Object {
        size,
        encoding,
        pieces: Vec::new(),
    };
    // The whole stored bytes at once, then cut in pieces at points taken from the data.
    let whole = decode(id, &obj, &[stored]);
    let n = usize::from((flags >> 2) & 7) + 1;
    let mut cuts: Vec<usize> = (1..n)
        .map(|i| {
            let b = stored
                .get(i * 7 % stored.len().max(1))
                .copied()
                .unwrap_or(0);
            (usize::from(b) * 31 + i * 97) % (stored.len() + 1)
        })
        .collect();
    cuts.sort_unstable();
    let mut pieces = Vec::with_capacity(n);
    let mut at = 0;
    for c in cuts {
        pieces.push(&stored[at..c]);
        at = c;
    }
    pieces.push(&stored[at..]);
    let split = decode(id, &obj, &pieces);
    // One byte at a time, for short inputs.
    let bytes: Vec<&[u8]> = stored.chunks(1).collect();
    let single = (stored.len() <= 512).then(|| decode(id, &obj, &bytes));
    for other in [Some(&split), single.as_ref()].into_iter().flatten() {
        assert_eq!(
            whole.as_ref().ok(),
            other.as_ref().ok(),
            "how the stored bytes are cut changes the decoding ({whole:?} / {other:?})"
        );
    }
    if let Ok(out) = &whole {
        assert_eq!(out.len() as u64, size);
        assert_eq!(Sha256Digest::of(out), id);
        if encoding == Encoding::Raw {
            assert!(out == stored);
        }
    }
    if encoding == Encoding::Raw && size == stored.len() as u64 && id == Sha256Digest::of(stored) {
        assert!(
            whole.is_ok(),
            "a raw object with its real id and size does not decode"
        );
    }
}

/// Decode and return the output, or the damage's description.
fn decode(id: ObjectId, obj: &Object, pieces: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut d = Decoder::new(id, obj, Vec::new());
    for p in pieces {
        d.feed(p).map_err(|e| e.to_string())?;
    }
    d.finish().map_err(|e| e.to_string())
}

/// `check_header` on 512-byte windows of the data, and ferry's own headers for names and
/// sizes taken from it.
fn headers(data: &[u8]) {
    let mut windows: Vec<[u8; 512]> = data
        .chunks(512)
        .take(8)
        .map(|c| {
            let mut w = [0u8; 512];
            w[..c.len()].copy_from_slice(c);
            w
        })
        .collect();
    if data.len() > 512 {
        let at = usize::from(data[0]) % (data.len() - 511);
        windows.push(data[at..at + 512].try_into().expect("512 bytes"));
    }
    for w in &windows {
        // The size the header itself claims, and another.
        let claimed = std::str::from_utf8(&w[124..136])
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim_matches(|c| c == '\0' || c == ' '), 8).ok())
            .unwrap_or(0);
        let _ = tar_entry::check_header(w, claimed);
        let _ = tar_entry::check_header(w, u64::from(w[0]));
    }
    // A header ferry writes passes ferry's check, for any plain name and size.
    let plain = b"0123456789abcdefghijklmnopqrstuvwxyz._-";
    let name: String = data
        .iter()
        .skip(9)
        .take(99)
        .map(|&b| char::from(plain[usize::from(b) % plain.len()]))
        .collect();
    if !name.is_empty() && !name.starts_with('.') {
        let mut len = [0u8; 8];
        for (d, s) in len.iter_mut().zip(data.iter().skip(1)) {
            *d = *s;
        }
        let len = u64::from_le_bytes(len) % (TAR_MAX_ENTRY + 1);
        let h = tar_entry::header(&name, len);
        assert_eq!(tar_entry::check_header(&h, len), Ok(()), "{name:?} {len}");
        assert!(tar_entry::check_header(&h, len ^ 1).is_err());
    }
}

/// How many `pack_reader` inputs built a manifest that passes `check`, and how many did not.
pub static PACK_READER_BUILT: AtomicU64 = AtomicU64::new(0);
/// See [`PACK_READER_BUILT`].
pub static PACK_READER_SKIPPED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// One scratch directory per thread, overwritten by every run.
    static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// The fixed test key that signs the bundles `pack_reader` builds.
fn test_key() -> SecretKey {
    SecretKey::from_seed([0x5a; 32], KeyId(*b"fuzzkey1"))
}

/// A little cursor over the fuzz input; past its end it reads zeros.
struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at = (self.at + 1).min(self.data.len());
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len() - self.at);
        let s = &self.data[self.at..self.at + n];
        self.at += n;
        s
    }
}

/// One chunk of the input, and how to store it.
struct Chunk<'a> {
    desc: u8,
    declared: u16,
    bytes: &'a [u8],
}

/// An object being built: its stored bytes cut in pieces, and whether it must decode.
struct Built {
    id: ObjectId,
    size: u64,
    encoding: Encoding,
    pieces: Vec<Vec<u8>>,
    intact: bool,
}

/// Target `pack_reader`: build a small signed bundle from the input and run the real deep
/// verify on it.
///
/// Input layout:
/// - byte 0, flags: bits 0-2 number of chunks - 1; bit 3 flip a pack byte after signing;
///   bit 4 write pack 0001's hash wrong in the manifest; bit 5 two packs; bit 6 also carry
///   the empty object; bit 7 make the pack file one byte longer or shorter than signed;
/// - byte 1: the flip's XOR mask (0 means 0x80), and bit 0 also chooses longer/shorter;
/// - bytes 2-3: where the flip lands (modulo the pack's size);
/// - per chunk 5 bytes: a descriptor (bit 0 zstd; bits 1-2 how the id and size are made;
///   bit 3 the chunk is the next piece of the previous chunk's object), a length (u16 LE)
///   and a declared size (u16 LE, for zstd objects; ≥ 0xF000 means that times 2^24);
/// - then the chunks' bytes, back to back (each takes at most what is left).
///
/// Id modes: 0 the real id (raw: stored as is; zstd: the harness compresses the chunk);
/// 1 raw: the real id, zstd: the stored bytes as given, id and size from a reference
/// decoding when that succeeds; 2 the id of the stored bytes and the declared size; 3 raw:
/// a wrong id, zstd: compressed by the harness with the real id but the declared size.
pub fn pack_reader(data: &[u8]) {
    let mut inp = Input { data, at: 0 };
    let flags = inp.u8();
    let mask = inp.u8();
    let flip_at = inp.u16();
    let n = usize::from(flags & 7) + 1;
    let heads: Vec<(u8, u16, u16)> = (0..n).map(|_| (inp.u8(), inp.u16(), inp.u16())).collect();
    let chunks: Vec<Chunk> = heads
        .into_iter()
        .map(|(desc, len, declared)| Chunk {
            desc,
            declared,
            bytes: inp.take(usize::from(len)),
        })
        .collect();

    // Objects from runs of chunks.
    let mut built: Vec<Built> = Vec::new();
    let mut i = 0;
    while i < chunks.len() {
        let mut group = vec![&chunks[i]];
        i += 1;
        while i < chunks.len() && chunks[i].desc & 8 != 0 {
            group.push(&chunks[i]);
            i += 1;
        }
        built.extend(build_object(&group));
    }
    // Two objects with one id: the later one gets another (wrong) id.
    let mut ids = std::collections::BTreeSet::new();
    for b in &mut built {
        while !ids.insert(b.id) {
            b.id = Sha256Digest::of(&b.id.0);
            b.intact = false;
        }
    }
    if flags & 0x40 != 0 {
        let empty = Sha256Digest::of(b"");
        if ids.insert(empty) {
            built.push(Built {
                id: empty,
                size: 0,
                encoding: Encoding::Raw,
                pieces: Vec::new(),
                intact: true,
            });
        }
    }
    let all_intact = built.iter().all(|b| b.intact);

    // Lay the pieces out in the packs in the order the input gave them (objects need not
    // be in id order there), the second pack, if any, from the middle piece on.
    let two_packs = flags & 0x20 != 0;
    let total_pieces: usize = built.iter().map(|b| b.pieces.len()).sum();
    let mut packs: Vec<Vec<u8>> = vec![Vec::new(); if two_packs { 2 } else { 1 }];
    let mut placed: BTreeMap<ObjectId, Vec<Piece>> = BTreeMap::new();
    let mut k = 0;
    for b in &built {
        for (j, p) in b.pieces.iter().enumerate() {
            let pack = usize::from(two_packs && k >= total_pieces / 2);
            k += 1;
            let buf = &mut packs[pack];
            let name = if j == 0 {
                format!("{}.o", &b.id.to_hex()[..12])
            } else {
                format!("{}.o.{j}", &b.id.to_hex()[..12])
            };
            buf.extend_from_slice(&tar_entry::header(&name, p.len() as u64));
            placed.entry(b.id).or_default().push(Piece {
                pack: pack_name(pack as u32 + 1),
                offset: buf.len() as u64,
                length: p.len() as u64,
            });
            buf.extend_from_slice(p);
            buf.resize(buf.len() + tar_entry::padding(p.len() as u64) as usize, 0);
        }
    }
    for p in &mut packs {
        p.resize(p.len() + 1024, 0);
    }

    let key = test_key();
    let mut files = BTreeMap::new();
    let mut m_objects = BTreeMap::new();
    for (n, b) in built.iter().enumerate() {
        files.insert(format!("Packages/o/{n}.rpm"), b.id);
        m_objects.insert(
            b.id,
            Object {
                size: b.size,
                encoding: b.encoding,
                pieces: placed.remove(&b.id).unwrap_or_default(),
            },
        );
    }
    let wrong_hash = flags & 0x10 != 0;
    let m = Manifest {
        created: "2026-01-01T00:00:00Z".into(),
        signer: key.id,
        sequence: 1,
        base: None,
        volumes: 1,
        organization: "fuzz".into(),
        products: vec![Product {
            label: "fz".into(),
            name: "Fuzz".into(),
            gpg_key: None,
        }],
        repositories: vec![Repository {
            product: "fz".into(),
            label: "os".into(),
            name: "OS".into(),
            arch: None,
            content_type: "yum".into(),
            tree: "library/fz/os".into(),
        }],
        content_views: Vec::new(),
        retired: Vec::new(),
        rotations: Vec::new(),
        packs: packs
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let mut sha256 = Sha256Digest::of(bytes);
                if i == 0 && wrong_hash {
                    sha256.0[31] ^= 1;
                }
                (
                    pack_name(i as u32 + 1),
                    Pack {
                        volume: 1,
                        size: bytes.len() as u64,
                        sha256,
                    },
                )
            })
            .collect(),
        trees: vec![Tree {
            name: "library/fz/os".into(),
            packages: files.len() as u64,
            files,
        }],
        objects: m_objects,
    };
    if m.check().is_err() {
        count(&PACK_READER_SKIPPED);
        return;
    }
    count(&PACK_READER_BUILT);
    let manifest_bytes = m.encode();

    // Damage after signing, as the flags say.
    let flip = flags & 0x08 != 0;
    let resize = flags & 0x80 != 0;
    let signed_packs = packs.clone();
    if flip {
        let p = usize::from(flip_at & 1) % packs.len();
        let at = usize::from(flip_at >> 1) % packs[p].len();
        packs[p][at] ^= if mask == 0 { 0x80 } else { mask };
    }
    if resize {
        let p = packs.last_mut().expect("at least one pack");
        if mask & 1 == 0 {
            p.push(0);
        } else {
            p.pop();
        }
    }

    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = Some(tempfile::tempdir().expect("a scratch directory"));
        }
        let vol = s.as_ref().expect("just made").path().join("vol-01");
        write_volume(&vol, &m, &manifest_bytes, &packs, &key);
        let report = ferry::verify::verify(
            std::slice::from_ref(&vol),
            &[key.public()],
            ferry::verify::VerifyOptions {
                deep: true,
                partial: false,
            },
            &ferry::progress::Silent,
        );
        let damaged = wrong_hash || resize || (flip && packs != signed_packs);
        if !damaged && all_intact {
            assert!(
                report.ok(),
                "an intact bundle does not verify:\n{report}\n{}",
                String::from_utf8_lossy(&manifest_bytes)
            );
            assert_eq!(report.objects_checked, Some(m.objects.len() as u64));
        }
        if damaged {
            assert!(!report.ok(), "a damaged bundle verifies:\n{report}");
        }
        assert!(
            report.bundle.is_some(),
            "the bundle was not read:\n{report}"
        );
    });
}

fn count(c: &AtomicU64) {
    let n = c.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() && std::env::var_os("FERRY_FUZZ_STATS").is_some() {
        eprintln!(
            "pack_reader: {} bundles built, {} inputs skipped (manifest refused)",
            PACK_READER_BUILT.load(Ordering::Relaxed),
            PACK_READER_SKIPPED.load(Ordering::Relaxed)
        );
    }
}

/// The object a run of chunks makes (none when it would hold no bytes).
fn build_object(group: &[&Chunk]) -> Option<Built> {
    let first = group[0];
    let zstd = first.desc & 1 == 1;
    let mode = (first.desc >> 1) & 3;
    let content: Vec<u8> = group.iter().flat_map(|c| c.bytes.iter().copied()).collect();
    let declared = match first.declared {
        d if d >= 0xF000 => u64::from(d) << 24,
        d => u64::from(d),
    };
    let cuts: Vec<usize> = group.iter().map(|c| c.bytes.len()).collect();
    let real = Sha256Digest::of(&content);
    let (id, size, stored, intact) = if !zstd {
        let id = if mode == 3 {
            Sha256Digest::of(&[&content[..], b"wrong"].concat())
        } else {
            real
        };
        (id, content.len() as u64, content, mode != 3)
    } else {
        match mode {
            0 => (real, content.len() as u64, compress(&content), true),
            1 => match zstd::bulk::decompress(&content, 1 << 16) {
                Ok(out) => (Sha256Digest::of(&out), out.len() as u64, content, false),
                Err(_) => (real, declared, content, false),
            },
            2 => (real, declared, content, false),
            _ => {
                let intact = declared == content.len() as u64;
                (real, declared, compress(&content), intact)
            }
        }
    };
    if stored.is_empty() {
        return None;
    }
    // Cut the stored bytes where the chunks were cut (the last piece takes the rest), no
    // piece empty.
    let mut pieces = Vec::new();
    let mut at = 0;
    for (j, &len) in cuts.iter().enumerate() {
        let end = if j + 1 == cuts.len() {
            stored.len()
        } else {
            (at + len).min(stored.len())
        };
        if end > at {
            pieces.push(stored[at..end].to_vec());
            at = end;
        }
    }
    Some(Built {
        id,
        size,
        encoding: if zstd { Encoding::Zstd } else { Encoding::Raw },
        pieces,
        intact,
    })
}

fn compress(data: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(data, 1).expect("zstd compresses in memory")
}

/// Write one volume as `ferry pack` finishes it (src/pack/finish.rs), over what was there.
fn write_volume(
    dir: &Path,
    m: &Manifest,
    manifest_bytes: &[u8],
    packs: &[Vec<u8>],
    key: &SecretKey,
) {
    let packs_dir = dir.join(PACKS_DIR);
    std::fs::create_dir_all(&packs_dir).expect("a volume directory");
    let files = ferry::pack::finish::volume_files(
        m,
        manifest_bytes,
        Manifest::id_of(manifest_bytes),
        1,
        key,
    );
    let write = |p: PathBuf, b: &[u8]| std::fs::write(&p, b).expect("writing the scratch volume");
    // Packs from an earlier run that this bundle does not have.
    if let Ok(rd) = std::fs::read_dir(&packs_dir) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    for (i, p) in packs.iter().enumerate() {
        let name = pack_name(i as u32 + 1);
        write(packs_dir.join(format!("{name}.{PACK_EXTENSION}")), p);
    }
    write(dir.join(MANIFEST_FILE), manifest_bytes);
    write(dir.join(VOLUME_FILE), &files.volume);
    write(dir.join(README_FILE), &files.readme);
    write(dir.join(SIGNATURE_FILE), &files.signature);
}
