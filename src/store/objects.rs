//! The content-addressed object store: `objects/ab/cdef…`, one read-only file per object,
//! named by the SHA-256 of its bytes.
//!
//! An object is written to a temporary file while it is decoded and hashed; only when its
//! size and hash are right does it become a candidate, and candidates are renamed into
//! place in batches after one `syncfs`, so that a name in `objects/` always means complete,
//! durable, verified content — even after a crash.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::format::{ObjectId, Sha256Digest};

/// Path of object `id` under the store root.
pub fn path(root: &Path, id: &ObjectId) -> PathBuf {
    let hex = id.to_hex();
    root.join("objects").join(&hex[..2]).join(&hex[2..])
}

/// Whether the store holds object `id`.
pub fn has(root: &Path, id: &ObjectId) -> bool {
    path(root, id).is_file()
}

/// Why an object could not be stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectWriteError {
    /// More bytes than the manifest declares.
    #[error("decodes to more than the {expected} bytes the manifest declares")]
    TooLong {
        /// Declared size.
        expected: u64,
    },
    /// Fewer bytes.
    #[error("decodes to {found} bytes, the manifest declares {expected}")]
    TooShort {
        /// Produced.
        found: u64,
        /// Declared.
        expected: u64,
    },
    /// Wrong content.
    #[error("its content hashes to {found}, not to its id")]
    Hash {
        /// Computed.
        found: Sha256Digest,
    },
    /// The stored bytes do not decode.
    #[error("the stored bytes do not decode: {0}")]
    Decode(std::io::Error),
    /// I/O in the store.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

/// Decoded bytes of one object going to a temporary file, hashed and capped at its size.
pub struct ObjectFile {
    id: ObjectId,
    size: u64,
    tmp: PathBuf,
    file: File,
    hasher: Sha256,
    written: u64,
}

impl ObjectFile {
    /// Start object `id` of `size` bytes in `tmp_dir`.
    pub fn create(tmp_dir: &Path, id: ObjectId, size: u64) -> Result<Self, ObjectWriteError> {
        let tmp = tmp_dir.join(format!("obj-{}", id.to_hex()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|source| ObjectWriteError::Io {
                path: tmp.clone(),
                source,
            })?;
        Ok(Self {
            id,
            size,
            tmp,
            file,
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Check size and hash; returns the verified temporary file, ready to be renamed.
    pub fn finish(self) -> Result<Verified, ObjectWriteError> {
        if self.written != self.size {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(ObjectWriteError::TooShort {
                found: self.written,
                expected: self.size,
            });
        }
        let found = Sha256Digest::from_hasher(self.hasher);
        if found != self.id {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(ObjectWriteError::Hash { found });
        }
        Ok(Verified {
            id: self.id,
            tmp: self.tmp,
            size: self.size,
        })
    }

    /// Throw it away.
    pub fn abort(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// The error inside the `io::Error` an [`ObjectFile`] returns when more bytes come than
/// its declared size.
#[derive(Debug)]
pub struct OverSize(pub u64);

impl std::fmt::Display for OverSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than the declared {} bytes", self.0)
    }
}

impl std::error::Error for OverSize {}

impl Write for ObjectFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > self.size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                OverSize(self.size),
            ));
        }
        self.file.write_all(buf)?;
        self.hasher.update(buf);
        self.written += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A verified object in a temporary file.
pub struct Verified {
    id: ObjectId,
    tmp: PathBuf,
    size: u64,
}

/// Verified objects waiting to be made durable and renamed into `objects/`.
pub struct Batch {
    root: PathBuf,
    pending: Vec<Verified>,
    bytes: u64,
}

/// Rename after this many bytes or objects are pending.
const BATCH_BYTES: u64 = 512 << 20;
const BATCH_OBJECTS: usize = 4096;

impl Batch {
    /// An empty batch for the store at `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            pending: Vec::new(),
            bytes: 0,
        }
    }

    /// Add a verified object; may commit the batch.
    pub fn push(&mut self, v: Verified) -> Result<(), ObjectWriteError> {
        self.bytes += v.size;
        self.pending.push(v);
        if self.bytes >= BATCH_BYTES || self.pending.len() >= BATCH_OBJECTS {
            self.commit()?;
        }
        Ok(())
    }

    /// Make every pending object durable (one `syncfs`), then rename each into place.
    pub fn commit(&mut self) -> Result<(), ObjectWriteError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        sync_filesystem(&self.root).map_err(|source| ObjectWriteError::Io {
            path: self.root.clone(),
            source,
        })?;
        for v in self.pending.drain(..) {
            let dest = path(&self.root, &v.id);
            let io = |source| ObjectWriteError::Io {
                path: dest.clone(),
                source,
            };
            std::fs::set_permissions(&v.tmp, std::fs::Permissions::from_mode(0o444)).map_err(io)?;
            std::fs::create_dir_all(dest.parent().expect("objects have a parent")).map_err(io)?;
            std::fs::rename(&v.tmp, &dest).map_err(io)?;
        }
        self.bytes = 0;
        Ok(())
    }
}

/// Flush every dirty page and inode of the filesystem holding `path` to the medium.
pub fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    let f = File::open(path)?;
    rustix::fs::syncfs(&f).map_err(std::io::Error::from)
}
