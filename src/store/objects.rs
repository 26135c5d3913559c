//! The content-addressed object store: `objects/ab/cdef…`, one read-only file per object,
//! named by the SHA-256 of its bytes.
//!
//! An object is written to a temporary file while it is decoded and checked (by the bundle
//! reader); only a verified object is added to a [`Batch`], and a batch is made durable with
//! one `syncfs` before its objects are renamed into place, so that a name in `objects/`
//! always means complete, durable, verified content — even after a crash. A temporary file
//! that is not kept is removed.
//!
//! The temporary file sits in the object's own fan-out directory, as `objects/ab/.cdef….tmp`
//! ([`temp_path`]): renaming within one directory does not take the file system's
//! rename lock, so the renames of a batch run on two threads at once, where renames from
//! `tmp/` into `objects/` would run one at a time. A name starting with a dot is never an
//! object (object names are 62 hex digits); one left by a crash is removed by `prune`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::writeback::{PendingFile, Writeback};
use crate::format::ObjectId;

/// Path of object `id` under the store root.
pub fn path(root: &Path, id: &ObjectId) -> PathBuf {
    let hex = id.to_hex();
    root.join("objects").join(&hex[..2]).join(&hex[2..])
}

/// Temporary name of object `id` while it is written: in its fan-out directory, hidden.
pub fn temp_path(root: &Path, id: &ObjectId) -> PathBuf {
    let hex = id.to_hex();
    root.join("objects")
        .join(&hex[..2])
        .join(format!(".{}.tmp", &hex[2..]))
}

/// Whether `name`, in a fan-out directory, is an object's temporary file (see [`temp_path`]).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Whether the store holds object `id`.
pub fn has(root: &Path, id: &ObjectId) -> bool {
    path(root, id).is_file()
}

/// An I/O error with the path it happened at, keeping its kind (so that a full disk is
/// still recognised as one).
pub fn at(path: &Path) -> impl Fn(std::io::Error) -> std::io::Error + '_ {
    move |e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A file being written under a temporary name: removed when dropped, unless
/// [`TempFile::close`] handed it over (to be renamed into place).
pub struct TempFile {
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl TempFile {
    /// Create `tmp` (replacing what an interrupted run left there).
    pub fn create(tmp: PathBuf) -> std::io::Result<Self> {
        let file = File::create(&tmp).map_err(at(&tmp))?;
        Ok(Self {
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flush and hand the file over: it is no longer removed when this is dropped.
    pub fn close(mut self) -> std::io::Result<(File, PathBuf)> {
        let f = self.file.take().expect("open until closed");
        let file = f.into_inner().map_err(|e| at(&self.tmp)(e.into_error()))?;
        Ok((file, std::mem::take(&mut self.tmp)))
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let f = self.file.as_mut().expect("open until closed");
        f.write(buf).map_err(at(&self.tmp))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let f = self.file.as_mut().expect("open until closed");
        f.flush().map_err(at(&self.tmp))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Verified objects waiting to be made durable and renamed into `objects/`, their bytes
/// written on a thread of their own ([`Writeback`]). Dropped without [`Batch::commit`], it
/// removes their temporary files.
pub struct Batch {
    root: PathBuf,
    writeback: Writeback,
    pending: Vec<(ObjectId, PathBuf)>,
    /// Fan-out directories known to exist, by first byte.
    dirs: [bool; 256],
}

impl Batch {
    /// An empty batch for the store at `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            writeback: Writeback::start(),
            pending: Vec::new(),
            dirs: [false; 256],
        }
    }

    /// A temporary file ([`temp_path`]) for the decoded bytes of object `id`: removed when
    /// dropped, unless it is [`Batch::push`]ed.
    pub fn create(&mut self, id: &ObjectId) -> std::io::Result<PendingFile> {
        let tmp = temp_path(&self.root, id);
        let first = usize::from(id.0[0]);
        if !self.dirs[first] {
            let dir = tmp.parent().expect("objects have a parent");
            std::fs::create_dir_all(dir).map_err(at(dir))?;
            self.dirs[first] = true;
        }
        self.writeback.create(tmp)
    }

    /// Add a verified object (durability comes from the batch's one syncfs).
    pub fn push(&mut self, id: ObjectId, f: PendingFile) -> std::io::Result<()> {
        let tmp = f.close()?;
        self.pending.push((id, tmp));
        Ok(())
    }

    /// Wait for every pending object's bytes to be written (read-only), make them durable
    /// (one `syncfs`), then rename each into place: two threads, each taking half of the
    /// fan-out directories (renames within a directory run at once across directories).
    pub fn commit(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.writeback.finish()?;
        sync_filesystem(&self.root).map_err(at(&self.root))?;
        let pending = std::mem::take(&mut self.pending);
        let (low, high): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(id, _)| id.0[0] < 0x80);
        let root = &self.root;
        let rename_all = |list: Vec<(ObjectId, PathBuf)>| -> std::io::Result<()> {
            for (id, tmp) in list {
                let dest = path(root, &id);
                std::fs::rename(&tmp, &dest).map_err(at(&dest))?;
                crate::crashpoint::hit("object-stored");
            }
            Ok(())
        };
        std::thread::scope(|s| {
            let other = s.spawn(|| rename_all(high));
            let mine = rename_all(low);
            let theirs = other
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("renaming objects failed")));
            mine.and(theirs)
        })
    }
}

impl Drop for Batch {
    /// The writing thread removes them after their last write, then ends.
    fn drop(&mut self) {
        for (_, tmp) in std::mem::take(&mut self.pending) {
            self.writeback.remove(tmp);
        }
    }
}

/// Flush every dirty page and inode of the filesystem holding `path` to the medium.
pub fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    let f = File::open(path)?;
    rustix::fs::syncfs(&f).map_err(std::io::Error::from)
}
