//! `ferry import`: verify a bundle completely, store its objects, build every repository
//! version, record it all in one database transaction, then publish.
//!
//! The bundle is read by the same reader as `ferry verify --deep` ([`crate::bundle`]): an
//! import accepts exactly the media that verify accepts, and it also writes.
//!
//! Order, and why it is safe to kill at any point (spec: "crash safety comes from
//! ordering"):
//! 1. signatures and the volume set are checked; a refused bundle changes nothing;
//! 2. one pass over the packs checks every pack hash, every entry and every object, writing
//!    the objects the store lacks to temporary files; only if nothing was wrong are they
//!    made durable and renamed into `objects/` (names there always mean good content);
//! 3. repository versions are built as new directories, renamed into `versions/` when
//!    complete;
//! 4. one SQLite transaction records the bundle, versions, views and publications;
//! 5. the published links are flipped to what the database says.
//!
//! A run killed before 4 left only unreferenced objects and versions, which the next run
//! reuses; after 4, the next run (of any import) finishes step 5 first.

pub mod abandon;
mod assemble;
pub mod copies;
mod record;
pub mod rotation;
pub mod sink;

pub use record::version_cmp;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::pass::{self, Depth, Discard};
use crate::bundle::{Bundle, Finding};
use crate::format::manifest::{Manifest, Tree};
use crate::format::signify::PublicKey;
use crate::format::{BundleId, ObjectId};
use crate::progress::Progress;
use crate::store::db::DbError;
use crate::store::trees::{self, TreeError};
use crate::store::{Access, Store, StoreError, objects};
use sink::StoreSink;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The store directory.
    pub store: PathBuf,
    /// Create the store if there is none. A store this import created is removed again
    /// if the import is refused or fails: it leaves no new directory behind.
    pub init: bool,
    /// Volume directories.
    pub volumes: Vec<PathBuf>,
    /// Keys trusted for this import, besides those registered in the store.
    pub trust: Vec<PublicKey>,
    /// Wait for another import that holds the store.
    pub wait: bool,
    /// Accept a bundle older than what the store has from the same stream (a deliberate
    /// rollback, recorded in the history).
    pub allow_rollback: bool,
    /// Promote the newest version of each content view the bundle carries to this
    /// environment, in the import's own transaction.
    pub promote: Option<String>,
    /// When the bundle rotates its stream's key (a rotation statement signed by a trusted
    /// key, `spec/FORMAT.md` §5.9), keep trusting the old key besides the new one. By
    /// default the old key is no longer trusted.
    pub keep_old_key: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ImportSummary {
    /// Bundle id.
    pub bundle: String,
    /// Organization.
    pub organization: String,
    /// Sequence.
    pub sequence: u64,
    /// Objects added to the store.
    pub objects_added: u64,
    /// Their bytes.
    pub bytes_added: u64,
    /// Objects the store already held.
    pub objects_present: u64,
    /// Published paths and the version each now shows.
    pub published: Vec<Published>,
    /// What this bundle retired (the export side no longer ships it): unpublished from
    /// the Library; environments that hold a version with it keep it.
    #[serde(default)]
    pub retired: Vec<String>,
    /// The environment the bundle's content-view versions were promoted to (`--promote`).
    #[serde(default)]
    pub promoted: Vec<crate::store::environments::Promotion>,
    /// Key rotations the bundle carried and the store accepted, one line each.
    #[serde(default)]
    pub key_rotations: Vec<String>,
}

/// One published repository after an import.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Published {
    /// Path under `published/`.
    pub path: String,
    /// Version number (Library repositories) or view version.
    pub version: String,
    /// Whether it changed.
    pub changed: bool,
}

/// Outcome of `ferry import`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// Imported and published.
    Imported(ImportSummary),
    /// Only some volumes were given: those were verified and staged in the store.
    Staged {
        /// Bundle id.
        bundle: String,
        /// Volume count.
        volumes: u32,
        /// Volume numbers staged so far (this run and earlier ones).
        staged: Vec<u32>,
        /// Volume numbers still needed.
        remaining: Vec<u32>,
    },
    /// The store already has this bundle.
    AlreadyImported {
        /// Bundle id.
        bundle: String,
        /// When it was imported.
        imported: String,
        /// Published links an interrupted earlier run had left to finish.
        republished: usize,
        /// The bundle id of the physical copy the store imported, when it is not this one
        /// (`pack --again` wrote the same logical bundle again).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        copy_of: Option<String>,
    },
}

