//! Step 4 of an import: one SQLite transaction records the bundle, the repository
//! versions, the content-view versions, what is published where, and the history.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{ImportError, Published};
use crate::format::BundleId;
use crate::format::manifest::Manifest;
use crate::store::Store;
use crate::store::db::DbError;

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

/// Step 4: one transaction.
pub fn record(
    store: &Store,
    bundle: &BundleId,
    m: &Manifest,
    versions: &BTreeMap<String, (String, u64)>,
    extracted: &Added,
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
                params![org, v.label, v.version, product, repo, vid, int(tree.packages)?, int(tree.files.len() as u64)?, int(*bytes)?],
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
