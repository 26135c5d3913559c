//! `pack --dry-run`: what `pack` would carry, computed without writing anything.
//!
//! The dry run takes the real pack's steps up to the writing: the same sequence and base
//! (from the export state, opened read-only: a state that does not exist stays so), the
//! same plan, the same room kept for the manifest, and the real pack writer laying out
//! every object in a mode that writes no file ([`PackWriter::dry`]). So the number of
//! volumes and their bytes are exactly those `pack` writes with the same catalog, sources,
//! state and options.
//!
//! What it reads, beyond the metadata that planning reads (`repomd.xml`, the primary
//! metadata, `.treeinfo`, GPG keys) and the `stat` of every file:
//!
//! - a file whose SHA-256 neither its metadata nor the export state's file cache gives is
//!   read whole and hashed (to know whether the base already has it);
//! - of every file the bundle would carry, the first bytes that decide its encoding: a few
//!   bytes for an RPM or a compressed file (its magic number), the trial's 128 KiB for
//!   others;
//! - a file that would be compressed (uncompressed metadata, mostly) is read and
//!   compressed whole, to know its stored size exactly.
//!
//! RPMs whose metadata declares a SHA-256 are therefore read only for their first 6 bytes,
//! and not at all when the base has them. Memory does not grow with the content: files are
//! read in 1 MiB chunks, and a compressed run is kept only until it reaches 16 MiB.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{Read as _, Write as _};
use std::sync::Mutex;

use super::encoding::{choose, choose_file};
use super::plan::{self, SourceFile};
use super::state::ExportState;
use super::stream::{CHUNK, ZSTD_RUN, zstd_encoder};
use super::writer::{Limits, PackWriter};
use super::{PackError, PackOptions, continuity, finish};
use crate::catalog::{Catalog, Source};
use crate::format::manifest::{Encoding, Manifest, RetiredKind};
use crate::format::signify::PublicKey;
use crate::format::{ObjectId, Sha256Digest};
use crate::progress::Progress;
use crate::yum::checksum::{Checksum, ChecksumKind, Hasher};

/// What `pack` would carry and write (`ferry pack --dry-run`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DryRun {
    /// The organization.
    pub organization: String,
    /// The sequence the bundle would get.
    pub sequence: u64,
    /// Its base's bundle id (hex), for an incremental bundle.
    pub base: Option<String>,
    /// Its base's sequence.
    pub base_sequence: Option<u64>,
    /// The media size (`None`: one volume of any size).
    pub media_size: Option<u64>,
    /// Number of volumes.
    pub volumes: u32,
    /// Bytes of each volume's files, in volume order.
    pub volume_bytes: Vec<u64>,
    /// Bytes of all the volumes' files.
    pub bytes: u64,
    /// Bytes of packs among them.
    pub pack_bytes: u64,
    /// Distinct objects the bundle would carry.
    pub objects_new: usize,
    /// Their size (before compression).
    pub bytes_new: u64,
    /// Distinct objects its trees refer to that the base chain already shipped.
    pub objects_reused: usize,
    /// Their size.
    pub bytes_reused: u64,
    /// Files in all trees (a file shared by trees counts once per tree).
    pub files: usize,
    /// The Library repositories.
    pub repositories: Vec<DryRepository>,
    /// The content-view versions.
    pub content_views: Vec<DryView>,
    /// What the stream no longer ships: `repository product/repo` or `content_view label`.
    pub retired: Vec<String>,
    /// What the dry run read of the sources.
    pub read: DryReads,
    /// Warnings and notes `pack` would print.
    pub notes: Vec<String>,
}

/// One Library repository of a dry run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DryRepository {
    /// `product/repository`.
    pub repository: String,
    /// Its tree in the manifest.
    pub tree: String,
    /// Packages its primary metadata lists.
    pub packages: u64,
    /// Files in its tree.
    pub files: usize,
    /// Distinct objects of its tree that the bundle would carry (an object shared with
    /// another repository counts in both).
    pub objects_new: usize,
    /// Their size.
    pub bytes_new: u64,
}

/// One content-view version of a dry run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DryView {
    /// View label.
    pub view: String,
    /// Version.
    pub version: String,
    /// Its repositories, `product/repository`.
    pub repositories: Vec<String>,
}