/// Why an import was refused or failed. In every case nothing published changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Store problems.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Database problems.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No key to check signatures with.
    #[error(
        "no trusted key to check the signatures with: the store trusts none, and none was given for this import"
    )]
    NoTrustedKey,
    /// The volumes given are not a complete, intact, trusted bundle.
    #[error("{}", refused_message(findings, missing, *volumes))]
    Refused {
        /// Problems found.
        findings: Vec<Finding>,
        /// Volume numbers not given.
        missing: Vec<u32>,
        /// Volume count, when known.
        volumes: Option<u32>,
    },
    /// Older than what the store has from the same stream: old or replayed media.
    #[error("{0}")]
    Stale(Box<Stale>),
    /// Signed by a key that was rotated away (`spec/FORMAT.md` §5.9).
    #[error(transparent)]
    KeyRotated(Box<rotation::KeyRotated>),
    /// An incremental bundle whose base is not in the store.
    #[error(
        "bundle {} is incremental: it builds on bundle {} (sequence {sequence}, created {created}), which this store does not have; import that bundle first; nothing was changed",
        &bundle[..16], base.to_hex()
    )]
    MissingBase {
        /// The refused bundle.
        bundle: String,
        /// Its base.
        base: BundleId,
        /// The base's sequence.
        sequence: u64,
        /// The base's creation time.
        created: String,
    },
    /// Not enough room.
    #[error(
        "not enough space: this bundle adds {} to the store, but {} has only {} free; nothing was changed",
        crate::size::human(*needed), path.display(), crate::size::human(*available)
    )]
    NoSpace {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// The store.
        path: PathBuf,
    },
    /// The store's file system filled up during the import.
    #[error(
        "no space left on the file system of the store {}: {detail}; nothing published was changed. Free some space there and run the same import again: what was stored so far is kept",
        store.display()
    )]
    NoSpaceLeft {
        /// The store.
        store: PathBuf,
        /// What was being written.
        detail: String,
    },
    /// A version could not be built.
    #[error("{0}; nothing published was changed")]
    Tree(#[from] TreeError),
    /// Writing to the store failed.
    #[error("writing to the store: {0}; nothing published was changed")]
    Write(std::io::Error),
    /// A content-view version the store holds, with other content in this bundle.
    #[error(transparent)]
    VersionChanged(Box<VersionChanged>),
    /// `--promote` names no environment.
    #[error(transparent)]
    Environment(#[from] crate::store::environments::EnvError),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A refused stale bundle, in detail.
#[derive(Debug, thiserror::Error)]
#[error(
    "bundle {} has sequence {sequence}, but this store already has sequence {current} from signer {signer} for {organization} (bundle {}, imported {imported}): these are old or replayed media; nothing was changed",
    &bundle[..16], &current_bundle[..16]
)]
pub struct Stale {
    /// The refused bundle.
    pub bundle: String,
    /// Its sequence.
    pub sequence: u64,
    /// The store's current sequence.
    pub current: u64,
    /// The bundle that has it.
    pub current_bundle: String,
    /// When that one was imported.
    pub imported: String,
    /// Signer.
    pub signer: String,
    /// Organization.
    pub organization: String,
}

