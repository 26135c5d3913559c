//! Repository versions: complete trees under `versions/<id>/`, every file a hard link to
//! its object (publishing costs no second copy of the data), plus the product's GPG key.
//!
//! A version's id is the SHA-256 of its listing, so equal trees are built once. A version
//! is built under `tmp/` and renamed into `versions/` only when complete.

use std::path::{Path, PathBuf};

use super::objects;
use crate::format::manifest::{GpgKey, Tree};
use crate::format::{ObjectId, Sha256Digest};

/// Id of the version holding `tree` (and `key`, when given).
pub fn version_id(tree: &Tree, key: Option<&GpgKey>) -> String {
    let mut listing = String::new();
    for (path, id) in &tree.files {
        listing.push_str(path);
        listing.push('\t');
        listing.push_str(&id.to_hex());
        listing.push('\n');
    }
    if let Some(k) = key {
        listing.push_str(&format!(
            "gpg-key\t{}\t{}\n",
            k.name,
            Sha256Digest::of(k.content.as_bytes())
        ));
    }
    Sha256Digest::of(listing.as_bytes()).to_hex()
}

/// Directory of version `id`.
pub fn version_dir(root: &Path, id: &str) -> PathBuf {
    root.join("versions").join(id)
}

/// Why a version could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// An object the tree needs is not in the store.
    #[error(
        "{path} needs object {id}, which the store does not hold (pruned since an earlier bundle carried it): a full (not incremental) bundle from the export side brings it back"
    )]
    MissingObject {
        /// File in the tree.
        path: String,
        /// Its object.
        id: ObjectId,
    },
    /// I/O.
    #[error("building {}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

/// The directory where version `id` is put together (under the store's `tmp/`) before it is
/// renamed into `versions/`.
pub fn work_dir(tmp: &Path, id: &str) -> PathBuf {
    tmp.join(format!("version-{id}"))
}

/// What the caller knows of an object it has just stored: its size, and the file of the
/// version's [`work_dir`] it was written to, if it was written there (it is not linked
/// again).
pub type Stored<'a> = dyn Fn(&ObjectId) -> Option<(u64, Option<&'a Path>)> + 'a;

/// Build version `id` for `tree` unless it exists; returns its total size in bytes.
/// An object `stored` knows is not looked at again; every other object is.
pub fn build(
    root: &Path,
    tmp: &Path,
    id: &str,
    tree: &Tree,
    key: Option<&GpgKey>,
    stored: &Stored<'_>,
) -> Result<u64, TreeError> {
    let mut bytes = 0u64;
    for (path, oid) in &tree.files {
        if let Some((size, _)) = stored(oid) {
            bytes = bytes.saturating_add(size);
            continue;
        }
        let p = objects::path(root, oid);
        match std::fs::metadata(&p) {
            Ok(m) => bytes = bytes.saturating_add(m.len()),
            Err(_) => {
                return Err(TreeError::MissingObject {
                    path: path.clone(),
                    id: *oid,
                });
            }
        }
    }
    let dest = version_dir(root, id);
    if dest.is_dir() {
        return Ok(bytes);
    }
    let work = work_dir(tmp, id);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TreeError::Io { path, source }
    };
    // It may hold objects already (written there by the import); `tmp/` is emptied by
    // every run, so nothing else.
    std::fs::create_dir_all(&work).map_err(io(&work))?;
    let mut made = std::collections::HashSet::new();
    for (path, oid) in &tree.files {
        // Paths were checked when the manifest was parsed: normal components only.
        let file = work.join(path);
        if let Some((_, Some(place))) = stored(oid)
            && place == file
        {
            continue;
        }
        if let Some(parent) = file.parent()
            && !made.contains(parent)
        {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
            made.insert(parent.to_path_buf());
        }
        let object = objects::path(root, oid);
        match std::fs::hard_link(&object, &file) {
            Ok(()) => {}
            // EMLINK: the object already has as many links as the file system allows.
            Err(e) if e.raw_os_error() == Some(31) => {
                std::fs::copy(&object, &file).map_err(io(&file))?;
            }
            Err(e) => return Err(io(&file)(e)),
        }
        crate::crashpoint::hit("version-file");
    }
    if let Some(k) = key {
        let file = work.join(&k.name);
        // A repository file of the same name wins; the key is published beside it anyway
        // through the repo file's gpgkey= line.
        if !file.exists() {
            std::fs::write(&file, k.content.as_bytes()).map_err(io(&file))?;
        }
    }
    std::fs::create_dir_all(dest.parent().expect("versions/")).map_err(io(&dest))?;
    std::fs::rename(&work, &dest).map_err(io(&dest))?;
    Ok(bytes)
}
