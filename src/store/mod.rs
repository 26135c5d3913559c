//! The import side's store: content-addressed objects, repository versions built from
//! them, the published trees clients read, and the catalog and history in SQLite.
//!
//! ```text
//! STORE/
//!   ferry.db                       catalog, history, trusted keys (SQLite)
//!   lock                           held by the one process that changes the store
//!   objects/ab/cdef…               one read-only file per object, named by its SHA-256
//!   versions/<id>/                 complete repository trees, hard links to objects
//!   bundles/<bundle id>.toml       manifests of the bundles imported
//!   published/<org>/library/<product>/<repo>          → ../../../../versions/<id>
//!   published/<org>/views/<view>/<product>/<repo>     → newest version of the view
//!   published/<org>/env/<env>/<view>/<product>/<repo> → the version environment <env> holds
//!   staging/<bundle id>/pieces/    pieces of objects whose volumes arrive in separate runs
//!   staging/<bundle id>/manifest.toml  the manifest of a partly staged bundle (`prune`
//!                                  keeps every object it names)
//!   tmp/                           work in progress (tmp/prune/: what a prune is deleting);
//!                                  emptied by every import and prune
//!   uploads/<key>/                 volumes being received by `ferry serve` (spec/UPLOAD.md)
//!   admin-token                    `ferry serve`'s admin token (mode 0600)
//! ```
//!
//! `ferry prune` ([`prune`]) marks old content-view and repository versions pruned, then
//! removes the version directories, objects and abandoned uploads nothing needs any more;
//! [`usage`] tells what the store takes on disk and what a prune would free.

pub mod db;
pub mod environments;
pub mod history;
pub mod objects;
pub mod prune;
pub mod publish;
pub mod trees;
pub mod usage;
pub mod writeback;

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

use db::{Db, DbError};

/// Errors opening or locking a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A store at a path longer than its database can be opened at.
    #[error(
        "the store path {} is {len} bytes long; a store's path may be at most {MAX_STORE_PATH} bytes (its database, SQLite, opens no longer path): use a shorter one",
        crate::format::relpath::shorten(&path.display().to_string())
    )]
    PathTooLong {
        /// The path given.
        path: PathBuf,
        /// Its absolute length.
        len: usize,
    },
    /// Not a store.
    #[error("no store at {} (no ferry.db there)", .0.display())]
    NotAStore(PathBuf),
    /// Another process holds the lock and we were told not to wait.
    #[error("another ferry ({0}) is changing this store; try again when it has finished")]
    Busy(String),
    /// I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// Database.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read the catalog only; no lock.
    Read,
    /// Change an existing store: take the lock, waiting for another process that holds it
    /// when `wait`. A directory without a store is [`StoreError::NotAStore`].
    Write {
        /// Wait for the lock instead of failing.
        wait: bool,
    },
    /// As [`Access::Write`], creating the store first if there is none.
    Create {
        /// Wait for the lock instead of failing.
        wait: bool,
    },
}

/// An open store.
pub struct Store {
    /// Its directory.
    pub root: PathBuf,
    /// Its database.
    pub db: Db,
    _lock: Option<File>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Longest absolute path of a store. SQLite opens database paths of at most 512 bytes;
/// this leaves room for `/ferry.db` and its journal. It also keeps every published path
/// short enough for Linux: 480 + `/published/ORG/views/VIEW/PRODUCT/REPO/` (at most 540
/// bytes of labels) + a tree path (at most 1024) is far below 4096.
pub const MAX_STORE_PATH: usize = 480;

/// Remove a store that was just created at `root` (by an import that then failed): the
/// whole directory if `existed` is false, otherwise only what a store puts in it.
pub fn remove_new(root: &Path, existed: bool) {
    if !existed {
        let _ = std::fs::remove_dir_all(root);
        return;
    }
    for name in [
        "objects",
        "versions",
        "bundles",
        "published",
        "tmp",
        "staging",
        "uploads",
    ] {
        let _ = std::fs::remove_dir_all(root.join(name));
    }
    for name in [
        "lock",
        "ferry.db",
        "ferry.db-wal",
        "ferry.db-shm",
        "ferry.db-journal",
    ] {
        let _ = std::fs::remove_file(root.join(name));
    }
}

impl Store {
    /// Open the store at `root`. `on_wait` is told when another process holds the lock.
    pub fn open(root: &Path, access: Access, on_wait: &dyn Fn(&str)) -> Result<Self, StoreError> {
        let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let len = absolute.as_os_str().len();
        if len > MAX_STORE_PATH {
            return Err(StoreError::PathTooLong {
                path: root.to_path_buf(),
                len,
            });
        }
        match access {
            Access::Read => {
                let db_path = root.join("ferry.db");
                if !db_path.is_file() {
                    return Err(StoreError::NotAStore(root.to_path_buf()));
                }
                Ok(Self {
                    root: root.to_path_buf(),
                    db: Db::open(&db_path, false)?,
                    _lock: None,
                })
            }
            Access::Write { wait } | Access::Create { wait } => {
                if matches!(access, Access::Write { .. }) && !root.join("ferry.db").is_file() {
                    return Err(StoreError::NotAStore(root.to_path_buf()));
                }
                for d in ["", "objects", "versions", "bundles", "published", "tmp"] {
                    let p = root.join(d);
                    std::fs::create_dir_all(&p).map_err(io(&p))?;
                }
                let lock_path = root.join("lock");
                let mut lock = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&lock_path)
                    .map_err(io(&lock_path))?;
                match lock.try_lock() {
                    Ok(()) => {}
                    Err(std::fs::TryLockError::WouldBlock) => {
                        let mut holder = String::new();
                        let _ = lock.read_to_string(&mut holder);
                        let holder = holder.trim().to_string();
                        if !wait {
                            return Err(StoreError::Busy(holder));
                        }
                        on_wait(&format!(
                            "another ferry ({holder}) is changing this store; waiting for it to finish"
                        ));
                        lock.lock().map_err(io(&lock_path))?;
                    }
                    Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
                }
                lock.set_len(0).map_err(io(&lock_path))?;
                lock.rewind().map_err(io(&lock_path))?;
                let _ = write!(lock, "pid {}", std::process::id());
                let db = Db::open(&root.join("ferry.db"), true)?;
                Ok(Self {
                    root: root.to_path_buf(),
                    db,
                    _lock: Some(lock),
                })
            }
        }
    }

    /// The work directory (emptied by [`Store::clean_tmp`]).
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Remove what an interrupted run left in `tmp/`.
    pub fn clean_tmp(&self) -> Result<(), StoreError> {
        let t = self.tmp();
        std::fs::remove_dir_all(&t)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(io(&t))?;
        std::fs::create_dir_all(&t).map_err(io(&t))
    }

    /// Remove the staging areas of bundles that are imported (left by a run killed after
    /// its commit).
    pub fn clean_staging(&self) -> Result<(), StoreError> {
        let dir = self.root.join("staging");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if self.db.bundle_imported(&name)?.is_some() {
                std::fs::remove_dir_all(e.path()).map_err(io(&e.path()))?;
            }
        }
        Ok(())
    }

    /// Make the published links match the database (finishing an interrupted publish).
    pub fn reconcile(&self) -> Result<usize, StoreError> {
        let wanted = self.db.publications()?;
        let p = self.root.join("published");
        publish::reconcile(&self.root, &wanted).map_err(io(&p))
    }
}
