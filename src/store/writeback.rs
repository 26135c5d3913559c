//! New objects' bytes written on a thread of their own: while the bundle reader decodes and
//! hashes one object, the bytes of the ones before it go through `write(2)` into the page
//! cache, so that the cost of creating files and copying into the kernel is not added to the
//! hashing on one core (issue 12).
//!
//! The bytes written are the ones the reader hashed: they are handed over in memory, never
//! read again from the medium. Memory is bounded: at most [`IN_FLIGHT`] buffers of [`CHUNK`]
//! bytes wait for the thread, whatever the size of the objects. The thread keeps the first
//! error it meets; the next write and [`Writeback::finish`] return it. Commands are carried
//! out in the order given, so a file is removed only after its last write.
//!
//! Writing out to the medium starts as the bytes arrive, for every object of 256 KiB or more
//! ([`crate::fsutil::start_writeback`]): the batch's `syncfs` then waits for little instead of
//! for everything (1 GiB library: 0.7 s of waiting at the end, then about 0.1 s). For small
//! objects the extra system call cost more than it saved (50,000 objects of 0.5–4 KB: 0.3 s
//! more), so those are left to the `syncfs`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::objects::at;

/// Bytes handed to the thread at a time.
const CHUNK: usize = 1 << 20;
/// Buffers waiting for the thread at most.
const IN_FLIGHT: usize = 6;
/// Empty buffers kept for reuse at most (the rest are freed): with the ones in flight and
/// the one being filled, the buffers that exist at any time.
const SPARE: usize = IN_FLIGHT + 2;

enum Cmd {
    /// Create (or truncate) the file for slot.
    Create(u64, PathBuf),
    /// A whole file at once (one that fits in a chunk): create read-only, write, close.
    Whole(PathBuf, Vec<u8>),
    /// Append to slot's file.
    Data(u64, Vec<u8>),
    /// Slot's file is complete: close it.
    Close(u64),
    /// Close slot's file if open, and remove the path.
    Remove(u64, PathBuf),
    /// Reply once every command before this one is carried out.
    Barrier(SyncSender<()>),
}

struct Conduit {
    tx: SyncSender<Cmd>,
    free: Receiver<Vec<u8>>,
    failed: Failed,
    next: std::cell::Cell<u64>,
}

/// The thread's first error: its kind (so that a full disk is still one) and its message.
type Failed = Arc<Mutex<Option<(ErrorKind, String)>>>;

impl Conduit {
    /// The thread's first error, if it met one (every call reports it again).
    fn failure(&self) -> Option<std::io::Error> {
        let f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        f.as_ref()
            .map(|(kind, message)| std::io::Error::new(*kind, message.clone()))
    }

    /// An empty buffer of [`CHUNK`] bytes: a spare one, or a new one.
    fn buffer(&self) -> Vec<u8> {
        self.free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK))
    }

    fn send(&self, cmd: Cmd) -> std::io::Result<()> {
        self.tx
            .send(cmd)
            .map_err(|_| std::io::Error::other("the writing thread ended"))
    }
}

/// The writing thread and the way to it. Dropped, it carries out what it was given and ends.
pub struct Writeback {
    conduit: Option<Rc<Conduit>>,
    thread: Option<JoinHandle<()>>,
}

impl Writeback {
    /// Start the thread.
    pub fn start() -> Self {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let (free_tx, free) = sync_channel(SPARE);
        let failed = Arc::new(Mutex::new(None));
        let thread = {
            let failed = failed.clone();
            std::thread::spawn(move || run(rx, free_tx, failed))
        };
        Self {
            conduit: Some(Rc::new(Conduit {
                tx,
                free,
                failed,
                next: std::cell::Cell::new(0),
            })),
            thread: Some(thread),
        }
    }

    fn conduit(&self) -> &Rc<Conduit> {
        self.conduit.as_ref().expect("until dropped")
    }

    /// A new file at `path`, written on the thread.
    pub fn create(&self, path: PathBuf) -> std::io::Result<PendingFile> {
        let c = self.conduit();
        if let Some(e) = c.failure() {
            return Err(e);
        }
        let slot = c.next.get();
        c.next.set(slot + 1);
        // Created on the thread with its first chunk, or whole when it is closed: a small
        // object is one message, not three.
        Ok(PendingFile {
            conduit: c.clone(),
            slot,
            path: Some(path),
            created: false,
            buf: c.buffer(),
        })
    }

    /// Remove `path` once everything given before is done (a file closed earlier).
    pub fn remove(&self, path: PathBuf) {
        let _ = self.conduit().send(Cmd::Remove(u64::MAX, path));
    }

