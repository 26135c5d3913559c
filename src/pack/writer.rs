//! Writing packs: places each object's stored bytes into tar entries, packs and volumes.
//!
//! Volumes fill in order. A pack ends when it reaches the largest file size allowed, a
//! volume when the medium is full; an object that does not fit in the room left is split
//! there and continues in the next pack. Every pack's SHA-256 is computed as it is written
//! (headers always precede their data, so bytes are hashed in file order).
//!
//! An object whose id is learnt only at its end may turn out to be a duplicate; then
//! [`PackWriter::rollback`] truncates what it wrote, restoring the hash state.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::format::constants::{PACK_EXTENSION, PACKS_DIR, TAR_BLOCK, TAR_MAX_ENTRY, TAR_TRAILER};
use crate::format::manifest::{Encoding, Object, Pack, Piece};
use crate::format::tar_entry;
use crate::format::{ObjectId, Sha256Digest};

/// A piece is not started in less room than this unless the rest of the object fits:
/// 64 KiB, or less on very small media, so that no medium ends with a sliver of an object.
pub fn min_piece(volume_capacity: u64, max_pack: u64) -> u64 {
    (volume_capacity.min(max_pack) / 16 / TAR_BLOCK * TAR_BLOCK).clamp(4 * 1024, 64 * 1024)
}

/// Limits for the writer.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of packs allowed on one volume (the medium minus the room kept for the
    /// manifest and signature); `u64::MAX` for no limit.
    pub volume_capacity: u64,
    /// Largest pack file.
    pub max_pack: u64,
}

impl Limits {
    fn min_piece(&self) -> u64 {
        min_piece(self.volume_capacity, self.max_pack)
    }
}

struct PackState {
    name: String,
    volume: u32,
    path: PathBuf,
    len: u64,
    /// Bytes already handed to the kernel to write out ([`crate::fsutil::start_writeback`]).
    kicked: u64,
    hasher: Sha256,
    closed: bool,
}

/// Writing out starts every this many bytes of a pack, so that the `fsync` that closes it
/// finds most of them on the medium (the packs of a 1 GiB library: 0.7 s of waiting at the
/// end, then none).
const KICK_EVERY: u64 = 8 << 20;

/// Where the writer was before an object began, to undo it.
pub struct Snapshot {
    packs: usize,
    current: Option<(usize, u64, Sha256)>,
    volume: u32,
    volume_closed_bytes: u64,
}

/// Writes packs under `root/v<N>/packs/`, or only lays them out (a dry run: no file is
/// written, and the layout is exactly the one writing would give).
pub struct PackWriter {
    /// `None` for a dry run.
    root: Option<PathBuf>,
    limits: Limits,
    packs: Vec<PackState>,
    file: Option<File>,
    volume: u32,
    /// Bytes of closed packs on the current volume.
    volume_closed_bytes: u64,
    // Current entry.
    piece_left: u64,
    run_left: u64,
    pieces: Vec<Piece>,
    entry_name: String,
    objects: BTreeMap<ObjectId, Object>,
}

/// The directory of volume `n` under the writer's root while packing.
pub fn staging_volume_dir(root: &Path, n: u32) -> PathBuf {
    root.join(format!("v{n}"))
}

impl PackWriter {
    /// A writer with nothing written yet.
    pub fn new(root: &Path, limits: Limits) -> Self {
        Self::with_root(Some(root.to_path_buf()), limits)
    }

    /// A writer that writes nothing: it computes where every piece, pack and volume would
    /// go ([`Self::put_len`] stands for the bytes). Pack digests in what it returns are
    /// meaningless.
    pub fn dry(limits: Limits) -> Self {
        Self::with_root(None, limits)
    }

    fn with_root(root: Option<PathBuf>, limits: Limits) -> Self {
        let m = limits.min_piece();
        assert!(limits.max_pack >= 2 * m && limits.volume_capacity >= 2 * m);
        Self {
            root,
            limits,
            packs: Vec::new(),
            file: None,
            volume: 0,
            volume_closed_bytes: 0,
            piece_left: 0,
            run_left: 0,
            pieces: Vec::new(),
            entry_name: String::new(),
            objects: BTreeMap::new(),
        }
    }

    /// Whether an object is already written.
    pub fn has(&self, id: &ObjectId) -> bool {
        self.objects.contains_key(id)
    }

