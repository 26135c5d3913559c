//! The one pass over the packs of an import: every pack is read once, start to end, its
//! SHA-256 computed; the pieces of every object the store lacks are decoded on the way into
//! temporary files, capped at their declared size and checked against their id. Nothing is
//! unpacked into temporary space beyond the objects themselves, and the media are only read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Write as _};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::ImportError;
use crate::format::constants::TAR_BLOCK;
use crate::format::manifest::{Encoding, Manifest};
use crate::format::tar_entry;
use crate::format::{ObjectId, Sha256Digest};
use crate::progress::Progress;
use crate::store::objects::{Batch, ObjectFile, ObjectWriteError, OverSize};
use crate::verify::pack_path;
use crate::volumes::Volume;

/// Decoding sink of one object.
enum Sink {
    Raw(ObjectFile),
    Zstd(Box<zstd::stream::write::Decoder<'static, ObjectFile>>),
}

impl Sink {
    fn write(&mut self, data: &[u8]) -> Result<(), ObjectWriteError> {
        let r = match self {
            Sink::Raw(f) => f.write_all(data),
            Sink::Zstd(d) => d.write_all(data),
        };
        r.map_err(
            |e| match e.get_ref().and_then(|x| x.downcast_ref::<OverSize>()) {
                Some(OverSize(n)) => ObjectWriteError::TooLong { expected: *n },
                None => ObjectWriteError::Decode(e),
            },
        )
    }

    fn finish(self) -> Result<crate::store::objects::Verified, ObjectWriteError> {
        match self {
            Sink::Raw(f) => f.finish(),
            Sink::Zstd(mut d) => {
                d.flush().map_err(ObjectWriteError::Decode)?;
                d.into_inner().finish()
            }
        }
    }
}

/// What the pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extracted {
    /// Objects written to the store.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes of packs read.
    pub pack_bytes: u64,
    /// Pieces of objects that span volumes not read in this run, kept in the staging area.
    pub staged_pieces: u64,
}

/// Pack names in numeric order.
fn pack_order(manifest: &Manifest) -> Vec<&String> {
    let mut names: Vec<&String> = manifest.packs.keys().collect();
    names.sort_by_key(|n| (n.len(), n.as_str()));
    names
}

/// What to do with one piece met in a pack.
#[derive(Clone, Copy)]
enum Take {
    /// Feed the object's decoder; `last` finishes it.
    Decode { last: bool },
    /// Keep the stored bytes as piece `k` in the staging area.
    Stage { k: usize },
}

/// The file holding piece `k` of object `id` in a staging area.
pub fn piece_file(pieces: &Path, id: &ObjectId, k: usize) -> std::path::PathBuf {
    pieces.join(format!("{}.{k}", id.to_hex()))
}

/// Objects of `wanted` with a piece on a volume outside `present` (they are assembled from
/// staged pieces).
pub fn spanning<'a>(
    manifest: &'a Manifest,
    wanted: &'a HashSet<ObjectId>,
    present: &'a BTreeMap<u32, Volume>,
) -> impl Iterator<Item = &'a ObjectId> + 'a {
    wanted.iter().filter(move |id| {
        manifest.objects[*id]
            .pieces
            .iter()
            .any(|p| !present.contains_key(&manifest.packs[&p.pack].volume))
    })
}

