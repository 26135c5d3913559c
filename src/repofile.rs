//! `ferry repofile`: a dnf `.repo` file for every published repository.
//!
//! Every value is made safe where it is written: a `.repo` file is INI, one `key=value` a
//! line, so a value with a newline could open a section of its own. Names lose their
//! control characters, paths in URLs are percent-encoded, and a base URL with control
//! characters or spaces is refused.

use rusqlite::params;
use std::fmt::Write as _;

use crate::store::Store;
use crate::store::db::DbError;

/// Why no repo file could be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepofileError {
    /// The store's database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A query failed.
    #[error("store database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A base URL that cannot go into a repo file.
    #[error("--base-url {0:?} holds spaces or control characters: give a URL")]
    BadBaseUrl(String),
}

/// A value on one line of its own: control characters (newlines above all) become spaces,
/// and leading or trailing space goes.
fn value(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A path in a URL: every byte but unreserved characters and `/` percent-encoded (so `$`,
/// which dnf would expand, and spaces are safe too).
fn url_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The `.repo` text. Base URLs are `file://` paths of the published trees, or `base_url`
/// followed by the path under `published/` (for a web server that serves that directory).
pub fn repofile(store: &Store, base_url: Option<&str>) -> Result<String, RepofileError> {
    if let Some(b) = base_url
        && b.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(RepofileError::BadBaseUrl(b.to_string()));
    }
    let root = std::fs::canonicalize(&store.root).unwrap_or_else(|_| store.root.clone());
    let url = |rel: &str| match base_url {
        Some(b) => format!("{}/{}", b.trim_end_matches('/'), url_path(rel)),
        None => format!(
            "file://{}",
            url_path(&root.join("published").join(rel).to_string_lossy())
        ),
    };
    let published = store.root.join("published");
    let c = &store.db.conn;
    let mut out =
        String::from("# Written by ferry repofile. One section per published repository.\n");
    let gpg_name = |org: &str, product: &str| -> Result<Option<String>, RepofileError> {
        Ok(c.query_row(
            "SELECT gpg_key_name FROM products WHERE organization = ?1 AND label = ?2",
            params![org, product],
            |r| r.get(0),
        )?)
    };
    // `key`: (where the tree is, the key's file name there).
    let mut section = |id: &str, name: &str, rel: &str, key: Option<(&str, String)>| {
        // Ids are made of labels: A-Z a-z 0-9 . _ - only.
        debug_assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        );
        let _ = writeln!(
            out,
            "\n[{id}]\nname={}\nbaseurl={}\nenabled=1",
            value(name),
            url(rel)
        );
        match key {
            Some((tree, k)) => {
                let _ = writeln!(out, "gpgcheck=1\ngpgkey={}/{}", url(tree), url_path(&k));
                // The upstream signature of the metadata came along, and pack checked it
                // with this key: dnf can check it too.
                if published
                    .join(rel)
                    .join("repodata/repomd.xml.asc")
                    .is_file()
                {
                    let _ = writeln!(out, "repo_gpgcheck=1");
                }
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
        let rel = format!("{org}/library/{product}/{label}");
        for sub in repositories_of(&published.join(&rel)) {
            let (id, name, at) = if sub.is_empty() {
                (String::new(), String::new(), rel.clone())
            } else {
                (format!("_{sub}"), format!(" {sub}"), format!("{rel}/{sub}"))
            };
            section(
                &format!("{org}_{product}_{label}{id}"),
                &format!("{pname} - {rname}{name} ({org} Library)"),
                &at,
                key.clone().map(|k| (rel.as_str(), k)),
            );
        }
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
        for sub in repositories_of(&published.join(&rel)) {
            let (id, at) = if sub.is_empty() {
                (String::new(), rel.clone())
            } else {
                (format!("_{sub}"), format!("{rel}/{sub}"))
            };
            section(
                &format!("{org}_{view}_{product}_{label}{id}"),
                &format!(
                    "{product}/{label}{} (content view {view}, {org})",
                    id.replace('_', " ")
                ),
                &at,
                key.clone().map(|k| (rel.as_str(), k)),
            );
        }
    }
    Ok(out)
}

/// The repositories of a published tree, as paths under it: `""` for a yum repository at
/// its root; for a kickstart tree whose `.treeinfo` puts them in subdirectories (BaseOS,
/// AppStream), those whose names are plain labels (they become part of a section id).
fn repositories_of(tree: &std::path::Path) -> Vec<String> {
    if tree.join("repodata/repomd.xml").is_file() {
        return vec![String::new()];
    }
    let Ok(text) = std::fs::read_to_string(tree.join(".treeinfo")) else {
        return vec![String::new()];
    };
    match crate::yum::treeinfo::parse_treeinfo(&text) {
        Ok(ti) if !ti.repositories.is_empty() => ti
            .repositories
            .into_iter()
            .filter(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                    && tree.join(r).join("repodata/repomd.xml").is_file()
            })
            .collect(),
        _ => vec![String::new()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_on_their_line_and_urls_are_encoded() {
        assert_eq!(
            value("ACME OS\n[evil]\nbaseurl=http://x"),
            "ACME OS [evil] baseurl=http://x"
        );
        assert_eq!(value(" a\tb\r "), "a b");
        assert_eq!(
            url_path("/srv/my store/$basearch/a+b"),
            "/srv/my%20store/%24basearch/a%2Bb"
        );
        assert_eq!(url_path("acme/library/os/base"), "acme/library/os/base");
    }
}
