//! The one streaming pass: a reader thread reads and hashes each source file once; the
//! calling thread compresses where it pays and writes packs. Buffers go round between the
//! two, so memory stays the same whatever the size of the files.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest as _, Sha256};

use super::PackError;
use super::encoding::{ZSTD_LEVEL, choose};
use super::plan::{Plan, SourceFile};
use super::writer::{PackWriter, Written};
use crate::fetch::mirror::Arrivals;
use crate::format::manifest::Encoding;
use crate::format::{ObjectId, Sha256Digest};
use crate::progress::Progress;
use crate::yum::checksum::{ChecksumKind, Hasher};

/// Bytes per read (and per write into the zstd encoder: a dry run feeds it the same way,
/// so that it learns the same runs).
pub const CHUNK: usize = 1 << 20;
/// Buffers in flight between the threads.
const IN_FLIGHT: usize = 4;
/// Files skipped (already at the site) between two progress messages at most.
const SKIPS_PER_MESSAGE: usize = 1024;
/// Compressed bytes gathered before they are written as a piece.
pub const ZSTD_RUN: usize = 16 << 20;

enum Msg {
    /// Bytes of files whose content is already in the bundle or at the site.
    Skip(u64),
    Begin {
        name: String,
        size: u64,
    },
    Data(Vec<u8>),
    End {
        id: ObjectId,
        duplicate: bool,
    },
}

/// Tar entry name for an object: its id when known before its data, else the checksum
/// its metadata declares (informative only; readers go by the manifest's offsets).
fn entry_name(f: &SourceFile) -> String {
    if let Some(id) = f.known_id {
        return id.to_hex();
    }
    match f.declared.first() {
        Some(c) => format!("{}-{}", c.kind.name(), &c.hex[..c.hex.len().min(64)]),
        None => "object".into(),
    }
}

/// What the reader learnt: each file's object, and which files it read and hashed.
pub struct ReadLog {
    /// Object of each planned file, in plan order.
    pub ids: Vec<ObjectId>,
    /// Indexes of the files read from disk (not preloaded, not skipped).
    pub read: Vec<usize>,
}

fn read_files(
    files: &[SourceFile],
    arrivals: Option<&Arrivals>,
    known: &HashSet<ObjectId>,
    tx: SyncSender<Msg>,
    recycle: Receiver<Vec<u8>>,
) -> Result<ReadLog, PackError> {
    let gone = || PackError::Cancelled;
    // Objects the receiving side has (the base chain's) or that this bundle already holds.
    let mut sent: HashSet<ObjectId> = known.clone();
    let mut read = Vec::new();
    let mut ids = Vec::with_capacity(files.len());
    let mut buffer = || {
        recycle
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK))
    };
    // Skipped bytes are told to the progress in batches: one message per skipped file
    // would wake the writing thread 50,000 times for a big repository's incremental pack.
    let mut skipped = 0u64;
    let mut skips = 0usize;
    for (i, f) in files.iter().enumerate() {
        if let Some(id) = f.known_id
            && sent.contains(&id)
        {
            ids.push(id);
            skipped += f.size;
            skips += 1;
            if skips.is_multiple_of(SKIPS_PER_MESSAGE) {
                tx.send(Msg::Skip(std::mem::take(&mut skipped)))
                    .map_err(|_| gone())?;
            }
            continue;
        }
        if skipped > 0 {
            tx.send(Msg::Skip(std::mem::take(&mut skipped)))
                .map_err(|_| gone())?;
        }
        // A package still being fetched: read once it is in the cache, checked.
        if f.pending
            && let Some(a) = arrivals
        {
            a.wait(&f.path)
                .map_err(|p| PackError::Fetch(crate::fetch::FetchError(vec![p])))?;
        }
        tx.send(Msg::Begin {
            name: entry_name(f),
            size: f.size,
        })
        .map_err(|_| gone())?;
        let id = if let Some(bytes) = &f.preloaded {
            for chunk in bytes.chunks(CHUNK) {
                let mut b = buffer();
                b.clear();
                b.extend_from_slice(chunk);
                tx.send(Msg::Data(b)).map_err(|_| gone())?;
            }
            f.known_id
                .expect("preloaded files are hashed while planning")
        } else {
            read.push(i);
            stream_file(f, &tx, &mut buffer)?
        };
        let duplicate = !sent.insert(id);
        tx.send(Msg::End { id, duplicate }).map_err(|_| gone())?;
        ids.push(id);
    }
    if skipped > 0 {
        tx.send(Msg::Skip(skipped)).map_err(|_| gone())?;
    }
    Ok(ReadLog { ids, read })
}