/// Read every pack on the `present` volumes once, check its hash, and store the objects of
/// `wanted` that lie wholly on those volumes; pieces of the others are kept under `pieces`
/// for [`assemble`]. Returns an error naming the volume and pack, or the object, at the
/// first problem; objects already stored stay (they are verified and harmless).
pub fn extract(
    root: &Path,
    tmp: &Path,
    pieces: &Path,
    manifest: &Manifest,
    present: &BTreeMap<u32, Volume>,
    wanted: &HashSet<ObjectId>,
    progress: &dyn Progress,
) -> Result<Extracted, ImportError> {
    let span: HashSet<&ObjectId> = spanning(manifest, wanted, present).collect();
    // Pieces to take out of each pack, by offset.
    let mut index: HashMap<&str, Vec<(u64, u64, ObjectId, Take)>> = HashMap::new();
    let mut batch = Batch::new(root);
    let mut done = Extracted::default();
    for id in wanted {
        let o = &manifest.objects[id];
        if o.pieces.is_empty() {
            let f = ObjectFile::create(tmp, *id, 0).map_err(|e| object_error(manifest, id, e))?;
            batch
                .push(f.finish().map_err(|e| object_error(manifest, id, e))?)
                .map_err(|e| object_error(manifest, id, e))?;
            done.objects += 1;
        }
        for (k, p) in o.pieces.iter().enumerate() {
            if !present.contains_key(&manifest.packs[&p.pack].volume) {
                continue;
            }
            let take = if span.contains(id) {
                Take::Stage { k }
            } else {
                Take::Decode {
                    last: k + 1 == o.pieces.len(),
                }
            };
            index
                .entry(p.pack.as_str())
                .or_default()
                .push((p.offset, p.length, *id, take));
        }
    }
    for v in index.values_mut() {
        v.sort_unstable_by_key(|x| x.0);
    }
    if !span.is_empty() {
        std::fs::create_dir_all(pieces).map_err(|e| ImportError::Io {
            path: pieces.to_path_buf(),
            source: e,
        })?;
    }

    let packs: Vec<&String> = pack_order(manifest)
        .into_iter()
        .filter(|n| present.contains_key(&manifest.packs[*n].volume))
        .collect();
    let total: u64 = packs.iter().map(|n| manifest.packs[*n].size).sum();
    progress.begin("importing", Some(total));
    let mut sinks: HashMap<ObjectId, Sink> = HashMap::new();
    for name in packs {
        let pack = &manifest.packs[name];
        let vol = &present[&pack.volume];
        let path = pack_path(&vol.dir, name);
        let pack_err = |what: String| ImportError::Pack {
            volume: pack.volume,
            dir: vol.dir.clone(),
            pack: name.clone(),
            what,
        };
        let file = File::open(&path).map_err(|e| pack_err(format!("cannot be read: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| pack_err(format!("cannot be read: {e}")))?
            .len();
        if len != pack.size {
            return Err(pack_err(if len < pack.size {
                format!("is truncated: {len} of {} bytes", pack.size)
            } else {
                format!("is {len} bytes, not the {} signed", pack.size)
            }));
        }
        let mut r = HashingReader {
            inner: BufReader::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            pos: 0,
        };
        let read_err = |e: std::io::Error| pack_err(format!("cannot be read: {e}"));
        let mut buf = vec![0u8; 1 << 20];
        for &(offset, length, id, take) in
            index.get(name.as_str()).map(Vec::as_slice).unwrap_or(&[])
        {
            r.skip_to(offset - TAR_BLOCK, &mut buf, progress)
                .map_err(read_err)?;
            let mut header = [0u8; 512];
            r.read_exact(&mut header).map_err(read_err)?;
            tar_entry::check_header(&header, length)
                .map_err(|e| pack_err(format!("entry at {offset}: {e}")))?;
            match take {
                Take::Stage { k } => {
                    let file = piece_file(pieces, &id, k);
                    let io = |e| ImportError::Io {
                        path: file.clone(),
                        source: e,
                    };
                    let mut out = File::create(&file).map_err(io)?;
                    let mut left = length;
                    while left > 0 {
                        let n = (left.min(buf.len() as u64)) as usize;
                        r.read_exact(&mut buf[..n]).map_err(read_err)?;
                        out.write_all(&buf[..n]).map_err(io)?;
                        progress.advance(n as u64);
                        left -= n as u64;
                    }
                    done.staged_pieces += 1;
                }
                Take::Decode { last } => {
                    let sink = match sinks.entry(id) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(new_sink(tmp, manifest, &id)?)
                        }
                    };
                    let mut left = length;
                    while left > 0 {
                        let n = (left.min(buf.len() as u64)) as usize;
                        r.read_exact(&mut buf[..n]).map_err(read_err)?;
                        sink.write(&buf[..n])
                            .map_err(|e| object_error(manifest, &id, e))?;
                        progress.advance(n as u64);
                        left -= n as u64;
                    }
                    if last {
                        let sink = sinks.remove(&id).expect("open sink");
                        let v = sink.finish().map_err(|e| object_error(manifest, &id, e))?;
                        batch.push(v).map_err(|e| object_error(manifest, &id, e))?;
                        done.objects += 1;
                        done.bytes += manifest.objects[&id].size;
                        crate::crashpoint::hit("extract-object");
                    }
                }
            }
        }
        r.skip_to(pack.size, &mut buf, progress).map_err(read_err)?;
        if Sha256Digest::from_hasher(r.hasher.clone()) != pack.sha256 {
            return Err(pack_err(
                "is corrupt: its SHA-256 does not match the signed one".into(),
            ));
        }
        done.pack_bytes += pack.size;
    }
    progress.end();
    if let Some(id) = sinks.keys().next() {
        return Err(ImportError::Internal(format!(
            "object {id} was not complete after the last pack"
        )));
    }
    batch
        .commit()
        .map_err(|e| ImportError::Internal(e.to_string()))?;
    Ok(done)
}

/// Decode objects from their staged pieces, once every volume has been seen.
pub fn assemble<'a>(
    root: &Path,
    tmp: &Path,
    pieces: &Path,
    manifest: &Manifest,
    ids: impl Iterator<Item = &'a ObjectId>,
) -> Result<Extracted, ImportError> {
    let mut batch = Batch::new(root);
    let mut done = Extracted::default();
    let mut buf = vec![0u8; 1 << 20];
    for id in ids {
        let o = &manifest.objects[id];
        let mut sink = new_sink(tmp, manifest, id)?;
        for k in 0..o.pieces.len() {
            let file = piece_file(pieces, id, k);
            let mut f = File::open(&file).map_err(|e| ImportError::Io {
                path: file.clone(),
                source: e,
            })?;
            loop {
                let n = f.read(&mut buf).map_err(|e| ImportError::Io {
                    path: file.clone(),
                    source: e,
                })?;
                if n == 0 {
                    break;
                }
                sink.write(&buf[..n])
                    .map_err(|e| object_error(manifest, id, e))?;
            }
        }
        let v = sink.finish().map_err(|e| object_error(manifest, id, e))?;
        batch.push(v).map_err(|e| object_error(manifest, id, e))?;
        done.objects += 1;
        done.bytes += o.size;
    }
    batch
        .commit()
        .map_err(|e| ImportError::Internal(e.to_string()))?;
    Ok(done)
}

