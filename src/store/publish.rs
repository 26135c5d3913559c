//! What clients see, each a symbolic link to a complete version:
//!
//! - `published/<org>/library/<product>/<repo>`: a Library repository;
//! - `published/<org>/views/<view>/<product>/<repo>`: the newest version of a content view
//!   (the one the Library environment holds);
//! - `published/<org>/env/<env>/<view>/<product>/<repo>`: the version of a content view that
//!   environment `<env>` holds.
//!
//! A link is replaced by renaming a new link over it, which is atomic: a client resolving
//! the path gets the old version or the new one, never a mix. A link the database no longer
//! wants (retired, or an environment that dropped it) is removed, then any directory that
//! leaves empty.

use std::path::{Path, PathBuf};

use super::trees::version_dir;

/// Directory of the published tree at `rel` (e.g. `acme/library/acme-os/baseos`).
pub fn published_path(root: &Path, rel: &str) -> PathBuf {
    root.join("published").join(rel)
}

/// Make every link point where the database says; returns how many links changed.
pub fn reconcile(root: &Path, wanted: &[(String, String)]) -> std::io::Result<usize> {
    let mut changed = 0;
    let mut dirs = std::collections::BTreeSet::new();
    for (rel, version) in wanted {
        let link = published_path(root, rel);
        let depth = rel.split('/').count();
        let target = PathBuf::from("../".repeat(depth)).join(version_dir(Path::new(""), version));
        if std::fs::read_link(&link).ok().as_deref() == Some(target.as_path()) {
            continue;
        }
        let parent = link.parent().expect("published paths have a parent");
        std::fs::create_dir_all(parent)?;
        let name = link
            .file_name()
            .expect("published paths have a name")
            .to_string_lossy();
        let tmp = parent.join(format!(".{name}.new"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)?;
        std::fs::rename(&tmp, &link)?;
        dirs.insert(parent.to_path_buf());
        changed += 1;
        crate::crashpoint::hit("publish");
    }
    // Links nobody wants any more, and links a killed run left half made.
    let wanted: std::collections::HashSet<&str> = wanted.iter().map(|(r, _)| r.as_str()).collect();
    let top = root.join("published");
    for e in walkdir::WalkDir::new(&top)
        .min_depth(1)
        .contents_first(true)
    {
        let e = match e {
            Ok(e) => e,
            Err(err)
                if err
                    .io_error()
                    .is_some_and(|i| i.kind() == std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let rel = e
            .path()
            .strip_prefix(&top)
            .expect("under published/")
            .to_string_lossy()
            .into_owned();
        if e.path_is_symlink() {
            if !wanted.contains(rel.as_str()) {
                std::fs::remove_file(e.path())?;
                dirs.insert(e.path().parent().expect("under published/").to_path_buf());
                changed += 1;
                crate::crashpoint::hit("unpublish");
            }
        } else if e.file_type().is_dir() && std::fs::read_dir(e.path())?.next().is_none() {
            // Contents come first: a directory emptied above is seen empty here.
            std::fs::remove_dir(e.path())?;
            dirs.insert(e.path().parent().expect("under published/").to_path_buf());
        }
    }
    for d in dirs {
        if d.exists() {
            crate::fsutil::sync_dir(&d)?;
        }
    }
    Ok(changed)
}