fn refused_message(findings: &[Finding], missing: &[u32], volumes: Option<u32>) -> String {
    let mut s = String::from("the bundle was refused; nothing was changed:");
    for f in findings {
        s.push_str(&format!("\n  {f}"));
    }
    if let (Some(n), false) = (volumes, missing.is_empty()) {
        let list: Vec<String> = missing.iter().map(u32::to_string).collect();
        s.push_str(&format!(
            "\n  volume{} {} of {n} missing: insert {} and run the same command again with every volume",
            if missing.len() == 1 { "" } else { "s" },
            list.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    s
}

impl ImportError {
    fn refused(findings: Vec<Finding>, missing: Vec<u32>, volumes: Option<u32>) -> Self {
        ImportError::Refused {
            findings,
            missing,
            volumes,
        }
    }
}

/// Import a bundle into a store.
pub fn import(opts: &ImportOptions, progress: &dyn Progress) -> Result<Outcome, ImportError> {
    run(opts, progress).map_err(|e| {
        if is_disk_full(&e) {
            ImportError::NoSpaceLeft {
                store: opts.store.clone(),
                detail: e.to_string(),
            }
        } else {
            e
        }
    })
}

/// Whether an error comes from a full disk (or quota), wherever in the store it happened.
fn is_disk_full(e: &ImportError) -> bool {
    if let ImportError::Write(io) = e {
        return matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        );
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        if let Some(rusqlite::Error::SqliteFailure(f, _)) = err.downcast_ref::<rusqlite::Error>()
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return true;
        }
        cur = err.source();
    }
    false
}

fn run(opts: &ImportOptions, progress: &dyn Progress) -> Result<Outcome, ImportError> {
    let root = &opts.store;
    let fresh = opts.init && !root.join("ferry.db").exists();
    let existed = root.exists();
    let result = run_in(opts, progress);
    if fresh && result.is_err() {
        crate::store::remove_new(root, existed);
    }
    result
}

fn run_in(opts: &ImportOptions, progress: &dyn Progress) -> Result<Outcome, ImportError> {
    let access = if opts.init {
        Access::Create { wait: opts.wait }
    } else {
        Access::Write { wait: opts.wait }
    };
    let store = Store::open(&opts.store, access, &|m| progress.note(m))?;
    store.clean_tmp()?;
    let result = run_locked(&store, opts, progress);
    if result.is_err() {
        // A refused or failed import leaves no work files behind (a killed one leaves
        // them to the next run, which starts by removing them).
        let _ = store.clean_tmp();
    }
    result
}

fn run_locked(
    store: &Store,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Outcome, ImportError> {
    let republished = store.reconcile()?;
    store.clean_staging()?;
    if republished > 0 {
        progress.note(&format!(
            "finished publishing {republished} repositories left by an interrupted import"
        ));
    }

    let trusted = trusted_keys(store, &opts.trust)?;
    // Keys vouched for by the bundle's key rotation statements, from a trusted key.
    let before = trusted.clone();
    let trusted = rotation::extend_trust(store, &opts.volumes, trusted)?;
    // `--promote dev` means the environment as the store spells it.
    let promote = match &opts.promote {
        Some(env) => Some(crate::store::environments::check_target(store, env)?.name),
        None => None,
    };

    // 1. Signatures, identities, the manifest, the volumes given.
    let set = crate::bundle::set::open(&opts.volumes, &trusted);
    let Some(bundle) = &set.bundle else {
        return Err(ImportError::refused(set.findings, Vec::new(), None));
    };
    let manifest = &bundle.manifest;
    let volumes = Some(manifest.volumes);
    if !set.findings.is_empty() {
        let missing = set.missing();
        return Err(ImportError::refused(set.findings, missing, volumes));
    }
    let id = bundle.id.to_hex();
    let (rollback, staged) = match admit(store, bundle, opts.allow_rollback)? {
        Admission::AlreadyImported { imported, copy_of } => {
            // Nothing to do, if the media are what they claim: check them as a new import
            // would.
            let p = pass::run(bundle, &set.volumes, Depth::Objects, &mut Discard, progress)
                .map_err(ImportError::Write)?;
            if !p.findings.is_empty() {
                return Err(ImportError::refused(p.findings, Vec::new(), volumes));
            }
            return Ok(Outcome::AlreadyImported {
                bundle: id,
                imported,
                republished,
                copy_of,
            });
        }
        Admission::New { rollback, staged } => (rollback, staged),
    };

    // Volumes staged by earlier runs are not read again; together with the ones given they
    // may complete the set.
    let mut present = set.volumes;
    present.retain(|n, _| !staged.contains(n));
    let remaining: Vec<u32> = (1..=manifest.volumes)
        .filter(|n| !present.contains_key(n) && !staged.contains(n))
        .collect();
    let stage_dir = store.root.join("staging").join(&id);
    let pieces = stage_dir.join("pieces");
    let spanning: Vec<ObjectId> = manifest
        .objects
        .iter()
        .filter(|(_, o)| {
            o.pieces
                .iter()
                .any(|p| !present.contains_key(&manifest.packs[&p.pack].volume))
        })
        .map(|(id, _)| *id)
        .collect();
    let lacking = check_space(store, bundle, &present)?;
    crate::crashpoint::hit("space-checked");

    // The versions this run builds, if it has every volume; a new object is written first
    // at its place in the first of them that has it.
    let keys = tree_keys(manifest);
    let skip = pruned_trees(store, manifest)?;
    let builds: Vec<(&Tree, String)> = manifest
        .trees
        .iter()
        .filter(|t| !skip.contains(t.name.as_str()))
        .map(|t| (t, trees::version_id(t, keys.get(t.name.as_str()).copied())))
        .collect();
    let mut places = HashMap::new();
    if remaining.is_empty() {
        for (t, vid) in &builds {
            if trees::version_dir(&store.root, vid).is_dir() {
                continue;
            }
            let work = trees::work_dir(&store.tmp(), vid);
            for (path, oid) in &t.files {
                if lacking.contains(oid) && !places.contains_key(oid) {
                    places.insert(*oid, work.join(path));
                }
            }
        }
    }

    // 2. Every pack, entry and object; new objects written, kept only if all is well.
    let mut sink = StoreSink::new(&store.root, lacking, &places, &pieces);
    let p = pass::run(bundle, &present, Depth::Objects, &mut sink, progress)
        .map_err(ImportError::Write)?;
    if !p.findings.is_empty() {
        return Err(ImportError::refused(p.findings, Vec::new(), volumes));
    }
    crate::crashpoint::hit("objects-checked");
    if !remaining.is_empty() {
        sink.commit().map_err(ImportError::Write)?;
        // The manifest waits with the staged volumes: `prune` keeps every object it names
        // (those this run stored, and those of the store the bundle's trees will need).
        let staged_manifest = stage_dir.join("manifest.toml");
        if !staged_manifest.exists() {
            std::fs::create_dir_all(&stage_dir)
                .map_err(|e| ImportError::Write(objects::at(&stage_dir)(e)))?;
            let tmp = store.tmp().join(format!("staged-manifest-{id}.toml"));
            write_manifest(&tmp, manifest).map_err(ImportError::Write)?;
            std::fs::rename(&tmp, &staged_manifest)
                .map_err(|e| ImportError::Write(objects::at(&staged_manifest)(e)))?;
            crate::fsutil::sync_dir(&stage_dir)
                .map_err(|e| ImportError::Write(objects::at(&stage_dir)(e)))?;
        }
        // Keep what was verified and wait for the other volumes.
        let now: Vec<u32> = present.keys().copied().collect();
        if !now.is_empty() {
            store.db.add_staged(&id, manifest.volumes, &now)?;
        }
        let mut all: Vec<u32> = staged.iter().chain(now.iter()).copied().collect();
        all.sort_unstable();
        return Ok(Outcome::Staged {
            bundle: id,
            volumes: manifest.volumes,
            staged: all,
            remaining,
        });
    }
    // Every volume seen: objects whose pieces came in different runs were staged, piece
    // by piece; they are decoded now.
    let staged_objects: Vec<ObjectId> = spanning
        .into_iter()
        .filter(|id| sink::piece_file(&pieces, id, 0).exists())
        .collect();
    let mut findings = Vec::new();
    assemble::assemble(&mut sink, &pieces, manifest, &staged_objects, &mut findings)
        .map_err(ImportError::Write)?;
    if !findings.is_empty() {
        return Err(ImportError::refused(findings, Vec::new(), volumes));
    }
    let (added, added_ids) = sink.commit().map_err(ImportError::Write)?;
    crate::crashpoint::hit("after-objects");
    // The size of an object this run stored is known (no need to look at it again), and
    // where it was written.
    let stored = |id: &ObjectId| {
        if !added_ids.contains(id) {
            return None;
        }
        let size = manifest.objects.get(id)?.size;
        Some((size, places.get(id).map(PathBuf::as_path)))
    };

    // 3. Versions.
    progress.begin("building repository versions", None);
    let mut versions: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for (t, vid) in builds {
        let key = keys.get(t.name.as_str()).copied();
        let bytes = trees::build(&store.root, &store.tmp(), &vid, t, key, &stored)?;
        versions.insert(t.name.clone(), (vid, bytes));
        crate::crashpoint::hit("version-built");
    }
    progress.end();
    crate::crashpoint::hit("after-versions");

    // Keep the manifest: the record of what was imported, and the base of later bundles.
    let manifest_copy = store
        .root
        .join("bundles")
        .join(format!("{}.toml", bundle.id.to_hex()));
    if !manifest_copy.exists() {
        let tmp = store.tmp().join("manifest.toml");
        write_manifest(&tmp, manifest).map_err(ImportError::Write)?;
        std::fs::rename(&tmp, &manifest_copy)
            .map_err(|e| ImportError::Write(objects::at(&manifest_copy)(e)))?;
        crate::crashpoint::hit("manifest-kept");
    }
    objects::sync_filesystem(&store.root)
        .map_err(|e| ImportError::Write(objects::at(&store.root)(e)))?;
    crate::crashpoint::hit("before-commit");

    // 4. The transaction.
    let extracted = record::Added {
        objects: added.0,
        bytes: added.1,
    };
    let rotations = rotation::plan(store, manifest, &before, opts.keep_old_key)?;
    let recorded = record::record(
        store,
        &bundle.id,
        manifest,
        &versions,
        &extracted,
        rollback.as_deref(),
        promote.as_deref(),
        &rotations,
    )?;
    crate::crashpoint::hit("after-commit");

    // 5. Publish.
    store.reconcile()?;
    crate::crashpoint::hit("after-publish");
    let _ = std::fs::remove_dir_all(&stage_dir);
    let present_before = (manifest.objects.len() as u64).saturating_sub(added.0);
    Ok(Outcome::Imported(ImportSummary {
        bundle: id,
        organization: manifest.organization.clone(),
        sequence: manifest.sequence,
        objects_added: added.0,
        bytes_added: added.1,
        objects_present: present_before,
        published: recorded.published,
        retired: recorded.retired,
        promoted: recorded.promoted,
        key_rotations: recorded.key_rotations,
    }))
}

/// Write the canonical manifest to a new file, streaming (no second copy in memory).
fn write_manifest(path: &Path, m: &Manifest) -> std::io::Result<()> {
    struct W<T: std::io::Write>(T, Option<std::io::Error>);
    impl<T: std::io::Write> std::fmt::Write for W<T> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write_all(s.as_bytes()).map_err(|e| {
                self.1 = Some(e);
                std::fmt::Error
            })
        }
    }
    let f = std::fs::File::create(path).map_err(objects::at(path))?;
    let mut w = W(std::io::BufWriter::new(f), None);
    if m.write_to(&mut w).is_err() {
        return Err(objects::at(path)(
            w.1.take()
                .unwrap_or_else(|| std::io::Error::other("format")),
        ));
    }
    let f =
        w.0.into_inner()
            .map_err(|e| objects::at(path)(e.into_error()))?;
    f.sync_all().map_err(objects::at(path))
}

