//! Planning a pack: read the catalog's repositories through their metadata and list every
//! file to carry, before any byte of a package is read.
//!
//! Only `repomd.xml`, the primary metadata (to learn the package list) and the small
//! unlisted `repomd.xml.asc`/`.key` are read here; they are kept in memory and written from
//! there, so no source byte is read twice. Everything else is only `stat`ed: a missing file
//! or a size that disagrees with the metadata is reported now, all at once.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::state::{ExportState, FileStamp, StateError};
use crate::catalog::{Catalog, Source};
use crate::fetch::mirror::Arrivals;
use crate::format::{ObjectId, Sha256Digest, relpath};
use crate::fsutil::read_capped;
use crate::yum;
use crate::yum::checksum::{Checksum, ChecksumKind, Hasher};

/// Largest `repomd.xml` (or detached signature / key beside it) read into memory.
const MAX_SMALL_METADATA: u64 = 64 << 20;
/// Largest primary metadata file read into memory.
const MAX_PRIMARY: u64 = 2 << 30;

/// One source file to carry.
#[derive(Debug)]
pub struct SourceFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size when planned.
    pub size: u64,
    /// Checksums the metadata declares for it (several trees may declare it).
    pub declared: Vec<Checksum>,
    /// Its bytes, for the few files read while planning.
    pub preloaded: Option<Arc<[u8]>>,
    /// Its SHA-256 when known before it is written: computed for preloaded files, or
    /// declared by sha256 metadata.
    pub known_id: Option<ObjectId>,
    /// How to name it to the operator: `tree: path`.
    pub display: String,
    /// Its canonical path (the key of the export state's file cache).
    pub key: PathBuf,
    /// Size, time and inode when planned.
    pub stamp: FileStamp,
    /// Its SHA-256 came from the export state's cache: it is not read unless needed.
    pub cached: bool,
    /// It is on its way into the fetch cache: planned by its declared size, read once
    /// [`Plan::arrivals`] says it is there.
    pub pending: bool,
}

/// One repository snapshot to describe in the manifest.
#[derive(Debug)]
pub struct TreePlan {
    /// Manifest tree name.
    pub name: String,
    /// Number of packages in its primary metadata.
    pub packages: u64,
    /// Relative path → index into [`Plan::files`].
    pub files: Vec<(String, usize)>,
}

/// Which tree each catalog repository and view repository uses.
#[derive(Debug)]
pub struct Plan {
    /// Distinct source files in the order they will be written.
    pub files: Vec<SourceFile>,
    /// Trees in catalog order.
    pub trees: Vec<TreePlan>,
    /// `product/repository` → tree name for the Library.
    pub library_tree: HashMap<String, String>,
    /// `(view label, version, product/repository)` → tree name.
    pub view_tree: HashMap<(String, String, String), String>,
    /// GPG keys by product label: (file name, contents).
    pub gpg_keys: HashMap<String, (String, String)>,
    /// Things the operator should know (files in a source directory that no metadata
    /// names, and that are therefore not carried).
    pub warnings: Vec<String>,
    /// Files still being fetched (see [`SourceFile::pending`]).
    pub arrivals: Option<Arc<Arrivals>>,
}

/// A problem with the source repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// Which tree (`library/product/repo` or `views/…`).
    pub tree: String,
    /// The file, as a path on disk.
    pub path: PathBuf,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.tree, self.path.display(), self.what)
    }
}

struct Planner<'k> {
    /// Objects the receiving side holds (the base chain's).
    known: &'k HashSet<ObjectId>,
    files: Vec<SourceFile>,
    by_path: HashMap<PathBuf, usize>,
    /// Directories resolved by [`Planner::canonical`].
    dirs: HashMap<PathBuf, PathBuf>,
    problems: Vec<SourceProblem>,
    arrivals: Option<Arc<Arrivals>>,
}

