//! What a store takes on disk: in all, what `ferry prune` would free, and what each
//! published tree alone holds.
//!
//! Sizes are bytes on disk (st_blocks × 512) of files, each inode counted once however
//! many hard links it has. A published tree's own bytes are those of the files of its version
//! directory that no other kept version directory links (what would be freed if it went
//! and the store were pruned); a version directory published at several paths is counted
//! once, under the first path.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;

use serde::Serialize;

use super::Store;
use super::prune::{self, Inode, PruneError, PruneReport};

/// The disk usage of a store.
#[derive(Debug, Clone, Serialize)]
pub struct DiskUsage {
    /// Bytes on disk of the files under the store directory, each inode once
    /// (directories not counted).
    pub store_bytes: u64,
    /// Bytes `ferry prune` with the default settings would free now.
    pub prunable_bytes: u64,
    /// What that prune would do (a dry run).
    pub prune: PruneReport,
    /// Each published tree and the bytes it alone holds.
    pub published: Vec<TreeUsage>,
}

/// One published tree.
#[derive(Debug, Clone, Serialize)]
pub struct TreeUsage {
    /// Its path under `published/`.
    pub path: String,
    /// `library`, `view` (the Library's newest version of a view) or `environment`.
    pub kind: String,
    /// Its version directory.
    pub tree: String,
    /// Bytes on disk of the files no other kept version directory links.
    pub bytes: u64,
    /// The first path that shows the same version directory (its bytes are counted
    /// there), if this is not it.
    pub same_tree_as: Option<String>,
}

/// Bytes on disk of the files under `root` (symbolic links included), each inode once.
/// Directories are not counted: their size depends on how many entries they once held
/// (the work directory's grows and is made anew by every import), not on what the store
/// holds. Memory: one entry per inode with several links whose links have not all been
/// seen yet.
pub fn tree_bytes(root: &std::path::Path) -> Result<u64, PruneError> {
    let mut pending: HashMap<Inode, u64> = HashMap::new();
    let mut total = 0u64;
    for e in walkdir::WalkDir::new(root) {
        let e = match e {
            Ok(e) => e,
            Err(err)
                if err
                    .io_error()
                    .is_some_and(|i| i.kind() == std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(err) => {
                return Err(PruneError::Io {
                    path: err.path().unwrap_or(root).to_path_buf(),
                    source: err.into(),
                });
            }
        };
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if m.is_dir() {
            continue;
        }
        let bytes = m.blocks().saturating_mul(512);
        if m.nlink() <= 1 {
            total = total.saturating_add(bytes);
            continue;
        }
        let key = (m.dev(), m.ino());
        match pending.get_mut(&key) {
            Some(left) => {
                *left -= 1;
                if *left == 0 {
                    pending.remove(&key);
                }
            }
            None => {
                total = total.saturating_add(bytes);
                pending.insert(key, m.nlink() - 1);
            }
        }
    }
    Ok(total)
}

fn kind(path: &str) -> &'static str {
    match path.split('/').nth(1) {
        Some("library") => "library",
        Some("views") => "view",
        Some("env") => "environment",
        _ => "other",
    }
}

/// Measure a store (read only: no lock is taken; a change made meanwhile may show in
/// part).
pub fn measure(store: &Store) -> Result<DiskUsage, PruneError> {
    let store_bytes = tree_bytes(&store.root)?;
    let plan = prune::plan(
        store,
        prune::DEFAULT_KEEP,
        prune::DEFAULT_UPLOADS_OLDER_THAN,
    )?;
    // Bytes each kept version directory alone holds.
    let mut alone = vec![0u64; plan.kept_dirs.len()];
    for h in plan.holders.values() {
        if h.dirs == 1 {
            let a = &mut alone[h.first as usize];
            *a = a.saturating_add(h.bytes);
        }
    }
    let index: HashMap<&str, usize> = plan
        .kept_dirs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut first_path: HashMap<String, String> = HashMap::new();
    let mut published = Vec::new();
    for (path, tree) in store.db.publications()? {
        let same_tree_as = first_path.get(&tree).cloned();
        let bytes = match (&same_tree_as, index.get(tree.as_str())) {
            (None, Some(&i)) => alone[i],
            _ => 0,
        };
        first_path
            .entry(tree.clone())
            .or_insert_with(|| path.clone());
        published.push(TreeUsage {
            kind: kind(&path).into(),
            path,
            tree,
            bytes,
            same_tree_as,
        });
    }
    Ok(DiskUsage {
        store_bytes,
        prunable_bytes: plan.report.bytes_freed,
        prune: plan.report,
        published,
    })
}