/// What a dry run read of the sources (beyond their metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DryReads {
    /// Files whose SHA-256 came from the export state's file cache.
    pub cache_hits: usize,
    /// Files read whole to learn their SHA-256.
    pub files_hashed: usize,
    /// Their bytes.
    pub bytes_hashed: u64,
    /// Files whose first bytes were read to choose their encoding.
    pub files_sampled: usize,
    /// Bytes read for that.
    pub bytes_sampled: u64,
    /// Files read whole and compressed to learn their stored size.
    pub files_compressed: usize,
    /// Their bytes.
    pub bytes_compressed: u64,
}

/// Collects what `pack` would print as notes.
struct Notes(Mutex<Vec<String>>);

impl Progress for Notes {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
    fn note(&self, line: &str) {
        if let Ok(mut v) = self.0.lock() {
            v.push(line.to_string());
        }
    }
}

/// The first URL source of the catalog, if any: `(repository, url)`.
fn first_url(catalog: &Catalog) -> Option<(String, String)> {
    for p in &catalog.products {
        for r in &p.repositories {
            if let Source::Url(remote) = &r.source {
                return Some((format!("{}/{}", p.label, r.label), remote.url.to_string()));
            }
        }
    }
    for v in &catalog.content_views {
        for (key, s) in &v.repositories {
            if let Some(Source::Url(remote)) = s {
                return Some((
                    format!("{} {}: {key}", v.label, v.version),
                    remote.url.to_string(),
                ));
            }
        }
    }
    None
}

/// What `pack` would do with `catalog`, signed by `key`, with `opts` (`opts.out` is not
/// used: nothing is written). The export state `opts.state` is only read.
pub fn plan_only(
    catalog: &Catalog,
    key: &PublicKey,
    opts: &PackOptions,
) -> Result<DryRun, PackError> {
    super::check_limits(opts)?;
    if let Some((repository, url)) = first_url(catalog) {
        return Err(PackError::NotLocal { repository, url });
    }
    let notes = Notes(Mutex::new(Vec::new()));
    let state = ExportState::open_read_only(&opts.state)?;
    let (ctx, known) = super::context(&state, catalog, key, opts.since.as_ref(), &notes)?;
    let mut plan = plan::plan(catalog, None, &known).map_err(PackError::Source)?;
    let mut read = DryReads {
        cache_hits: plan::apply_cache(&mut plan, &state)?,
        ..DryReads::default()
    };

    let skeleton = super::skeleton(catalog, &plan, key.id, opts, &ctx, &[]);
    let sizes: Vec<u64> = plan.files.iter().map(|f| f.size).collect();
    let capacity = super::capacity(&skeleton, &sizes, opts, key.id)?;
    let mut w = PackWriter::dry(Limits {
        volume_capacity: capacity,
        max_pack: opts.max_file_size,
    });
    // The real pack's order and skipping (stream::read_files): a file whose object the
    // base chain or this bundle already holds is not written.
    let mut sent: HashSet<ObjectId> = known.clone();
    let mut ids = Vec::with_capacity(plan.files.len());
    let mut size_of: BTreeMap<ObjectId, u64> = BTreeMap::new();
    for f in &plan.files {
        let id = match f.known_id {
            Some(id) => id,
            None => {
                read.files_hashed += 1;
                read.bytes_hashed += f.size;
                hash_file(f)?
            }
        };
        ids.push(id);
        size_of.insert(id, f.size);
        if sent.insert(id) {
            lay_out(&mut w, f, id, &mut read)?;
        }
    }
    let written = w.finish().map_err(PackError::output)?;

    let mut manifest = super::skeleton(catalog, &plan, key.id, opts, &ctx, &ids);
    manifest.volumes = written.volumes;
    manifest.packs = written
        .packs
        .into_iter()
        .map(|(n, (p, _))| (n, p))
        .collect();
    manifest.objects = written.objects;
    if let Some(c) = continuity::changed_version(&state, &manifest)? {
        return Err(PackError::VersionChanged(c));
    }
    manifest
        .check()
        .map_err(|e| PackError::Internal(format!("the dry run's manifest does not check: {e}")))?;
    let manifest_bytes = manifest.encode();
    if manifest_bytes.len() as u64 > opts.max_file_size {
        return Err(PackError::BadLimit(format!(
            "the manifest is {} bytes, more than the largest file allowed ({} bytes)",
            manifest_bytes.len(),
            opts.max_file_size
        )));
    }
    let volume_bytes = finish::volume_bytes(&manifest, &manifest_bytes);
    let mut notes = notes.0.into_inner().unwrap_or_default();
    notes.extend(plan.warnings.iter().cloned());
    Ok(summarize(
        catalog,
        &plan,
        &manifest,
        &known,
        &size_of,
        &ids,
        volume_bytes,
        opts.media_size,
        read,
        notes,
    ))
}