impl Planner<'_> {
    fn problem(&mut self, tree: &str, path: &Path, what: impl Into<String>) {
        self.problems.push(SourceProblem {
            tree: tree.into(),
            path: path.to_path_buf(),
            what: what.into(),
        });
    }

    /// Add (or find) the file at `path`; `None` when it is unusable (a problem is recorded).
    fn add(
        &mut self,
        tree: &str,
        rel: &str,
        path: &Path,
        declared: Option<(&Checksum, Option<u64>)>,
        preloaded: Option<Arc<[u8]>>,
    ) -> Option<usize> {
        // On its way into the fetch cache: its declared size stands for it (the fetch checks
        // it), and it is read once it has arrived.
        if let Some(size) = self.arrivals.as_ref().and_then(|a| a.coming(path)) {
            return Some(self.add_unread(tree, rel, path, size, declared, true));
        }
        // The receiving side has it already (the metadata's SHA-256 is an object of the
        // base chain): it is not carried, so it is not even looked at; the tree names it
        // by that object. An incremental pack of a big repository stats only what changed.
        if preloaded.is_none()
            && let Some((c, size)) = declared
            && c.kind == ChecksumKind::Sha256
            && c.hex
                .parse::<ObjectId>()
                .is_ok_and(|id| self.known.contains(&id))
        {
            return Some(self.add_unread(tree, rel, path, size.unwrap_or(0), declared, false));
        }
        // One lstat for a plain file; a symbolic link is followed (and resolved) in full.
        let mut link = false;
        let meta = match std::fs::symlink_metadata(path).and_then(|m| {
            link = m.file_type().is_symlink();
            if link { std::fs::metadata(path) } else { Ok(m) }
        }) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.problem(tree, path, "missing (the metadata lists it)");
                return None;
            }
            Err(e) => {
                self.problem(tree, path, format!("cannot read: {e}"));
                return None;
            }
        };
        if !meta.is_file() {
            self.problem(tree, path, "not a regular file");
            return None;
        }
        if let Some((_, Some(size))) = declared
            && size != meta.len()
        {
            self.problem(
                tree,
                path,
                format!(
                    "is {} bytes, the metadata says {size} (truncated or replaced)",
                    meta.len()
                ),
            );
            return None;
        }
        let canon = self.canonical(path, link);
        let idx = match self.by_path.get(&canon) {
            Some(&i) => i,
            None => {
                let known_id = preloaded.as_ref().map(|b| Sha256Digest::of(b));
                self.files.push(SourceFile {
                    path: path.to_path_buf(),
                    size: meta.len(),
                    declared: Vec::new(),
                    preloaded,
                    known_id,
                    display: format!("{tree}: {rel}"),
                    key: canon.clone(),
                    stamp: FileStamp::of(&meta),
                    cached: false,
                    pending: false,
                });
                self.by_path.insert(canon, self.files.len() - 1);
                self.files.len() - 1
            }
        };
        self.declare(idx, declared);
        Some(idx)
    }

    /// The canonical path of `path` (the file cache's key, and how one file reached by two
    /// paths is found once): its directory resolved once per directory, then its name,
    /// unless the name itself is a symbolic link (`link`).
    fn canonical(&mut self, path: &Path, link: bool) -> PathBuf {
        let full = || std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return full();
        };
        if link {
            return full();
        }
        let dir = match self.dirs.get(dir) {
            Some(d) => d,
            None => {
                let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
                self.dirs.entry(dir.to_path_buf()).or_insert(canon)
            }
        };
        dir.join(name)
    }

    /// Record the checksum the metadata declares for file `idx` (a SHA-256 is its object).
    fn declare(&mut self, idx: usize, declared: Option<(&Checksum, Option<u64>)>) {
        if let Some((c, _)) = declared {
            let f = &mut self.files[idx];
            if !f.declared.contains(c) {
                f.declared.push(c.clone());
            }
            if c.kind == ChecksumKind::Sha256 && f.known_id.is_none() {
                f.known_id = c.hex.parse().ok();
            }
        }
    }
}

impl Planner<'_> {
    /// A file planned without being looked at: on its way into the fetch cache
    /// (`pending`), or already at the receiving side.
    fn add_unread(
        &mut self,
        tree: &str,
        rel: &str,
        path: &Path,
        size: u64,
        declared: Option<(&Checksum, Option<u64>)>,
        pending: bool,
    ) -> usize {
        let idx = match self.by_path.get(path) {
            Some(&i) => i,
            None => {
                self.files.push(SourceFile {
                    path: path.to_path_buf(),
                    size,
                    declared: Vec::new(),
                    preloaded: None,
                    known_id: None,
                    display: format!("{tree}: {rel}"),
                    key: path.to_path_buf(),
                    stamp: FileStamp {
                        size,
                        mtime_ns: 0,
                        ino: 0,
                        dev: 0,
                    },
                    cached: false,
                    pending,
                });
                self.by_path
                    .insert(path.to_path_buf(), self.files.len() - 1);
                self.files.len() - 1
            }
        };
        self.declare(idx, declared);
        idx
    }
}