/// The keys an import trusts: those given, and those registered in the store.
pub fn trusted_keys(store: &Store, given: &[PublicKey]) -> Result<Vec<PublicKey>, ImportError> {
    let mut trusted = given.to_vec();
    for k in store.db.trusted_keys()? {
        if let Ok(pk) = PublicKey::parse(k.public_key.as_bytes())
            && !trusted.iter().any(|t| t.id == pk.id)
        {
            trusted.push(pk);
        }
    }
    if trusted.is_empty() {
        return Err(ImportError::NoTrustedKey);
    }
    Ok(trusted)
}

/// What the store says about a bundle whose signatures and manifest checked out, before
/// any pack is read.
#[derive(Debug, Clone)]
pub enum Admission {
    /// The store has it already.
    AlreadyImported {
        /// When it was imported.
        imported: String,
        /// The id of the physical copy imported, when it is another one.
        copy_of: Option<String>,
    },
    /// It may be imported.
    New {
        /// The history note of a deliberate rollback.
        rollback: Option<String>,
        /// Volumes staged by earlier runs.
        staged: Vec<u32>,
    },
}

/// The store's checks on a bundle before any pack is read: already imported, old or
/// replayed media (refused unless `allow_rollback`), a missing base. The server runs the
/// same checks on an uploaded volume before it accepts any pack byte.
pub fn admit(
    store: &Store,
    bundle: &Bundle,
    allow_rollback: bool,
) -> Result<Admission, ImportError> {
    let id = bundle.id.to_hex();
    if let Some(imported) = store.db.bundle_imported(&id)? {
        return Ok(Admission::AlreadyImported {
            imported,
            copy_of: None,
        });
    }
    // Another physical copy of a bundle the store holds (`ferry pack --again`).
    if let Some((held, imported)) = copies::imported_copy(store, &bundle.manifest)? {
        return Ok(Admission::AlreadyImported {
            imported,
            copy_of: Some(held),
        });
    }
    rotation::check_not_rotated(store, &id, &bundle.manifest)?;
    let rollback = check_stream(store, &id, &bundle.manifest, allow_rollback)?;
    check_immutable(store, &id, &bundle.manifest)?;
    let staged = store.db.staged_volumes(&id)?;
    Ok(Admission::New { rollback, staged })
}