    /// Begin an object whose entries will be named `name`, `name.1`, … (plus `.zst`).
    pub fn begin_object(&mut self, name: String) -> Snapshot {
        debug_assert!(self.pieces.is_empty() && self.piece_left == 0 && self.run_left == 0);
        self.entry_name = name;
        self.snapshot()
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            packs: self.packs.len(),
            current: self
                .current()
                .map(|i| (i, self.packs[i].len, self.packs[i].hasher.clone())),
            volume: self.volume,
            volume_closed_bytes: self.volume_closed_bytes,
        }
    }

    fn current(&self) -> Option<usize> {
        self.packs
            .last()
            .filter(|p| !p.closed)
            .map(|_| self.packs.len() - 1)
    }

    /// The next `len` stored bytes form one run whose length is known: pieces are sized
    /// from it.
    pub fn start_run(&mut self, len: u64) {
        debug_assert_eq!(self.run_left, 0);
        self.run_left = len;
    }

    /// Write stored bytes of the current run.
    pub fn put(&mut self, data: &[u8], zstd: bool) -> std::io::Result<()> {
        self.advance(data.len() as u64, Some(data), zstd)
    }

    /// A dry run's [`Self::put`]: `len` stored bytes of the current run, without them.
    pub fn put_len(&mut self, len: u64, zstd: bool) -> std::io::Result<()> {
        debug_assert!(
            self.root.is_none(),
            "only a dry run lays out bytes it has not got"
        );
        self.advance(len, None, zstd)
    }

    fn advance(
        &mut self,
        mut len: u64,
        mut data: Option<&[u8]>,
        zstd: bool,
    ) -> std::io::Result<()> {
        debug_assert!(len <= self.run_left);
        while len > 0 {
            if self.piece_left == 0 {
                self.open_piece(zstd)?;
            }
            let n = self.piece_left.min(len);
            match data {
                Some(d) => {
                    self.write_bytes(&d[..n as usize])?;
                    data = Some(&d[n as usize..]);
                }
                None => self.skip_bytes(n),
            }
            self.piece_left -= n;
            self.run_left -= n;
            len -= n;
            if self.piece_left == 0 {
                let len = self.pieces.last().expect("a piece is open").length;
                let pad = vec![0u8; tar_entry::padding(len) as usize];
                self.write_bytes(&pad)?;
            }
        }
        Ok(())
    }

    /// Room for entry data in the current pack (0 when there is none).
    fn room(&self) -> u64 {
        let Some(i) = self.current() else { return 0 };
        let p = &self.packs[i];
        let pack_room = self.limits.max_pack.saturating_sub(p.len + TAR_TRAILER);
        let vol_used = self.volume_closed_bytes + p.len + TAR_TRAILER;
        let vol_room = self.limits.volume_capacity.saturating_sub(vol_used);
        let room = pack_room.min(vol_room);
        // Header, then data rounded up to a block.
        (room.saturating_sub(TAR_BLOCK) / TAR_BLOCK * TAR_BLOCK)
            .min(TAR_MAX_ENTRY / TAR_BLOCK * TAR_BLOCK)
    }

    fn open_piece(&mut self, zstd: bool) -> std::io::Result<()> {
        let mut room = self.room();
        if room < self.run_left && room < self.limits.min_piece() {
            self.next_pack()?;
            room = self.room();
        }
        let len = self.run_left.min(room);
        debug_assert!(len > 0);
        let i = self.current().expect("next_pack opened a pack");
        let k = self.pieces.len();
        let mut name = self.entry_name.clone();
        if k > 0 {
            name.push_str(&format!(".{k}"));
        }
        if zstd {
            name.push_str(".zst");
        }
        let offset = self.packs[i].len + TAR_BLOCK;
        self.write_bytes(&tar_entry::header(&name, len))?;
        self.pieces.push(Piece {
            pack: self.packs[i].name.clone(),
            offset,
            length: len,
        });
        self.piece_left = len;
        Ok(())
    }

    fn write_bytes(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.root.is_none() {
            self.skip_bytes(data.len() as u64);
            return Ok(());
        }
        let i = self.current().expect("a pack is open");
        let file = self.file.as_mut().expect("a pack is open");
        file.write_all(data)?;
        let p = &mut self.packs[i];
        p.hasher.update(data);
        p.len += data.len() as u64;
        if p.len - p.kicked >= KICK_EVERY {
            crate::fsutil::start_writeback(file, p.kicked, p.len - p.kicked);
            p.kicked = p.len;
        }
        Ok(())
    }

    /// A dry run's writing: the current pack grows by `n` bytes.
    fn skip_bytes(&mut self, n: u64) {
        let i = self.current().expect("a pack is open");
        self.packs[i].len += n;
    }

    /// Close the current pack (if any) and open a new one: on this volume if it has room
    /// for a useful piece, otherwise on the next.
    fn next_pack(&mut self) -> std::io::Result<()> {
        let mut new_volume = self.volume == 0;
        if let Some(i) = self.current() {
            self.close_pack(i)?;
            let left = self
                .limits
                .volume_capacity
                .saturating_sub(self.volume_closed_bytes);
            new_volume = left < TAR_TRAILER + TAR_BLOCK + self.limits.min_piece();
        }
        if new_volume {
            self.volume += 1;
            self.volume_closed_bytes = 0;
        }
        let name = format!("{:04}", self.packs.len() + 1);
        let path = match &self.root {
            Some(root) => {
                let dir = staging_volume_dir(root, self.volume).join(PACKS_DIR);
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(format!("{name}.{PACK_EXTENSION}"));
                let file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)?;
                self.file = Some(file);
                path
            }
            None => PathBuf::new(),
        };
        self.packs.push(PackState {
            name,
            volume: self.volume,
            path,
            len: 0,
            kicked: 0,
            hasher: Sha256::new(),
            closed: false,
        });
        Ok(())
    }

    /// Write the end-of-archive blocks, flush to the medium, and close.
    fn close_pack(&mut self, i: usize) -> std::io::Result<()> {
        self.write_bytes(&[0u8; TAR_TRAILER as usize])?;
        if self.root.is_some() {
            let f = self.file.take().expect("the current pack is open");
            f.sync_all()?;
        }
        let p = &mut self.packs[i];
        p.closed = true;
        self.volume_closed_bytes += p.len;
        Ok(())
    }

    /// The object is complete: record where its stored bytes are.
    pub fn finish_object(&mut self, id: ObjectId, size: u64, encoding: Encoding) {
        debug_assert!(self.piece_left == 0 && self.run_left == 0);
        let pieces = std::mem::take(&mut self.pieces);
        self.objects.insert(
            id,
            Object {
                size,
                encoding,
                pieces,
            },
        );
    }

    /// Undo everything written since `snap` (an object that turned out to be a duplicate).
    pub fn rollback(&mut self, snap: Snapshot) -> std::io::Result<()> {
        self.file = None;
        let dry = self.root.is_none();
        for p in self.packs.drain(snap.packs..) {
            if !dry {
                std::fs::remove_file(&p.path)?;
            }
        }
        if let Some((i, len, hasher)) = snap.current {
            let p = &mut self.packs[i];
            p.len = len;
            p.kicked = p.kicked.min(len);
            p.hasher = hasher;
            p.closed = false;
            if !dry {
                let mut f = OpenOptions::new().write(true).open(&p.path)?;
                f.set_len(len)?;
                f.seek(SeekFrom::Start(len))?;
                self.file = Some(f);
            }
        }
        self.volume = snap.volume;
        self.volume_closed_bytes = snap.volume_closed_bytes;
        self.pieces.clear();
        self.piece_left = 0;
        self.run_left = 0;
        Ok(())
    }

    /// Close the last pack and return the packs, the objects and the number of volumes.
    pub fn finish(mut self) -> std::io::Result<Written> {
        if let Some(i) = self.current() {
            self.close_pack(i)?;
        }
        let packs = self
            .packs
            .into_iter()
            .map(|p| {
                let sha256 = Sha256Digest::from_hasher(p.hasher);
                (
                    p.name,
                    (
                        Pack {
                            volume: p.volume,
                            size: p.len,
                            sha256,
                        },
                        p.path,
                    ),
                )
            })
            .collect();
        // A bundle that carries nothing new (an incremental with no change) still has one
        // volume, for its manifest and signature.
        if let Some(root) = &self.root {
            std::fs::create_dir_all(staging_volume_dir(root, self.volume.max(1)))?;
        }
        Ok(Written {
            packs,
            objects: self.objects,
            volumes: self.volume.max(1),
        })
    }
}

