//! Step 4 of an import: one SQLite transaction records the bundle, the repository
//! versions, the content-view versions, what is published where, and the history.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension as _, params};

use super::{ImportError, Published};
use crate::format::BundleId;
use crate::format::manifest::{Manifest, RetiredKind};
use crate::store::db::DbError;
use crate::store::environments::{self, Promotion};
use crate::store::{Store, history};

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

/// A count or size as SQLite's signed 64-bit integer (a checked manifest keeps every
/// value and sum within it).
fn int(v: u64) -> Result<i64, ImportError> {
    i64::try_from(v).map_err(|_| ImportError::Internal(format!("{v} does not fit in 63 bits")))
}

/// What the pass added to the store.
pub struct Added {
    /// Objects.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What the transaction recorded, for the summary.
pub struct Recorded {
    /// Library publications (repositories and the newest version of each view).
    pub published: Vec<Published>,
    /// What the bundle newly retired.
    pub retired: Vec<String>,
    /// Promotions made by `--promote`.
    pub promoted: Vec<Promotion>,
    /// Key rotations accepted, one line each.
    pub key_rotations: Vec<String>,
}

/// Step 4: one transaction.
#[allow(clippy::too_many_arguments)]
pub fn record(
    store: &Store,
    bundle: &BundleId,
    m: &Manifest,
    versions: &BTreeMap<String, (String, u64)>,
    extracted: &Added,
    rollback: Option<&str>,
    promote: Option<&str>,
    rotations: &super::rotation::Plan,
) -> Result<Recorded, ImportError> {
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
            int(m.sequence)?,
            m.base.as_ref().map(|x| x.bundle.to_hex()),
            m.created,
            m.volumes,
            int(m.objects.len() as u64)?,
            int(m.objects.values().map(|o| o.size).sum::<u64>())?,
            now
        ],
    )
    .map_err(sql)?;
    history::record(
        &tx,
        &now,
        "import",
        Some(&b),
        &format!(
            "sequence {} from signer {} created {}: {} objects added ({} bytes), {} volumes",
            m.sequence, m.signer, m.created, extracted.objects, extracted.bytes, m.volumes
        ),
    )
    .map_err(sql)?;
    if let Some(note) = rollback {
        history::record(&tx, &now, "rollback", Some(&b), note).map_err(sql)?;
    }
    let key_rotations = super::rotation::record(&tx, &now, &b, m, rotations).map_err(sql)?;
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
                params![org, r.product, r.label, version, vid, b, int(tree.packages)?, int(tree.files.len() as u64)?, int(*bytes)?, now],
            )
            .map_err(sql)?;
        }
        let path = format!("{org}/library/{}/{}", r.product, r.label);
        published.push(publish(&tx, path, vid, version.to_string(), changed)?);
        reinstate(
            &tx,
            org,
            "repository",
            &format!("{}/{}", r.product, r.label),
            &b,
            &now,
        )?;
    }
    for v in &m.content_views {
        reinstate(&tx, org, "content_view", &v.label, &b, &now)?;
        // Versions are immutable: one the store has (checked equal before any pack was
        // read) keeps its first record.
        if store.db.view_version(org, &v.label, &v.version)?.is_some() {
            continue;
        }
        let seq: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM view_versions",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        tx.execute(
            "INSERT INTO view_versions(organization, label, version, name, bundle, imported, seq)
             VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![org, v.label, v.version, v.name, b, now, seq],
        )
        .map_err(sql)?;
        for vr in &v.repositories {
            let (product, repo) = vr.repository.split_once('/').expect("checked manifest");
            let tree = m.tree(&vr.tree).expect("checked manifest");
            let (vid, bytes) = &versions[&vr.tree];
            tx.execute(
                "INSERT INTO view_repositories(organization, view, view_version, product, repository, tree, packages, files, bytes)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![org, v.label, v.version, product, repo, vid, int(tree.packages)?, int(tree.files.len() as u64)?, int(*bytes)?],
            )
            .map_err(sql)?;
        }
    }
    let retired = retire(&tx, m, &b, &now)?;
    published.extend(publish_library_views(store, &tx, org)?);
    let mut promoted = Vec::new();
    if let Some(env) = promote {
        for v in newest_carried(m) {
            let previous = store
                .db
                .conn
                .query_row(
                    "SELECT version FROM environment_views WHERE organization = ?1 AND environment = ?2 AND view = ?3",
                    params![org, env, v.label],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            if previous.as_deref() == Some(v.version.as_str()) {
                continue;
            }
            promoted.push(
                environments::publish_in(&tx, org, env, &v.label, &v.version, previous, false)
                    .map_err(ImportError::Db)?,
            );
        }
    }
    tx.execute("DELETE FROM staged_volumes WHERE bundle = ?1", params![b])
        .map_err(sql)?;
    tx.commit().map_err(sql)?;
    Ok(Recorded {
        published,
        retired,
        promoted,
        key_rotations,
    })
}

