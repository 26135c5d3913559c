//! The store's catalog and history, in SQLite: trusted keys, bundles imported, products,
//! repositories and their versions, content-view versions, what is published where, and an
//! audit trail. Writes happen in one transaction per import.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, params};

/// Schema version written in `meta`. Version 2 added environments, retirements, the
/// actor of each event and pruned versions; a version-1 store is upgraded when opened.
const SCHEMA: i64 = 2;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trusted_keys(
    key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, comment TEXT NOT NULL, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundles(
    id TEXT PRIMARY KEY, organization TEXT NOT NULL, signer TEXT NOT NULL,
    sequence INTEGER NOT NULL, base TEXT, created TEXT NOT NULL, volumes INTEGER NOT NULL,
    objects INTEGER NOT NULL, bytes INTEGER NOT NULL, imported TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products(
    organization TEXT NOT NULL, label TEXT NOT NULL, name TEXT NOT NULL,
    gpg_key_name TEXT, bundle TEXT NOT NULL, PRIMARY KEY(organization, label));
CREATE TABLE IF NOT EXISTS repositories(
    organization TEXT NOT NULL, product TEXT NOT NULL, label TEXT NOT NULL, name TEXT NOT NULL,
    arch TEXT, PRIMARY KEY(organization, product, label));
CREATE TABLE IF NOT EXISTS repository_versions(
    organization TEXT NOT NULL, product TEXT NOT NULL, label TEXT NOT NULL, version INTEGER NOT NULL,
    tree TEXT NOT NULL, bundle TEXT NOT NULL, packages INTEGER NOT NULL, files INTEGER NOT NULL,
    bytes INTEGER NOT NULL, imported TEXT NOT NULL, pruned TEXT,
    PRIMARY KEY(organization, product, label, version));
CREATE TABLE IF NOT EXISTS view_versions(
    organization TEXT NOT NULL, label TEXT NOT NULL, version TEXT NOT NULL, name TEXT NOT NULL,
    bundle TEXT NOT NULL, imported TEXT NOT NULL, seq INTEGER NOT NULL, pruned TEXT,
    PRIMARY KEY(organization, label, version));
CREATE TABLE IF NOT EXISTS view_repositories(
    organization TEXT NOT NULL, view TEXT NOT NULL, view_version TEXT NOT NULL,
    product TEXT NOT NULL, repository TEXT NOT NULL, tree TEXT NOT NULL,
    packages INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
    PRIMARY KEY(organization, view, view_version, product, repository));
CREATE TABLE IF NOT EXISTS publications(path TEXT PRIMARY KEY, tree TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staged_volumes(
    bundle TEXT NOT NULL, volume INTEGER NOT NULL, staged TEXT NOT NULL, PRIMARY KEY(bundle, volume));
CREATE TABLE IF NOT EXISTS staged_bundles(bundle TEXT PRIMARY KEY, volumes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS history(
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, event TEXT NOT NULL,
    bundle TEXT, detail TEXT NOT NULL, actor TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS environments(
    name TEXT PRIMARY KEY COLLATE NOCASE, position INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS environment_views(
    organization TEXT NOT NULL, environment TEXT NOT NULL COLLATE NOCASE, view TEXT NOT NULL,
    version TEXT NOT NULL, promoted TEXT NOT NULL, PRIMARY KEY(organization, environment, view));
CREATE TABLE IF NOT EXISTS retirements(
    organization TEXT NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL, since INTEGER NOT NULL,
    bundle TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY(organization, kind, label));
CREATE TABLE IF NOT EXISTS key_rotations(
    organization TEXT NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL, since INTEGER NOT NULL,
    created TEXT NOT NULL, bundle TEXT NOT NULL, time TEXT NOT NULL,
    PRIMARY KEY(organization, old));
";

/// What turns a version-1 store into version 2 (the tables it lacks are made by `CREATE`).
const UPGRADE_FROM_1: &str = "
ALTER TABLE repository_versions ADD COLUMN pruned TEXT;
ALTER TABLE view_versions ADD COLUMN pruned TEXT;
ALTER TABLE history ADD COLUMN actor TEXT NOT NULL DEFAULT '';
";

/// Errors from the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite failed.
    #[error("store database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A store made by a newer ferry.
    #[error(
        "the store's database has schema version {0}; this ferry knows version {SCHEMA}: use a newer ferry"
    )]
    NewerSchema(i64),
}

/// The open database.
pub struct Db {
    /// The connection (transactions are opened on it by the callers).
    pub conn: Connection,
}

impl Db {
    /// Open (creating when `create`) the database at `path`.
    pub fn open(path: &Path, create: bool) -> Result<Self, DbError> {
        let flags = if create {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
        } else {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        if !create {
            match schema(&conn)? {
                Some(v) if v > SCHEMA => return Err(DbError::NewerSchema(v)),
                // A store of an older ferry: upgraded in place (additions only, one
                // transaction), then read.
                Some(v) if v < SCHEMA => {
                    drop(conn);
                    return Self::open(path, true).and_then(|_| Self::open(path, false));
                }
                _ => {}
            }
            return Ok(Self { conn });
        }
        // A rollback journal, not WAL: a reader then needs no `-shm` file, so `status`
        // and `repofile` work on a store whose disk is full.
        conn.pragma_update(None, "journal_mode", "DELETE")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = conn.unchecked_transaction()?;
        let v = schema(&tx)?;
        if v == Some(1) {
            tx.execute_batch(UPGRADE_FROM_1)?;
        }
        tx.execute_batch(CREATE)?;
        match v {
            Some(v) if v > SCHEMA => return Err(DbError::NewerSchema(v)),
            Some(SCHEMA) => {}
            _ => {
                tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?1)",
                    params![SCHEMA.to_string()],
                )?;
            }
        }
        tx.commit()?;
        Ok(Self { conn })
    }
}

/// The schema version a database records (none for a new one).
fn schema(conn: &Connection) -> Result<Option<i64>, DbError> {
    let has_meta: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|s| s.parse().ok()))
}