/// The dry run's report from the manifest `pack` would write.
#[allow(clippy::too_many_arguments)]
fn summarize(
    catalog: &Catalog,
    plan: &plan::Plan,
    manifest: &Manifest,
    known: &HashSet<ObjectId>,
    size_of: &BTreeMap<ObjectId, u64>,
    ids: &[ObjectId],
    volume_bytes: Vec<u64>,
    media_size: Option<u64>,
    read: DryReads,
    notes: Vec<String>,
) -> DryRun {
    let referred: HashSet<ObjectId> = ids.iter().copied().collect();
    let reused: Vec<&ObjectId> = referred.iter().filter(|id| known.contains(id)).collect();
    let size = |id: &ObjectId| size_of.get(id).copied().unwrap_or(0);
    let repositories = catalog
        .products
        .iter()
        .flat_map(|p| {
            p.repositories
                .iter()
                .map(move |r| format!("{}/{}", p.label, r.label))
        })
        .map(|key| {
            let tree = plan.library_tree[&key].clone();
            let t = plan.trees.iter().find(|t| t.name == tree);
            let new: HashSet<ObjectId> = t
                .map(|t| {
                    t.files
                        .iter()
                        .map(|(_, i)| ids[*i])
                        .filter(|id| manifest.objects.contains_key(id))
                        .collect()
                })
                .unwrap_or_default();
            DryRepository {
                repository: key,
                tree,
                packages: t.map_or(0, |t| t.packages),
                files: t.map_or(0, |t| t.files.len()),
                objects_new: new.len(),
                bytes_new: new.iter().map(size).sum(),
            }
        })
        .collect();
    DryRun {
        organization: manifest.organization.clone(),
        sequence: manifest.sequence,
        base: manifest.base.as_ref().map(|b| b.bundle.to_hex()),
        base_sequence: manifest.base.as_ref().map(|b| b.sequence),
        media_size,
        volumes: manifest.volumes,
        bytes: volume_bytes.iter().sum(),
        volume_bytes,
        pack_bytes: manifest.packs.values().map(|p| p.size).sum(),
        objects_new: manifest.objects.len(),
        bytes_new: manifest.objects.values().map(|o| o.size).sum(),
        objects_reused: reused.len(),
        bytes_reused: reused.iter().map(|id| size(id)).sum(),
        files: manifest.trees.iter().map(|t| t.files.len()).sum(),
        repositories,
        content_views: manifest
            .content_views
            .iter()
            .map(|v| DryView {
                view: v.label.clone(),
                version: v.version.clone(),
                repositories: v
                    .repositories
                    .iter()
                    .map(|r| r.repository.clone())
                    .collect(),
            })
            .collect(),
        retired: manifest
            .retired
            .iter()
            .map(|r| {
                let kind = match r.kind {
                    RetiredKind::Repository => "repository",
                    RetiredKind::ContentView => "content_view",
                };
                format!("{kind} {}", r.label)
            })
            .collect(),
        read,
        notes,
    }
}