/// Hash `data` with SHA-256 and every declared kind; compare with the declarations.
fn check_declared(data: &[u8], declared: &Checksum) -> Result<(), String> {
    let mut h = Hasher::new(declared.kind);
    h.update(data);
    let got = h.finish();
    if &got == declared {
        Ok(())
    } else {
        Err(format!(
            "{} is {}, the metadata says {} (corrupt or replaced)",
            declared.kind.name(),
            got.hex,
            declared.hex
        ))
    }
}

/// Most files named in one warning about files no metadata names.
const UNLISTED_SHOWN: usize = 20;

/// Every file under `dir` (not directories), relative to it, sorted by name.
fn list_files(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| Some(e.path().strip_prefix(dir).ok()?.to_str()?.to_string()))
        .collect()
}

/// A warning naming the files of `listed` (under `dir`) that `tree` does not carry, if any.
fn unlisted(name: &str, dir: &Path, listed: Vec<String>, tree: &TreePlan) -> Option<String> {
    let carried: std::collections::HashSet<&str> =
        tree.files.iter().map(|(n, _)| n.as_str()).collect();
    let mut left: Vec<String> = listed
        .into_iter()
        .filter(|rel| !carried.contains(rel.as_str()))
        .collect();
    if left.is_empty() {
        return None;
    }
    let n = left.len();
    left.truncate(UNLISTED_SHOWN);
    Some(format!(
        "warning: {name}: {n} file{} in {} that no metadata names, not carried: {}{}",
        if n == 1 { "" } else { "s" },
        dir.display(),
        left.join(", "),
        if n > UNLISTED_SHOWN { ", …" } else { "" }
    ))
}

/// Scan one source directory into a tree: a kickstart tree when it has a `.treeinfo`
/// (the `.treeinfo`, every file it names, and each repository it names, at its path), else
/// one yum repository.
fn scan_tree(
    p: &mut Planner,
    tree: &str,
    dir: &Path,
    gpg_key: Option<&(String, String)>,
) -> TreePlan {
    let ti_path = dir.join(".treeinfo");
    if !ti_path.is_file() {
        return scan_repo(p, tree, dir, gpg_key);
    }
    let mut out = TreePlan {
        name: tree.to_string(),
        packages: 0,
        files: Vec::new(),
    };
    let bytes = match read_capped(&ti_path, MAX_SMALL_METADATA) {
        Ok(b) => b,
        Err(e) => {
            p.problem(tree, &ti_path, format!("cannot read: {e}"));
            return out;
        }
    };
    let ti = match std::str::from_utf8(&bytes)
        .map_err(|_| "is not UTF-8 text".to_string())
        .and_then(|t| yum::treeinfo::parse_treeinfo(t).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            p.problem(tree, &ti_path, e);
            return out;
        }
    };
    if let Some(i) = p.add(tree, ".treeinfo", &ti_path, None, Some(bytes.into())) {
        out.files.push((".treeinfo".into(), i));
    }
    for (rel, checksum) in &ti.files {
        let path = dir.join(rel);
        if !path.exists() {
            p.problem(tree, &path, "missing (.treeinfo names it)");
            continue;
        }
        if let Some(i) = p.add(tree, rel, &path, checksum.as_ref().map(|c| (c, None)), None) {
            out.files.push((rel.clone(), i));
        }
    }
    let mut repos = ti.repositories.clone();
    if repos.is_empty() && dir.join("repodata/repomd.xml").is_file() {
        repos.push(String::new());
    }
    for r in repos {
        let sub = scan_repo(p, tree, &dir.join(&r), gpg_key);
        out.packages += sub.packages;
        let prefix = if r.is_empty() { r } else { format!("{r}/") };
        out.files.extend(
            sub.files
                .into_iter()
                .map(|(n, i)| (format!("{prefix}{n}"), i)),
        );
    }
    out.files.sort_by(|a, b| a.0.cmp(&b.0));
    out.files.dedup();
    for w in out.files.windows(2) {
        if w[0].0 == w[1].0 {
            p.problem(tree, &dir.join(&w[0].0), "named twice as different files");
        }
    }
    out
}