/// Read one file in chunks, hashing with SHA-256 and every other kind its metadata
/// declares; refuse it if any declared checksum or its size disagrees.
fn stream_file(
    f: &SourceFile,
    tx: &SyncSender<Msg>,
    buffer: &mut impl FnMut() -> Vec<u8>,
) -> Result<ObjectId, PackError> {
    let io = |e: std::io::Error| PackError::Io {
        path: f.path.clone(),
        source: e,
    };
    let mut file = File::open(&f.path).map_err(io)?;
    let mut sha256 = Sha256::new();
    let mut others: Vec<(ChecksumKind, Hasher)> = Vec::new();
    for c in &f.declared {
        if c.kind != ChecksumKind::Sha256 && !others.iter().any(|(k, _)| *k == c.kind) {
            others.push((c.kind, Hasher::new(c.kind)));
        }
    }
    let mut left = f.size;
    while left > 0 {
        let mut b = buffer();
        let want = left.min(CHUNK as u64) as usize;
        b.resize(want, 0);
        let mut got = 0;
        while got < want {
            match file.read(&mut b[got..]) {
                Ok(0) => {
                    return Err(PackError::SourceChanged {
                        file: f.display.clone(),
                        path: f.path.clone(),
                    });
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        sha256.update(&b);
        for (_, h) in &mut others {
            h.update(&b);
        }
        left -= want as u64;
        tx.send(Msg::Data(b)).map_err(|_| PackError::Cancelled)?;
    }
    let mut probe = [0u8; 1];
    if file.read(&mut probe).map_err(io)? != 0 {
        return Err(PackError::SourceChanged {
            file: f.display.clone(),
            path: f.path.clone(),
        });
    }
    let id = Sha256Digest::from_hasher(sha256);
    let mut computed = vec![crate::yum::checksum::Checksum {
        kind: ChecksumKind::Sha256,
        hex: id.to_hex(),
    }];
    computed.extend(others.into_iter().map(|(_, h)| h.finish()));
    for want in &f.declared {
        let got = computed
            .iter()
            .find(|c| c.kind == want.kind)
            .expect("every declared kind is hashed");
        if got.hex != want.hex {
            return Err(PackError::SourceMismatch {
                file: f.display.clone(),
                path: f.path.clone(),
                kind: want.kind.name(),
                expected: want.hex.clone(),
                actual: got.hex.clone(),
            });
        }
    }
    Ok(id)
}

/// Write every planned file whose object is not in `known`; returns the object of each
/// file, in plan order, and which files were read.
pub fn stream(
    plan: &Plan,
    known: &HashSet<ObjectId>,
    mut writer: PackWriter,
    progress: &dyn Progress,
) -> Result<(ReadLog, Written), PackError> {
    let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            read_files(&plan.files, plan.arrivals.as_deref(), known, tx, recycle_rx)
        });
        let wrote = write_all(&mut writer, rx, recycle_tx, progress);
        // If writing failed, the receiver is gone and the reader stops at its next send.
        let read = reader
            .join()
            .map_err(|_| PackError::Internal("reader thread panicked".into()))?;
        match (read, wrote) {
            (Err(PackError::Cancelled), Err(e)) | (Ok(_), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(ids), Ok(())) => Ok(ids),
        }
    })
    .and_then(|ids| Ok((ids, writer.finish().map_err(PackError::output)?)))
}

struct Current {
    size: u64,
    snapshot: super::writer::Snapshot,
    encoding: Option<Encoding>,
    zstd: Option<zstd::stream::write::Encoder<'static, Vec<u8>>>,
}

fn write_all(
    w: &mut PackWriter,
    rx: Receiver<Msg>,
    recycle: SyncSender<Vec<u8>>,
    progress: &dyn Progress,
) -> Result<(), PackError> {
    let out = PackError::output;
    let mut cur: Option<Current> = None;
    for msg in rx {
        match msg {
            Msg::Skip(n) => progress.advance(n),
            Msg::Begin { name, size } => {
                cur = Some(Current {
                    size,
                    snapshot: w.begin_object(name),
                    encoding: None,
                    zstd: None,
                });
            }
            Msg::Data(buf) => {
                let c = cur
                    .as_mut()
                    .ok_or_else(|| PackError::Internal("data outside an object".into()))?;
                if c.encoding.is_none() {
                    let enc = choose(&buf[..buf.len().min(c.size as usize)]);
                    c.encoding = Some(enc);
                    match enc {
                        Encoding::Raw => w.start_run(c.size),
                        Encoding::Zstd => c.zstd = Some(zstd_encoder(c.size).map_err(out)?),
                    }
                }
                match &mut c.zstd {
                    None => w.put(&buf, false).map_err(out)?,
                    Some(e) => {
                        e.write_all(&buf).map_err(out)?;
                        if e.get_ref().len() >= ZSTD_RUN {
                            flush_run(w, e.get_mut())?;
                        }
                    }
                }
                progress.advance(buf.len() as u64);
                let _ = recycle.try_send(buf);
            }
            Msg::End { id, duplicate } => {
                let c = cur
                    .take()
                    .ok_or_else(|| PackError::Internal("end outside an object".into()))?;
                let encoding = c.encoding.unwrap_or(Encoding::Raw);
                if let Some(e) = c.zstd {
                    let mut rest = e.finish().map_err(out)?;
                    flush_run(w, &mut rest)?;
                }
                if duplicate {
                    w.rollback(c.snapshot).map_err(out)?;
                } else {
                    w.finish_object(id, c.size, encoding);
                }
            }
        }
    }
    if cur.is_some() {
        return Err(PackError::Cancelled);
    }
    Ok(())
}

/// The encoder of a zstd object of `size` bytes (§7.3: level 3, the content size in the
/// frame header, no checksum). Its output is written as a run whenever it reaches
/// [`ZSTD_RUN`] after a [`CHUNK`] of input, and at the end.
pub fn zstd_encoder(size: u64) -> std::io::Result<zstd::stream::write::Encoder<'static, Vec<u8>>> {
    let mut e =
        zstd::stream::write::Encoder::new(Vec::with_capacity(ZSTD_RUN + CHUNK), ZSTD_LEVEL)?;
    e.set_pledged_src_size(Some(size))?;
    e.include_contentsize(true)?;
    e.include_checksum(false)?;
    Ok(e)
}

fn flush_run(w: &mut PackWriter, buf: &mut Vec<u8>) -> Result<(), PackError> {
    if buf.is_empty() {
        return Ok(());
    }
    w.start_run(buf.len() as u64);
    w.put(buf, true).map_err(PackError::output)?;
    buf.clear();
    Ok(())
}
