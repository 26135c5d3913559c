//! `ferry prune`: give back the space of what no one needs any more.
//!
//! What is kept:
//! - of each content view (per organization), the newest `keep` versions not already pruned
//!   (ordered by [`crate::import::version_cmp`]), and every version an environment holds;
//!   the others are pruned: their rows stay (the history, and the record an import checks a
//!   version's content against), marked with the time they were pruned;
//! - of each Library repository, the newest `keep` versions (the current one among them);
//! - a version directory `versions/<id>` when a publication, a content-view version or a
//!   repository version that is not pruned names it (or a link under `published/` points
//!   to it);
//! - an object when a file of a kept version directory is the same inode, or when the
//!   manifest of a partly staged bundle (`staging/<bundle>/manifest.toml`) names it: the
//!   rest of that bundle will need it;
//! - an upload (`uploads/<key>/`) touched within the last `uploads_older_than`.
//!
//! Order, and why it is safe to kill at any point:
//! 1. one SQLite transaction marks the versions pruned and records a `prune` event;
//! 2. each version directory that nothing keeps is renamed into `tmp/prune/` (atomic: an
//!    import takes an existing `versions/<id>` for complete, so a half-deleted one never
//!    stays under that name), the renames are made durable, then the directories deleted;
//! 3. objects that nothing keeps are deleted, then abandoned uploads;
//! 4. the file system is synced.
//!
//! Nothing published is ever touched: a published link points into a version directory
//! that is kept, whose files are hard links that keep their data whatever happens to
//! `objects/`. A run killed anywhere leaves a consistent store (`tmp/` is emptied by the
//! next run of anything), and running prune again reaches the end state an uninterrupted
//! run reaches.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::params;
use serde::Serialize;

use super::db::DbError;
use super::{Access, Store, StoreError, history, objects};
use crate::format::ObjectId;
use crate::format::manifest::Manifest;
use crate::format::volume_info::VolumeInfo;
use crate::import::version_cmp;

/// Versions kept of each content view and each repository, unless told otherwise.
pub const DEFAULT_KEEP: u32 = 1;

/// Uploads untouched for this long are abandoned, unless told otherwise (7 days).
pub const DEFAULT_UPLOADS_OLDER_THAN: Duration = Duration::from_secs(7 * 24 * 3600);

/// What to prune.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// The store.
    pub store: PathBuf,
    /// Versions to keep of each content view and each repository (at least 1).
    pub keep: u32,
    /// Only compute what would be done.
    pub dry_run: bool,
    /// Wait for another process that holds the store.
    pub wait: bool,
    /// Remove uploads whose newest file is older than this.
    pub uploads_older_than: Duration,
}

impl PruneOptions {
    /// The defaults for the store at `store`.
    pub fn new(store: PathBuf) -> Self {
        Self {
            store,
            keep: DEFAULT_KEEP,
            dry_run: false,
            wait: true,
            uploads_older_than: DEFAULT_UPLOADS_OLDER_THAN,
        }
    }
}

/// Why a prune failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PruneError {
    /// Opening or locking the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Its database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// `--keep 0`.
    #[error(
        "at least 1 version must be kept: the newest version of each view and repository always is"
    )]
    BadKeep,
    /// I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PruneError + '_ {
    move |source| PruneError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sql(e: rusqlite::Error) -> PruneError {
    PruneError::Db(DbError::from(e))
}

/// A content-view version pruned (or that would be).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PrunedView {
    /// Organization.
    pub organization: String,
    /// View label.
    pub view: String,
    /// Version.
    pub version: String,
}

/// A Library repository version pruned (or that would be).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PrunedRepository {
    /// Organization.
    pub organization: String,
    /// Product label.
    pub product: String,
    /// Repository label.
    pub repository: String,
    /// Version number.
    pub version: i64,
}

