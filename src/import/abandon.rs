//! `ferry import --abandon BUNDLE`: discard a partly staged bundle whose other volumes will
//! never come.
//!
//! One transaction deletes its staged volumes and records an `abandon` event; then its
//! staging area (`staging/<bundle>/`) and the uploads of its volumes that `ferry serve` was
//! receiving (`uploads/<key>/` whose `volume.toml` names it) are removed, each renamed into
//! `tmp/` first. The objects its volumes stored stay until `ferry prune`, which no longer
//! keeps them for it. Killed midway, the same command finishes the job.

use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension as _, params};
use serde::Serialize;

use crate::format::constants::VOLUME_FILE;
use crate::format::volume_info::VolumeInfo;
use crate::store::db::DbError;
use crate::store::{Access, Store, StoreError, history, objects};

/// Why a bundle could not be abandoned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AbandonError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Its database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Not a bundle id or a long enough prefix.
    #[error(
        "{0:?} does not name a bundle: give its id, or a prefix of it of at least 8 hex digits"
    )]
    BadId(String),
    /// The bundle was imported: nothing of it is waiting.
    #[error(
        "bundle {} was imported on {imported}: it is not partly staged, so there is nothing to abandon",
        &bundle[..16]
    )]
    Imported {
        /// The bundle.
        bundle: String,
        /// When.
        imported: String,
    },
    /// No such bundle is staged (or imported).
    #[error("no bundle {given} is partly staged in this store, nor was one imported; {staged}")]
    Unknown {
        /// What was given.
        given: String,
        /// What is staged, for the message.
        staged: String,
    },
    /// The prefix names several bundles.
    #[error("{given} names several partly staged bundles ({}): give more digits", .matches.join(", "))]
    Ambiguous {
        /// What was given.
        given: String,
        /// What it matches.
        matches: Vec<String>,
    },
    /// I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AbandonError + '_ {
    move |source| AbandonError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sql(e: rusqlite::Error) -> AbandonError {
    AbandonError::Db(DbError::from(e))
}

/// What was discarded.
#[derive(Debug, Clone, Serialize)]
pub struct Abandoned {
    /// The bundle.
    pub bundle: String,
    /// The volumes that had been staged.
    pub volumes: Vec<u32>,
    /// The bundle's volume count, when known.
    pub total: Option<u32>,
    /// Whether a staging area was removed.
    pub staging_removed: bool,
    /// Keys of the uploads removed.
    pub uploads_removed: Vec<String>,
}

/// Bundles partly staged: volumes recorded, or a staging area, and not imported.
fn staged_bundles(store: &Store) -> Result<Vec<String>, AbandonError> {
    let mut st = store
        .db
        .conn
        .prepare("SELECT DISTINCT bundle FROM staged_volumes")
        .map_err(sql)?;
    let mut out: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    if let Ok(rd) = std::fs::read_dir(store.root.join("staging")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(name);
            }
        }
    }
    out.sort();
    out.dedup();
    let mut staged = Vec::new();
    for b in out {
        if store.db.bundle_imported(&b)?.is_none() {
            staged.push(b);
        }
    }
    Ok(staged)
}

