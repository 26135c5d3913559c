//! The content-addressed object store: `objects/ab/cdef…`, one read-only file per object,
//! named by the SHA-256 of its bytes.
//!
//! An object is written to a temporary file while it is decoded and checked (by the bundle
//! reader); only a verified object is added to a [`Batch`], and a batch is made durable with
//! one `syncfs` before its objects are renamed into place, so that a name in `objects/`
//! always means complete, durable, verified content — even after a crash. A temporary file
//! that is not kept is removed.
//!
//! Where an object is first written depends on whether the import will publish it in a
//! version built in the same run:
//!
//! - if so, at its place in that version's tree, under construction in `tmp/` (the batch is
//!   given these places up front): once durable, it gets its name in `objects/` as a hard
//!   link. One file, two names, two directory operations — the same count the tree's link
//!   would cost anyway, and no rename;
//! - if not, as `objects/ab/.cdef….tmp` ([`temp_path`]), renamed to its name once durable:
//!   renaming within one directory does not take the file system's rename lock, so the
//!   renames run on two threads at once. A name starting with a dot is never an object
//!   (object names are 62 hex digits); one left by a crash is removed by `prune`.

use std::collections::{HashMap, HashSet};
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

/// Verified objects waiting to be made durable and named in `objects/`, their bytes
/// written on a thread of their own ([`Writeback`]). Dropped without [`Batch::commit`], it
/// removes their files.
pub struct Batch<'p> {
    root: PathBuf,
    writeback: Writeback,
    /// Objects written, where they are, and whether that is a place of `places` (linked
    /// into `objects/` at the commit) rather than a temporary name (renamed).
    pending: Vec<(ObjectId, PathBuf, bool)>,
    /// Fan-out directories known to exist, by first byte.
    dirs: [bool; 256],
    /// Where to write an object first, instead of a temporary name: its place in a version
    /// being built (see the module's documentation).
    places: &'p HashMap<ObjectId, PathBuf>,
    /// Directories made for `places`.
    made: HashSet<PathBuf>,
}

impl<'p> Batch<'p> {
    /// An empty batch for the store at `root`, writing the objects of `places` there first.
    pub fn new(root: &Path, places: &'p HashMap<ObjectId, PathBuf>) -> Self {
        Self {
            root: root.to_path_buf(),
            writeback: Writeback::start(),
            pending: Vec::new(),
            dirs: [false; 256],
            places,
            made: HashSet::new(),
        }
    }

    /// A file for the decoded bytes of object `id` (at its place, or a [`temp_path`]):
    /// removed when dropped, unless it is [`Batch::push`]ed.
    pub fn create(&mut self, id: &ObjectId) -> std::io::Result<PendingFile> {
        let first = usize::from(id.0[0]);
        if !self.dirs[first] {
            let dest = path(&self.root, id);
            let dir = dest.parent().expect("objects have a parent");
            std::fs::create_dir_all(dir).map_err(at(dir))?;
            self.dirs[first] = true;
        }
        let file = match self.places.get(id) {
            Some(place) => {
                let dir = place.parent().expect("a place is a file in a tree");
                if !self.made.contains(dir) {
                    std::fs::create_dir_all(dir).map_err(at(dir))?;
                    self.made.insert(dir.to_path_buf());
                }
                place.clone()
            }
            None => temp_path(&self.root, id),
        };
        self.writeback.create(file)
    }

    /// Add a verified object (durability comes from the batch's one syncfs).
    pub fn push(&mut self, id: ObjectId, f: PendingFile) -> std::io::Result<()> {
        let file = f.close()?;
        let placed = self.places.get(&id) == Some(&file);
        self.pending.push((id, file, placed));
        Ok(())
    }

    /// Wait for every pending object's bytes to be written (read-only), make them durable
    /// (one `syncfs`), then give each its name in `objects/` (a link to its place, or a
    /// rename of its temporary file): two threads, each taking half of the fan-out
    /// directories.
    pub fn commit(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.writeback.finish()?;
        sync_filesystem(&self.root).map_err(at(&self.root))?;
        let pending = std::mem::take(&mut self.pending);
        let (low, high): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|(id, _, _)| id.0[0] < 0x80);
        let root = &self.root;
        let rename_all = |list: Vec<(ObjectId, PathBuf, bool)>| -> std::io::Result<()> {
            for (id, file, placed) in list {
                let dest = path(root, &id);
                if placed {
                    match std::fs::hard_link(&file, &dest) {
                        // The same bytes under the same name: nothing to add.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        r => r.map_err(at(&dest))?,
                    }
                } else {
                    std::fs::rename(&file, &dest).map_err(at(&dest))?;
                }
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

impl Drop for Batch<'_> {
    /// The writing thread removes them after their last write, then ends.
    fn drop(&mut self) {
        for (_, file, _) in std::mem::take(&mut self.pending) {
            self.writeback.remove(file);
        }
    }
}

/// Flush every dirty page and inode of the filesystem holding `path` to the medium.
pub fn sync_filesystem(path: &Path) -> std::io::Result<()> {
    let f = File::open(path)?;
    rustix::fs::syncfs(&f).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn id(b: u8) -> ObjectId {
        crate::format::Sha256Digest::of(&[b])
    }

    #[test]
    fn placed_objects_are_linked_others_renamed_and_no_temporary_name_is_left() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let place = root.join("tmp/version-x/Packages/a.rpm");
        let (a, b) = (id(1), id(2));
        let places = HashMap::from([(a, place.clone())]);
        let mut batch = Batch::new(root, &places);
        for (oid, bytes) in [(a, b"placed".as_slice()), (b, b"temporary".as_slice())] {
            let mut f = batch.create(&oid).unwrap();
            f.write_all(bytes).unwrap();
            batch.push(oid, f).unwrap();
        }
        batch.commit().unwrap();
        assert_eq!(std::fs::read(path(root, &a)).unwrap(), b"placed");
        assert_eq!(std::fs::read(path(root, &b)).unwrap(), b"temporary");
        let (o, p) = (
            std::fs::metadata(path(root, &a)).unwrap(),
            std::fs::metadata(&place).unwrap(),
        );
        assert_eq!((o.ino(), o.nlink()), (p.ino(), 2), "one file, two names");
        assert!(!temp_path(root, &b).exists());
        for e in walkdir::WalkDir::new(root.join("objects")) {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!is_temp_name(&name), "{name}");
        }
    }

    #[test]
    fn a_batch_dropped_uncommitted_leaves_no_file() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let place = root.join("tmp/version-x/a.rpm");
        let (a, b) = (id(1), id(2));
        {
            let places = HashMap::from([(a, place.clone())]);
            let mut batch = Batch::new(root, &places);
            for oid in [a, b] {
                let mut f = batch.create(&oid).unwrap();
                f.write_all(&[7u8; 3 << 20]).unwrap();
                batch.push(oid, f).unwrap();
            }
        }
        assert!(!place.exists());
        assert!(!temp_path(root, &b).exists() && !path(root, &b).exists());
        assert!(!path(root, &a).exists());
    }
}