/// Old or replayed media are refused; an incremental bundle needs its base. Returns the
/// history note of a deliberate rollback.
fn check_stream(
    store: &Store,
    id: &str,
    m: &Manifest,
    allow_rollback: bool,
) -> Result<Option<String>, ImportError> {
    let mut rollback = None;
    // The stream's newest bundle, whichever key of its chain of rotations signed it.
    let mut head: Option<crate::store::db::StreamHead> = None;
    for signer in rotation::stream_signers(store, m)? {
        if let Some(h) = store.db.stream_head(&m.organization, &signer)?
            && head.as_ref().is_none_or(|x| h.sequence > x.sequence)
        {
            head = Some(h);
        }
    }
    if let Some(head) = head
        && m.sequence <= head.sequence
    {
        if !allow_rollback {
            return Err(ImportError::Stale(Box::new(Stale {
                bundle: id.to_string(),
                sequence: m.sequence,
                current: head.sequence,
                current_bundle: head.bundle,
                imported: head.imported,
                signer: m.signer.to_string(),
                organization: m.organization.clone(),
            })));
        }
        rollback = Some(format!(
            "deliberate rollback (--allow-rollback): sequence {} over {} (bundle {})",
            m.sequence, head.sequence, head.bundle
        ));
    }
    if let Some(base) = &m.base
        && !copies::holds_base(store, &m.organization, base)?
    {
        return Err(ImportError::MissingBase {
            bundle: id.to_string(),
            base: base.bundle,
            sequence: base.sequence,
            created: base.created.clone(),
        });
    }
    Ok(rollback)
}