/// Read a file whole for its SHA-256, checking every checksum its metadata declares as
/// `pack` does.
fn hash_file(f: &SourceFile) -> Result<ObjectId, PackError> {
    let io = |source| PackError::Io {
        path: f.path.clone(),
        source,
    };
    let mut file = std::fs::File::open(&f.path).map_err(io)?;
    let mut sha256 = <sha2::Sha256 as sha2::Digest>::new();
    let mut others: Vec<Hasher> = f
        .declared
        .iter()
        .filter(|c| c.kind != ChecksumKind::Sha256)
        .map(|c| Hasher::new(c.kind))
        .collect();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        sha2::Digest::update(&mut sha256, &buf[..n]);
        for h in &mut others {
            h.update(&buf[..n]);
        }
    }
    let id = Sha256Digest::from_hasher(sha256);
    let mut computed: Vec<Checksum> = others.into_iter().map(Hasher::finish).collect();
    computed.push(Checksum {
        kind: ChecksumKind::Sha256,
        hex: id.to_hex(),
    });
    for want in &f.declared {
        if let Some(got) = computed.iter().find(|c| c.kind == want.kind)
            && got.hex != want.hex
        {
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

/// Lay one object out as `stream::write_all` writes it: raw in one run, or zstd in the
/// runs its encoder gives when fed the file in [`CHUNK`]s.
fn lay_out(
    w: &mut PackWriter,
    f: &SourceFile,
    id: ObjectId,
    read: &mut DryReads,
) -> Result<(), PackError> {
    let out = PackError::output;
    let io = |source| PackError::Io {
        path: f.path.clone(),
        source,
    };
    w.begin_object(id.to_hex());
    if f.size == 0 {
        w.finish_object(id, 0, Encoding::Raw);
        return Ok(());
    }
    let encoding = match &f.preloaded {
        Some(b) => choose(&b[..b.len().min(CHUNK)]),
        None => {
            let (e, n) = choose_file(&f.path, f.size).map_err(io)?;
            read.files_sampled += 1;
            read.bytes_sampled += n;
            e
        }
    };
    match encoding {
        Encoding::Raw => {
            w.start_run(f.size);
            w.put_len(f.size, false).map_err(out)?;
        }
        Encoding::Zstd => {
            let mut e = zstd_encoder(f.size).map_err(out)?;
            let run = |w: &mut PackWriter, buf: &mut Vec<u8>| -> Result<(), PackError> {
                if !buf.is_empty() {
                    w.start_run(buf.len() as u64);
                    w.put_len(buf.len() as u64, true).map_err(out)?;
                    buf.clear();
                }
                Ok(())
            };
            let feed = |w: &mut PackWriter,
                        e: &mut zstd::stream::write::Encoder<'static, Vec<u8>>,
                        chunk: &[u8]|
             -> Result<(), PackError> {
                e.write_all(chunk).map_err(out)?;
                if e.get_ref().len() >= ZSTD_RUN {
                    run(w, e.get_mut())?;
                }
                Ok(())
            };
            match &f.preloaded {
                Some(b) => {
                    for chunk in b.chunks(CHUNK) {
                        feed(w, &mut e, chunk)?;
                    }
                }
                None => {
                    read.files_compressed += 1;
                    read.bytes_compressed += f.size;
                    let mut file = std::fs::File::open(&f.path).map_err(io)?;
                    let mut buf = vec![0u8; CHUNK];
                    let mut left = f.size;
                    while left > 0 {
                        let want = left.min(CHUNK as u64) as usize;
                        file.read_exact(&mut buf[..want]).map_err(|_| {
                            PackError::SourceChanged {
                                file: f.display.clone(),
                                path: f.path.clone(),
                            }
                        })?;
                        feed(w, &mut e, &buf[..want])?;
                        left -= want as u64;
                    }
                }
            }
            let mut rest = e.finish().map_err(out)?;
            let mut last = |w: &mut PackWriter| -> Result<(), PackError> {
                if !rest.is_empty() {
                    w.start_run(rest.len() as u64);
                    w.put_len(rest.len() as u64, true).map_err(out)?;
                    rest.clear();
                }
                Ok(())
            };
            last(w)?;
        }
    }
    w.finish_object(id, f.size, encoding);
    Ok(())
}

impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = crate::size::human;
        writeln!(f, "dry run: nothing was written")?;
        match (&self.base, self.base_sequence) {
            (Some(b), Some(s)) => writeln!(
                f,
                "{}: an incremental bundle of sequence {}, on bundle {} (sequence {s})",
                self.organization,
                self.sequence,
                &b[..16.min(b.len())]
            )?,
            _ => writeln!(
                f,
                "{}: a full bundle of sequence {}",
                self.organization, self.sequence
            )?,
        }
        writeln!(f, "repositories:")?;
        for r in &self.repositories {
            writeln!(
                f,
                "  {}: {} packages, {} files, {} new objects ({})",
                r.repository,
                r.packages,
                r.files,
                r.objects_new,
                h(r.bytes_new)
            )?;
        }
        for v in &self.content_views {
            writeln!(
                f,
                "  content view {} {}: {}",
                v.view,
                v.version,
                v.repositories.join(", ")
            )?;
        }
        for r in &self.retired {
            writeln!(f, "  retired: {r}")?;
        }
        writeln!(
            f,
            "objects: {} new ({}), {} already shipped in the base chain ({})",
            self.objects_new,
            h(self.bytes_new),
            self.objects_reused,
            h(self.bytes_reused)
        )?;
        let media = match self.media_size {
            Some(m) => format!(" of {}", h(m)),
            None => String::new(),
        };
        write!(
            f,
            "volumes: {}{media}, {} in all ({} of packs)",
            self.volumes,
            h(self.bytes),
            h(self.pack_bytes)
        )?;
        for n in &self.notes {
            write!(f, "\n{n}")?;
        }
        Ok(())
    }
}
