//! `pack --again SEQ`: the bundle of a sequence written again, onto new media.
//!
//! The export state keeps every bundle's manifest. Written again, the bundle keeps all that
//! it says — catalog, trees, objects, sequence, base, creation time, signer — and only its
//! layout (packs, pieces, volumes) follows the new media, which may be of another size. It
//! is another **physical copy** of the same **logical bundle** (spec/FORMAT.md, "Logical
//! bundle and physical copies"): both have the same [`Manifest::logical_id`], a site
//! imports either, and once it holds one the other is already imported.
//!
//! Each object is read from the sources again, by the first path of the manifest's trees
//! that names it, in the order the first copy wrote them, and its SHA-256 is checked while
//! it is written: a file that vanished or changed stops the pack, named, and nothing is
//! written. The export state is only read: no bundle is recorded and no sequence is used.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::plan::{Plan, SourceFile, SourceProblem};
use super::state::{ExportState, FileStamp, StateError};
use super::writer::{Limits, PackWriter};
use super::{PackError, PackOptions, PackSummary, finish, stream};
use crate::catalog::{Catalog, Source};
use crate::format::manifest::{Manifest, pack_number};
use crate::format::signify::SecretKey;
use crate::format::{BundleId, ObjectId};
use crate::progress::Progress;
use crate::yum::checksum::{Checksum, ChecksumKind};

/// A source file that no longer holds the object the bundle carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Tree and relative path.
    pub file: String,
    /// The file on disk.
    pub path: PathBuf,
    /// The bundle written again.
    pub bundle: BundleId,
    /// Its sequence.
    pub sequence: u64,
    /// The object the bundle carries.
    pub expected: String,
    /// What the file holds now.
    pub actual: String,
}

/// Write the bundle of `sequence` (of the catalog's organization) again into `opts.out`,
/// with `opts`' media and file sizes. `opts.created` and `opts.since` are not used: they
/// are the bundle's own.
pub fn again(
    catalog: &Catalog,
    key: &SecretKey,
    sequence: u64,
    opts: &PackOptions,
    progress: &dyn Progress,
) -> Result<PackSummary, PackError> {
    super::check_limits(opts)?;
    let state = ExportState::open_read_only(&opts.state)?;
    let org = &catalog.organization;
    let made = state
        .by_sequence(org, sequence)?
        .ok_or_else(|| StateError::NoSuchSequence {
            dir: opts.state.clone(),
            organization: org.clone(),
            sequence,
            made: state
                .bundles(org)
                .map(|b| b.iter().map(|b| b.sequence).collect())
                .unwrap_or_default(),
        })?;
    let original = state
        .manifest(&made.id)?
        .ok_or_else(|| PackError::ManifestMissing {
            state: opts.state.clone(),
            bundle: made.id,
            sequence,
        })?;
    if original.signer != key.id {
        return Err(PackError::WrongSigner {
            bundle: made.id,
            sequence,
            signer: original.signer,
            key: key.id,
        });
    }
    let cache = opts
        .cache
        .clone()
        .unwrap_or_else(|| opts.state.join("cache"));
    let plan = sources(catalog, &original, &cache, sequence)?;

    super::prepare_out(&opts.out)?;
    super::in_staging(&opts.out, |staging| {
        write(key, opts, progress, &plan, &original, made.id, staging)
    })
}

/// Lay the objects out on the new media and finish the volumes.
fn write(
    key: &SecretKey,
    opts: &PackOptions,
    progress: &dyn Progress,
    plan: &Plan,
    original: &Manifest,
    original_id: BundleId,
    staging: &Path,
) -> Result<PackSummary, PackError> {
    let mut skeleton = original.clone();
    skeleton.packs.clear();
    skeleton.objects.clear();
    let sizes: Vec<u64> = plan.files.iter().map(|f| f.size).collect();
    let capacity = super::capacity(&skeleton, &sizes, opts, key.id)?;
    let writer = PackWriter::new(
        staging,
        Limits {
            volume_capacity: capacity,
            max_pack: opts.max_file_size,
        },
    );
    let source_bytes: u64 = sizes.iter().sum();
    progress.begin("packing again", Some(source_bytes));
    let (log, written) = stream::stream(plan, &HashSet::new(), writer, progress).map_err(|e| {
        match e {
            // The SHA-256 the stream checks is the object's id.
            PackError::SourceMismatch {
                file,
                path,
                expected,
                actual,
                ..
            } => PackError::Changed(Box::new(Changed {
                file,
                path,
                bundle: original_id,
                sequence: original.sequence,
                expected,
                actual,
            })),
            e => e,
        }
    })?;
    progress.end();

    let mut manifest = skeleton;
    manifest.volumes = written.volumes;
    manifest.packs = written
        .packs
        .iter()
        .map(|(n, (p, _))| (n.clone(), p.clone()))
        .collect();
    manifest.objects = written.objects;
    if manifest.logical_id() != original.logical_id() {
        return Err(PackError::Internal(format!(
            "the copy of bundle {} is not the same logical bundle",
            original_id.short()
        )));
    }
    let (manifest_bytes, volumes) = finish::seal(staging, &manifest, key, opts, progress)?;
    Ok(PackSummary {
        bundle: Manifest::id_of(&manifest_bytes),
        volumes,
        objects: manifest.objects.len(),
        files: manifest.trees.iter().map(|t| t.files.len()).sum(),
        source_bytes,
        pack_bytes: manifest.packs.values().map(|p| p.size).sum(),
        sequence: manifest.sequence,
        base: manifest.base.as_ref().map(|b| b.bundle),
        files_read: log.read.len(),
        bytes_read: log.read.iter().map(|&i| plan.files[i].size).sum(),
    })
}