    /// Wait until every file given is written and closed; the first error met, if any.
    pub fn finish(&self) -> std::io::Result<()> {
        let (tx, rx) = sync_channel(1);
        self.conduit().send(Cmd::Barrier(tx))?;
        rx.recv()
            .map_err(|_| std::io::Error::other("the writing thread ended"))?;
        match self.conduit().failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Writeback {
    /// Waits for the thread to carry out what it was given, unless a [`PendingFile`] is
    /// still alive (the thread then ends after the last one goes).
    fn drop(&mut self) {
        let last = self
            .conduit
            .take()
            .is_some_and(|c| Rc::strong_count(&c) == 1);
        if last && let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A file being written by the thread. [`PendingFile::close`] completes it; dropped without
/// that, it is removed.
pub struct PendingFile {
    conduit: Rc<Conduit>,
    slot: u64,
    /// `None` once closed.
    path: Option<PathBuf>,
    /// Whether the thread was told to create it (it had more than a chunk).
    created: bool,
    buf: Vec<u8>,
}

impl PendingFile {
    fn hand_over(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if !self.created {
            let path = self.path.clone().expect("open until closed");
            self.conduit.send(Cmd::Create(self.slot, path))?;
            self.created = true;
        }
        let next = self.conduit.buffer();
        let full = std::mem::replace(&mut self.buf, next);
        self.conduit.send(Cmd::Data(self.slot, full))
    }

    /// The last bytes go to the thread, which closes the file (created read-only); the path
    /// it is at.
    pub fn close(mut self) -> std::io::Result<PathBuf> {
        let path = self.path.take().expect("open until closed");
        if self.created {
            let last = std::mem::take(&mut self.buf);
            if !last.is_empty() {
                self.conduit.send(Cmd::Data(self.slot, last))?;
            }
            self.conduit.send(Cmd::Close(self.slot))?;
        } else {
            let whole = std::mem::take(&mut self.buf);
            self.conduit.send(Cmd::Whole(path.clone(), whole))?;
        }
        Ok(path)
    }
}

impl Write for PendingFile {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() == CHUNK {
            if let Some(e) = self.conduit.failure() {
                return Err(e);
            }
            self.hand_over()?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take()
            && self.created
        {
            let _ = self.conduit.send(Cmd::Remove(self.slot, path));
        }
    }
}

fn run(rx: Receiver<Cmd>, free: SyncSender<Vec<u8>>, failed: Failed) {
    // Each open file, its path, and how many bytes it has been given.
    let mut files: HashMap<u64, (File, PathBuf, u64)> = HashMap::new();
    let fail = |e: std::io::Error| {
        let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some((e.kind(), e.to_string()));
        }
    };
    for cmd in rx {
        match cmd {
            Cmd::Create(slot, path) => match create_read_only(&path) {
                Ok(f) => {
                    files.insert(slot, (f, path, 0));
                }
                Err(e) => fail(at(&path)(e)),
            },
            Cmd::Whole(path, mut buf) => {
                let written = create_read_only(&path).and_then(|mut f| {
                    f.write_all(&buf)?;
                    if buf.len() >= KICK_MIN {
                        crate::fsutil::start_writeback(&f, 0, buf.len() as u64);
                    }
                    Ok(())
                });
                if let Err(e) = written {
                    fail(at(&path)(e));
                }
                buf.clear();
                let _ = free.try_send(buf);
            }
            Cmd::Data(slot, mut buf) => {
                if let Some((f, path, written)) = files.get_mut(&slot) {
                    match f.write_all(&buf) {
                        Ok(()) => {
                            crate::fsutil::start_writeback(f, *written, buf.len() as u64);
                            *written += buf.len() as u64;
                        }
                        Err(e) => {
                            fail(at(path)(e));
                            files.remove(&slot);
                        }
                    }
                }
                buf.clear();
                let _ = free.try_send(buf);
            }
            Cmd::Close(slot) => {
                files.remove(&slot);
            }
            Cmd::Remove(slot, path) => {
                files.remove(&slot);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != ErrorKind::NotFound
                {
                    fail(at(&path)(e));
                }
            }
            Cmd::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }
}

/// Files smaller than this are left to the batch's `syncfs` (one call each would cost more
/// than it overlaps).
const KICK_MIN: usize = 256 * 1024;

/// Create `path` read-only (`0444`) and open it for writing: the mode is given at creation,
/// so no `fchmod` follows unless the umask takes read bits away. A file left at `path` by an
/// interrupted run is replaced.
fn create_read_only(path: &std::path::Path) -> std::io::Result<File> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o444)
            .open(path)
    };
    let f = match open() {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            std::fs::remove_file(path)?;
            open()?
        }
        r => r?,
    };
    if umask_hides_read() {
        f.set_permissions(std::fs::Permissions::from_mode(0o444))?;
    }
    Ok(f)
}