/// Trees used only by content-view versions that this store pruned: such a version is
/// not built again (its objects may be gone); it stays pruned.
fn pruned_trees<'m>(
    store: &Store,
    m: &'m Manifest,
) -> Result<std::collections::HashSet<&'m str>, ImportError> {
    let mut pruned = std::collections::HashSet::new();
    let mut needed = std::collections::HashSet::new();
    for r in &m.repositories {
        needed.insert(r.tree.as_str());
    }
    for v in &m.content_views {
        let gone = store
            .db
            .view_version_pruned(&m.organization, &v.label, &v.version)?;
        for vr in &v.repositories {
            if gone {
                pruned.insert(vr.tree.as_str());
            } else {
                needed.insert(vr.tree.as_str());
            }
        }
    }
    Ok(pruned.difference(&needed).copied().collect())
}

/// A content-view version the store holds must come with the same content: the same
/// repositories, each with the same tree (files, objects and GPG key).
fn check_immutable(store: &Store, id: &str, m: &Manifest) -> Result<(), ImportError> {
    let keys = tree_keys(m);
    for v in &m.content_views {
        let Some((first_bundle, imported)) =
            store
                .db
                .view_version(&m.organization, &v.label, &v.version)?
        else {
            continue;
        };
        let stored: BTreeMap<String, String> = store
            .db
            .view_version_trees(&m.organization, &v.label, &v.version)?
            .into_iter()
            .collect();
        let mut carried = BTreeMap::new();
        for vr in &v.repositories {
            let tree = m.tree(&vr.tree).expect("checked manifest");
            carried.insert(
                vr.repository.clone(),
                trees::version_id(tree, keys.get(vr.tree.as_str()).copied()),
            );
        }
        let names: std::collections::BTreeSet<&String> =
            stored.keys().chain(carried.keys()).collect();
        if let Some(repository) = names
            .into_iter()
            .find(|n| stored.get(*n) != carried.get(*n))
        {
            return Err(ImportError::VersionChanged(Box::new(VersionChanged {
                bundle: id.to_string(),
                view: v.label.clone(),
                version: v.version.clone(),
                repository: repository.clone(),
                first_bundle,
                imported,
            })));
        }
    }
    Ok(())
}

