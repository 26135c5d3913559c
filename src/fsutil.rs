//! Small filesystem helpers for durable writes.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

/// Create `path` (it must not exist), write `bytes`, and flush them to the medium.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Flush a directory's entries (after creating or renaming files in it).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