/// The newest version of each view a bundle carries.
fn newest_carried(m: &Manifest) -> Vec<&crate::format::manifest::ContentView> {
    let mut newest: BTreeMap<&str, &crate::format::manifest::ContentView> = BTreeMap::new();
    for v in &m.content_views {
        match newest.get(v.label.as_str()) {
            Some(n) if version_cmp(&n.version, &v.version) != std::cmp::Ordering::Less => {}
            _ => {
                newest.insert(&v.label, v);
            }
        }
    }
    newest.into_values().collect()
}

/// Something retired that the bundle carries again is no longer retired.
fn reinstate(
    tx: &rusqlite::Transaction<'_>,
    org: &str,
    kind: &str,
    label: &str,
    bundle: &str,
    now: &str,
) -> Result<(), ImportError> {
    let sql = |e: rusqlite::Error| ImportError::Db(DbError::from(e));
    let n = tx
        .execute(
            "DELETE FROM retirements WHERE organization = ?1 AND kind = ?2 AND label = ?3",
            params![org, kind, label],
        )
        .map_err(sql)?;
    if n > 0 {
        history::record(
            tx,
            now,
            "reinstate",
            Some(bundle),
            &format!("{} {org}/{label} is shipped again", kind.replace('_', " ")),
        )
        .map_err(sql)?;
    }
    Ok(())
}

/// §5.8: what the export side no longer ships leaves the Library (environments keep the
/// versions they hold). Returns what this bundle newly retired.
fn retire(
    tx: &rusqlite::Transaction<'_>,
    m: &Manifest,
    bundle: &str,
    now: &str,
) -> Result<Vec<String>, ImportError> {
    let sql = |e: rusqlite::Error| ImportError::Db(DbError::from(e));
    let org = &m.organization;
    let mut out = Vec::new();
    for r in &m.retired {
        let kind = r.kind.as_str();
        let prefix = match r.kind {
            RetiredKind::Repository => format!("{org}/library/{}", r.label),
            RetiredKind::ContentView => format!("{org}/views/{}/", r.label),
        };
        let unpublished = tx
            .execute(
                "DELETE FROM publications WHERE path = ?1 OR substr(path, 1, length(?2)) = ?2",
                params![
                    prefix,
                    if prefix.ends_with('/') {
                        prefix.clone()
                    } else {
                        format!("{prefix}/")
                    }
                ],
            )
            .map_err(sql)?;
        let known: bool = tx
            .query_row(
                "SELECT COUNT(*) > 0 FROM retirements WHERE organization = ?1 AND kind = ?2 AND label = ?3",
                params![org, kind, r.label],
                |x| x.get(0),
            )
            .map_err(sql)?;
        if known {
            continue;
        }
        tx.execute(
            "INSERT INTO retirements(organization, kind, label, since, bundle, time) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            params![org, kind, r.label, int(r.since)?, bundle, now],
        )
        .map_err(sql)?;
        let what = format!(
            "{} {org}/{} (not shipped since sequence {}){}",
            kind.replace('_', " "),
            r.label,
            r.since,
            if unpublished > 0 {
                format!(
                    ": unpublished from the Library ({unpublished} repositor{})",
                    if unpublished == 1 { "y" } else { "ies" }
                )
            } else {
                String::new()
            }
        );
        history::record(tx, now, "retire", Some(bundle), &what).map_err(sql)?;
        out.push(what);
    }
    Ok(out)
}

/// The Library environment publishes the newest stored version of every view that is not
/// retired, at `ORG/views/VIEW/PRODUCT/REPO` (and nothing else under that view).
fn publish_library_views(
    store: &Store,
    tx: &rusqlite::Transaction<'_>,
    org: &str,
) -> Result<Vec<Published>, ImportError> {
    let sql = |e: rusqlite::Error| ImportError::Db(DbError::from(e));
    let mut views: BTreeMap<String, Vec<String>> = BTreeMap::new();
    {
        let mut st = tx
            .prepare(
                "SELECT label, version FROM view_versions WHERE organization = ?1 AND pruned IS NULL
                 AND label NOT IN (SELECT label FROM retirements WHERE organization = ?1 AND kind = 'content_view')",
            )
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
    let mut published = Vec::new();
    for (label, mut vs) in views {
        vs.sort_by(|a, b| version_cmp(a, b));
        let newest = vs.last().expect("at least one version").clone();
        let rows = store.db.view_version_trees(org, &label, &newest)?;
        let prefix = format!("{org}/views/{label}/");
        let before: BTreeMap<String, String> = rows
            .iter()
            .map(|(repo, _)| {
                let path = format!("{prefix}{repo}");
                Ok((
                    path.clone(),
                    store.db.publication(&path)?.unwrap_or_default(),
                ))
            })
            .collect::<Result<_, DbError>>()?;
        tx.execute(
            "DELETE FROM publications WHERE substr(path, 1, length(?1)) = ?1",
            params![prefix],
        )
        .map_err(sql)?;
        for (repo, vid) in rows {
            let path = format!("{prefix}{repo}");
            let changed = before.get(&path) != Some(&vid);
            published.push(publish(tx, path, &vid, newest.clone(), changed)?);
        }
    }
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