/// What the writer produced.
pub struct Written {
    /// Packs by name, with their staging paths.
    pub packs: BTreeMap<String, (Pack, PathBuf)>,
    /// Objects by id.
    pub objects: BTreeMap<ObjectId, Object>,
    /// Number of volumes used.
    pub volumes: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn limits(cap: u64, pack: u64) -> Limits {
        Limits {
            volume_capacity: cap,
            max_pack: pack,
        }
    }

    fn put_raw(w: &mut PackWriter, data: &[u8]) -> ObjectId {
        let id = Sha256Digest::of(data);
        w.begin_object(id.to_hex());
        w.start_run(data.len() as u64);
        w.put(data, false).unwrap();
        w.finish_object(id, data.len() as u64, Encoding::Raw);
        id
    }

    fn read_object(written: &Written, id: &ObjectId) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &written.objects[id].pieces {
            let mut f = File::open(&written.packs[&p.pack].1).unwrap();
            f.seek(SeekFrom::Start(p.offset)).unwrap();
            let mut buf = vec![0; p.length as usize];
            f.read_exact(&mut buf).unwrap();
            out.extend(buf);
        }
        out
    }

    #[test]
    fn splits_across_packs_and_volumes_within_limits() {
        let d = tempfile::tempdir().unwrap();
        let cap = 600 * 1024;
        let mut w = PackWriter::new(d.path(), limits(cap, 300 * 1024));
        let small: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let big: Vec<u8> = (0..1_500_000u32).map(|i| (i * 13 + i / 7) as u8).collect();
        let a = put_raw(&mut w, &small);
        let b = put_raw(&mut w, &big);
        let written = w.finish().unwrap();
        assert!(written.volumes >= 3, "{} volumes", written.volumes);
        assert_eq!(read_object(&written, &a), small);
        assert_eq!(read_object(&written, &b), big);
        let mut per_volume = BTreeMap::new();
        for (pack, path) in written.packs.values() {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(bytes.len() as u64, pack.size);
            assert!(pack.size <= 300 * 1024);
            assert_eq!(Sha256Digest::of(&bytes), pack.sha256);
            // Every pack is a tar archive that `tar` reads.
            let mut n = 0;
            for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
                e.unwrap();
                n += 1;
            }
            assert!(n > 0);
            *per_volume.entry(pack.volume).or_insert(0) += pack.size;
        }
        assert!(per_volume.values().all(|&v| v <= cap), "{per_volume:?}");
    }

    #[test]
    fn a_dry_writer_lays_out_exactly_what_the_writer_writes() {
        let d = tempfile::tempdir().unwrap();
        let l = limits(600 * 1024, 300 * 1024);
        let mut real = PackWriter::new(d.path(), l.clone());
        let mut dry = PackWriter::dry(l);
        for (i, n) in [100_000usize, 1_500_000, 0, 70_000, 400_000]
            .into_iter()
            .enumerate()
        {
            let data: Vec<u8> = (0..n).map(|j| (j * 7 + i) as u8).collect();
            let id = put_raw(&mut real, &data);
            dry.begin_object(id.to_hex());
            dry.start_run(n as u64);
            dry.put_len(n as u64, false).unwrap();
            dry.finish_object(id, n as u64, Encoding::Raw);
            // A duplicate written and undone leaves no trace in either.
            for w in [&mut real, &mut dry] {
                let snap = w.begin_object("dup".into());
                w.start_run(5000);
                if w.root.is_some() {
                    w.put(&[1; 5000], false).unwrap();
                } else {
                    w.put_len(5000, false).unwrap();
                }
                w.rollback(snap).unwrap();
            }
        }
        let (real, dry) = (real.finish().unwrap(), dry.finish().unwrap());
        assert_eq!(real.volumes, dry.volumes);
        assert!(real.volumes >= 3);
        assert_eq!(real.objects, dry.objects);
        let layout = |w: &Written| -> Vec<(String, u32, u64)> {
            w.packs
                .iter()
                .map(|(n, (p, _))| (n.clone(), p.volume, p.size))
                .collect()
        };
        assert_eq!(layout(&real), layout(&dry));
        assert!(
            dry.packs
                .values()
                .all(|(_, path)| path.as_os_str().is_empty())
        );
    }

    #[test]
    fn rollback_restores_bytes_and_hash() {
        let d = tempfile::tempdir().unwrap();
        let mut w = PackWriter::new(d.path(), limits(u64::MAX, 1 << 20));
        let a = put_raw(&mut w, b"first object");
        let dup: Vec<u8> = vec![5; 3 << 20];
        let snap = w.begin_object("x".into());
        w.start_run(dup.len() as u64);
        w.put(&dup, false).unwrap();
        w.rollback(snap).unwrap();
        let c = put_raw(&mut w, b"after");
        let written = w.finish().unwrap();
        assert_eq!(written.packs.len(), 1);
        let (pack, path) = written.packs.values().next().unwrap();
        assert_eq!(Sha256Digest::of(&std::fs::read(path).unwrap()), pack.sha256);
        assert_eq!(read_object(&written, &a), b"first object");
        assert_eq!(read_object(&written, &c), b"after");
    }
}