fn new_sink(tmp: &Path, manifest: &Manifest, id: &ObjectId) -> Result<Sink, ImportError> {
    let o = &manifest.objects[id];
    let f = ObjectFile::create(tmp, *id, o.size).map_err(|e| object_error(manifest, id, e))?;
    Ok(match o.encoding {
        Encoding::Raw => Sink::Raw(f),
        Encoding::Zstd => Sink::Zstd(Box::new(
            zstd::stream::write::Decoder::new(f)
                .map_err(|e| object_error(manifest, id, ObjectWriteError::Decode(e)))?,
        )),
    })
}

fn object_error(manifest: &Manifest, id: &ObjectId, e: ObjectWriteError) -> ImportError {
    let mut users = Vec::new();
    for t in &manifest.trees {
        for (path, oid) in &t.files {
            if oid == id {
                users.push(format!("{}/{path}", t.name));
            }
        }
    }
    ImportError::Object {
        id: *id,
        users,
        what: e.to_string(),
    }
}

/// Reads a pack front to back, hashing every byte.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    pos: u64,
}

impl<R: Read> HashingReader<R> {
    fn skip_to(&mut self, to: u64, buf: &mut [u8], progress: &dyn Progress) -> std::io::Result<()> {
        while self.pos < to {
            let n = ((to - self.pos).min(buf.len() as u64)) as usize;
            self.read_exact(&mut buf[..n])?;
            progress.advance(n as u64);
        }
        Ok(())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}