/// Where the catalog keeps each tree's files: `library/PRODUCT/REPO` and
/// `views/VIEW/VERSION/PRODUCT/REPO`, as `pack` names trees (a URL source: its copy in the
/// fetch cache).
fn tree_dirs(catalog: &Catalog, cache: &Path) -> HashMap<String, PathBuf> {
    let dir = |s: &Source| match s {
        Source::Dir(p) | Source::Mirror { dir: p, .. } => p.clone(),
        Source::Url(r) => crate::fetch::mirror_dir(cache, &r.url),
    };
    let mut out = HashMap::new();
    for p in &catalog.products {
        for r in &p.repositories {
            out.insert(format!("library/{}/{}", p.label, r.label), dir(&r.source));
        }
    }
    for v in &catalog.content_views {
        for (key, snap) in &v.repositories {
            if let Some(s) = snap {
                out.insert(format!("views/{}/{}/{key}", v.label, v.version), dir(s));
            }
        }
    }
    out
}

/// The bundle's objects as files to read, in the order the first copy wrote them; every
/// tree the catalog no longer has, file that vanished or changed size, is a problem.
fn sources(
    catalog: &Catalog,
    m: &Manifest,
    cache: &Path,
    sequence: u64,
) -> Result<Plan, PackError> {
    let dirs = tree_dirs(catalog, cache);
    // The first (tree, path) of the manifest that names each object.
    let mut named: HashMap<ObjectId, (&str, &str)> = HashMap::new();
    for t in &m.trees {
        for (path, id) in &t.files {
            named.entry(*id).or_insert((t.name.as_str(), path.as_str()));
        }
    }
    let mut order: Vec<(&ObjectId, u32, u64)> = m
        .objects
        .iter()
        .map(|(id, o)| {
            let first = o.pieces.first();
            (
                id,
                first.and_then(|p| pack_number(&p.pack)).unwrap_or(0),
                first.map_or(0, |p| p.offset),
            )
        })
        .collect();
    order.sort_by_key(|&(id, pack, offset)| (pack, offset, *id));

    let mut problems = Vec::new();
    let mut missing_trees = HashSet::new();
    let mut files = Vec::with_capacity(order.len());
    for (id, _, _) in order {
        let size = m.objects[id].size;
        let Some(&(tree, rel)) = named.get(id) else {
            problems.push(SourceProblem {
                tree: "(no tree)".into(),
                path: PathBuf::from(id.to_hex()),
                what: "the bundle carries this object but no tree names it".into(),
            });
            continue;
        };
        let Some(dir) = dirs.get(tree) else {
            if missing_trees.insert(tree) {
                problems.push(SourceProblem {
                    tree: tree.into(),
                    path: PathBuf::new(),
                    what: format!(
                        "the catalog no longer has this repository, which the bundle of sequence {sequence} carries"
                    ),
                });
            }
            continue;
        };
        let path = dir.join(rel);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => {
                problems.push(SourceProblem {
                    tree: tree.into(),
                    path,
                    what: "not a regular file".into(),
                });
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(SourceProblem {
                    tree: tree.into(),
                    path,
                    what: format!(
                        "vanished since the bundle of sequence {sequence} was made (it carries this file)"
                    ),
                });
                continue;
            }
            Err(e) => {
                problems.push(SourceProblem {
                    tree: tree.into(),
                    path,
                    what: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        if meta.len() != size {
            problems.push(SourceProblem {
                tree: tree.into(),
                path,
                what: format!(
                    "is {} bytes, the bundle of sequence {sequence} carries {size}: it changed since",
                    meta.len()
                ),
            });
            continue;
        }
        files.push(SourceFile {
            key: path.clone(),
            stamp: FileStamp::of(&meta),
            display: format!("{tree}: {rel}"),
            path,
            size,
            declared: vec![Checksum {
                kind: ChecksumKind::Sha256,
                hex: id.to_hex(),
            }],
            preloaded: None,
            known_id: Some(*id),
            cached: false,
            pending: false,
        });
    }
    if !problems.is_empty() {
        return Err(PackError::Source(problems));
    }
    Ok(Plan {
        files,
        trees: Vec::new(),
        library_tree: HashMap::new(),
        view_tree: HashMap::new(),
        gpg_keys: HashMap::new(),
        warnings: Vec::new(),
        arrivals: None,
    })
}
