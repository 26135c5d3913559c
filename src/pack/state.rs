//! The export side's record of the bundles it has made (the *state directory*): their
//! manifests, sequence numbers per organization, and a cache of source files already
//! hashed, keyed by path, size, modification time and inode like git's index, so that an
//! incremental pack reads only what changed.
//!
//! ```text
//! STATE/                     by default beside the key: /secure/site-a.state/
//!   state.db                 bundles made, file cache (SQLite)
//!   bundles/<id>.toml        their manifests
//! ```

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::format::manifest::Manifest;
use crate::format::{BundleId, ObjectId};
use crate::yum::checksum::Checksum;

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// SQLite.
    #[error("export state database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// A manifest in the state does not parse.
    #[error("{}: {source}", path.display())]
    Manifest {
        /// File.
        path: PathBuf,
        /// Why.
        source: crate::format::manifest::ManifestError,
    },
}

/// What a stream shipped under a content-view version: the sequence that first carried it,
/// and each repository's listing digest.
pub type ShippedView = (u64, BTreeMap<String, String>);

/// A bundle made from this state.
#[derive(Debug, Clone)]
pub struct MadeBundle {
    /// Its id.
    pub id: BundleId,
    /// Its sequence.
    pub sequence: u64,
    /// Its creation time.
    pub created: String,
    /// Its base, if incremental.
    pub base: Option<BundleId>,
}

/// An open state directory.
pub struct ExportState {
    dir: PathBuf,
    conn: Connection,
}

/// What the cache knows of a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Inode number.
    pub ino: u64,
    /// Device.
    pub dev: u64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    pub fn of(m: &std::fs::Metadata) -> Self {
        Self {
            size: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ino: m.ino(),
            dev: m.dev(),
        }
    }
}

/// The default state directory for a key: `PREFIX.state` beside `PREFIX.key`.
pub fn default_dir(key: &Path) -> PathBuf {
    let stem = key
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ferry".into());
    key.with_file_name(format!("{stem}.state"))
}

