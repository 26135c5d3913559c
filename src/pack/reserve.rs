//! How much of every medium to keep free for the manifest, `volume.toml`, `README.txt` and
//! `SHA256.sig`, decided before any pack is written.
//!
//! The manifest is written last but must fit on every volume, so its size is bounded from
//! the plan: the catalog and trees are encoded for real (object ids have a fixed width);
//! packs and objects are counted at their widest (every number 20 digits), with upper
//! bounds on how many packs and pieces there can be. The bound is a few hundred bytes per
//! object more than the truth, a small price for never overfilling a medium.

use std::collections::BTreeMap;

use super::stream::ZSTD_RUN;
use super::writer::min_piece;
use crate::format::constants::{MAX_VOLUMES, TAR_BLOCK, TAR_MAX_ENTRY, TAR_TRAILER};
use crate::format::manifest::{Encoding, Manifest, Object, Pack, Piece};
use crate::format::signify::SecretKey;
use crate::format::{KeyId, Sha256Digest};

/// The room to keep on every volume and the pack capacity that is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Bytes kept for the small files.
    pub reserve: u64,
    /// Bytes left for packs.
    pub capacity: u64,
}

/// The medium is too small even for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooSmall {
    /// Bytes the small files may need on every volume.
    pub reserve: u64,
}

/// Stored bytes an object of `size` can take at most: zstd can grow data it cannot
/// compress, by at most `size / 256` plus a small constant (`ZSTD_COMPRESSBOUND`).
fn stored_max(size: u64) -> u64 {
    size + size / 128 + 1024
}

/// `skeleton` is the manifest with its catalog and trees filled in and no packs or objects.
pub fn room(
    skeleton: &Manifest,
    file_sizes: &[u64],
    media_size: u64,
    max_pack: u64,
    key_id: KeyId,
) -> Result<Room, TooSmall> {
    // The writer's smallest piece on this medium or a smaller one is at most this.
    let min_piece = min_piece(media_size, max_pack);
    let slack = min_piece + TAR_TRAILER + 2 * TAR_BLOCK;
    let stored: u64 = file_sizes.iter().map(|&s| stored_max(s)).sum();
    let base_pieces: u64 = file_sizes
        .iter()
        .map(|&s| stored_max(s).div_ceil(ZSTD_RUN as u64) + 1 + s.div_ceil(TAR_MAX_ENTRY))
        .sum();
    let objects = file_sizes.len() as u64;
    let widths = Widths::measure(skeleton, key_id);

    let mut reserve = 0u64;
    for _ in 0..32 {
        let capacity = media_size.saturating_sub(reserve);
        if capacity < 2 * min_piece + slack || max_pack < 2 * min_piece + slack {
            return Err(TooSmall { reserve });
        }
        // Packs and pieces depend on each other through the bytes the headers take: start
        // from the pieces without pack boundaries and go round until nothing grows.
        let mut packs = 1u64;
        let mut pieces = base_pieces;
        for _ in 0..32 {
            let span = stored + pieces * 2 * TAR_BLOCK + packs * TAR_TRAILER;
            let volumes = span / (capacity - slack) + 1;
            let per_volume = capacity / (max_pack - slack) + 1;
            let p = (volumes * per_volume).min(span / (max_pack - slack) + volumes);
            let pc = base_pieces + p;
            if p <= packs && pc <= pieces {
                break;
            }
            packs = packs.max(p);
            pieces = pieces.max(pc);
        }
        let per_volume = (capacity / (max_pack - slack) + 1).min(packs);
        let need =
            widths.manifest_bound(packs, objects, pieces) + widths.volume_files_bound(per_volume);
        if need <= reserve {
            return Ok(Room { reserve, capacity });
        }
        reserve = need;
    }
    Err(TooSmall { reserve })
}

struct Widths {
    base: u64,
    pack_line: u64,
    object_line: u64,
    piece: u64,
    /// Small files for a volume with no packs, and what each pack line adds.
    volume_base: u64,
    volume_per_pack: u64,
}

impl Widths {
    fn measure(skeleton: &Manifest, key_id: KeyId) -> Self {
        let mut m = skeleton.clone();
        m.sequence = u64::MAX;
        m.volumes = MAX_VOLUMES;
        m.created = "9999-12-31T23:59:59Z".into();
        m.packs.clear();
        m.objects.clear();
        let len = |m: &Manifest| m.encode().len() as u64;
        let base_full = len(&m);
        // The lines of packs, objects and the small files do not depend on the trees: they
        // are measured on a copy without the trees' file lists (a big repository's are
        // megabytes), and only the whole base is measured with them.
        for t in &mut m.trees {
            t.files.clear();
        }
        let base = len(&m);
        let name = "9".repeat(12); // up to 10^12 packs
        let pack = Pack {
            volume: MAX_VOLUMES,
            size: u64::MAX,
            sha256: Sha256Digest([0xff; 32]),
        };
        let mut with_pack = m.clone();
        with_pack.packs = BTreeMap::from([(name.clone(), pack.clone())]);
        let pack_line = len(&with_pack) - base;
        let piece = Piece {
            pack: name.clone(),
            offset: u64::MAX,
            length: u64::MAX,
        };
        let object = |n: usize| {
            let mut o = m.clone();
            o.objects.insert(
                Sha256Digest([0xff; 32]),
                Object {
                    size: u64::MAX,
                    encoding: Encoding::Zstd,
                    pieces: vec![piece.clone(); n],
                },
            );
            len(&o) - base
        };
        let (one, two) = (object(1), object(2));
        let piece_len = two - one;

        // The small files, from the real encoder with the widest values.
        let key = SecretKey::from_seed([0; 32], key_id);
        let vf = |packs: usize| {
            let mut v = m.clone();
            v.packs = (0..packs)
                .map(|i| (format!("{:012}", i), pack.clone()))
                .collect();
            let f = super::finish::volume_files(&v, b"", Sha256Digest([0; 32]), MAX_VOLUMES, &key);
            (f.volume.len() + f.readme.len() + f.signature.len()) as u64
        };
        let (v0, v1) = (vf(0), vf(1));
        Widths {
            base: base_full,
            pack_line,
            object_line: one - piece_len,
            piece: piece_len,
            volume_base: v0,
            volume_per_pack: v1 - v0,
        }
    }

    fn manifest_bound(&self, packs: u64, objects: u64, pieces: u64) -> u64 {
        self.base + packs * self.pack_line + objects * self.object_line + pieces * self.piece
    }

    fn volume_files_bound(&self, packs_per_volume: u64) -> u64 {
        self.volume_base + packs_per_volume * self.volume_per_pack
    }
}
