//! `ferry import`: verify a bundle completely, store its objects, build every repository
//! version, record it all in one database transaction, then publish.
//!
//! Order, and why it is safe to kill at any point (spec: "crash safety comes from
//! ordering"):
//! 1. signatures and the volume set are checked; a refused bundle changes nothing;
//! 2. one pass over the packs checks every pack hash and stores every new object
//!    (verified, durable, then renamed: names in `objects/` always mean good content);
//! 3. repository versions are built as new directories, renamed into `versions/` when
//!    complete;
//! 4. one SQLite transaction records the bundle, versions, views and publications;
//! 5. the published links are flipped to what the database says.
//!
//! A run killed before 4 left only unreferenced objects and versions, which the next run
//! reuses; after 4, the next run (of any import) finishes step 5 first.

pub mod extract;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use rusqlite::params;
use serde::Serialize;

use crate::format::manifest::Manifest;
use crate::format::signify::PublicKey;
use crate::format::{BundleId, ObjectId};
use crate::progress::Progress;
use crate::store::db::DbError;
use crate::store::trees::{self, TreeError};
use crate::store::{Access, Store, StoreError, objects};
use crate::volume_set::{self, Finding};

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The store directory (created if missing).
    pub store: PathBuf,
    /// Volume directories.
    pub volumes: Vec<PathBuf>,
    /// Keys trusted for this import, besides those registered in the store.
    pub trust: Vec<PublicKey>,
    /// Wait for another import that holds the store.
    pub wait: bool,
    /// Accept a bundle older than what the store has from the same stream (a deliberate
    /// rollback, recorded in the history).
    pub allow_rollback: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// Bundle id.
    pub bundle: String,
    /// Organization.
    pub organization: String,
    /// Sequence.
    pub sequence: u64,
    /// Objects added to the store.
    pub objects_added: u64,
    /// Their bytes.
    pub bytes_added: u64,
    /// Objects the store already held.
    pub objects_present: u64,
    /// Published paths and the version each now shows.
    pub published: Vec<Published>,
}

/// One published repository after an import.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// Path under `published/`.
    pub path: String,
    /// Version number (Library repositories) or view version.
    pub version: String,
    /// Whether it changed.
    pub changed: bool,
}

/// Outcome of `ferry import`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// Imported and published.
    Imported(ImportSummary),
    /// Only some volumes were given: those were verified and staged in the store.
    Staged {
        /// Bundle id.
        bundle: String,
        /// Volume count.
        volumes: u32,
        /// Volume numbers staged so far (this run and earlier ones).
        staged: Vec<u32>,
        /// Volume numbers still needed.
        remaining: Vec<u32>,
    },
    /// The store already has this bundle.
    AlreadyImported {
        /// Bundle id.
        bundle: String,
        /// When it was imported.
        imported: String,
        /// Published links an interrupted earlier run had left to finish.
        republished: usize,
    },
}

/// Why an import was refused or failed. In every case nothing published changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Store problems.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Database problems.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No key to check signatures with.
    #[error(
        "no trusted key: pass --trust KEY.pub, or register it once with `ferry trust add --store STORE KEY.pub`"
    )]
    NoTrustedKey,
    /// The volumes given are not a complete, intact, trusted bundle.
    #[error("{}", refused_message(findings, missing, *volumes))]
    Refused {
        /// Problems found.
        findings: Vec<Finding>,
        /// Volume numbers not given.
        missing: Vec<u32>,
        /// Volume count, when known.
        volumes: Option<u32>,
    },
    /// Older than what the store has from the same stream: old or replayed media.
    #[error("{0}")]
    Stale(Box<Stale>),
    /// An incremental bundle whose base is not in the store.
    #[error(
        "bundle {} is incremental: it builds on bundle {} (sequence {sequence}, created {created}), which this store does not have; import that bundle first; nothing was changed",
        &bundle[..16], base.to_hex()
    )]
    MissingBase {
        /// The refused bundle.
        bundle: String,
        /// Its base.
        base: BundleId,
        /// The base's sequence.
        sequence: u64,
        /// The base's creation time.
        created: String,
    },
    /// A pack is damaged.
    #[error("volume {volume} ({}): packs/{pack}.ferrypack {what}; nothing published was changed", dir.display())]
    Pack {
        /// Volume number.
        volume: u32,
        /// Its directory.
        dir: PathBuf,
        /// Pack name.
        pack: String,
        /// What is wrong.
        what: String,
    },
    /// An object does not decode to its id.
    #[error("object {} ({}) {what}; nothing published was changed", id.short(), users.join(", "))]
    Object {
        /// Object id.
        id: ObjectId,
        /// Tree files that use it.
        users: Vec<String>,
        /// What is wrong.
        what: String,
    },
    /// Not enough room.
    #[error(
        "not enough space: this bundle adds {} to the store, but {} has only {} free; nothing was changed",
        crate::size::human(*needed), path.display(), crate::size::human(*available)
    )]
    NoSpace {
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// The store.
        path: PathBuf,
    },
    /// A version could not be built.
    #[error("{0}; nothing published was changed")]
    Tree(#[from] TreeError),
    /// I/O in the store.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A refused stale bundle, in detail.
#[derive(Debug, thiserror::Error)]
#[error(
    "bundle {} has sequence {sequence}, but this store already has sequence {current} from signer {signer} for {organization} (bundle {}, imported {imported}): these are old or replayed media; nothing was changed. To roll back deliberately, run again with --allow-rollback",
    &bundle[..16], &current_bundle[..16]
)]
pub struct Stale {
    /// The refused bundle.
    pub bundle: String,
    /// Its sequence.
    pub sequence: u64,
    /// The store's current sequence.
    pub current: u64,
    /// The bundle that has it.
    pub current_bundle: String,
    /// When that one was imported.
    pub imported: String,
    /// Signer.
    pub signer: String,
    /// Organization.
    pub organization: String,
}

