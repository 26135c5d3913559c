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

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};

use crate::format::manifest::Manifest;
use crate::format::{BundleId, ObjectId, Sha256Digest};
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
    /// A change to a state opened only to read it (a bug: dry runs change nothing).
    #[error("{}: the export state was opened read-only", .0.display())]
    ReadOnly(PathBuf),
    /// `forget` was given a sequence this state did not make.
    #[error(
        "the export state {} made no bundle of sequence {sequence} for organization {organization}{}",
        dir.display(),
        if made.is_empty() { String::new() } else {
            format!(" (it made {})", made.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
        }
    )]
    NoSuchSequence {
        /// The state directory.
        dir: PathBuf,
        /// The organization.
        organization: String,
        /// The sequence asked for.
        sequence: u64,
        /// The sequences it did make.
        made: Vec<u64>,
    },
    /// No organization was named and the state holds bundles of several (or none).
    #[error(
        "the export state {} holds {}: name the organization",
        dir.display(),
        if organizations.is_empty() { "no bundle".to_string() } else {
            format!("bundles of several organizations ({})", organizations.join(", "))
        }
    )]
    WhichOrganization {
        /// The state directory.
        dir: PathBuf,
        /// The organizations it holds bundles of.
        organizations: Vec<String>,
    },
    /// `forget` would go below a key rotation: the new key's statement covers only the
    /// sequences from its `since` on.
    #[error(
        "sequence {sequence} of {organization} was made before key {old} was rotated to key {new}, which signs from sequence {since} on: forgotten, sequence {sequence} would be the new key's to sign, and no rotation statement covers that, so no site would take it. Only bundles of sequence {since} and later can be forgotten; nothing was forgotten"
    )]
    BeforeRotation {
        /// The organization.
        organization: String,
        /// The sequence asked for.
        sequence: u64,
        /// The first sequence of the new key.
        since: u64,
        /// The key rotated away.
        old: crate::format::KeyId,
        /// Its successor.
        new: crate::format::KeyId,
    },
    /// The key rotations the state records cannot be read.
    #[error(transparent)]
    Rotations(Box<super::rotation::RotationError>),
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
    /// Opened with [`ExportState::open_read_only`]: every change is refused.
    read_only: bool,
    /// The bundles table has the `volumes` and `bytes` columns.
    sized: bool,
}

