//! A repository fetched through its metadata: `repomd.xml` (and its signature and key when
//! the server has them), every file it lists, then every package primary lists, several
//! at once. `repomd.xml` is written into the mirror last, once everything it names is there
//! with its declared checksum, so a mirror directory is always a complete repository.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::client::{RepoClient, client};
use super::download::{Got, Want, fetch, fetch_small};
use super::{FetchOptions, FetchProblem, mirror_dir};
use crate::catalog::Remote;
use crate::fsutil::read_capped;
use crate::progress::Progress;
use crate::yum;

/// Largest `repomd.xml` (or signature, or key) accepted.
const MAX_SMALL: u64 = 64 << 20;
/// Largest metadata file accepted when repomd.xml gives no size.
const MAX_METADATA: u64 = 2 << 30;
/// Largest package accepted when primary gives no size.
const MAX_PACKAGE: u64 = 64 << 30;

/// Fetches repositories into the cache.
pub struct Fetcher<'a> {
    opts: &'a FetchOptions,
    progress: &'a dyn Progress,
}

/// One source on its way: a yum repository, or a kickstart tree (its `.treeinfo`, the
/// files that names, and its repositories, each at its path).
struct Repo {
    name: String,
    remote: Remote,
    client: RepoClient,
    treeinfo: Option<Vec<u8>>,
    /// Files the `.treeinfo` names.
    tree_files: Vec<(String, Option<yum::checksum::Checksum>)>,
    subs: Vec<Sub>,
    failed: bool,
}

/// One yum repository of a source, at `prefix` (`""` or `BaseOS/`).
struct Sub {
    prefix: String,
    repomd: Vec<u8>,
    extras: Vec<(&'static str, Option<Vec<u8>>)>,
    primary: Option<String>,
}

/// Packages to fetch while the pack runs, and where their arrival is told.
pub struct Packages {
    live: Vec<Repo>,
    wants: Vec<(usize, Want)>,
    /// Which files are coming, and whether each came.
    pub arrivals: std::sync::Arc<Arrivals>,
    counts: Mutex<Counts>,
}

impl Packages {
    /// What was fetched, and what the cache had.
    pub fn counts(&self) -> Counts {
        *self.counts.lock().expect("no panics")
    }
}

/// Files on their way into the cache: the pack plans them by their declared size and waits
/// for each before it reads it.
#[derive(Debug, Default)]
pub struct Arrivals {
    coming: std::collections::HashMap<std::path::PathBuf, u64>,
    done: Mutex<std::collections::HashMap<std::path::PathBuf, Result<(), FetchProblem>>>,
    cv: std::sync::Condvar,
    cancelled: std::sync::atomic::AtomicBool,
}

impl Arrivals {
    fn new(coming: impl Iterator<Item = (std::path::PathBuf, u64)>) -> Self {
        Arrivals {
            coming: coming.collect(),
            ..Default::default()
        }
    }

    /// The declared size of `path`, if it is on its way.
    pub fn coming(&self, path: &Path) -> Option<u64> {
        self.coming.get(path).copied()
    }

    /// Wait until `path` is in the cache with its declared checksum, or fails to be.
    pub fn wait(&self, path: &Path) -> Result<(), FetchProblem> {
        let mut done = self.done.lock().expect("no panics");
        loop {
            if let Some(r) = done.get(path) {
                return r.clone();
            }
            if self.cancelled.load(Ordering::Relaxed) {
                return Err(FetchProblem {
                    repo: String::new(),
                    url: path.display().to_string(),
                    what: "cancelled".into(),
                });
            }
            done = self.cv.wait(done).expect("no panics");
        }
    }

    /// Stop fetching (the pack failed): every wait returns.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        let _g = self.done.lock().expect("no panics");
        self.cv.notify_all();
    }

    fn arrived(&self, path: &Path, r: Result<(), FetchProblem>) {
        self.done
            .lock()
            .expect("no panics")
            .insert(path.to_path_buf(), r);
        self.cv.notify_all();
    }
}

