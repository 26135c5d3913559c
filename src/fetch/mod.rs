//! Repositories served over HTTP(S): `pack` fetches each URL source into a local cache (a
//! mirror of the repository's metadata and packages), then packs from there.
//!
//! [`client`] reaches a server with yum's options (CA, client certificate, verification,
//! credentials, the usual proxy variables); [`download`] fetches one file, checking it
//! against the checksum its metadata declares as it arrives, resuming and retrying;
//! [`mirror`] fetches one repository through its metadata, several files at once.
//!
//! The cache keeps every file fetched under its repository's directory; a file already
//! there with the declared checksum is not fetched again, so an incremental pack from a URL
//! downloads only what changed upstream.

pub mod client;
pub mod download;
pub mod mirror;

use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, Remote, Source};
use crate::progress::Progress;

/// Files fetched at once, by default.
pub const DEFAULT_JOBS: usize = 8;

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The cache directory.
    pub cache: PathBuf,
    /// Files fetched at once (at least 1).
    pub jobs: usize,
    /// Pause before the first retry; doubled for each next one.
    pub backoff: std::time::Duration,
    /// Attempts per file (connection errors, 5xx, a body cut off).
    pub attempts: u32,
}

impl FetchOptions {
    /// Defaults: 8 at once, 4 attempts from half a second apart.
    pub fn new(cache: PathBuf) -> Self {
        FetchOptions {
            cache,
            jobs: DEFAULT_JOBS,
            backoff: std::time::Duration::from_millis(500),
            attempts: 4,
        }
    }
}

/// One thing wrong while fetching: which repository, which URL (or file), what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchProblem {
    /// The repository (`library/product/repo` or `views/…`).
    pub repo: String,
    /// The URL (or the local file, for certificates and the cache).
    pub url: String,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for FetchProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.repo, self.url, self.what)
    }
}

/// Why the sources could not be fetched: every problem found.
#[derive(Debug, thiserror::Error)]
#[error("{} problem{} fetching the repositories; nothing was written:{}", .0.len(), if .0.len() == 1 { "" } else { "s" }, list(.0))]
pub struct FetchError(pub Vec<FetchProblem>);

fn list(p: &[FetchProblem]) -> String {
    p.iter().map(|p| format!("\n  {p}")).collect()
}

/// Whether the catalog names any URL.
pub fn has_urls(catalog: &Catalog) -> bool {
    catalog
        .products
        .iter()
        .flat_map(|p| &p.repositories)
        .map(|r| &r.source)
        .chain(
            catalog
                .content_views
                .iter()
                .flat_map(|v| &v.repositories)
                .filter_map(|(_, s)| s.as_ref()),
        )
        .any(|s| matches!(s, Source::Url(_)))
}

/// The directory of the cache that mirrors `url`.
pub fn mirror_dir(cache: &Path, url: &url::Url) -> PathBuf {
    use sha2::Digest as _;
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let host = match url.port() {
        Some(p) => format!("{}_{p}", url.host_str().unwrap_or("host")),
        None => url.host_str().unwrap_or("host").to_string(),
    };
    let path: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(clean).collect())
        .unwrap_or_default();
    let digest = hex::encode(&sha2::Sha256::digest(url.as_str().as_bytes())[..4]);
    let mut name = path.join("_");
    name.truncate(100);
    cache.join("repos").join(clean(&host)).join(format!(
        "{}{}{digest}",
        name,
        if name.is_empty() { "" } else { "-" }
    ))
}

/// Fetch what the URL sources of `catalog` need to be planned (see
/// [`mirror::Fetcher::metadata`]); the catalog returned names the cache's directories
/// instead of the URLs, and the packages still to fetch come with it. Every problem of every
/// repository is reported at once.
pub fn prepare(
    catalog: &Catalog,
    opts: &FetchOptions,
    progress: &dyn Progress,
) -> Result<(Catalog, mirror::Packages), FetchError> {
    let mut out = catalog.clone();
    let mut wanted: Vec<(String, Remote)> = Vec::new();
    for p in &catalog.products {
        for r in &p.repositories {
            if let Source::Url(remote) = &r.source {
                wanted.push((format!("library/{}/{}", p.label, r.label), remote.clone()));
            }
        }
    }
    for v in &catalog.content_views {
        for (key, s) in &v.repositories {
            if let Some(Source::Url(remote)) = s {
                wanted.push((
                    format!("views/{}/{}/{key}", v.label, v.version),
                    remote.clone(),
                ));
            }
        }
    }
    // The same URL named twice is fetched once.
    let mut seen = std::collections::HashSet::new();
    wanted.retain(|(_, r)| seen.insert(r.url.clone()));
    let mut problems = Vec::new();
    let packages = mirror::Fetcher::new(opts, progress).metadata(&wanted, &mut problems);
    if !problems.is_empty() {
        return Err(FetchError(problems));
    }
    let local = |s: &mut Source| {
        if let Source::Url(r) = s {
            *s = Source::Mirror {
                dir: mirror_dir(&opts.cache, &r.url),
                url: r.url.clone(),
            };
        }
    };
    for p in &mut out.products {
        for r in &mut p.repositories {
            local(&mut r.source);
        }
    }
    for v in &mut out.content_views {
        for (_, s) in &mut v.repositories {
            if let Some(s) = s {
                local(s);
            }
        }
    }
    Ok((out, packages))
}