/// Scan one repository directory into a tree.
/// `gpg_key`: the product's key (file name, armored text), which a `repomd.xml.asc` must
/// verify with.
fn scan_repo(
    p: &mut Planner,
    tree: &str,
    dir: &Path,
    gpg_key: Option<&(String, String)>,
) -> TreePlan {
    let mut out = TreePlan {
        name: tree.to_string(),
        packages: 0,
        files: Vec::new(),
    };
    let repomd_path = dir.join("repodata/repomd.xml");
    let repomd_bytes = match read_capped(&repomd_path, MAX_SMALL_METADATA) {
        Ok(b) => b,
        Err(e) => {
            p.problem(tree, &repomd_path, format!("cannot read: {e}"));
            return out;
        }
    };
    let repomd = match yum::repomd::parse_repomd(&repomd_bytes) {
        Ok(r) => r,
        Err(e) => {
            p.problem(tree, &repomd_path, e.to_string());
            return out;
        }
    };
    let repomd_bytes: Arc<[u8]> = repomd_bytes.into();
    if let Some(i) = p.add(
        tree,
        "repodata/repomd.xml",
        &repomd_path,
        None,
        Some(repomd_bytes.clone()),
    ) {
        out.files.push(("repodata/repomd.xml".into(), i));
    }
    // Detached signature and key of repomd.xml, when the repository has them (repo_gpgcheck).
    for extra in ["repodata/repomd.xml.asc", "repodata/repomd.xml.key"] {
        let path = dir.join(extra);
        if path.is_file() {
            match read_capped(&path, MAX_SMALL_METADATA) {
                Ok(b) => {
                    // The upstream signature must hold with the product's key: the site
                    // will check it too (repo_gpgcheck=1).
                    if extra.ends_with(".asc")
                        && let Some((name, key)) = gpg_key
                        && let Err(e) = crate::gpgv::verify(key.as_bytes(), &repomd_bytes, &b)
                    {
                        p.problem(tree, &path, format!("{e} ({name})"));
                    }
                    if let Some(i) = p.add(tree, extra, &path, None, Some(b.into())) {
                        out.files.push((extra.into(), i));
                    }
                }
                Err(e) => p.problem(tree, &path, format!("cannot read: {e}")),
            }
        }
    }
    let mut packages = Vec::new();
    let primary_loc = match repomd.primary() {
        Ok(r) => Some(r.location.clone()),
        Err(e) => {
            p.problem(tree, &repomd_path, e.to_string());
            None
        }
    };
    for rec in &repomd.records {
        let path = dir.join(&rec.location);
        let preloaded = if Some(&rec.location) == primary_loc.as_ref() {
            let bytes = match read_capped(&path, MAX_PRIMARY) {
                Ok(b) => b,
                Err(e) => {
                    p.problem(tree, &path, format!("cannot read primary metadata: {e}"));
                    continue;
                }
            };
            if let Err(e) = check_declared(&bytes, &rec.checksum) {
                p.problem(tree, &path, e);
                continue;
            }
            let parsed = yum::decompress::decompressed(&bytes[..])
                .and_then(|r| yum::decompress::on_thread(r, |r| yum::primary::parse_primary(r)));
            match parsed {
                Ok(pk) => packages = pk,
                Err(e) => {
                    p.problem(tree, &path, e.to_string());
                    continue;
                }
            }
            Some(Arc::<[u8]>::from(bytes))
        } else {
            None
        };
        if let Some(i) = p.add(
            tree,
            &rec.location,
            &path,
            Some((&rec.checksum, rec.size)),
            preloaded,
        ) {
            out.files.push((rec.location.clone(), i));
        }
    }
    out.packages = packages.len() as u64;
    for pkg in &packages {
        let path = dir.join(&pkg.location);
        if let Some(i) = p.add(
            tree,
            &pkg.location,
            &path,
            Some((&pkg.checksum, pkg.size)),
            None,
        ) {
            out.files.push((pkg.location.clone(), i));
        }
    }
    // One path, one file: the same location listed twice must agree.
    out.files.sort_by(|a, b| a.0.cmp(&b.0));
    out.files.dedup();
    for w in out.files.windows(2) {
        if w[0].0 == w[1].0 {
            let path = dir.join(&w[0].0);
            p.problem(
                tree,
                &path,
                "listed twice in the metadata as different files",
            );
        }
    }
    for (rel, _) in &out.files {
        if let Err(e) = relpath::check(rel) {
            p.problem(tree, &dir.join(rel), e.to_string());
        }
    }
    out
}