/// Counts of one fetch.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Files the cache already had.
    pub cached: u64,
    /// Files fetched.
    pub fetched: u64,
    /// Bytes fetched.
    pub bytes: u64,
}

impl<'a> Fetcher<'a> {
    /// A fetcher with these options, reporting to `progress`.
    pub fn new(opts: &'a FetchOptions, progress: &'a dyn Progress) -> Self {
        Fetcher { opts, progress }
    }

    /// Fetch what `repos` (name, source) need before they can be planned: `.treeinfo` and
    /// the files it names, `repomd.xml` and every file it lists, written into their mirror
    /// directories. The packages their primary metadata lists are returned, to be fetched by
    /// [`Fetcher::packages`] while the pack runs. Problems go to `problems`, every one of
    /// every repository.
    pub fn metadata(
        &self,
        repos: &[(String, Remote)],
        problems: &mut Vec<FetchProblem>,
    ) -> Packages {
        let mut counts = Counts::default();
        let mut live = Vec::new();
        self.progress.begin("fetching repository metadata", None);
        for (name, remote) in repos {
            if let Some(r) = self.start(name, remote, problems) {
                live.push(r);
            }
        }
        // Every file the .treeinfo names, and every file each repomd.xml lists.
        let mut wants = Vec::new();
        for (i, r) in live.iter().enumerate() {
            for (rel, c) in &r.tree_files {
                if let Some(w) = self.want(r, rel, c.clone(), None, MAX_PACKAGE, problems) {
                    wants.push((i, w));
                }
            }
            for sub in &r.subs {
                let Ok(md) = yum::repomd::parse_repomd(&sub.repomd) else {
                    continue;
                };
                for rec in &md.records {
                    let href = format!("{}{}", sub.prefix, rec.location);
                    let c = Some(rec.checksum.clone());
                    if let Some(w) = self.want(r, &href, c, rec.size, MAX_METADATA, problems) {
                        wants.push((i, w));
                    }
                }
            }
        }
        self.fetch_all(&mut live, &wants, problems, &mut counts);

        // Every package primary lists: those whose size the metadata does not give now (the
        // plan needs every size), the others later.
        let mut now = Vec::new();
        let mut later = Vec::new();
        for (i, r) in live.iter_mut().enumerate() {
            if r.failed {
                continue;
            }
            let dir = mirror_dir(&self.opts.cache, &r.remote.url);
            for sub in &r.subs {
                let Some(loc) = &sub.primary else { continue };
                let href = format!("{}{loc}", sub.prefix);
                let packages = read_capped(&dir.join(&href), MAX_METADATA)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        yum::decompress::decompressed(&b[..])
                            .and_then(yum::primary::parse_primary)
                            .map_err(|e| e.to_string())
                    });
                match packages {
                    Ok(pk) => {
                        for p in pk {
                            let href = format!("{}{}", sub.prefix, p.location);
                            let c = Some(p.checksum.clone());
                            if let Some(w) = self.want(r, &href, c, p.size, MAX_PACKAGE, problems) {
                                if w.size.is_some() {
                                    later.push((i, w))
                                } else {
                                    now.push((i, w))
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let url = r.remote.url.join(&href).map(|u| u.to_string());
                        problems.push(problem(r, &url.unwrap_or(href), e));
                        r.failed = true;
                    }
                }
            }
        }
        self.fetch_all(&mut live, &now, problems, &mut counts);
        self.progress.end();

        // repomd.xml (and signature, key) and .treeinfo, for the plan to read.
        for r in &live {
            if r.failed {
                continue;
            }
            let dir = mirror_dir(&self.opts.cache, &r.remote.url);
            let mut files = Vec::new();
            for sub in &r.subs {
                files.push((
                    format!("{}repodata/repomd.xml", sub.prefix),
                    Some(sub.repomd.clone()),
                ));
                for (rel, body) in &sub.extras {
                    files.push((format!("{}{rel}", sub.prefix), body.clone()));
                }
            }
            files.push((".treeinfo".to_string(), r.treeinfo.clone()));
            for (rel, body) in files {
                let path = dir.join(rel);
                let done = match body {
                    Some(b) => write_replace(&path, &b),
                    None => match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                        _ => Ok(()),
                    },
                };
                if let Err(e) = done {
                    problems.push(problem(r, &path.display().to_string(), e.to_string()));
                }
            }
        }
        let arrivals = Arrivals::new(
            later
                .iter()
                .map(|(_, w)| (w.dest.clone(), w.size.unwrap_or(0))),
        );
        Packages {
            live,
            wants: later,
            arrivals: std::sync::Arc::new(arrivals),
            counts: Mutex::new(counts),
        }
    }

