//! Where the bundle reader's decoded objects go during an import: objects the store lacks
//! into temporary files, kept in a batch that is renamed into `objects/` only when the
//! whole pass found nothing wrong; objects the store already has are decoded and checked
//! but not written; pieces of objects that span volumes not given in this run into the
//! staging area.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::bundle::Sink;
use crate::format::ObjectId;
use crate::store::objects::{Batch, TempFile, at};
use crate::store::writeback::PendingFile;

/// The file holding piece `k` of object `id` in a staging area.
pub fn piece_file(pieces: &Path, id: &ObjectId, k: usize) -> PathBuf {
    pieces.join(format!("{}.{k}", id.to_hex()))
}

/// The import's sink.
pub struct StoreSink<'p> {
    /// Objects the store lacks (looked up once, before the pass); one is taken out when it
    /// is written, so a second copy in the bundle is only checked.
    lacking: HashSet<ObjectId>,
    /// Objects written by this run.
    added_ids: HashSet<ObjectId>,
    pieces: PathBuf,
    batch: Batch<'p>,
    /// Pieces staged by this run (removed again if the run is refused).
    staged: Vec<PathBuf>,
    /// Objects added, and their bytes.
    pub added: (u64, u64),
}

/// Decoded bytes: to a new object, or nowhere (the store has it).
pub enum Out {
    /// The store lacks it.
    New(PendingFile, u64),
    /// The store has it: decode and check only.
    Known,
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::New(f, _) => f.write(buf),
            Out::Known => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::New(f, _) => f.flush(),
            Out::Known => Ok(()),
        }
    }
}

/// A piece being staged: a temporary name until it is complete.
pub struct Stage {
    file: TempFile,
    dest: PathBuf,
}

impl Write for Stage {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl<'p> StoreSink<'p> {
    /// A sink for the store at `root`, which lacks the objects in `lacking`, staging pieces
    /// under `pieces`; an object of `places` is written there first (its file in a version
    /// this run builds: [`Batch`]).
    pub fn new(
        root: &Path,
        lacking: HashSet<ObjectId>,
        places: &'p HashMap<ObjectId, PathBuf>,
        pieces: &Path,
    ) -> Self {
        Self {
            lacking,
            added_ids: HashSet::new(),
            pieces: pieces.to_path_buf(),
            batch: Batch::new(root, places),
            staged: Vec::new(),
            added: (0, 0),
        }
    }

    /// The pass found nothing wrong: make the new objects durable and put them in place.
    /// The count and bytes of the objects added, and which they are.
    pub fn commit(mut self) -> std::io::Result<((u64, u64), HashSet<ObjectId>)> {
        self.batch.commit()?;
        self.staged.clear();
        Ok((self.added, std::mem::take(&mut self.added_ids)))
    }
}

impl Drop for StoreSink<'_> {
    /// Not committed (the bundle was refused): what this run staged goes; the batch
    /// removes its own temporary files.
    fn drop(&mut self) {
        for p in &self.staged {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Sink for StoreSink<'_> {
    type Out = Out;
    type Stage = Stage;

    fn begin(&mut self, id: &ObjectId, size: u64) -> std::io::Result<Out> {
        if !self.lacking.contains(id) {
            return Ok(Out::Known);
        }
        Ok(Out::New(self.batch.create(id)?, size))
    }

    fn keep(&mut self, id: &ObjectId, out: Out) -> std::io::Result<()> {
        if let Out::New(f, size) = out {
            self.batch.push(*id, f)?;
            self.lacking.remove(id);
            self.added_ids.insert(*id);
            self.added.0 += 1;
            self.added.1 += size;
            crate::crashpoint::hit("object-decoded");
        }
        Ok(())
    }

    fn stages(&self) -> bool {
        true
    }

    fn stage(&mut self, id: &ObjectId, k: usize) -> std::io::Result<Stage> {
        std::fs::create_dir_all(&self.pieces).map_err(at(&self.pieces))?;
        Ok(Stage {
            file: TempFile::create(self.pieces.join(format!(".{}.{k}.tmp", id.to_hex())))?,
            dest: piece_file(&self.pieces, id, k),
        })
    }

    fn staged(&mut self, s: Stage) -> std::io::Result<()> {
        let (file, tmp) = s.file.close()?;
        file.sync_all().map_err(at(&tmp))?;
        std::fs::rename(&tmp, &s.dest).map_err(at(&s.dest))?;
        self.staged.push(s.dest);
        crate::crashpoint::hit("piece-staged");
        Ok(())
    }
}
