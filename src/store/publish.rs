//! What clients see: `published/<org>/library/<product>/<repo>` and
//! `published/<org>/views/<view>/<product>/<repo>`, each a symbolic link to a complete
//! version. A link is replaced by renaming a new link over it, which is atomic: a client
//! resolving the path gets the old version or the new one, never a mix.

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
    for d in dirs {
        crate::fsutil::sync_dir(&d)?;
    }
    Ok(changed)
}