/// An imported bundle, as [`Db::bundles_at`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedBundle {
    /// Bundle id.
    pub id: String,
    /// Key id of its signer.
    pub signer: String,
    /// Its `created` time.
    pub created: String,
    /// When it was imported.
    pub imported: String,
}

/// A trusted key as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrustedKey {
    /// Key id.
    pub key_id: String,
    /// The public key file's contents.
    pub public_key: String,
    /// Its comment line.
    pub comment: String,
    /// When it was added.
    pub added: String,
}

impl Db {
    /// All trusted keys.
    pub fn trusted_keys(&self) -> Result<Vec<TrustedKey>, DbError> {
        let mut st = self.conn.prepare(
            "SELECT key_id, public_key, comment, added FROM trusted_keys ORDER BY added, key_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(TrustedKey {
                key_id: r.get(0)?,
                public_key: r.get(1)?,
                comment: r.get(2)?,
                added: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the bundle was imported, if it was.
    pub fn bundle_imported(&self, id: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT imported FROM bundles WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The bundles of `org` with `sequence` that the store imported (physical copies of
    /// one logical bundle share a sequence, `spec/FORMAT.md` "Logical bundle and physical
    /// copies").
    pub fn bundles_at(&self, org: &str, sequence: u64) -> Result<Vec<ImportedBundle>, DbError> {
        let mut st = self.conn.prepare(
            "SELECT id, signer, created, imported FROM bundles
             WHERE organization = ?1 AND sequence = ?2 ORDER BY imported, id",
        )?;
        let rows = st.query_map(params![org, sequence as i64], |r| {
            Ok(ImportedBundle {
                id: r.get(0)?,
                signer: r.get(1)?,
                created: r.get(2)?,
                imported: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What should be published where: `(path under published/, version tree id)`.
    pub fn publications(&self) -> Result<Vec<(String, String)>, DbError> {
        let mut st = self
            .conn
            .prepare("SELECT path, tree FROM publications ORDER BY path")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The version published at `path` (under `published/`), if any.
    pub fn publication(&self, path: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT tree FROM publications WHERE path = ?1",
                params![path],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The current (highest) version of a repository: `(version, tree)`.
    pub fn current_version(
        &self,
        org: &str,
        product: &str,
        label: &str,
    ) -> Result<Option<(i64, String)>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT version, tree FROM repository_versions WHERE organization = ?1 AND product = ?2 AND label = ?3
                 ORDER BY version DESC LIMIT 1",
                params![org, product, label],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

impl Db {
    /// Register a trusted key (replacing one with the same id).
    pub fn add_trusted_key(
        &self,
        key_id: &str,
        public_key: &str,
        comment: &str,
    ) -> Result<(), DbError> {
        let now = crate::time::rfc3339(crate::time::now_secs());
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO trusted_keys(key_id, public_key, comment, added) VALUES(?1, ?2, ?3, ?4)",
            params![key_id, public_key, comment, now],
        )?;
        super::history::record(
            &tx,
            &now,
            "trust-add",
            None,
            &format!("key {key_id} ({comment})"),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Remove a trusted key; false if it was not there.
    pub fn remove_trusted_key(&self, key_id: &str) -> Result<bool, DbError> {
        let now = crate::time::rfc3339(crate::time::now_secs());
        let tx = self.conn.unchecked_transaction()?;
        let n = tx.execute(
            "DELETE FROM trusted_keys WHERE key_id = ?1",
            params![key_id],
        )?;
        if n > 0 {
            super::history::record(&tx, &now, "trust-remove", None, &format!("key {key_id}"))?;
        }
        tx.commit()?;
        Ok(n > 0)
    }
}

/// The newest bundle of a stream (one signer, one organization) in a store.
#[derive(Debug, Clone)]
pub struct StreamHead {
    /// Its id.
    pub bundle: String,
    /// Its sequence.
    pub sequence: u64,
    /// When it was imported.
    pub imported: String,
}

impl Db {
    /// The bundle with the highest sequence from `signer` for `org`.
    pub fn stream_head(&self, org: &str, signer: &str) -> Result<Option<StreamHead>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, sequence, imported FROM bundles WHERE organization = ?1 AND signer = ?2
                 ORDER BY sequence DESC, imported DESC LIMIT 1",
                params![org, signer],
                |r| {
                    Ok(StreamHead {
                        bundle: r.get(0)?,
                        sequence: r.get::<_, i64>(1)? as u64,
                        imported: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Volume numbers of `bundle` verified and staged by earlier runs.
    pub fn staged_volumes(&self, bundle: &str) -> Result<Vec<u32>, DbError> {
        let mut st = self
            .conn
            .prepare("SELECT volume FROM staged_volumes WHERE bundle = ?1 ORDER BY volume")?;
        let rows = st.query_map(params![bundle], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Record volumes of `bundle` (which has `total` volumes) as verified and staged.
    pub fn add_staged(&self, bundle: &str, total: u32, volumes: &[u32]) -> Result<(), DbError> {
        let now = crate::time::rfc3339(crate::time::now_secs());
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO staged_bundles(bundle, volumes) VALUES(?1, ?2)",
            params![bundle, total],
        )?;
        for v in volumes {
            tx.execute(
                "INSERT OR REPLACE INTO staged_volumes(bundle, volume, staged) VALUES(?1, ?2, ?3)",
                params![bundle, v, now],
            )?;
        }
        super::history::record(
            &tx,
            &now,
            "stage",
            Some(bundle),
            &format!("volumes {volumes:?} verified and staged"),
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Db {
    /// The bundle and time a content-view version was first imported from, if the store
    /// has it (pruned or not).
    pub fn view_version(
        &self,
        org: &str,
        view: &str,
        version: &str,
    ) -> Result<Option<(String, String)>, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT bundle, imported FROM view_versions WHERE organization = ?1 AND label = ?2 AND version = ?3",
                params![org, view, version],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Whether a content-view version was pruned from the store.
    pub fn view_version_pruned(
        &self,
        org: &str,
        view: &str,
        version: &str,
    ) -> Result<bool, DbError> {
        Ok(self
            .conn
            .query_row(
                "SELECT pruned IS NOT NULL FROM view_versions WHERE organization = ?1 AND label = ?2 AND version = ?3",
                params![org, view, version],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// The repositories of a content-view version, `product/repo` → version tree id.
    pub fn view_version_trees(
        &self,
        org: &str,
        view: &str,
        version: &str,
    ) -> Result<Vec<(String, String)>, DbError> {
        let mut st = self.conn.prepare(
            "SELECT product || '/' || repository, tree FROM view_repositories
             WHERE organization = ?1 AND view = ?2 AND view_version = ?3 ORDER BY product, repository",
        )?;
        let rows = st.query_map(params![org, view, version], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A key rotation a store accepted (`spec/FORMAT.md` §5.9): from `since` on, the stream of
/// `old` for `organization` is signed by `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// Organization.
    pub organization: String,
    /// The key rotated away.
    pub old: String,
    /// Its successor.
    pub new: String,
    /// The first sequence the successor signs.
    pub since: u64,
    /// When the statement was made (on the export side).
    pub created: String,
    /// The bundle that carried it to this store.
    pub bundle: String,
    /// When this store accepted it.
    pub time: String,
}

/// Whether an error is SQLite's "no such table" (a store made before a table existed,
/// opened read-only, so not upgraded).
fn no_table(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(_, Some(m)) if m.starts_with("no such table"))
}

impl Db {
    /// The key rotations this store accepted, oldest first; those of `org` only when
    /// given.
    pub fn key_rotations(&self, org: Option<&str>) -> Result<Vec<KeyRotation>, DbError> {
        let st = self.conn.prepare(
            "SELECT organization, old, new, since, created, bundle, time FROM key_rotations
             WHERE ?1 IS NULL OR organization = ?1 ORDER BY time, since",
        );
        let mut st = match st {
            Err(e) if no_table(&e) => return Ok(Vec::new()),
            st => st?,
        };
        let rows = st.query_map(params![org], |r| {
            Ok(KeyRotation {
                organization: r.get(0)?,
                old: r.get(1)?,
                new: r.get(2)?,
                since: r.get::<_, i64>(3)? as u64,
                created: r.get(4)?,
                bundle: r.get(5)?,
                time: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Record an accepted key rotation (in the caller's transaction).
pub fn add_key_rotation(conn: &Connection, r: &KeyRotation) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO key_rotations(organization, old, new, since, created, bundle, time)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            r.organization,
            r.old,
            r.new,
            i64::try_from(r.since).unwrap_or(i64::MAX),
            r.created,
            r.bundle,
            r.time
        ],
    )?;
    Ok(())
}

/// Trust a key (in the caller's transaction): `public_key` is its public key file's text.
pub fn put_trusted_key(
    conn: &Connection,
    key_id: &str,
    public_key: &str,
    comment: &str,
    time: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO trusted_keys(key_id, public_key, comment, added) VALUES(?1, ?2, ?3, ?4)",
        params![key_id, public_key, comment, time],
    )?;
    Ok(())
}

/// Stop trusting a key (in the caller's transaction); false if it was not trusted.
pub fn delete_trusted_key(conn: &Connection, key_id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM trusted_keys WHERE key_id = ?1",
        params![key_id],
    )? > 0)
}
