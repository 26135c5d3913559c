//! What a published repository holds, read from its own metadata: the packages its
//! primary lists and the errata its updateinfo carries. The server's repository page and
//! API show these.

use std::io::BufReader;

use serde::Serialize;

use crate::store::Store;
use crate::yum::{self, YumError};

/// One package of a repository.
#[derive(Debug, Clone, Serialize)]
pub struct PackageRow {
    /// Name.
    pub name: String,
    /// `epoch:version-release` (no `0:`).
    pub evr: String,
    /// Architecture.
    pub arch: String,
    /// Size of the package file in bytes, when primary gives it.
    pub size: Option<u64>,
    /// Path in the repository.
    pub location: String,
}

/// What a repository holds.
#[derive(Debug, Clone, Serialize)]
pub struct Contents {
    /// Its packages, by name.
    pub packages: Vec<PackageRow>,
    /// Its errata.
    pub errata: Vec<yum::updateinfo::Erratum>,
}

/// Why a repository's contents could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentsError {
    /// Not a published repository.
    #[error("{0} is not a published repository")]
    NotPublished(String),
    /// Its metadata.
    #[error("{path}: {source}")]
    Metadata {
        /// The repository.
        path: String,
        /// Why.
        source: YumError,
    },
    /// Database.
    #[error(transparent)]
    Db(#[from] crate::store::db::DbError),
}

/// The packages and errata of the repository published at `rel` (e.g.
/// `acme/library/acme-os/baseos`).
pub fn contents(store: &Store, rel: &str) -> Result<Contents, ContentsError> {
    if store.db.publication(rel)?.is_none() {
        return Err(ContentsError::NotPublished(rel.to_string()));
    }
    let dir = crate::store::publish::published_path(&store.root, rel);
    let meta = |source| ContentsError::Metadata {
        path: rel.to_string(),
        source,
    };
    let io = |e: std::io::Error| {
        meta(YumError::Io {
            context: "reading repository metadata".into(),
            source: e,
        })
    };
    let repomd = std::fs::read(dir.join("repodata/repomd.xml")).map_err(io)?;
    let repomd = yum::repomd::parse_repomd(&repomd).map_err(meta)?;
    let open = |href: &str| -> Result<_, ContentsError> {
        let f = std::fs::File::open(dir.join(href)).map_err(io)?;
        yum::decompress::decompressed(BufReader::new(f)).map_err(meta)
    };
    let primary = repomd.primary().map_err(meta)?;
    let mut packages: Vec<PackageRow> = yum::primary::parse_primary(open(&primary.location)?)
        .map_err(meta)?
        .into_iter()
        .map(|p| PackageRow {
            evr: if p.epoch == "0" {
                format!("{}-{}", p.version, p.release)
            } else {
                format!("{}:{}-{}", p.epoch, p.version, p.release)
            },
            name: p.name,
            arch: p.arch,
            size: p.size,
            location: p.location,
        })
        .collect();
    packages.sort_by(|a, b| (&a.name, &a.arch, &a.evr).cmp(&(&b.name, &b.arch, &b.evr)));
    let errata = match repomd.records.iter().find(|r| r.mdtype == "updateinfo") {
        Some(r) => yum::updateinfo::parse_updateinfo(open(&r.location)?).map_err(meta)?,
        None => Vec::new(),
    };
    Ok(Contents { packages, errata })
}

/// Whether `p` matches a search (every word, case-insensitively, in its name or version).
pub fn matches(p: &PackageRow, query: &str) -> bool {
    let hay = format!("{}-{}.{}", p.name, p.evr, p.arch).to_lowercase();
    query
        .split_whitespace()
        .all(|w| hay.contains(&w.to_lowercase()))
}