/// An abandoned upload removed (or that would be).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AbandonedUpload {
    /// Its key (directory name under `uploads/`).
    pub key: String,
    /// The bundle its `volume.toml` names, if it has one.
    pub bundle: Option<String>,
    /// When its newest file was last modified (UTC).
    pub modified: String,
    /// Bytes on disk (st_blocks × 512) of its files.
    pub bytes: u64,
}

/// What a prune did, or, with `dry_run`, would do. Sizes are bytes on disk (st_blocks ×
/// 512), each file counted once, and only for files whose last link is removed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PruneReport {
    /// Nothing was changed: these are what a prune would do now.
    pub dry_run: bool,
    /// Versions kept of each view and repository.
    pub keep: u32,
    /// Content-view versions pruned.
    pub view_versions: Vec<PrunedView>,
    /// Library repository versions pruned.
    pub repository_versions: Vec<PrunedRepository>,
    /// Version directories removed.
    pub version_dirs_removed: u64,
    /// Objects removed, counting the temporary object files an interrupted import left
    /// (`objects/ab/.cdef….tmp`).
    pub objects_removed: u64,
    /// Bytes on disk the removed objects (and temporary object files) held.
    pub object_bytes_freed: u64,
    /// Bytes on disk held only by the removed version directories (their copies of the
    /// product's GPG key, and files that could not be hard links).
    pub version_bytes_freed: u64,
    /// Abandoned uploads removed.
    pub uploads_removed: Vec<AbandonedUpload>,
    /// Bytes on disk the removed uploads held.
    pub upload_bytes_freed: u64,
    /// All bytes freed: objects, version directories and uploads.
    pub bytes_freed: u64,
    /// What was left alone, and why.
    pub warnings: Vec<String>,
}

impl PruneReport {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.view_versions.is_empty()
            && self.repository_versions.is_empty()
            && self.version_dirs_removed == 0
            && self.objects_removed == 0
            && self.uploads_removed.is_empty()
    }
}

/// Parse `7d`, `12h`, `30m` or `45s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad =
        || format!("{s:?} is not a duration: give a number and a unit, as 7d, 12h, 30m or 45s");
    let unit = s.chars().last().ok_or_else(bad)?;
    let factor = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => return Err(bad()),
    };
    let n: u64 = s[..s.len() - 1].parse().map_err(|_| bad())?;
    n.checked_mul(factor)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// A file's identity: device and inode.
pub type Inode = (u64, u64);

/// One inode of the kept version directories.
#[derive(Debug, Clone, Copy)]
pub struct Holder {
    /// How many kept version directories link it.
    pub dirs: u32,
    /// The first of them (index into [`Plan::kept_dirs`]).
    pub first: u32,
    /// Its bytes on disk.
    pub bytes: u64,
    /// The last directory it was seen in.
    last: u32,
}

/// What a prune would do, computed without changing anything.
#[derive(Debug)]
pub struct Plan {
    /// The report it would give.
    pub report: PruneReport,
    /// Version directories it keeps (ids, sorted).
    pub kept_dirs: Vec<String>,
    /// Every inode of a kept version directory.
    pub holders: HashMap<Inode, Holder>,
    /// Version directories to remove.
    remove_dirs: Vec<String>,
    /// Objects to remove.
    remove_objects: Vec<ObjectId>,
    /// Temporary object files an interrupted import left, to remove.
    remove_temps: Vec<PathBuf>,
}

/// A repository: organization, product, label.
type RepoKey<'a> = (&'a str, &'a str, &'a str);

/// What the database holds, read once.
struct Catalog {
    /// (org, view, version, pruned)
    view_versions: Vec<(String, String, String, bool)>,
    /// (org, view, version) an environment holds
    held: HashSet<(String, String, String)>,
    /// (org, product, label, version, tree, pruned)
    repo_versions: Vec<(String, String, String, i64, String, bool)>,
    /// (org, view, version, tree)
    view_trees: Vec<(String, String, String, String)>,
    /// publications' trees
    published: Vec<String>,
    /// partly staged bundles
    staged: Vec<String>,
}