fn refused_message(findings: &[Finding], missing: &[u32], volumes: Option<u32>) -> String {
    let mut s = String::from("the bundle was refused; nothing was changed:");
    for f in findings {
        s.push_str(&format!("\n  {f}"));
    }
    if let (Some(n), false) = (volumes, missing.is_empty()) {
        let list: Vec<String> = missing.iter().map(u32::to_string).collect();
        s.push_str(&format!(
            "\n  volume{} {} of {n} missing: insert {} and run the same command again with every volume",
            if missing.len() == 1 { "" } else { "s" },
            list.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    s
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Import a bundle into a store.
pub fn import(opts: &ImportOptions, progress: &dyn Progress) -> Result<Outcome, ImportError> {
    let store = Store::open(&opts.store, Access::Write { wait: opts.wait }, &|m| {
        progress.note(m)
    })?;
    store.clean_tmp()?;
    let republished = store.reconcile()?;
    store.clean_staging()?;
    if republished > 0 {
        progress.note(&format!(
            "finished publishing {republished} repositories left by an interrupted import"
        ));
    }

    let mut trusted = opts.trust.clone();
    for k in store.db.trusted_keys()? {
        if let Ok(pk) = PublicKey::parse(k.public_key.as_bytes())
            && !trusted.iter().any(|t| t.id == pk.id)
        {
            trusted.push(pk);
        }
    }
    if trusted.is_empty() {
        return Err(ImportError::NoTrustedKey);
    }

    // 1. Signatures, identities, completeness.
    let set = volume_set::open_set(&opts.volumes, &trusted);
    let volumes = set.bundle.as_ref().map(|(_, m)| m.volumes);
    let Some((bundle, manifest)) = set.bundle else {
        return Err(ImportError::Refused {
            findings: set.findings.findings,
            missing: Vec::new(),
            volumes,
        });
    };
    let id = bundle.to_hex();
    if let Some(when) = store.db.bundle_imported(&id)? {
        return Ok(Outcome::AlreadyImported {
            bundle: id,
            imported: when,
            republished,
        });
    }
    let mut findings = set.findings.findings;
    // A duplicate volume is harmless for import: the first copy given is used.
    findings.retain(|f| f.kind != crate::volumes::ProblemKind::Duplicate);
    if !findings.is_empty() {
        return Err(ImportError::Refused {
            findings,
            missing: Vec::new(),
            volumes,
        });
    }
    for v in set.volumes.values() {
        for (name, p) in manifest
            .packs
            .iter()
            .filter(|(_, p)| p.volume == v.info.volume)
        {
            let rel = format!("packs/{name}.ferrypack");
            if v.listed(&rel) != Some(p.sha256) {
                return Err(ImportError::Refused {
                    findings: vec![Finding {
                        volume: v.dir.display().to_string(),
                        number: Some(v.info.volume),
                        file: Some(rel),
                        kind: crate::volumes::ProblemKind::BadSignature,
                        detail: "is in the manifest but the signed list disagrees about it".into(),
                    }],
                    missing: Vec::new(),
                    volumes,
                });
            }
        }
    }
    let rollback = check_stream(&store, &id, &manifest, opts.allow_rollback)?;

    // Volumes staged by earlier runs are not read again; together with the ones given they
    // may complete the set.
    let staged: Vec<u32> = store.db.staged_volumes(&id)?;
    let mut present = set.volumes;
    present.retain(|n, _| !staged.contains(n));
    let remaining: Vec<u32> = (1..=manifest.volumes)
        .filter(|n| !present.contains_key(n) && !staged.contains(n))
        .collect();
    let stage_dir = store.root.join("staging").join(&id);
    let pieces = stage_dir.join("pieces");

    // 2. Objects.
    let wanted: HashSet<ObjectId> = manifest
        .objects
        .keys()
        .filter(|id| !objects::has(&store.root, id))
        .copied()
        .collect();
    check_space(&store, &manifest, &wanted)?;
    let mut extracted = extract::extract(
        &store.root,
        &store.tmp(),
        &pieces,
        &manifest,
        &present,
        &wanted,
        progress,
    )?;
    if !remaining.is_empty() {
        // Keep what was verified and wait for the other volumes.
        objects::sync_filesystem(&store.root).map_err(io(&store.root))?;
        let now: Vec<u32> = present.keys().copied().collect();
        if !now.is_empty() {
            store.db.add_staged(&id, &now)?;
        }
        let mut all: Vec<u32> = staged.iter().chain(now.iter()).copied().collect();
        all.sort_unstable();
        return Ok(Outcome::Staged {
            bundle: id,
            volumes: manifest.volumes,
            staged: all,
            remaining,
        });
    }
    // Every volume seen: objects that span volumes are decoded from their staged pieces.
    let spanning: Vec<ObjectId> = extract::spanning(&manifest, &wanted, &present)
        .copied()
        .collect();
    if !spanning.is_empty() {
        let more = extract::assemble(
            &store.root,
            &store.tmp(),
            &pieces,
            &manifest,
            spanning.iter(),
        )?;
        extracted.objects += more.objects;
        extracted.bytes += more.bytes;
    }
    crate::crashpoint::hit("after-objects");

    // 3. Versions.
    progress.begin("building repository versions", None);
    let mut versions: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let keys: BTreeMap<&str, &crate::format::manifest::GpgKey> = manifest
        .products
        .iter()
        .filter_map(|p| p.gpg_key.as_ref().map(|k| (p.label.as_str(), k)))
        .collect();
    let product_of_tree = tree_products(&manifest);
    for t in &manifest.trees {
        let key = product_of_tree
            .get(t.name.as_str())
            .and_then(|p| keys.get(p))
            .copied();
        let vid = trees::version_id(t, key);
        let bytes = trees::build(&store.root, &store.tmp(), &vid, t, key)?;
        versions.insert(t.name.clone(), (vid, bytes));
    }
    progress.end();
    crate::crashpoint::hit("after-versions");

    // Keep the manifest: the record of what was imported, and the base of later bundles.
    let manifest_copy = store
        .root
        .join("bundles")
        .join(format!("{}.toml", bundle.to_hex()));
    if !manifest_copy.exists() {
        let tmp = store.tmp().join("manifest.toml");
        std::fs::write(&tmp, manifest.encode()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &manifest_copy).map_err(io(&manifest_copy))?;
    }
    objects::sync_filesystem(&store.root).map_err(io(&store.root))?;

    // 4. The transaction.
    let published = record(
        &store,
        &bundle,
        &manifest,
        &versions,
        &extracted,
        rollback.as_deref(),
    )?;
    crate::crashpoint::hit("after-commit");

    // 5. Publish.
    store.reconcile()?;
    let _ = std::fs::remove_dir_all(&stage_dir);
    Ok(Outcome::Imported(ImportSummary {
        bundle: bundle.to_hex(),
        organization: manifest.organization.clone(),
        sequence: manifest.sequence,
        objects_added: extracted.objects,
        bytes_added: extracted.bytes,
        objects_present: manifest.objects.len() as u64 - wanted.len() as u64,
        published,
    }))
}

/// Old or replayed media are refused; an incremental bundle needs its base. Returns the
/// history note of a deliberate rollback.
fn check_stream(
    store: &Store,
    id: &str,
    m: &Manifest,
    allow_rollback: bool,
) -> Result<Option<String>, ImportError> {
    let mut rollback = None;
    if let Some(head) = store
        .db
        .stream_head(&m.organization, &m.signer.to_string())?
        && m.sequence <= head.sequence
    {
        if !allow_rollback {
            return Err(ImportError::Stale(Box::new(Stale {
                bundle: id.to_string(),
                sequence: m.sequence,
                current: head.sequence,
                current_bundle: head.bundle,
                imported: head.imported,
                signer: m.signer.to_string(),
                organization: m.organization.clone(),
            })));
        }
        rollback = Some(format!(
            "deliberate rollback (--allow-rollback): sequence {} over {} (bundle {})",
            m.sequence, head.sequence, head.bundle
        ));
    }
    if let Some(base) = &m.base
        && store.db.bundle_imported(&base.bundle.to_hex())?.is_none()
    {
        return Err(ImportError::MissingBase {
            bundle: id.to_string(),
            base: base.bundle,
            sequence: base.sequence,
            created: base.created.clone(),
        });
    }
    Ok(rollback)
}

/// Which product each tree belongs to (its GPG key is published beside it).
fn tree_products(m: &Manifest) -> BTreeMap<&str, &str> {
    let mut out = BTreeMap::new();
    for r in &m.repositories {
        out.insert(r.tree.as_str(), r.product.as_str());
    }
    for v in &m.content_views {
        for vr in &v.repositories {
            if let Some((product, _)) = vr.repository.split_once('/') {
                out.entry(vr.tree.as_str()).or_insert(product);
            }
        }
    }
    out
}

fn check_space(
    store: &Store,
    manifest: &Manifest,
    wanted: &HashSet<ObjectId>,
) -> Result<(), ImportError> {
    // Objects, plus the manifest copy and room for directories and the database.
    let needed: u64 = wanted
        .iter()
        .map(|id| manifest.objects[id].size)
        .sum::<u64>()
        + manifest.encode().len() as u64
        + 16 * 1024 * 1024;
    let st = rustix::fs::statvfs(&store.root).map_err(|e| ImportError::Io {
        path: store.root.clone(),
        source: e.into(),
    })?;
    let available = st.f_bavail.saturating_mul(st.f_frsize);
    if needed > available {
        return Err(ImportError::NoSpace {
            needed,
            available,
            path: store.root.clone(),
        });
    }
    Ok(())
}

/// Compare content-view versions: numeric where both parts are numbers (`1.10` > `1.9`).
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => p.cmp(q),
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// Record that `path` (under `published/`) shows version tree `vid`.
fn publish(
    tx: &rusqlite::Transaction<'_>,
    path: String,
    vid: &str,
    version: String,
    changed: bool,
) -> Result<Published, ImportError> {
    tx.execute(
        "INSERT OR REPLACE INTO publications(path, tree) VALUES(?1, ?2)",
        params![path, vid],
    )
    .map_err(|e| ImportError::Db(DbError::from(e)))?;
    Ok(Published {
        path,
        version,
        changed,
    })
}

/// Step 4: one transaction.
fn record(
    store: &Store,
    bundle: &BundleId,
    m: &Manifest,
    versions: &BTreeMap<String, (String, u64)>,
    extracted: &extract::Extracted,
    rollback: Option<&str>,
) -> Result<Vec<Published>, ImportError> {
    let now = crate::time::rfc3339(crate::time::now_secs());
    let org = &m.organization;
    let b = bundle.to_hex();
    let mut published = Vec::new();
    let tx = store
        .db
        .conn
        .unchecked_transaction()
        .map_err(DbError::from)?;
    let sql = |e: rusqlite::Error| ImportError::Db(DbError::from(e));
    tx.execute(
        "INSERT INTO bundles(id, organization, signer, sequence, base, created, volumes, objects, bytes, imported)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            b,
            org,
            m.signer.to_string(),
            m.sequence as i64,
            m.base.as_ref().map(|x| x.bundle.to_hex()),
            m.created,
            m.volumes,
            m.objects.len() as i64,
            m.objects.values().map(|o| o.size).sum::<u64>() as i64,
            now
        ],
    )
    .map_err(sql)?;
    for p in &m.products {
        tx.execute(
            "INSERT OR REPLACE INTO products(organization, label, name, gpg_key_name, bundle) VALUES(?1, ?2, ?3, ?4, ?5)",
            params![org, p.label, p.name, p.gpg_key.as_ref().map(|k| k.name.clone()), b],
        )
        .map_err(sql)?;
    }
    for r in &m.repositories {
        tx.execute(
            "INSERT OR REPLACE INTO repositories(organization, product, label, name, arch) VALUES(?1, ?2, ?3, ?4, ?5)",
            params![org, r.product, r.label, r.name, r.arch],
        )
        .map_err(sql)?;
        let tree = m.tree(&r.tree).expect("checked manifest");
        let (vid, bytes) = &versions[&r.tree];
        // The transaction is on the store's connection: this read sees it.
        let current = store.db.current_version(org, &r.product, &r.label)?;
        let (version, changed) = match current {
            Some((v, t)) if &t == vid => (v, false),
            Some((v, _)) => (v + 1, true),
            None => (1, true),
        };
        if changed {
            tx.execute(
                "INSERT INTO repository_versions(organization, product, label, version, tree, bundle, packages, files, bytes, imported)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![org, r.product, r.label, version, vid, b, tree.packages as i64, tree.files.len() as i64, *bytes as i64, now],
            )
            .map_err(sql)?;
        }
        let path = format!("{org}/library/{}/{}", r.product, r.label);
        published.push(publish(&tx, path, vid, version.to_string(), changed)?);
    }
    for v in &m.content_views {
        let seq: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM view_versions",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO view_versions(organization, label, version, name, bundle, imported, seq)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![org, v.label, v.version, v.name, b, now, seq],
        )
        .map_err(sql)?;
        tx.execute(
            "DELETE FROM view_repositories WHERE organization = ?1 AND view = ?2 AND view_version = ?3",
            params![org, v.label, v.version],
        )
        .map_err(sql)?;
        for vr in &v.repositories {
            let (product, repo) = vr.repository.split_once('/').expect("checked manifest");
            let tree = m.tree(&vr.tree).expect("checked manifest");
            let (vid, bytes) = &versions[&vr.tree];
            tx.execute(
                "INSERT INTO view_repositories(organization, view, view_version, product, repository, tree, packages, files, bytes)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![org, v.label, v.version, product, repo, vid, tree.packages as i64, tree.files.len() as i64, *bytes as i64],
            )
            .map_err(sql)?;
        }
    }
    // Views publish their newest version.
    let mut views: BTreeMap<String, Vec<String>> = BTreeMap::new();
    {
        let mut st = tx
            .prepare("SELECT label, version FROM view_versions WHERE organization = ?1")
            .map_err(sql)?;
        let rows = st
            .query_map(params![org], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sql)?;
        for row in rows {
            let (label, version) = row.map_err(sql)?;
            views.entry(label).or_default().push(version);
        }
    }
    for (label, mut vs) in views {
        vs.sort_by(|a, b| version_cmp(a, b));
        let newest = vs.last().expect("at least one version").clone();
        let mut st = tx
            .prepare(
                "SELECT product, repository, tree FROM view_repositories
                 WHERE organization = ?1 AND view = ?2 AND view_version = ?3",
            )
            .map_err(sql)?;
        let rows: Vec<(String, String, String)> = st
            .query_map(params![org, label, newest], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        for (product, repo, vid) in rows {
            let path = format!("{org}/views/{label}/{product}/{repo}");
            let changed = store.db.publication(&path)?.as_deref() != Some(vid.as_str());
            published.push(publish(&tx, path, &vid, newest.clone(), changed)?);
        }
    }
    tx.execute(
        "INSERT INTO history(time, event, bundle, detail) VALUES(?1, 'import', ?2, ?3)",
        params![
            now,
            b,
            format!(
                "sequence {} from signer {} created {}: {} objects added ({} bytes), {} volumes",
                m.sequence, m.signer, m.created, extracted.objects, extracted.bytes, m.volumes
            )
        ],
    )
    .map_err(sql)?;
    if let Some(note) = rollback {
        tx.execute(
            "INSERT INTO history(time, event, bundle, detail) VALUES(?1, 'rollback', ?2, ?3)",
            params![now, b, note],
        )
        .map_err(sql)?;
    }
    tx.execute("DELETE FROM staged_volumes WHERE bundle = ?1", params![b])
        .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::version_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn view_versions_order_numerically() {
        assert_eq!(version_cmp("1.10", "1.9"), Greater);
        assert_eq!(version_cmp("2.0", "10.0"), Less);
        assert_eq!(version_cmp("1.0", "1.0.1"), Less);
        assert_eq!(version_cmp("1.0", "1.0"), Equal);
    }
}