impl ExportState {
    /// Open (creating) the state directory.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let io = |source| StateError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir.join("bundles")).map_err(io)?;
        let conn = Connection::open(dir.join("state.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bundles(
                 id TEXT PRIMARY KEY, organization TEXT NOT NULL, sequence INTEGER NOT NULL,
                 created TEXT NOT NULL, base TEXT, made TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS files(
                 path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL,
                 ino INTEGER NOT NULL, dev INTEGER NOT NULL, sha256 TEXT NOT NULL,
                 verified TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS shipped_views(
                 organization TEXT NOT NULL, view TEXT NOT NULL, version TEXT NOT NULL,
                 repository TEXT NOT NULL, listing TEXT NOT NULL, sequence INTEGER NOT NULL,
                 PRIMARY KEY(organization, view, version, repository));",
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            conn,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bundles made for `org`, oldest first.
    pub fn bundles(&self, org: &str) -> Result<Vec<MadeBundle>, StateError> {
        let mut st = self
            .conn
            .prepare("SELECT id, sequence, created, base FROM bundles WHERE organization = ?1 ORDER BY sequence, made")?;
        let rows = st.query_map(params![org], |r| {
            let id: String = r.get(0)?;
            let base: Option<String> = r.get(3)?;
            Ok((id, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, base))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, seq, created, base) = row?;
            if let Ok(id) = id.parse() {
                out.push(MadeBundle {
                    id,
                    sequence: seq as u64,
                    created,
                    base: base.and_then(|b| b.parse().ok()),
                });
            }
        }
        Ok(out)
    }

    /// The manifest of a bundle made from this state.
    pub fn manifest(&self, id: &BundleId) -> Result<Option<Manifest>, StateError> {
        let path = self
            .dir
            .join("bundles")
            .join(format!("{}.toml", id.to_hex()));
        match std::fs::read(&path) {
            Ok(b) => Manifest::parse(&b)
                .map(Some)
                .map_err(|source| StateError::Manifest { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    /// Every object the receiving side holds once it has `base` and what `base` builds on:
    /// what those bundles carry and what their trees refer to.
    pub fn known_objects(&self, base: &Manifest) -> Result<HashSet<ObjectId>, StateError> {
        let mut known: HashSet<ObjectId> = HashSet::new();
        let mut add = |m: &Manifest| {
            known.extend(m.objects.keys().copied());
            for t in &m.trees {
                known.extend(t.files.values().copied());
            }
        };
        add(base);
        let mut next = base.base.as_ref().map(|b| b.bundle);
        let mut seen = HashSet::new();
        while let Some(id) = next {
            if !seen.insert(id) {
                break;
            }
            match self.manifest(&id)? {
                Some(m) => {
                    add(&m);
                    next = m.base.as_ref().map(|b| b.bundle);
                }
                None => break,
            }
        }
        Ok(known)
    }

    /// The cached SHA-256 of the file at `path`, if its stamp is unchanged and the cache
    /// has already checked every checksum in `declared` against it.
    pub fn cached(
        &self,
        path: &Path,
        stamp: &FileStamp,
        declared: &[Checksum],
    ) -> Result<Option<ObjectId>, StateError> {
        let row: Option<(i64, String, i64, i64, String, String)> = self
            .conn
            .query_row(
                "SELECT size, mtime_ns, ino, dev, sha256, verified FROM files WHERE path = ?1",
                params![path.to_string_lossy()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((size, mtime, ino, dev, sha256, verified)) = row else {
            return Ok(None);
        };
        let same = size as u64 == stamp.size
            && mtime == stamp.mtime_ns.to_string()
            && ino as u64 == stamp.ino
            && dev as u64 == stamp.dev;
        let checked = declared.iter().all(|c| {
            verified
                .split(' ')
                .any(|v| v == format!("{}:{}", c.kind.name(), c.hex))
        });
        Ok(if same && checked {
            sha256.parse().ok()
        } else {
            None
        })
    }

    /// Record what was learnt about source files, and the bundle made, in one transaction.
    pub fn record(
        &self,
        manifest: &Manifest,
        manifest_bytes: &[u8],
        files: &[(PathBuf, FileStamp, ObjectId, Vec<Checksum>)],
    ) -> Result<BundleId, StateError> {
        let id = Manifest::id_of(manifest_bytes);
        let path = self
            .dir
            .join("bundles")
            .join(format!("{}.toml", id.to_hex()));
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, manifest_bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO bundles(id, organization, sequence, created, base, made) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.to_hex(),
                manifest.organization,
                manifest.sequence as i64,
                manifest.created,
                manifest.base.as_ref().map(|b| b.bundle.to_hex()),
                crate::time::rfc3339(crate::time::now_secs())
            ],
        )?;
        {
            let mut st = tx.prepare(
                "INSERT OR REPLACE INTO files(path, size, mtime_ns, ino, dev, sha256, verified) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (p, stamp, oid, declared) in files {
                let verified: Vec<String> = declared
                    .iter()
                    .map(|c| format!("{}:{}", c.kind.name(), c.hex))
                    .collect();
                st.execute(params![
                    p.to_string_lossy(),
                    stamp.size as i64,
                    stamp.mtime_ns.to_string(),
                    stamp.ino as i64,
                    stamp.dev as i64,
                    oid.to_hex(),
                    verified.join(" ")
                ])?;
            }
        }
        record_views(&tx, manifest)?;
        tx.commit()?;
        Ok(id)
    }

    /// What the stream shipped under a content-view version, if it did: the sequence
    /// that first carried it, and each repository's listing digest.
    pub fn shipped_view(
        &self,
        org: &str,
        view: &str,
        version: &str,
    ) -> Result<Option<ShippedView>, StateError> {
        self.backfill_views(org)?;
        let mut st = self.conn.prepare(
            "SELECT repository, listing, sequence FROM shipped_views
             WHERE organization = ?1 AND view = ?2 AND version = ?3",
        )?;
        let rows: Vec<(String, String, i64)> = st
            .query_map(params![org, view, version], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let Some(seq) = rows.iter().map(|r| r.2).min() else {
            return Ok(None);
        };
        Ok(Some((
            seq as u64,
            rows.into_iter()
                .filter(|r| r.0 != EMPTY_VIEW)
                .map(|r| (r.0, r.1))
                .collect(),
        )))
    }

    /// A state written by an older ferry has bundles but no record of their views: read
    /// them from the manifests once.
    fn backfill_views(&self, org: &str) -> Result<(), StateError> {
        let known: bool = self.conn.query_row(
            "SELECT COUNT(*) > 0 FROM shipped_views WHERE organization = ?1",
            params![org],
            |r| r.get(0),
        )?;
        if known {
            return Ok(());
        }
        for b in self.bundles(org)? {
            if let Some(m) = self.manifest(&b.id)? {
                let tx = self.conn.unchecked_transaction()?;
                record_views(&tx, &m)?;
                tx.commit()?;
            }
        }
        Ok(())
    }
}

/// Stands for "no repository" in `shipped_views`, so that an empty view version is known.
const EMPTY_VIEW: &str = "";

/// The digest of a tree's listing (paths and object ids).
pub fn listing(tree: &crate::format::manifest::Tree) -> String {
    crate::store::trees::version_id(tree, None)
}

/// Remember what each content-view version of `m` carried (the first bundle's content wins:
/// versions never change).
fn record_views(tx: &rusqlite::Transaction<'_>, m: &Manifest) -> Result<(), StateError> {
    let mut st = tx.prepare(
        "INSERT OR IGNORE INTO shipped_views(organization, view, version, repository, listing, sequence)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for v in &m.content_views {
        st.execute(params![
            m.organization,
            v.label,
            v.version,
            EMPTY_VIEW,
            "",
            m.sequence as i64
        ])?;
        for vr in &v.repositories {
            let Some(tree) = m.tree(&vr.tree) else {
                continue;
            };
            st.execute(params![
                m.organization,
                v.label,
                v.version,
                vr.repository,
                listing(tree),
                m.sequence as i64
            ])?;
        }
    }
    Ok(())
}