fn read_catalog(store: &Store) -> Result<Catalog, PruneError> {
    let c = &store.db.conn;
    let mut st = c
        .prepare("SELECT organization, label, version, pruned IS NOT NULL FROM view_versions")
        .map_err(sql)?;
    let view_versions = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let mut st = c
        .prepare("SELECT organization, view, version FROM environment_views")
        .map_err(sql)?;
    let held = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let mut st = c
        .prepare(
            "SELECT organization, product, label, version, tree, pruned IS NOT NULL FROM repository_versions",
        )
        .map_err(sql)?;
    let repo_versions = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let mut st = c
        .prepare("SELECT organization, view, view_version, tree FROM view_repositories")
        .map_err(sql)?;
    let view_trees = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let published = store
        .db
        .publications()?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let mut st = c
        .prepare(
            "SELECT DISTINCT bundle FROM staged_volumes WHERE bundle NOT IN (SELECT id FROM bundles)
             ORDER BY bundle",
        )
        .map_err(sql)?;
    let staged = st
        .query_map([], |r| r.get(0))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    Ok(Catalog {
        view_versions,
        held,
        repo_versions,
        view_trees,
        published,
        staged,
    })
}

/// Entries of a directory; none if it does not exist.
fn entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>, PruneError> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<_> = rd.collect::<Result<_, _>>().map_err(io(dir))?;
            v.sort_by_key(|e| e.file_name());
            Ok(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(dir)(e)),
    }
}

/// A walk that skips what disappears under it (a dry run takes no lock).
fn walk(dir: &Path) -> impl Iterator<Item = Result<walkdir::DirEntry, PruneError>> + '_ {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(move |e| match e {
            Ok(e) => Some(Ok(e)),
            Err(err)
                if err
                    .io_error()
                    .is_some_and(|i| i.kind() == std::io::ErrorKind::NotFound) =>
            {
                None
            }
            Err(err) => {
                let path = err.path().unwrap_or(dir).to_path_buf();
                Some(Err(PruneError::Io {
                    path,
                    source: err.into(),
                }))
            }
        })
}

/// Version ids the links under `published/` point to now.
fn linked_versions(root: &Path) -> Result<BTreeSet<String>, PruneError> {
    let mut out = BTreeSet::new();
    let top = root.join("published");
    if !top.exists() {
        return Ok(out);
    }
    for e in walk(&top) {
        let e = e?;
        if !e.path_is_symlink() {
            continue;
        }
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let parts: Vec<String> = target
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if let Some(i) = parts.iter().position(|p| p == "versions")
            && let Some(id) = parts.get(i + 1)
        {
            out.insert(id.clone());
        }
    }
    Ok(out)
}