    /// Fetch the packages, `opts.jobs` at once, in the order the pack will read them,
    /// telling `packages.arrivals` as each is in the cache (or is not).
    pub fn packages(&self, packages: &Packages) {
        let a = &packages.arrivals;
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..self.opts.jobs.max(1).min(packages.wants.len().max(1)) {
                s.spawn(|| {
                    loop {
                        if a.cancelled.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((repo, w)) = packages.wants.get(i) else {
                            break;
                        };
                        let r = &packages.live[*repo];
                        let got = fetch(&r.client, w, self.opts, self.progress);
                        if let Ok(g) = &got {
                            let mut c = packages.counts.lock().expect("no panics");
                            match g {
                                Got::Cached => c.cached += 1,
                                Got::Fetched(n) => {
                                    c.fetched += 1;
                                    c.bytes += n;
                                }
                            }
                        }
                        a.arrived(
                            &w.dest,
                            got.map(|_| ()).map_err(|e| problem(r, w.url.as_str(), e)),
                        );
                    }
                });
            }
        });
    }

    /// A client and repomd.xml (with its signature and key) for one repository.
    fn start(&self, name: &str, remote: &Remote, problems: &mut Vec<FetchProblem>) -> Option<Repo> {
        let url = remote.url.as_str();
        let fail = |problems: &mut Vec<FetchProblem>, u: &str, what: String| {
            problems.push(FetchProblem {
                repo: name.to_string(),
                url: u.to_string(),
                what,
            });
        };
        let client = match client(&remote.access) {
            Ok(c) => c,
            Err(e) => {
                fail(problems, url, e);
                return None;
            }
        };
        let get = |rel: &str| -> (String, Result<Option<Vec<u8>>, String>) {
            match remote.url.join(rel) {
                Ok(u) => (
                    u.to_string(),
                    fetch_small(&client, &u, MAX_SMALL, self.opts),
                ),
                Err(e) => (rel.to_string(), Err(e.to_string())),
            }
        };
        // A kickstart tree has a .treeinfo: the files it names, and its repositories.
        let (u, r) = get(".treeinfo");
        let (treeinfo, tree_files, mut prefixes) = match r {
            Ok(None) => (None, Vec::new(), vec![String::new()]),
            Ok(Some(b)) => {
                let ti = std::str::from_utf8(&b)
                    .map_err(|_| "is not UTF-8 text".to_string())
                    .and_then(|t| yum::treeinfo::parse_treeinfo(t).map_err(|e| e.to_string()));
                match ti {
                    Ok(ti) => {
                        let prefixes = ti
                            .repositories
                            .iter()
                            .map(|r| {
                                if r.is_empty() {
                                    r.clone()
                                } else {
                                    format!("{r}/")
                                }
                            })
                            .collect();
                        (Some(b), ti.files.into_iter().collect(), prefixes)
                    }
                    Err(e) => {
                        fail(problems, &u, e);
                        return None;
                    }
                }
            }
            Err(e) => {
                fail(problems, &u, e);
                return None;
            }
        };
        // A tree without variants may still hold a repository at its root.
        let tree = treeinfo.is_some();
        if prefixes.is_empty() {
            prefixes.push(String::new());
        }
        let mut subs = Vec::new();
        for prefix in prefixes {
            let (u, r) = get(&format!("{prefix}repodata/repomd.xml"));
            let repomd = match r {
                Ok(Some(b)) => b,
                Ok(None) if tree && prefix.is_empty() => continue,
                Ok(None) => {
                    fail(problems, &u, "HTTP 404: not found: is this the repository's directory (the one holding repodata/)?".into());
                    return None;
                }
                Err(e) => {
                    fail(problems, &u, e);
                    return None;
                }
            };
            let md = match yum::repomd::parse_repomd(&repomd) {
                Ok(m) => m,
                Err(e) => {
                    fail(problems, &u, e.to_string());
                    return None;
                }
            };
            let primary = match md.primary() {
                Ok(p) => Some(p.location.clone()),
                Err(e) => {
                    fail(problems, &u, e.to_string());
                    return None;
                }
            };
            let mut extras = Vec::new();
            for rel in ["repodata/repomd.xml.asc", "repodata/repomd.xml.key"] {
                let (u, r) = get(&format!("{prefix}{rel}"));
                match r {
                    Ok(b) => extras.push((rel, b)),
                    Err(e) => {
                        fail(problems, &u, e);
                        return None;
                    }
                }
            }
            subs.push(Sub {
                prefix,
                repomd,
                extras,
                primary,
            });
        }
        Some(Repo {
            name: name.to_string(),
            remote: remote.clone(),
            client,
            treeinfo,
            tree_files,
            subs,
            failed: false,
        })
    }

    /// The file at `href` of `r`, checked to stay inside the repository.
    fn want(
        &self,
        r: &Repo,
        href: &str,
        checksum: Option<yum::checksum::Checksum>,
        size: Option<u64>,
        cap: u64,
        problems: &mut Vec<FetchProblem>,
    ) -> Option<Want> {
        if let Err(e) = crate::format::relpath::check(href) {
            problems.push(problem(
                r,
                href,
                format!("the metadata names a file outside the repository: {e}"),
            ));
            return None;
        }
        let url = match r.remote.url.join(href) {
            Ok(u) if u.as_str().starts_with(r.remote.url.as_str()) => u,
            _ => {
                problems.push(problem(
                    r,
                    href,
                    "the metadata names a file outside the repository".into(),
                ));
                return None;
            }
        };
        Some(Want {
            url,
            dest: mirror_dir(&self.opts.cache, &r.remote.url).join(href),
            expect: checksum,
            size,
            cap,
        })
    }

    /// Fetch `wants` (repository index, file), `opts.jobs` at once.
    fn fetch_all(
        &self,
        live: &mut [Repo],
        wants: &[(usize, Want)],
        problems: &mut Vec<FetchProblem>,
        counts: &mut Counts,
    ) {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
        let live_ro: &[Repo] = live;
        std::thread::scope(|s| {
            for _ in 0..self.opts.jobs.max(1).min(wants.len().max(1)) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((repo, w)) = wants.get(i) else { break };
                        let r = fetch(&live_ro[*repo].client, w, self.opts, self.progress);
                        results
                            .lock()
                            .expect("no panics")
                            .push((*repo, w.url.to_string(), r));
                    }
                });
            }
        });
        for (repo, url, r) in results.into_inner().expect("no panics") {
            match r {
                Ok(Got::Cached) => counts.cached += 1,
                Ok(Got::Fetched(n)) => {
                    counts.fetched += 1;
                    counts.bytes += n;
                }
                Err(e) => {
                    problems.push(problem(&live[repo], &url, e));
                    live[repo].failed = true;
                }
            }
        }
        problems.sort_by(|a, b| (&a.repo, &a.url).cmp(&(&b.repo, &b.url)));
    }
}

/// How one file went: (repository index, URL, result).
type Outcome = (usize, String, Result<Got, String>);

fn problem(r: &Repo, url: &str, what: String) -> FetchProblem {
    FetchProblem {
        repo: r.name.clone(),
        url: url.to_string(),
        what,
    }
}

/// Write `bytes` to `path` through a temporary file and a rename.
fn write_replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