/// The tables of the state database (the columns added later come from
/// [`ExportState::open`]'s upgrade).
/// The first bytes of a kept set of known objects (`bundles/<id>.known`).
const KNOWN_MAGIC: &[u8] = b"ferry-known/1\n";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS bundles(
         id TEXT PRIMARY KEY, organization TEXT NOT NULL, sequence INTEGER NOT NULL,
         created TEXT NOT NULL, base TEXT, made TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS files(
         path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns TEXT NOT NULL,
         ino INTEGER NOT NULL, dev INTEGER NOT NULL, sha256 TEXT NOT NULL,
         verified TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS shipped_views(
         organization TEXT NOT NULL, view TEXT NOT NULL, version TEXT NOT NULL,
         repository TEXT NOT NULL, listing TEXT NOT NULL, sequence INTEGER NOT NULL,
         PRIMARY KEY(organization, view, version, repository));";

/// Whether `table` has `column`.
fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StateError> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<Result<_, _>>()?;
    Ok(names.iter().any(|n| n == column))
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
    /// Open (creating) the state directory, upgrading a state written by an older ferry
    /// in place.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let io = |source| StateError::Io {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir.join("bundles")).map_err(io)?;
        let conn = Connection::open(dir.join("state.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        let mut state = Self {
            dir: dir.to_path_buf(),
            conn,
            read_only: false,
            sized: true,
        };
        state.upgrade()?;
        Ok(state)
    }

    /// Open the state directory only to read it: nothing is created or changed, not even
    /// when it does not exist (it then reads as a state that made nothing) or was written
    /// by an older ferry (what the upgrade would add is computed from the manifests). When
    /// no other process has the database open, it is read as an immutable file, so that
    /// not even SQLite's lock files appear (a pack that records a bundle meanwhile may make
    /// the reading fail; run it again).
    pub fn open_read_only(dir: &Path) -> Result<Self, StateError> {
        let db = dir.join("state.db");
        let conn = if db.is_file() {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let wal = dir.join("state.db-wal");
            let c = match url::Url::from_file_path(&db) {
                // No other connection has it open (its write-ahead log is gone when the
                // last one closes): read the file as it is, without the lock files a
                // read-only connection would otherwise leave behind.
                Ok(u) if !wal.exists() => Connection::open_with_flags(
                    format!("{u}?immutable=1"),
                    flags | OpenFlags::SQLITE_OPEN_URI,
                )?,
                _ => Connection::open_with_flags(&db, flags)?,
            };
            c.busy_timeout(std::time::Duration::from_secs(30))?;
            c
        } else {
            let c = Connection::open_in_memory()?;
            c.execute_batch(SCHEMA)?;
            c
        };
        let sized = has_column(&conn, "bundles", "volumes")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            conn,
            read_only: true,
            sized,
        })
    }

    /// Bring a state written by an older ferry up to date: the bundles' volumes and bytes
    /// (read from their manifests once).
    fn upgrade(&mut self) -> Result<(), StateError> {
        if !has_column(&self.conn, "bundles", "volumes")? {
            // Checked again under the write lock: another ferry may be upgrading too.
            let tx = rusqlite::Transaction::new_unchecked(
                &self.conn,
                rusqlite::TransactionBehavior::Immediate,
            )?;
            if !has_column(&tx, "bundles", "volumes")? {
                tx.execute_batch(
                    "ALTER TABLE bundles ADD COLUMN volumes INTEGER;
                     ALTER TABLE bundles ADD COLUMN bytes INTEGER;",
                )?;
            }
            tx.commit()?;
        }
        self.sized = true;
        let missing: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT id FROM bundles WHERE volumes IS NULL OR bytes IS NULL")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for id in missing {
            let Ok(bid) = id.parse::<BundleId>() else {
                continue;
            };
            if let Some((volumes, bytes)) = self.measure(&bid)? {
                self.conn.execute(
                    "UPDATE bundles SET volumes = ?2, bytes = ?3 WHERE id = ?1",
                    params![id, i64::from(volumes), bytes as i64],
                )?;
            }
        }
        Ok(())
    }

    /// Volumes and bytes on media of a bundle whose manifest the state holds.
    fn measure(&self, id: &BundleId) -> Result<Option<(u32, u64)>, StateError> {
        let path = self.manifest_path(id);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let m = Manifest::parse(&bytes).map_err(|source| StateError::Manifest { path, source })?;
        Ok(Some((m.volumes, super::finish::media_bytes(&m, &bytes))))
    }

    fn manifest_path(&self, id: &BundleId) -> PathBuf {
        self.dir
            .join("bundles")
            .join(format!("{}.toml", id.to_hex()))
    }

    fn writable(&self) -> Result<(), StateError> {
        if self.read_only {
            return Err(StateError::ReadOnly(self.dir.clone()));
        }
        Ok(())
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
        let path = self.manifest_path(id);
        match std::fs::read(&path) {
            Ok(b) => Manifest::parse(&b)
                .map(Some)
                .map_err(|source| StateError::Manifest { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    /// Every object the receiving side holds once it has bundle `id` (whose manifest is
    /// `base`) and what it builds on: what those bundles carry and what their trees refer
    /// to. The set is kept beside the manifest (`bundles/<id>.known`), so that the next
    /// incremental pack reads one file instead of every manifest of the chain.
    pub fn known_objects(
        &self,
        id: &BundleId,
        base: &Manifest,
    ) -> Result<HashSet<ObjectId>, StateError> {
        if let Some(known) = self.read_known(id) {
            return Ok(known);
        }
        // Older states: walk the chain back to the first bundle that has its set kept.
        let mut known: HashSet<ObjectId> = HashSet::new();
        let add = |known: &mut HashSet<ObjectId>, m: &Manifest| {
            known.extend(m.objects.keys().copied());
            for t in &m.trees {
                known.extend(t.files.values().copied());
            }
        };
        add(&mut known, base);
        let mut next = base.base.as_ref().map(|b| b.bundle);
        let mut seen = HashSet::new();
        while let Some(id) = next {
            if !seen.insert(id) {
                break;
            }
            if let Some(earlier) = self.read_known(&id) {
                known.extend(earlier);
                break;
            }
            match self.manifest(&id)? {
                Some(m) => {
                    add(&mut known, &m);
                    next = m.base.as_ref().map(|b| b.bundle);
                }
                None => break,
            }
        }
        // Kept only for a bundle of this state (not a `--since` manifest from elsewhere).
        if self.manifest_path(id).is_file() {
            self.keep_known(id, &known)?;
        }
        Ok(known)
    }

    /// Keep the set of objects the receiving side holds once it has bundle `id`: what it
    /// builds on (`before`), what it carries and what its trees refer to.
    pub fn remember_known(
        &self,
        id: &BundleId,
        manifest: &Manifest,
        before: &HashSet<ObjectId>,
    ) -> Result<(), StateError> {
        let mut known = before.clone();
        known.extend(manifest.objects.keys().copied());
        for t in &manifest.trees {
            known.extend(t.files.values().copied());
        }
        self.keep_known(id, &known)
    }

    fn known_path(&self, id: &BundleId) -> PathBuf {
        self.dir
            .join("bundles")
            .join(format!("{}.known", id.to_hex()))
    }

    /// The kept set of bundle `id`: 32-byte object ids, sorted; `None` if there is none or
    /// it is not whole (then the chain is walked again).
    fn read_known(&self, id: &BundleId) -> Option<HashSet<ObjectId>> {
        let bytes = std::fs::read(self.known_path(id)).ok()?;
        let body = bytes.strip_prefix(KNOWN_MAGIC)?;
        if body.len() % 32 != 0 {
            return None;
        }
        Some(
            body.chunks_exact(32)
                .map(|c| Sha256Digest(c.try_into().expect("32 bytes")))
                .collect(),
        )
    }

    fn keep_known(&self, id: &BundleId, known: &HashSet<ObjectId>) -> Result<(), StateError> {
        if self.writable().is_err() {
            return Ok(());
        }
        let mut ids: Vec<&ObjectId> = known.iter().collect();
        ids.sort();
        let mut bytes = Vec::with_capacity(KNOWN_MAGIC.len() + 32 * ids.len());
        bytes.extend_from_slice(KNOWN_MAGIC);
        for i in ids {
            bytes.extend_from_slice(&i.0);
        }
        let path = self.known_path(id);
        let tmp = path.with_extension("known.tmp");
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
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
        self.writable()?;
        let id = Manifest::id_of(manifest_bytes);
        let path = self.manifest_path(&id);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, manifest_bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO bundles(id, organization, sequence, created, base, made, volumes, bytes)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id.to_hex(),
                manifest.organization,
                manifest.sequence as i64,
                manifest.created,
                manifest.base.as_ref().map(|b| b.bundle.to_hex()),
                crate::time::rfc3339(crate::time::now_secs()),
                i64::from(manifest.volumes),
                super::finish::media_bytes(manifest, manifest_bytes) as i64
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
            return self.shipped_view_from_manifests(org, view, version);
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
        if self.read_only {
            return Ok(());
        }
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
    /// [`Self::shipped_view`] for a state opened read-only that an older ferry wrote
    /// (no record of views yet): from the manifests, oldest first.
    fn shipped_view_from_manifests(
        &self,
        org: &str,
        view: &str,
        version: &str,
    ) -> Result<Option<ShippedView>, StateError> {
        if !self.read_only {
            return Ok(None);
        }
        let recorded: bool = self.conn.query_row(
            "SELECT COUNT(*) > 0 FROM shipped_views WHERE organization = ?1",
            params![org],
            |r| r.get(0),
        )?;
        if recorded {
            return Ok(None);
        }
        for b in self.bundles(org)? {
            let Some(m) = self.manifest(&b.id)? else {
                continue;
            };
            if let Some(v) = m
                .content_views
                .iter()
                .find(|v| v.label == view && v.version == version)
            {
                let listings = v
                    .repositories
                    .iter()
                    .filter_map(|vr| Some((vr.repository.clone(), listing(m.tree(&vr.tree)?))))
                    .collect();
                return Ok(Some((m.sequence, listings)));
            }
        }
        Ok(None)
    }

    /// The organizations this state made bundles for, sorted.
    pub fn organizations(&self) -> Result<Vec<String>, StateError> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT organization FROM bundles ORDER BY organization")?;
        Ok(st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
    }

    /// `organization`, or the only organization this state made bundles for.
    pub fn organization(&self, organization: Option<&str>) -> Result<String, StateError> {
        if let Some(o) = organization {
            return Ok(o.to_string());
        }
        let orgs = self.organizations()?;
        match <[String; 1]>::try_from(orgs) {
            Ok([one]) => Ok(one),
            Err(organizations) => Err(StateError::WhichOrganization {
                dir: self.dir.clone(),
                organizations,
            }),
        }
    }

    /// The bundles made, oldest first (by sequence, then when made), of one organization
    /// or of all: what `ferry bundles` lists.
    pub fn list(&self, organization: Option<&str>) -> Result<Vec<BundleInfo>, StateError> {
        let sized = if self.sized {
            "volumes, bytes"
        } else {
            "NULL, NULL"
        };
        let mut st = self.conn.prepare(&format!(
            "SELECT organization, sequence, id, base, created, made, {sized} FROM bundles
             WHERE ?1 IS NULL OR organization = ?1 ORDER BY organization, sequence, made"
        ))?;
        let mut out: Vec<BundleInfo> = st
            .query_map(params![organization], |r| {
                Ok(BundleInfo {
                    organization: r.get(0)?,
                    sequence: r.get::<_, i64>(1)? as u64,
                    bundle: r.get(2)?,
                    base: r.get(3)?,
                    created: r.get(4)?,
                    made: r.get(5)?,
                    volumes: r.get::<_, Option<i64>>(6)?.map(|v| v as u32),
                    bytes: r.get::<_, Option<i64>>(7)?.map(|b| b as u64),
                })
            })?
            .collect::<Result<_, _>>()?;
        // A state an older ferry wrote, read without upgrading it: from the manifests.
        for b in &mut out {
            if (b.volumes.is_none() || b.bytes.is_none())
                && let Ok(id) = b.bundle.parse::<BundleId>()
                && let Some((v, n)) = self.measure(&id)?
            {
                b.volumes = Some(v);
                b.bytes = Some(n);
            }
        }
        Ok(out)
    }

    /// Forget the bundle of sequence `sequence` of the organization (see
    /// [`Self::organization`]) and every later one, for trips that never left the
    /// building: their records, manifests, and what they recorded as shipped (content-view
    /// versions first shipped by them), so that the next pack takes `sequence` again, builds
    /// on the newest bundle that remains, and carries what they carried again. Only the
    /// newest bundles can be forgotten, so a sequence that this state did not make is
    /// refused. The file cache (what source files hash to) is kept: it is not about bundles.
    pub fn forget(
        &self,
        organization: Option<&str>,
        sequence: u64,
    ) -> Result<Forgotten, StateError> {
        self.writable()?;
        let org = self.organization(organization)?;
        let made = self.list(Some(&org))?;
        if !made.iter().any(|b| b.sequence == sequence) {
            return Err(StateError::NoSuchSequence {
                dir: self.dir.clone(),
                organization: org,
                sequence,
                made: made.iter().map(|b| b.sequence).collect(),
            });
        }
        // A rotation's statement covers the new key from its first sequence on: forgetting
        // a bundle of the old key would leave the new key a sequence nobody vouches for.
        let rotations =
            super::rotation::load(&self.dir).map_err(|e| StateError::Rotations(Box::new(e)))?;
        if let Some(r) = rotations
            .iter()
            .filter(|r| r.organization == org && sequence < r.statement.since)
            .min_by_key(|r| r.statement.since)
        {
            return Err(StateError::BeforeRotation {
                organization: org,
                sequence,
                since: r.statement.since,
                old: r.statement.old,
                new: r.statement.new.id,
            });
        }
        let (forgotten, kept): (Vec<BundleInfo>, Vec<BundleInfo>) =
            made.into_iter().partition(|b| b.sequence >= sequence);
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM bundles WHERE organization = ?1 AND sequence >= ?2",
            params![org, sequence as i64],
        )?;
        tx.execute(
            "DELETE FROM shipped_views WHERE organization = ?1 AND sequence >= ?2",
            params![org, sequence as i64],
        )?;
        tx.commit()?;
        // The manifests go after the records: a crash in between leaves files that nothing
        // names (harmless), never a record without its manifest.
        for b in &forgotten {
            if let Ok(id) = b.bundle.parse::<BundleId>() {
                for path in [self.manifest_path(&id), self.known_path(&id)] {
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(StateError::Io { path, source }),
                    }
                }
            }
        }
        let next_base = kept.last().cloned();
        Ok(Forgotten {
            organization: org,
            forgotten,
            next_sequence: kept.iter().map(|b| b.sequence).max().unwrap_or(0) + 1,
            next_base,
        })
    }

    /// The bundle of `sequence` made for `org` (the newest made, if several were).
    pub fn by_sequence(&self, org: &str, sequence: u64) -> Result<Option<MadeBundle>, StateError> {
        Ok(self
            .bundles(org)?
            .into_iter()
            .rfind(|b| b.sequence == sequence))
    }
}

/// A bundle made from this state, as `ferry bundles` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleInfo {
    /// The organization.
    pub organization: String,
    /// Its sequence.
    pub sequence: u64,
    /// Its id (hex).
    pub bundle: String,
    /// Its base's id (hex), for an incremental bundle.
    pub base: Option<String>,
    /// Its `created` time.
    pub created: String,
    /// When this state recorded it.
    pub made: String,
    /// Number of volumes (unknown only when its manifest is gone).
    pub volumes: Option<u32>,
    /// Bytes of all its volumes' files.
    pub bytes: Option<u64>,
}

/// What [`ExportState::forget`] did, and what the next pack will do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Forgotten {
    /// The organization.
    pub organization: String,
    /// The bundles forgotten, oldest first.
    pub forgotten: Vec<BundleInfo>,
    /// The sequence the next bundle gets.
    pub next_sequence: u64,
    /// The base of the next incremental bundle: the newest bundle that remains.
    pub next_base: Option<BundleInfo>,
}

impl std::fmt::Display for Forgotten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.forgotten {
            writeln!(
                f,
                "forgot bundle {} (sequence {}, created {})",
                &b.bundle[..16],
                b.sequence,
                b.created
            )?;
        }
        write!(
            f,
            "the next bundle for {} gets sequence {}",
            self.organization, self.next_sequence
        )?;
        match &self.next_base {
            Some(b) => write!(
                f,
                "; an incremental one builds on bundle {} (sequence {})",
                &b.bundle[..16],
                b.sequence
            ),
            None => write!(f, "; it must be a full bundle (none remains to build on)"),
        }
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