/// The objects the manifests of partly staged bundles name (their objects and every file
/// of their trees). `None` when a staged bundle has no readable manifest (staged by an
/// older ferry): then no object is removed.
fn staged_objects(
    root: &Path,
    staged: &[String],
    warnings: &mut Vec<String>,
) -> Result<Option<HashSet<ObjectId>>, PruneError> {
    let mut ids = HashSet::new();
    let mut complete = true;
    let dir = root.join("staging");
    let mut names: BTreeSet<String> = staged.iter().cloned().collect();
    // A run killed between storing objects and recording the stage left a manifest too.
    for e in entries(&dir)? {
        names.insert(e.file_name().to_string_lossy().into_owned());
    }
    for name in names {
        let path = dir.join(&name).join("manifest.toml");
        let parsed = match std::fs::read(&path) {
            Ok(bytes) => Manifest::parse(&bytes).map_err(|e| e.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("missing".to_string()),
            Err(e) => return Err(io(&path)(e)),
        };
        match parsed {
            Ok(m) => {
                ids.extend(m.objects.keys().copied());
                for t in &m.trees {
                    ids.extend(t.files.values().copied());
                }
            }
            Err(why) if staged.contains(&name) => {
                complete = false;
                warnings.push(format!(
                    "no object was removed: bundle {} is partly staged but its manifest ({}) is {why}; import its other volumes or abandon it (ferry import --abandon {})",
                    &name[..name.len().min(16)],
                    path.display(),
                    &name[..name.len().min(16)],
                ));
            }
            Err(_) => {}
        }
    }
    Ok(complete.then_some(ids))
}

/// The object a path under `objects/` names, if it is one.
fn object_id(dir: &str, file: &str) -> Option<ObjectId> {
    if dir.len() != 2 || file.len() != 62 {
        return None;
    }
    format!("{dir}{file}").parse().ok()
}

/// Bytes on disk of a file.
fn disk_bytes(m: &std::fs::Metadata) -> u64 {
    m.blocks().saturating_mul(512)
}

/// The newest modification time of anything under `dir`.
fn newest_modification(dir: &Path) -> Result<(SystemTime, u64), PruneError> {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut bytes = 0u64;
    for e in walk(dir) {
        let e = e?;
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if let Ok(t) = m.modified() {
            newest = newest.max(t);
        }
        if m.is_file() {
            bytes = bytes.saturating_add(disk_bytes(&m));
        }
    }
    Ok((newest, bytes))
}

fn abandoned_uploads(
    root: &Path,
    older_than: Duration,
) -> Result<Vec<AbandonedUpload>, PruneError> {
    let now = SystemTime::now();
    let mut out = Vec::new();
    for e in entries(&root.join("uploads"))? {
        let path = e.path();
        if !path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let (newest, bytes) = newest_modification(&path)?;
        let age = now.duration_since(newest).unwrap_or(Duration::ZERO);
        if age <= older_than {
            continue;
        }
        let bundle = std::fs::read(path.join(crate::format::constants::VOLUME_FILE))
            .ok()
            .and_then(|b| VolumeInfo::parse(&b).ok())
            .map(|v| v.bundle.to_hex());
        let secs = newest
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        out.push(AbandonedUpload {
            key: e.file_name().to_string_lossy().into_owned(),
            bundle,
            modified: crate::time::rfc3339(secs),
            bytes,
        });
    }
    Ok(out)
}

/// Work out what a prune with these settings would do now; changes nothing.
pub fn plan(store: &Store, keep: u32, uploads_older_than: Duration) -> Result<Plan, PruneError> {
    if keep == 0 {
        return Err(PruneError::BadKeep);
    }
    let root = &store.root;
    let cat = read_catalog(store)?;
    let mut warnings = Vec::new();

    // Content-view versions: the newest `keep` of each view not already pruned, and what
    // environments hold.
    let mut by_view: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (org, view, version, pruned) in &cat.view_versions {
        if !pruned {
            by_view.entry((org, view)).or_default().push(version);
        }
    }
    let mut prune_views = Vec::new();
    let mut live_views: HashSet<(&str, &str, &str)> = HashSet::new();
    for ((org, view), mut versions) in by_view {
        versions.sort_by(|a, b| version_cmp(b, a));
        for (i, version) in versions.into_iter().enumerate() {
            let held = cat
                .held
                .contains(&(org.to_string(), view.to_string(), version.to_string()));
            if i < keep as usize || held {
                live_views.insert((org, view, version));
            } else {
                prune_views.push(PrunedView {
                    organization: org.into(),
                    view: view.into(),
                    version: version.into(),
                });
            }
        }
    }

    // Library repository versions: the newest `keep` of each repository.
    let mut by_repo: BTreeMap<RepoKey<'_>, Vec<(i64, &str)>> = BTreeMap::new();
    for (org, product, label, version, tree, pruned) in &cat.repo_versions {
        if !pruned {
            by_repo
                .entry((org, product, label))
                .or_default()
                .push((*version, tree));
        }
    }
    let mut prune_repos = Vec::new();
    let mut kept: BTreeSet<String> = BTreeSet::new();
    for ((org, product, label), mut versions) in by_repo {
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        for (i, (version, tree)) in versions.into_iter().enumerate() {
            if i < keep as usize {
                kept.insert(tree.to_string());
            } else {
                prune_repos.push(PrunedRepository {
                    organization: org.into(),
                    product: product.into(),
                    repository: label.into(),
                    version,
                });
            }
        }
    }

    // Oldest first, in the report.
    prune_views.sort_by(|a, b| {
        (&a.organization, &a.view)
            .cmp(&(&b.organization, &b.view))
            .then_with(|| version_cmp(&a.version, &b.version))
    });
    prune_repos.sort_by(|a, b| {
        (&a.organization, &a.product, &a.repository, a.version).cmp(&(
            &b.organization,
            &b.product,
            &b.repository,
            b.version,
        ))
    });

    // Version directories.
    for (org, view, version, tree) in &cat.view_trees {
        if live_views.contains(&(org.as_str(), view.as_str(), version.as_str())) {
            kept.insert(tree.clone());
        }
    }
    kept.extend(cat.published.iter().cloned());
    kept.extend(linked_versions(root)?);
    let mut kept_dirs = Vec::new();
    let mut remove_dirs = Vec::new();
    for e in entries(&root.join("versions"))? {
        let name = e.file_name().to_string_lossy().into_owned();
        if !e.path().symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if kept.contains(&name) {
            kept_dirs.push(name);
        } else {
            remove_dirs.push(name);
        }
    }

    // Every inode of the kept version directories.
    let mut holders: HashMap<Inode, Holder> = HashMap::new();
    for (i, id) in kept_dirs.iter().enumerate() {
        let i = i as u32;
        for e in walk(&root.join("versions").join(id)) {
            let e = e?;
            if !e.file_type().is_file() {
                continue;
            }
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            let h = holders.entry((m.dev(), m.ino())).or_insert(Holder {
                dirs: 0,
                first: i,
                bytes: disk_bytes(&m),
                last: i,
            });
            // Counted once per directory (a tree may hold one object at two paths).
            if h.dirs == 0 || h.last != i {
                h.dirs += 1;
                h.last = i;
            }
        }
    }

    // What removing files frees: an inode whose every link goes.
    // inode → (links, links removed, bytes, is an object)
    let mut removed: HashMap<Inode, (u64, u64, u64, bool)> = HashMap::new();
    for id in &remove_dirs {
        for e in walk(&root.join("versions").join(id)) {
            let e = e?;
            if !e.file_type().is_file() {
                continue;
            }
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            let r =
                removed
                    .entry((m.dev(), m.ino()))
                    .or_insert((m.nlink(), 0, disk_bytes(&m), false));
            r.1 += 1;
        }
    }

    // Objects.
    let staged = staged_objects(root, &cat.staged, &mut warnings)?;
    let mut remove_objects = Vec::new();
    let mut remove_temps = Vec::new();
    let mut temp_bytes = 0u64;
    if let Some(staged) = &staged {
        for d in entries(&root.join("objects"))? {
            let dname = d.file_name().to_string_lossy().into_owned();
            if !d.path().symlink_metadata().is_ok_and(|m| m.is_dir()) {
                continue;
            }
            for f in entries(&d.path())? {
                let fname = f.file_name().to_string_lossy().into_owned();
                if objects::is_temp_name(&fname) {
                    if let Ok(m) = f.path().symlink_metadata()
                        && m.is_file()
                    {
                        temp_bytes = temp_bytes.saturating_add(disk_bytes(&m));
                        remove_temps.push(f.path());
                    }
                    continue;
                }
                let Some(id) = object_id(&dname, &fname) else {
                    continue;
                };
                let Ok(m) = f.path().symlink_metadata() else {
                    continue;
                };
                if !m.is_file() {
                    continue;
                }
                let inode = (m.dev(), m.ino());
                if holders.contains_key(&inode) || staged.contains(&id) {
                    continue;
                }
                remove_objects.push(id);
                let r = removed
                    .entry(inode)
                    .or_insert((m.nlink(), 0, disk_bytes(&m), true));
                r.1 += 1;
                r.3 = true;
            }
        }
    }
    let (mut object_bytes, mut version_bytes) = (temp_bytes, 0u64);
    for (links, gone, bytes, object) in removed.values() {
        if gone >= links {
            if *object {
                object_bytes = object_bytes.saturating_add(*bytes);
            } else {
                version_bytes = version_bytes.saturating_add(*bytes);
            }
        }
    }

    let uploads = abandoned_uploads(root, uploads_older_than)?;
    let upload_bytes = uploads
        .iter()
        .map(|u| u.bytes)
        .fold(0u64, u64::saturating_add);

    let report = PruneReport {
        dry_run: true,
        keep,
        view_versions: prune_views,
        repository_versions: prune_repos,
        version_dirs_removed: remove_dirs.len() as u64,
        objects_removed: (remove_objects.len() + remove_temps.len()) as u64,
        object_bytes_freed: object_bytes,
        version_bytes_freed: version_bytes,
        uploads_removed: uploads,
        upload_bytes_freed: upload_bytes,
        bytes_freed: object_bytes
            .saturating_add(version_bytes)
            .saturating_add(upload_bytes),
        warnings,
    };
    Ok(Plan {
        report,
        kept_dirs,
        holders,
        remove_dirs,
        remove_objects,
        remove_temps,
    })
}

/// What the `prune` event says.
fn describe(r: &PruneReport) -> String {
    let mut parts = Vec::new();
    if !r.view_versions.is_empty() {
        let list: Vec<String> = r
            .view_versions
            .iter()
            .map(|v| format!("{}/{} {}", v.organization, v.view, v.version))
            .collect();
        parts.push(format!(
            "content-view versions {} (older than the newest {} of their view, held by no environment)",
            list.join(", "),
            r.keep
        ));
    }
    if !r.repository_versions.is_empty() {
        let list: Vec<String> = r
            .repository_versions
            .iter()
            .map(|v| {
                format!(
                    "{}/{}/{} {}",
                    v.organization, v.product, v.repository, v.version
                )
            })
            .collect();
        parts.push(format!(
            "repository versions {} (older than the newest {} of their repository)",
            list.join(", "),
            r.keep
        ));
    }
    parts.push(format!(
        "removing {} version directories and {} objects no kept version links ({} bytes on disk)",
        r.version_dirs_removed,
        r.objects_removed,
        r.object_bytes_freed.saturating_add(r.version_bytes_freed)
    ));
    if !r.uploads_removed.is_empty() {
        let keys: Vec<&str> = r
            .uploads_removed
            .iter()
            .map(|u| &u.key[..u.key.len().min(16)])
            .collect();
        parts.push(format!("abandoned uploads {}", keys.join(", ")));
    }
    format!("keep {}: {}", r.keep, parts.join("; "))
}

/// Remove the fan-out directories of `objects/` that are empty (an import makes them
/// again); whether there were any.
fn remove_empty_fanout(root: &Path) -> Result<bool, PruneError> {
    let mut any = false;
    for d in entries(&root.join("objects"))? {
        let p = d.path();
        if p.symlink_metadata().is_ok_and(|m| m.is_dir())
            && std::fs::read_dir(&p).map_err(io(&p))?.next().is_none()
        {
            std::fs::remove_dir(&p).map_err(io(&p))?;
            any = true;
        }
    }
    Ok(any)
}

/// Remove a file, if it is still there.
fn remove_file(path: &Path) -> Result<(), PruneError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Remove a directory that was renamed out of the way.
fn remove_dir(path: &Path) -> Result<(), PruneError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Prune the store (see the module's documentation); with `dry_run`, only say what would
/// be done.
pub fn prune(opts: &PruneOptions, on_wait: &dyn Fn(&str)) -> Result<PruneReport, PruneError> {
    if opts.keep == 0 {
        return Err(PruneError::BadKeep);
    }
    if opts.dry_run {
        // No lock and no write: the numbers of a prune that would start now.
        let store = Store::open(&opts.store, Access::Read, &|_| {})?;
        return Ok(plan(&store, opts.keep, opts.uploads_older_than)?.report);
    }
    if !opts.store.join("ferry.db").is_file() {
        // Never make a store where there is none (a mistyped path).
        return Err(StoreError::NotAStore(opts.store.clone()).into());
    }
    let store = Store::open(&opts.store, Access::Write { wait: opts.wait }, on_wait)?;
    store.clean_tmp()?;
    // Finish what an interrupted import or promotion left, so that the links on disk are
    // what the database says before anything is judged unused.
    store.reconcile()?;
    store.clean_staging()?;
    let plan = plan(&store, opts.keep, opts.uploads_older_than)?;
    let mut report = plan.report;
    report.dry_run = false;
    let root = &store.root;
    if report.is_empty() {
        // Only what a killed run may have left: empty fan-out directories.
        if remove_empty_fanout(root)? {
            objects::sync_filesystem(root).map_err(io(root))?;
        }
        return Ok(report);
    }

    // 1. The transaction.
    let now = crate::time::rfc3339(crate::time::now_secs());
    let tx = store.db.conn.unchecked_transaction().map_err(sql)?;
    for v in &report.view_versions {
        tx.execute(
            "UPDATE view_versions SET pruned = ?4 WHERE organization = ?1 AND label = ?2 AND version = ?3 AND pruned IS NULL",
            params![v.organization, v.view, v.version, now],
        )
        .map_err(sql)?;
    }
    for v in &report.repository_versions {
        tx.execute(
            "UPDATE repository_versions SET pruned = ?5 WHERE organization = ?1 AND product = ?2 AND label = ?3 AND version = ?4 AND pruned IS NULL",
            params![v.organization, v.product, v.repository, v.version, now],
        )
        .map_err(sql)?;
    }
    history::record(&tx, &now, "prune", None, &describe(&report)).map_err(sql)?;
    tx.commit().map_err(sql)?;
    crate::crashpoint::hit("prune-marked");

    // 2. Version directories: out of `versions/` first, durably, then deleted.
    let trash = store.tmp().join("prune");
    std::fs::create_dir_all(&trash).map_err(io(&trash))?;
    for id in &plan.remove_dirs {
        let from = super::trees::version_dir(root, id);
        let to = trash.join(id);
        std::fs::rename(&from, &to).map_err(io(&from))?;
        crate::crashpoint::hit("prune-version-moved");
    }
    if !plan.remove_dirs.is_empty() {
        crate::fsutil::sync_dir(&root.join("versions")).map_err(io(&root.join("versions")))?;
        crate::crashpoint::hit("prune-versions-moved");
    }
    for id in &plan.remove_dirs {
        remove_dir(&trash.join(id))?;
        crate::crashpoint::hit("prune-version-removed");
    }

    // 3. Objects, then abandoned uploads.
    for id in &plan.remove_objects {
        remove_file(&objects::path(root, id))?;
        crate::crashpoint::hit("prune-object-removed");
    }
    for p in &plan.remove_temps {
        remove_file(p)?;
    }
    remove_empty_fanout(root)?;
    crate::crashpoint::hit("prune-objects-removed");
    for u in &report.uploads_removed {
        let from = root.join("uploads").join(&u.key);
        let to = trash.join(format!("upload-{}", u.key));
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&from)(e)),
        }
        remove_dir(&to)?;
        crate::crashpoint::hit("prune-upload-removed");
    }

    // 4. Durable.
    remove_dir(&trash)?;
    objects::sync_filesystem(root).map_err(io(root))?;
    crate::crashpoint::hit("prune-synced");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "d", "7", "7w", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