/// A bundle carries a content-view version the store holds, with other content.
#[derive(Debug, thiserror::Error)]
#[error(
    "bundle {} carries content view {view} version {version} with other content than this store holds (imported {imported} from bundle {}): repository {repository} differs. A content-view version never changes once imported; the export side must give new content a new version. Nothing was changed",
    &bundle[..16], &first_bundle[..16]
)]
pub struct VersionChanged {
    /// The refused bundle.
    pub bundle: String,
    /// View label.
    pub view: String,
    /// Version.
    pub version: String,
    /// The first repository (`product/repo`) that differs.
    pub repository: String,
    /// The bundle the store's copy came from.
    pub first_bundle: String,
    /// When it was imported.
    pub imported: String,
}

/// The GPG key published with each tree (its product's).
fn tree_keys(m: &Manifest) -> BTreeMap<&str, &crate::format::manifest::GpgKey> {
    let keys: BTreeMap<&str, &crate::format::manifest::GpgKey> = m
        .products
        .iter()
        .filter_map(|p| p.gpg_key.as_ref().map(|k| (p.label.as_str(), k)))
        .collect();
    tree_products(m)
        .into_iter()
        .filter_map(|(t, p)| keys.get(p).map(|k| (t, *k)))
        .collect()
}

/// Which product each tree belongs to (its GPG key is published beside it).
fn tree_products(m: &Manifest) -> BTreeMap<&str, &str> {
    let mut out = BTreeMap::new();
    for r in &m.repositories {
        out.insert(r.tree.as_str(), r.product.as_str());
    }
    for v in &m.content_views {
        for vr in &v.repositories {
            if let Some((product, _)) = vr.repository.split_once('/') {
                out.entry(vr.tree.as_str()).or_insert(product);
            }
        }
    }
    out
}

/// Room for what this run writes: the objects the store lacks (each rounded up to the
/// file system's block), the pieces it stages, the manifest's copy, and 16 MiB for
/// directories and the database. Checked arithmetic throughout: a hostile manifest cannot
/// make the sum wrap. Returns the objects the store lacks.
fn check_space(
    store: &Store,
    bundle: &Bundle,
    present: &BTreeMap<u32, crate::bundle::Volume>,
) -> Result<HashSet<ObjectId>, ImportError> {
    let st = rustix::fs::statvfs(&store.root)
        .map_err(|e| ImportError::Write(objects::at(&store.root)(e.into())))?;
    let block = st.f_frsize.max(512);
    let m = &bundle.manifest;
    let mut needed = Some(bundle.manifest_len + 16 * 1024 * 1024);
    let mut lacking = HashSet::new();
    for (id, o) in &m.objects {
        if !objects::has(&store.root, id) {
            lacking.insert(*id);
            needed = needed.and_then(|n| n.checked_add(o.size.div_ceil(block).checked_mul(block)?));
        }
        let here =
            |p: &&crate::format::manifest::Piece| present.contains_key(&m.packs[&p.pack].volume);
        if !o.pieces.iter().all(|p| here(&p)) {
            for p in o.pieces.iter().filter(here) {
                needed = needed.and_then(|n| n.checked_add(p.length));
            }
        }
    }
    let needed = needed.unwrap_or(u64::MAX);
    let available = st.f_bavail.saturating_mul(st.f_frsize);
    if needed > available {
        return Err(ImportError::NoSpace {
            needed,
            available,
            path: store.root.clone(),
        });
    }
    Ok(lacking)
}