/// The bundle `given` (an id or a prefix of at least 8 hex digits) names among those
/// partly staged.
fn resolve(store: &Store, given: &str) -> Result<String, AbandonError> {
    let g = given.trim().to_ascii_lowercase();
    if !(8..=64).contains(&g.len()) || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AbandonError::BadId(given.to_string()));
    }
    let staged = staged_bundles(store)?;
    let matches: Vec<String> = staged
        .iter()
        .filter(|b| b.starts_with(&g))
        .cloned()
        .collect();
    match matches.len() {
        1 => return Ok(matches[0].clone()),
        0 => {}
        _ => {
            return Err(AbandonError::Ambiguous {
                given: given.to_string(),
                matches: matches.iter().map(|m| m[..16].to_string()).collect(),
            });
        }
    }
    let imported: Option<(String, String)> = store
        .db
        .conn
        .query_row(
            "SELECT id, imported FROM bundles WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT 1",
            params![g],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql)?;
    if let Some((bundle, imported)) = imported {
        return Err(AbandonError::Imported { bundle, imported });
    }
    Err(AbandonError::Unknown {
        given: given.to_string(),
        staged: if staged.is_empty() {
            "no bundle is partly staged".into()
        } else {
            format!(
                "partly staged: {}",
                staged
                    .iter()
                    .map(|b| &b[..16])
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    })
}

/// Rename `dir` to `to` (out of the way, atomically), then delete it.
fn remove_via(dir: &Path, to: &Path) -> Result<bool, AbandonError> {
    match std::fs::rename(dir, to) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(dir)(e)),
    }
    std::fs::remove_dir_all(to).map_err(io(to))?;
    Ok(true)
}

/// Discard the partly staged bundle `given` names (see the module's documentation).
pub fn abandon(
    store: &Path,
    given: &str,
    wait: bool,
    on_wait: &dyn Fn(&str),
) -> Result<Abandoned, AbandonError> {
    if !store.join("ferry.db").is_file() {
        return Err(StoreError::NotAStore(store.to_path_buf()).into());
    }
    let store = Store::open(store, Access::Write { wait }, on_wait)?;
    store.clean_tmp()?;
    let bundle = resolve(&store, given)?;
    let volumes = store.db.staged_volumes(&bundle)?;
    let total: Option<u32> = store
        .db
        .conn
        .query_row(
            "SELECT volumes FROM staged_bundles WHERE bundle = ?1",
            params![bundle],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;

    let now = crate::time::rfc3339(crate::time::now_secs());
    let tx = store.db.conn.unchecked_transaction().map_err(sql)?;
    tx.execute(
        "DELETE FROM staged_volumes WHERE bundle = ?1",
        params![bundle],
    )
    .map_err(sql)?;
    tx.execute(
        "DELETE FROM staged_bundles WHERE bundle = ?1",
        params![bundle],
    )
    .map_err(sql)?;
    let list = volumes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let detail = match (volumes.is_empty(), total) {
        (true, _) => {
            "partly staged bundle discarded (no volume recorded; its staging area removed)"
                .to_string()
        }
        (false, Some(t)) => format!(
            "partly staged bundle discarded: volumes {list} of {t}; the objects they stored are left to the next prune"
        ),
        (false, None) => format!(
            "partly staged bundle discarded: volumes {list}; the objects they stored are left to the next prune"
        ),
    };
    history::record(&tx, &now, "abandon", Some(&bundle), &detail).map_err(sql)?;
    tx.commit().map_err(sql)?;
    crate::crashpoint::hit("abandon-recorded");

    let staging_removed = remove_via(
        &store.root.join("staging").join(&bundle),
        &store.tmp().join(format!("abandon-{bundle}")),
    )?;
    crate::crashpoint::hit("abandon-staging-removed");
    let mut uploads_removed = Vec::new();
    if let Ok(rd) = std::fs::read_dir(store.root.join("uploads")) {
        let mut dirs: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for dir in dirs {
            let names_it = std::fs::read(dir.join(VOLUME_FILE))
                .ok()
                .and_then(|b| VolumeInfo::parse(&b).ok())
                .is_some_and(|v| v.bundle.to_hex() == bundle);
            if !names_it {
                continue;
            }
            let key = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if remove_via(&dir, &store.tmp().join(format!("abandon-upload-{key}")))? {
                uploads_removed.push(key);
            }
            crate::crashpoint::hit("abandon-upload-removed");
        }
    }
    objects::sync_filesystem(&store.root).map_err(io(&store.root))?;
    Ok(Abandoned {
        bundle,
        volumes,
        total,
        staging_removed,
        uploads_removed,
    })
}
