//! The store's catalog and history, in SQLite: trusted keys, bundles imported, products,
//! repositories and their versions, content-view versions, what is published where, and an
//! audit trail. Writes happen in one transaction per import.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, params};

/// Schema version written in `meta`.
const SCHEMA: i64 = 1;

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
    bytes INTEGER NOT NULL, imported TEXT NOT NULL,
    PRIMARY KEY(organization, product, label, version));
CREATE TABLE IF NOT EXISTS view_versions(
    organization TEXT NOT NULL, label TEXT NOT NULL, version TEXT NOT NULL, name TEXT NOT NULL,
    bundle TEXT NOT NULL, imported TEXT NOT NULL, seq INTEGER NOT NULL,
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
    bundle TEXT, detail TEXT NOT NULL);
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
        if create {
            // A rollback journal, not WAL: a reader then needs no `-shm` file, so `status`
            // and `repofile` work on a store whose disk is full.
            conn.pragma_update(None, "journal_mode", "DELETE")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(CREATE)?;
            let v: Option<i64> = conn
                .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
                .and_then(|s| s.parse().ok());
            match v {
                None => {
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES('schema', ?1)",
                        params![SCHEMA.to_string()],
                    )?;
                }
                Some(v) if v > SCHEMA => return Err(DbError::NewerSchema(v)),
                Some(_) => {}
            }
        }
        Ok(Self { conn })
    }
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
        tx.execute(
            "INSERT INTO history(time, event, bundle, detail) VALUES(?1, 'trust-add', NULL, ?2)",
            params![now, format!("key {key_id} ({comment})")],
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
            tx.execute(
                "INSERT INTO history(time, event, bundle, detail) VALUES(?1, 'trust-remove', NULL, ?2)",
                params![now, format!("key {key_id}")],
            )?;
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
        tx.execute(
            "INSERT INTO history(time, event, bundle, detail) VALUES(?1, 'stage', ?2, ?3)",
            params![
                now,
                bundle,
                format!("volumes {volumes:?} verified and staged")
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}
