//! Small filesystem helpers for durable writes.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::Path;

/// Create `path` (it must not exist), write `bytes`, and flush them to the medium.
pub fn write_new_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Ask the kernel to start writing `len` bytes at `offset` of `f` to the medium now, without
/// waiting for them (`sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE`), so that a later
/// `syncfs` or `fsync` finds them written instead of writing them all while the caller waits.
/// Only a hint, never durability: an error is ignored (the later sync reports real ones).
#[allow(unsafe_code)]
pub fn start_writeback(f: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd as _;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a system call on a descriptor `f` keeps open for the call; no memory is passed.
    // The one unsafe block of the crate: rustix does not wrap sync_file_range.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// Flush a directory's entries (after creating or renaming files in it).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The marker inside the `io::Error` of [`read_capped`] for a file over its cap.
#[derive(Debug)]
pub struct TooLarge(pub u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "is larger than {} bytes", self.0)
    }
}

impl std::error::Error for TooLarge {}

/// Read a whole file of at most `cap` bytes; a larger one is an error (checked while
/// reading, so a huge or endless file is never loaded).
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            TooLarge(cap),
        ));
    }
    Ok(buf)
}