/// Fill in the SHA-256 of files the export state's cache has seen unchanged, so that they
/// need not be read when the receiving side already has them.
pub fn apply_cache(plan: &mut Plan, state: &ExportState) -> Result<usize, StateError> {
    let mut hits = 0;
    for f in &mut plan.files {
        if f.preloaded.is_some() || f.known_id.is_some() || f.pending {
            continue;
        }
        if let Some(id) = state.cached(&f.key, &f.stamp, &f.declared)? {
            f.known_id = Some(id);
            f.cached = true;
            hits += 1;
        }
    }
    Ok(hits)
}

/// Plan the whole catalog (`arrivals`: files still on their way into the fetch cache;
/// `known`: objects the receiving side holds, whose files are not looked at).
pub fn plan(
    catalog: &Catalog,
    arrivals: Option<Arc<Arrivals>>,
    known: &HashSet<ObjectId>,
) -> Result<Plan, Vec<SourceProblem>> {
    let mut p = Planner {
        known,
        files: Vec::new(),
        by_path: HashMap::new(),
        dirs: HashMap::new(),
        problems: Vec::new(),
        arrivals,
    };
    let mut trees = Vec::new();
    let mut by_dir: HashMap<PathBuf, String> = HashMap::new();
    let mut library_tree = HashMap::new();
    let mut view_tree = HashMap::new();
    let mut gpg_keys = HashMap::new();
    let mut warnings = Vec::new();
    for prod in &catalog.products {
        if let Some(k) = &prod.gpg_key {
            match read_capped(k, 1 << 20).map(String::from_utf8) {
                Ok(Ok(text)) => {
                    let name = k.file_name().map_or_else(
                        || "RPM-GPG-KEY".into(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    gpg_keys.insert(prod.label.clone(), (name, text));
                }
                Ok(Err(_)) => p.problem(&prod.label, k, "GPG key is not ASCII-armored text"),
                Err(e) => p.problem(&prod.label, k, format!("cannot read GPG key: {e}")),
            }
        }
    }
    let mut scan =
        |p: &mut Planner, trees: &mut Vec<TreePlan>, name: String, source: &Source| -> String {
            // URL sources are fetched into the cache first ([`crate::fetch`]), and come
            // here as that directory.
            let Some(dir) = source.dir() else {
                p.problem(&name, Path::new(&source.display()), "was not fetched");
                return name;
            };
            let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            if let Some(existing) = by_dir.get(&canon) {
                return existing.clone();
            }
            let product = name.rsplit('/').nth(1).unwrap_or("");
            // A directory of the operator's (not the cache's copy of a URL) may hold files
            // no metadata names: they are not carried, and the operator is told. The
            // directory is listed on another core while its metadata is read.
            let (tree, listed) = std::thread::scope(|s| {
                let listing = matches!(source, Source::Dir(_)).then(|| s.spawn(|| list_files(dir)));
                let tree = scan_tree(p, &name, dir, gpg_keys.get(product));
                (tree, listing.map(|l| l.join().unwrap_or_default()))
            });
            if let Some(listed) = listed {
                warnings.extend(unlisted(&name, dir, listed, &tree));
            }
            trees.push(tree);
            by_dir.insert(canon, name.clone());
            name
        };
    for prod in &catalog.products {
        for r in &prod.repositories {
            let key = format!("{}/{}", prod.label, r.label);
            let name = scan(&mut p, &mut trees, format!("library/{key}"), &r.source);
            library_tree.insert(key, name);
        }
    }
    for v in &catalog.content_views {
        for (key, snap) in &v.repositories {
            let name = match snap {
                Some(source) => scan(
                    &mut p,
                    &mut trees,
                    format!("views/{}/{}/{key}", v.label, v.version),
                    source,
                ),
                None => library_tree[key].clone(),
            };
            view_tree.insert((v.label.clone(), v.version.clone(), key.clone()), name);
        }
    }
    if !p.problems.is_empty() {
        return Err(p.problems);
    }
    // Metadata first, then packages, each in catalog order: the order files are written.
    Ok(Plan {
        files: p.files,
        trees,
        library_tree,
        view_tree,
        gpg_keys,
        warnings,
        arrivals: p.arrivals,
    })
}
