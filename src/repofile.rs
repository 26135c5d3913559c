//! `ferry repofile`: a dnf `.repo` file for every published repository.

use rusqlite::params;
use std::fmt::Write as _;

use crate::store::Store;
use crate::store::db::DbError;

/// The `.repo` text. Base URLs are `file://` paths of the published trees, or `base_url`
/// followed by the path under `published/` (for a web server that serves that directory).
pub fn repofile(store: &Store, base_url: Option<&str>) -> Result<String, DbError> {
    let root = std::fs::canonicalize(&store.root).unwrap_or_else(|_| store.root.clone());
    let url = |rel: &str| match base_url {
        Some(b) => format!("{}/{rel}", b.trim_end_matches('/')),
        None => format!("file://{}", root.join("published").join(rel).display()),
    };
    let c = &store.db.conn;
    let mut out =
        String::from("# Written by ferry repofile. One section per published repository.\n");
    let gpg_name = |org: &str, product: &str| -> Result<Option<String>, DbError> {
        Ok(c.query_row(
            "SELECT gpg_key_name FROM products WHERE organization = ?1 AND label = ?2",
            params![org, product],
            |r| r.get(0),
        )?)
    };
    let mut section = |id: &str, name: &str, rel: &str, key: Option<String>| {
        let _ = writeln!(
            out,
            "\n[{id}]\nname={name}\nbaseurl={}\nenabled=1",
            url(rel)
        );
        match key {
            Some(k) => {
                let _ = writeln!(out, "gpgcheck=1\ngpgkey={}/{k}", url(rel));
            }
            None => {
                let _ = writeln!(
                    out,
                    "# the product has no GPG key: packages cannot be checked\ngpgcheck=0"
                );
            }
        }
    };
    let mut st = c.prepare(
        "SELECT r.organization, r.product, r.label, p.name, r.name FROM repositories r
         JOIN products p ON p.organization = r.organization AND p.label = r.product
         JOIN publications x ON x.path = r.organization || '/library/' || r.product || '/' || r.label
         ORDER BY r.organization, r.product, r.label",
    )?;
    let rows: Vec<(String, String, String, String, String)> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    for (org, product, label, pname, rname) in rows {
        let key = gpg_name(&org, &product)?;
        section(
            &format!("{org}_{product}_{label}"),
            &format!("{pname} - {rname} ({org} Library)"),
            &format!("{org}/library/{product}/{label}"),
            key,
        );
    }
    let mut st =
        c.prepare("SELECT path FROM publications WHERE path LIKE '%/views/%' ORDER BY path")?;
    let views: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for rel in views {
        let parts: Vec<&str> = rel.split('/').collect();
        let [org, _, view, product, label] = parts[..] else {
            continue;
        };
        let key = gpg_name(org, product)?;
        section(
            &format!("{org}_{view}_{product}_{label}"),
            &format!("{product}/{label} (content view {view}, {org})"),
            &rel,
            key,
        );
    }
    Ok(out)
}