/// Whether the process's umask clears any read bit (read once, from `/proc/self/status`;
/// where that cannot be read, assume it does, and set the mode explicitly).
fn umask_hides_read() -> bool {
    static HIDES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HIDES.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .is_none_or(|mask| mask & 0o444 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_get_exactly_the_bytes_written_in_order_and_read_only() {
        let d = tempfile::tempdir().unwrap();
        let w = Writeback::start();
        let data: Vec<u8> = (0..(3 * CHUNK + 777)).map(|i| (i % 253) as u8).collect();
        let mut a = w.create(d.path().join("a")).unwrap();
        let mut b = w.create(d.path().join("b")).unwrap();
        // Interleaved, in odd sizes.
        for piece in data.chunks(99_991) {
            a.write_all(piece).unwrap();
            b.write_all(&piece[..piece.len() / 2]).unwrap();
        }
        let pa = a.close().unwrap();
        let pb = b.close().unwrap();
        let empty = w.create(d.path().join("empty")).unwrap().close().unwrap();
        w.finish().unwrap();
        assert_eq!(std::fs::read(&pa).unwrap(), data);
        let half: Vec<u8> = data
            .chunks(99_991)
            .flat_map(|p| p[..p.len() / 2].to_vec())
            .collect();
        assert_eq!(std::fs::read(&pb).unwrap(), half);
        assert_eq!(std::fs::read(&empty).unwrap(), b"");
        let mode = std::fs::metadata(&pa).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
    }

    #[test]
    fn a_read_only_file_left_at_the_path_is_replaced_small_or_large() {
        let d = tempfile::tempdir().unwrap();
        for (name, len) in [("small", 10), ("large", 2 * CHUNK + 3)] {
            let p = d.path().join(name);
            std::fs::write(&p, b"left by a killed run, longer than ten bytes").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
            let w = Writeback::start();
            let mut f = w.create(p.clone()).unwrap();
            f.write_all(&vec![7u8; len]).unwrap();
            f.close().unwrap();
            w.finish().unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), vec![7u8; len], "{name}");
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o444, "{name}");
        }
    }

    #[test]
    fn a_file_dropped_unclosed_is_removed_and_remove_waits_for_writes() {
        let d = tempfile::tempdir().unwrap();
        let w = Writeback::start();
        let mut a = w.create(d.path().join("a")).unwrap();
        a.write_all(&vec![1u8; 2 * CHUNK + 5]).unwrap();
        drop(a);
        let mut b = w.create(d.path().join("b")).unwrap();
        b.write_all(&vec![2u8; CHUNK + 1]).unwrap();
        let pb = b.close().unwrap();
        w.remove(pb.clone());
        w.finish().unwrap();
        assert!(!d.path().join("a").exists());
        assert!(!pb.exists());
    }

    #[test]
    fn an_error_on_the_thread_is_reported_with_its_path() {
        let d = tempfile::tempdir().unwrap();
        let w = Writeback::start();
        let bad = d.path().join("no-such-dir").join("x");
        let mut f = w.create(bad.clone()).unwrap();
        // The error surfaces at a later write or at finish, naming the path.
        let _ = f.write_all(&vec![0u8; 3 * CHUNK]);
        let _ = f.close();
        let e = w.finish().unwrap_err();
        assert!(e.to_string().contains("no-such-dir"), "{e}");
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn many_small_files_are_each_one_message_and_whole() {
        let d = tempfile::tempdir().unwrap();
        let w = Writeback::start();
        let mut paths = Vec::new();
        for i in 0..500u32 {
            let mut f = w.create(d.path().join(format!("f{i}"))).unwrap();
            f.write_all(&i.to_le_bytes().repeat(i as usize % 7 + 1))
                .unwrap();
            paths.push((i, f.close().unwrap()));
        }
        // One dropped before it was closed never reaches the disk.
        let mut gone = w.create(d.path().join("gone")).unwrap();
        gone.write_all(b"never").unwrap();
        drop(gone);
        w.finish().unwrap();
        for (i, p) in paths {
            assert_eq!(
                std::fs::read(&p).unwrap(),
                i.to_le_bytes().repeat(i as usize % 7 + 1)
            );
        }
        assert!(!d.path().join("gone").exists());
    }
}
