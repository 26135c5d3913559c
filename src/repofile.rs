//! `ferry repofile`: a dnf `.repo` file for the published repositories a host should see.
//!
//! What is published is read from the `publications` table, by path under
//! `STORE/published/`:
//!
//! - `ORG/library/PRODUCT/REPO`: a Library repository;
//! - `ORG/views/VIEW/PRODUCT/REPO`: the version of content view VIEW that the Library
//!   environment holds (its newest);
//! - `ORG/env/ENV/VIEW/PRODUCT/REPO`: the version of VIEW that environment ENV holds.
//!
//! A [`Filter`] narrows that down to what one host should see: the Library repositories,
//! or one environment's content views (`Library` names the Library environment, whose views
//! are the `views/` paths), or one view there; then only some repositories
//! (`PRODUCT/REPO`), only one organization. A filter that matches nothing is an error that
//! names what there is, not an empty file.
//!
//! # Section ids
//!
//! A section's id is the components of its published path, without the word that says
//! what kind of path it is (`library`, `views`, `env`), joined by `_`, with the variant
//! appended for a repository of a kickstart tree (`…_kickstart_BaseOS`):
//!
//! | published path                   | section id                          |
//! |----------------------------------|-------------------------------------|
//! | `ORG/library/PRODUCT/REPO`       | `ORG_PRODUCT_REPO`                  |
//! | `ORG/views/VIEW/PRODUCT/REPO`    | `ORG_VIEW_PRODUCT_REPO`             |
//! | `ORG/env/ENV/VIEW/PRODUCT/REPO`  | `ORG_ENV_VIEW_PRODUCT_REPO`         |
//!
//! Case is kept (dnf's ids are case-sensitive, and ids written by earlier ferry versions
//! stay the same). Every byte of a component outside dnf's id characters
//! (`A-Z a-z 0-9 . _ - :`) becomes `_`; labels that passed a bundle's checks have none.
//! Should two sections still get the same id (labels holding `_`, or bytes replaced), the
//! later one in the file gets `-2` appended (or `-3`, …: the first suffix no other section
//! has).
//!
//! Sections come Library repositories first, then content views by environment (Library,
//! then the environments in their order), each sorted by organization, view, product,
//! repository.
//!
//! # Names
//!
//! `name=PRODUCT NAME - REPO NAME[ VARIANT] (CONTEXT)`, where CONTEXT is `Library, ORG`
//! for a Library repository and `VIEW NAME VERSION, ENV, ORG` for a content view's.
//!
//! # Escaping
//!
//! Every value is made safe where it is written, whatever the store's database holds: a
//! `.repo` file is INI, one `key=value` a line, so a value with a line break could open a
//! section of its own. Ids are built from the characters above only; names lose their
//! control characters and Unicode line, paragraph and direction-changing marks; every
//! component of a URL's path is percent-encoded but for unreserved characters (so `[`, `]`,
//! `$`, which dnf would expand, `%`, spaces and line breaks are too); a base URL with
//! control characters or spaces is refused.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use crate::store::Store;
use crate::store::db::DbError;

/// The built-in first environment, whose views are the `views/` paths.
const LIBRARY: &str = "Library";

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
    #[error("base URL {0:?} holds spaces or control characters: it is not a URL")]
    BadBaseUrl(String),
    /// `--org` names no organization that has something published.
    #[error("no organization named {org} publishes anything in this store; organizations: {known}")]
    NoOrganization {
        /// The name given.
        org: String,
        /// Those that publish something.
        known: String,
    },
    /// `--env` names no environment.
    #[error("no environment named {name} in this store; environments: {known}")]
    NoEnvironment {
        /// The name given.
        name: String,
        /// Library and the store's environments, in order.
        known: String,
    },
    /// `--view` names no content view the environment holds.
    #[error("environment {env} holds no content view {view}{scope}; it holds: {known}")]
    NoView {
        /// The view given.
        view: String,
        /// The environment.
        env: String,
        /// ` of organization ORG` when `--org` was given, or nothing.
        scope: String,
        /// The views it holds.
        known: String,
    },
    /// `--env` names an environment that holds nothing.
    #[error(
        "environment {env} holds no content view{scope}: nothing is published for it; environments that hold one: {known}"
    )]
    EmptyEnvironment {
        /// The environment.
        env: String,
        /// ` of organization ORG` when `--org` was given, or nothing.
        scope: String,
        /// The environments that hold a view.
        known: String,
    },
    /// `--library` when no Library repository is published.
    #[error("no Library repository is published in this store{scope}")]
    EmptyLibrary {
        /// ` for organization ORG` when `--org` was given, or nothing.
        scope: String,
    },
    /// A `--repo` that none of the sections selected is for.
    #[error("no repository {repo} among those selected{selection}; they are: {known}")]
    NoRepository {
        /// `PRODUCT/REPO` as given.
        repo: String,
        /// The other filters, for the message (` (--env Dev)`), or nothing.
        selection: String,
        /// The repositories selected, `PRODUCT/REPO`.
        known: String,
    },
}

/// What one host should see. The default selects every published repository.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only Library repositories (`ORG/library/…`). Excludes `env` and `view`.
    pub library: bool,
    /// Only the content views this environment holds (matched ignoring ASCII case;
    /// `Library` is the Library environment, whose views are the `views/` paths).
    pub env: Option<String>,
    /// Only this content view (label), in `env`, or in Library when `env` is none.
    pub view: Option<String>,
    /// When not empty: only these `(product, repository)` labels, among what the other
    /// filters selected. Each must match something.
    pub repos: Vec<(String, String)>,
    /// Only this organization.
    pub org: Option<String>,
}

impl Filter {
    /// The filters given, as command-line options, for messages and the file's header.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.library {
            parts.push("--library".to_string());
        }
        if let Some(e) = &self.env {
            parts.push(format!("--env {}", value(e)));
        }
        if let Some(v) = &self.view {
            parts.push(format!("--view {}", value(v)));
        }
        for (p, r) in &self.repos {
            parts.push(format!("--repo {}/{}", value(p), value(r)));
        }
        if let Some(o) = &self.org {
            parts.push(format!("--org {}", value(o)));
        }
        parts.join(" ")
    }
}

/// A `--repo` argument: `PRODUCT/REPO`, two non-empty labels.
pub fn parse_repo_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('/') {
        Some((p, r)) if !p.is_empty() && !r.is_empty() && !r.contains('/') => {
            Ok((p.to_string(), r.to_string()))
        }
        _ => Err(format!(
            "{s:?} is not PRODUCT/REPO (a product label and a repository label, e.g. acme-os/baseos)"
        )),
    }
}

/// A value on one line of its own: control characters (newlines above all), Unicode's line
/// and paragraph separators and its direction-changing marks become spaces, and leading or
/// trailing space goes.
fn value(s: &str) -> String {
    s.chars()
        .map(|c| {
            let unsafe_char = c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}' | '\u{feff}'
                );
            if unsafe_char { ' ' } else { c }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A path in a URL: every byte but unreserved characters and `/` percent-encoded (so `$`,
/// which dnf would expand, and spaces are safe too).
fn url_path(p: &str) -> String {
    encode(p, b"-._~/")
}

/// One component of a URL's path: every byte but unreserved characters percent-encoded
/// (`/` too).
fn url_component(p: &str) -> String {
    encode(p, b"-._~")
}

fn encode(p: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A byte dnf accepts in a repository id.
fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-:".contains(&b)
}

/// A component of a section id: every other byte becomes `_`.
fn id_component(s: &str) -> String {
    s.bytes()
        .map(|b| if id_byte(b) { char::from(b) } else { '_' })
        .collect()
}

/// Which kind of published path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `ORG/library/PRODUCT/REPO`.
    Library,
    /// `ORG/views/VIEW/…` (`env` none: the Library environment) or `ORG/env/ENV/VIEW/…`.
    View { env: Option<String>, view: String },
}

/// A published repository (tree).
#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    org: String,
    product: String,
    repo: String,
    /// The path's components under `published/`.
    parts: Vec<String>,
}

impl Entry {
    fn rel(&self) -> String {
        self.parts.join("/")
    }
}

/// Read a publication's path; `None` for one that is not of the three forms (or has a
/// component that is empty, `.` or `..`).
fn entry(path: &str) -> Option<Entry> {
    let s: Vec<&str> = path.split('/').collect();
    if s.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
        return None;
    }
    let (kind, org, product, repo) = match s[..] {
        [org, "library", product, repo] => (Kind::Library, org, product, repo),
        [org, "views", view, product, repo] => {
            let view = view.to_string();
            (Kind::View { env: None, view }, org, product, repo)
        }
        [org, "env", env, view, product, repo] => {
            let (env, view) = (Some(env.to_string()), view.to_string());
            (Kind::View { env, view }, org, product, repo)
        }
        _ => return None,
    };
    Some(Entry {
        kind,
        org: org.to_string(),
        product: product.to_string(),
        repo: repo.to_string(),
        parts: s.iter().map(|p| p.to_string()).collect(),
    })
}

/// Items for a message: sanitized, deduplicated, in the order given; `none` for none.
fn list<I: IntoIterator<Item = String>>(items: I) -> String {
    let mut seen = HashSet::new();
    let v: Vec<String> = items
        .into_iter()
        .map(|s| value(&s))
        .filter(|s| seen.insert(s.clone()))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The `.repo` text for every published repository. Base URLs are `file://` paths of the
/// published trees, or `base_url` followed by the path under `published/` (for a web
/// server that serves that directory).
pub fn repofile(store: &Store, base_url: Option<&str>) -> Result<String, RepofileError> {
    repofile_for(store, base_url, &Filter::default())
}

/// The `.repo` text for what `filter` selects; see [`repofile`] for the URLs.
pub fn repofile_for(
    store: &Store,
    base_url: Option<&str>,
    filter: &Filter,
) -> Result<String, RepofileError> {
    if let Some(b) = base_url
        && b.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(RepofileError::BadBaseUrl(b.to_string()));
    }
    let c = &store.db.conn;

    // What the database says, read once.
    let environments: Vec<String> = c
        .prepare("SELECT name FROM environments ORDER BY position, name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let position = |env: &Option<String>| -> usize {
        match env {
            None => 0,
            Some(e) => environments
                .iter()
                .position(|n| n.eq_ignore_ascii_case(e))
                .map_or(usize::MAX, |i| i + 1),
        }
    };
    let mut products: HashMap<(String, String), (String, Option<String>)> = HashMap::new();
    for row in c
        .prepare("SELECT organization, label, name, gpg_key_name FROM products")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
    {
        let (org, label, name, key): (String, String, String, Option<String>) = row?;
        products.insert((org, label), (name, key));
    }
    let mut repo_names: HashMap<(String, String, String), String> = HashMap::new();
    for row in c
        .prepare("SELECT organization, product, label, name FROM repositories")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
    {
        let (org, product, label, name): (String, String, String, String) = row?;
        repo_names.insert((org, product, label), name);
    }
    // (org, view) → [(version, name)].
    let mut view_versions: HashMap<(String, String), Vec<(String, String)>> = HashMap::new();
    for row in c
        .prepare("SELECT organization, label, version, name FROM view_versions")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
    {
        let (org, label, version, name): (String, String, String, String) = row?;
        view_versions
            .entry((org, label))
            .or_default()
            .push((version, name));
    }
    for vs in view_versions.values_mut() {
        vs.sort_by(|a, b| crate::import::version_cmp(&a.0, &b.0));
    }
    // (org, environment in ASCII lower case, view) → version.
    let mut held: HashMap<(String, String, String), String> = HashMap::new();
    for row in c
        .prepare("SELECT organization, environment, view, version FROM environment_views")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
    {
        let (org, env, view, version): (String, String, String, String) = row?;
        held.insert((org, env.to_ascii_lowercase(), view), version);
    }
    let paths: Vec<String> = c
        .prepare("SELECT path FROM publications ORDER BY path")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let unreadable = paths.iter().filter(|p| entry(p).is_none()).count();
    let mut entries: Vec<Entry> = paths.iter().filter_map(|p| entry(p)).collect();
    // Library repositories, then views by environment on the path; environments a
    // publication names that the table lacks come last.
    entries.sort_by_cached_key(|e| {
        let (rank, env, view) = match &e.kind {
            Kind::Library => (0, (0, String::new()), String::new()),
            Kind::View { env, view } => {
                let lower = env.as_deref().map(str::to_ascii_lowercase);
                (1, (position(env), lower.unwrap_or_default()), view.clone())
            }
        };
        (
            rank,
            env,
            e.org.clone(),
            view,
            e.product.clone(),
            e.repo.clone(),
        )
    });

    let entries = select(entries, filter, &environments)?;

    let root = std::fs::canonicalize(&store.root).unwrap_or_else(|_| store.root.clone());
    let published = store.root.join("published");
    let base = match base_url {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => format!(
            "file://{}",
            url_path(&root.join("published").to_string_lossy())
        ),
    };
    let url = |parts: &[&str]| {
        let mut u = base.clone();
        for p in parts {
            u.push('/');
            u.push_str(&url_component(p));
        }
        u
    };

    let mut out =
        String::from("# Written by ferry repofile. One section per published repository.\n");
    let what = filter.describe();
    if !what.is_empty() {
        let _ = writeln!(out, "# Selected with: {what}");
    }
    if unreadable > 0 {
        let _ = writeln!(
            out,
            "# Left out: {unreadable} published path(s) of no form ferry knows (ORG/library/…, ORG/views/…, ORG/env/…)."
        );
    }
    let mut ids: HashSet<String> = HashSet::new();
    for e in &entries {
        let rel = e.rel();
        let parts: Vec<&str> = e.parts.iter().map(String::as_str).collect();
        let (pname, key) = match products.get(&(e.org.clone(), e.product.clone())) {
            Some((n, k)) => (n.clone(), k.clone()),
            None => (e.product.clone(), None),
        };
        let rname = repo_names
            .get(&(e.org.clone(), e.product.clone(), e.repo.clone()))
            .cloned()
            .unwrap_or_else(|| e.repo.clone());
        let mut id_parts: Vec<&str> = vec![&e.org];
        let context = match &e.kind {
            Kind::Library => format!("Library, {}", e.org),
            Kind::View { env, view } => {
                if let Some(env) = env {
                    id_parts.push(env);
                }
                id_parts.push(view);
                let versions = view_versions.get(&(e.org.clone(), view.clone()));
                let version = match env {
                    None => versions.and_then(|v| v.last()).map(|v| v.0.clone()),
                    Some(env) => held
                        .get(&(e.org.clone(), env.to_ascii_lowercase(), view.clone()))
                        .cloned(),
                };
                let vname = versions
                    .and_then(|vs| {
                        vs.iter()
                            .rev()
                            .find(|v| Some(&v.0) == version.as_ref())
                            .or(vs.last())
                    })
                    .map_or_else(|| view.clone(), |v| v.1.clone());
                format!(
                    "{vname}{}, {}, {}",
                    version.map(|v| format!(" {v}")).unwrap_or_default(),
                    env.as_deref().unwrap_or(LIBRARY),
                    e.org
                )
            }
        };
        id_parts.push(&e.product);
        id_parts.push(&e.repo);
        // A key name that is no file name in the tree is no key.
        let key = key.filter(|k| !k.is_empty() && k != "." && k != "..");
        for sub in repositories_of(&published.join(&rel)) {
            let mut idp = id_parts.clone();
            let mut at = parts.clone();
            let mut variant = String::new();
            if !sub.is_empty() {
                idp.push(&sub);
                at.push(&sub);
                variant = format!(" {sub}");
            }
            let base_id = idp
                .iter()
                .map(|p| id_component(p))
                .collect::<Vec<_>>()
                .join("_");
            let mut id = base_id.clone();
            let mut n = 2;
            while ids.contains(&id) {
                id = format!("{base_id}-{n}");
                n += 1;
            }
            ids.insert(id.clone());
            debug_assert!(!id.is_empty() && id.bytes().all(id_byte));
            let _ = writeln!(
                out,
                "\n[{id}]\nname={}\nbaseurl={}\nenabled=1",
                value(&format!("{pname} - {rname}{variant} ({context})")),
                url(&at)
            );
            match &key {
                Some(k) => {
                    let _ = writeln!(
                        out,
                        "gpgcheck=1\ngpgkey={}/{}",
                        url(&parts),
                        url_component(k)
                    );
                    // The upstream signature of the metadata came along, and pack checked
                    // it with this key: dnf can check it too.
                    if published
                        .join(at.join("/"))
                        .join("repodata/repomd.xml.asc")
                        .is_file()
                    {
                        let _ = writeln!(out, "repo_gpgcheck=1");
                    }
                }
                None => {
                    let _ = writeln!(
                        out,
                        "# gpgcheck=0: product {} has no GPG key in the bundle, so dnf cannot check its packages\ngpgcheck=0",
                        value(&pname)
                    );
                }
            }
        }
    }
    Ok(out)
}

/// Apply `filter`, or say why it selects nothing.
fn select(
    mut entries: Vec<Entry>,
    filter: &Filter,
    environments: &[String],
) -> Result<Vec<Entry>, RepofileError> {
    let scope_of = |f: &str| {
        filter
            .org
            .as_ref()
            .map(|o| format!(" {f} organization {}", value(o)))
            .unwrap_or_default()
    };
    if let Some(org) = &filter.org {
        if !entries.iter().any(|e| &e.org == org) {
            let orgs: BTreeSet<String> = entries.iter().map(|e| e.org.clone()).collect();
            return Err(RepofileError::NoOrganization {
                org: value(org),
                known: list(orgs),
            });
        }
        entries.retain(|e| &e.org == org);
    }
    if filter.library {
        entries.retain(|e| e.kind == Kind::Library);
        if entries.is_empty() {
            return Err(RepofileError::EmptyLibrary {
                scope: scope_of("for"),
            });
        }
    } else if filter.env.is_some() || filter.view.is_some() {
        let lib = LIBRARY;
        // None: Library; Some: the environment's name as the store spells it.
        let env: Option<String> = match &filter.env {
            None => None,
            Some(e) if e.eq_ignore_ascii_case(lib) => None,
            Some(e) => match environments.iter().find(|n| n.eq_ignore_ascii_case(e)) {
                Some(n) => Some(n.clone()),
                None => {
                    return Err(RepofileError::NoEnvironment {
                        name: value(e),
                        known: list(
                            std::iter::once(lib.to_string()).chain(environments.iter().cloned()),
                        ),
                    });
                }
            },
        };
        let env_name = env.clone().unwrap_or_else(|| lib.to_string());
        let in_env = |k: &Kind| match (k, &env) {
            (Kind::View { env: None, .. }, None) => true,
            (Kind::View { env: Some(a), .. }, Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        let holding: Vec<Entry> = entries
            .iter()
            .filter(|e| in_env(&e.kind))
            .cloned()
            .collect();
        if let Some(view) = &filter.view {
            let views: BTreeSet<String> = holding
                .iter()
                .filter_map(|e| match &e.kind {
                    Kind::View { view, .. } => Some(view.clone()),
                    Kind::Library => None,
                })
                .collect();
            if !views.contains(view) {
                return Err(RepofileError::NoView {
                    view: value(view),
                    env: value(&env_name),
                    scope: scope_of("of"),
                    known: list(views),
                });
            }
            entries = holding
                .into_iter()
                .filter(|e| matches!(&e.kind, Kind::View { view: v, .. } if v == view))
                .collect();
        } else if holding.is_empty() {
            let mut known: BTreeMap<usize, String> = BTreeMap::new();
            for e in &entries {
                if let Kind::View { env, .. } = &e.kind {
                    let (pos, name) = match env {
                        None => (0, lib.to_string()),
                        Some(n) => (
                            environments
                                .iter()
                                .position(|x| x.eq_ignore_ascii_case(n))
                                .map_or(usize::MAX, |i| i + 1),
                            n.clone(),
                        ),
                    };
                    known.entry(pos).or_insert(name);
                }
            }
            return Err(RepofileError::EmptyEnvironment {
                env: value(&env_name),
                scope: scope_of("of"),
                known: list(known.into_values()),
            });
        } else {
            entries = holding;
        }
    }
    if !filter.repos.is_empty() {
        for (p, r) in &filter.repos {
            if !entries.iter().any(|e| &e.product == p && &e.repo == r) {
                let others = Filter {
                    repos: Vec::new(),
                    ..filter.clone()
                }
                .describe();
                return Err(RepofileError::NoRepository {
                    repo: format!("{}/{}", value(p), value(r)),
                    selection: if others.is_empty() {
                        String::new()
                    } else {
                        format!(" ({others})")
                    },
                    known: list(
                        entries
                            .iter()
                            .map(|e| format!("{}/{}", e.product, e.repo))
                            .collect::<BTreeSet<_>>(),
                    ),
                });
            }
        }
        entries.retain(|e| {
            filter
                .repos
                .iter()
                .any(|(p, r)| &e.product == p && &e.repo == r)
        });
    }
    Ok(entries)
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
                    && r != "."
                    && r != ".."
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
    use crate::store::{Access, Store};
    use rusqlite::params;

    const KEYS: [&str; 6] = [
        "name",
        "baseurl",
        "enabled",
        "gpgcheck",
        "gpgkey",
        "repo_gpgcheck",
    ];

    /// A view name made to open a section of its own.
    const EVIL_VIEW_NAME: &str = "Web\n[evil]\nbaseurl=http://x";

    /// Publish `path`: the row and a yum repository at it.
    fn publish(s: &Store, path: &str) {
        s.db.conn
            .execute(
                "INSERT INTO publications(path, tree) VALUES(?1, 'tree')",
                params![path],
            )
            .unwrap();
        let repodata = s.root.join("published").join(path).join("repodata");
        std::fs::create_dir_all(&repodata).unwrap();
        std::fs::write(repodata.join("repomd.xml"), "").unwrap();
    }

    fn product(s: &Store, org: &str, label: &str, name: &str, key: Option<&str>) {
        s.db.conn
            .execute(
                "INSERT INTO products(organization, label, name, gpg_key_name, bundle)
                 VALUES(?1, ?2, ?3, ?4, 'b')",
                params![org, label, name, key],
            )
            .unwrap();
    }

    fn repository(s: &Store, org: &str, product: &str, label: &str, name: &str) {
        s.db.conn
            .execute(
                "INSERT INTO repositories(organization, product, label, name, arch)
                 VALUES(?1, ?2, ?3, ?4, NULL)",
                params![org, product, label, name],
            )
            .unwrap();
        publish(s, &format!("{org}/library/{product}/{label}"));
    }

    fn view_version(s: &Store, org: &str, label: &str, version: &str, name: &str) {
        s.db.conn
            .execute(
                "INSERT INTO view_versions(organization, label, version, name, bundle, imported, seq)
                 VALUES(?1, ?2, ?3, ?4, 'b', 'now', 1)",
                params![org, label, version, name],
            )
            .unwrap();
    }

    fn environment(s: &Store, name: &str, position: i64) {
        s.db.conn
            .execute(
                "INSERT INTO environments(name, position, created) VALUES(?1, ?2, 'now')",
                params![name, position],
            )
            .unwrap();
    }

    fn holds(s: &Store, org: &str, env: &str, view: &str, version: &str) {
        s.db.conn
            .execute(
                "INSERT INTO environment_views(organization, environment, view, version, promoted)
                 VALUES(?1, ?2, ?3, ?4, 'now')",
                params![org, env, view, version],
            )
            .unwrap();
    }

    /// The publications of [`store`].
    const PUBLISHED: usize = 14;

    /// A store with Library repositories, a content view in Library, Dev and Prod, and
    /// hostile labels and names.
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), Access::Create { wait: false }, &|_| {}).unwrap();
        // Library: 3.
        product(&s, "acme", "acme-os", "ACME OS", Some("RPM-GPG-KEY-acme"));
        product(&s, "acme", "tools", "Tools", None);
        repository(&s, "acme", "acme-os", "baseos", "BaseOS");
        repository(&s, "acme", "acme-os", "appstream", "AppStream");
        repository(&s, "acme", "tools", "el9", "Tools for EL9");
        // The content view: in Library (newest, 2.0) 2, in Dev (1.0) 2, in Prod (1.0) 1.
        view_version(&s, "acme", "web", "1.0", "Web");
        view_version(&s, "acme", "web", "2.0", EVIL_VIEW_NAME);
        environment(&s, "Dev", 1);
        environment(&s, "Prod", 2);
        environment(&s, "QA", 3);
        holds(&s, "acme", "Dev", "web", "1.0");
        holds(&s, "acme", "prod", "web", "1.0");
        publish(&s, "acme/views/web/acme-os/baseos");
        publish(&s, "acme/views/web/tools/el9");
        publish(&s, "acme/env/Dev/web/acme-os/baseos");
        publish(&s, "acme/env/Dev/web/tools/el9");
        publish(&s, "acme/env/Prod/web/acme-os/baseos");
        // Hostile: 2 (a product label with a newline, a repository label with `]`, names
        // that try to open sections, a key name that tries to leave the tree).
        product(&s, "evil", "p\nq", "P]\n[x]", Some("../k\n[z]"));
        repository(
            &s,
            "evil",
            "p\nq",
            "r]",
            "R\r\nbaseurl=file:///etc\u{2028}[y]",
        );
        view_version(&s, "evil", "v]\n[w", "1", "V\u{85}[u]");
        publish(&s, "evil/views/v]\n[w/p\nq/r]");
        // Ids that collide: `a_b_c_d` three times over, and a natural `a_b_c_d-2`.
        product(&s, "a", "b_c", "BC", None);
        product(&s, "a_b", "c", "C", None);
        repository(&s, "a", "b_c", "d", "D");
        repository(&s, "a_b", "c", "d", "D");
        repository(&s, "a_b", "c", "d-2", "D2");
        repository(&s, "a_b", "c", "d?", "D?");
        (dir, s)
    }

    /// Check the INI shape of `text`: every line empty, a comment, a `[id]` with a dnf id,
    /// or `key=value` with a known key inside a section; a `gpgcheck=0` right under a
    /// comment. Returns the ids, in order.
    fn sections(text: &str) -> Vec<String> {
        assert!(
            !text.contains('\r') && !text.contains('\u{2028}') && !text.contains('\u{85}'),
            "{text}"
        );
        let mut ids: Vec<String> = Vec::new();
        let mut previous = "";
        for line in text.split('\n') {
            if line.is_empty() || line.starts_with('#') {
            } else if let Some(id) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                assert!(!id.is_empty() && id.bytes().all(id_byte), "{line:?}");
                assert!(!ids.contains(&id.to_string()), "{id} twice:\n{text}");
                ids.push(id.to_string());
            } else {
                let (k, _) = line.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
                assert!(KEYS.contains(&k), "{line:?} in\n{text}");
                assert!(!ids.is_empty(), "{line:?} before any section");
                if line == "gpgcheck=0" {
                    assert!(previous.starts_with("# gpgcheck=0: "), "{previous:?}");
                }
            }
            previous = line;
        }
        // Each section: one name, baseurl, enabled, gpgcheck.
        for s in text.split("\n[").skip(1) {
            for k in ["name=", "baseurl=", "enabled=1", "gpgcheck="] {
                let n = s.lines().filter(|l| l.starts_with(k)).count();
                assert_eq!(n, 1, "{k} in [{s}");
            }
        }
        ids
    }

    fn run(s: &Store, f: Filter) -> Result<Vec<String>, RepofileError> {
        let text = repofile_for(s, Some("https://mirror.example/ferry/"), &f)?;
        Ok(sections(&text))
    }

    fn section<'a>(text: &'a str, id: &str) -> &'a str {
        let start = text
            .find(&format!("[{id}]\n"))
            .unwrap_or_else(|| panic!("{id}"));
        let rest = &text[start..];
        &rest[..rest[1..].find("\n[").map_or(rest.len(), |i| i + 1)]
    }

    #[test]
    fn every_publication_gets_one_safe_section() {
        let (_d, s) = store();
        for base in [None, Some("https://mirror.example/ferry")] {
            let text = repofile_for(&s, base, &Filter::default()).unwrap();
            let ids = sections(&text);
            assert_eq!(ids.len(), PUBLISHED, "{text}");
            assert_eq!(
                ids,
                [
                    "a_b_c_d",
                    "a_b_c_d-2",
                    "a_b_c_d-2-2",
                    "a_b_c_d_",
                    "acme_acme-os_appstream",
                    "acme_acme-os_baseos",
                    "acme_tools_el9",
                    "evil_p_q_r_",
                    "acme_web_acme-os_baseos",
                    "acme_web_tools_el9",
                    "evil_v___w_p_q_r_",
                    "acme_Dev_web_acme-os_baseos",
                    "acme_Dev_web_tools_el9",
                    "acme_Prod_web_acme-os_baseos",
                ][..],
                "{text}"
            );
            // Every base URL is under the base, every path component encoded.
            for l in text.lines().filter(|l| l.starts_with("baseurl=")) {
                let url = &l["baseurl=".len()..];
                assert!(url.starts_with(base.unwrap_or("file:///")), "{l}");
                assert!(!url.contains(['[', ']', '$', ' ', '?']), "{l}");
            }
        }
    }

    #[test]
    fn hostile_values_stay_inside_their_values() {
        let (_d, s) = store();
        let text = repofile_for(&s, Some("https://m.example/f"), &Filter::default()).unwrap();
        let evil = section(&text, "evil_p_q_r_");
        assert!(
            evil.contains("\nname=P] [x] - R  baseurl=file:///etc [y] (Library, evil)\n"),
            "{evil}"
        );
        assert!(
            evil.contains("\nbaseurl=https://m.example/f/evil/library/p%0Aq/r%5D\n"),
            "{evil}"
        );
        // The key's name is one component: `/` encoded, no way out of the tree.
        assert!(
            evil.contains(
                "\ngpgkey=https://m.example/f/evil/library/p%0Aq/r%5D/..%2Fk%0A%5Bz%5D\n"
            ),
            "{evil}"
        );
        let view = section(&text, "evil_v___w_p_q_r_");
        assert!(
            view.contains("\nbaseurl=https://m.example/f/evil/views/v%5D%0A%5Bw/p%0Aq/r%5D\n"),
            "{view}"
        );
        assert!(
            view.contains("\nname=P] [x] - R  baseurl=file:///etc [y] (V [u] 1, Library, evil)\n"),
            "{view}"
        );
        let web = section(&text, "acme_web_acme-os_baseos");
        assert!(
            web.contains(
                "\nname=ACME OS - BaseOS (Web [evil] baseurl=http://x 2.0, Library, acme)\n"
            ),
            "{web}"
        );
        assert!(
            !text.contains("\n[evil]") && !text.contains("\n[x]"),
            "{text}"
        );
    }

    #[test]
    fn names_keys_and_gpgcheck() {
        let (_d, s) = store();
        std::fs::write(
            s.root
                .join("published/acme/env/Dev/web/acme-os/baseos/repodata/repomd.xml.asc"),
            "",
        )
        .unwrap();
        let text = repofile_for(&s, Some("https://m.example/f"), &Filter::default()).unwrap();
        assert_eq!(
            section(&text, "acme_acme-os_baseos"),
            "[acme_acme-os_baseos]\nname=ACME OS - BaseOS (Library, acme)\n\
             baseurl=https://m.example/f/acme/library/acme-os/baseos\nenabled=1\ngpgcheck=1\n\
             gpgkey=https://m.example/f/acme/library/acme-os/baseos/RPM-GPG-KEY-acme\n"
        );
        assert_eq!(
            section(&text, "acme_Dev_web_acme-os_baseos"),
            "[acme_Dev_web_acme-os_baseos]\nname=ACME OS - BaseOS (Web 1.0, Dev, acme)\n\
             baseurl=https://m.example/f/acme/env/Dev/web/acme-os/baseos\nenabled=1\ngpgcheck=1\n\
             gpgkey=https://m.example/f/acme/env/Dev/web/acme-os/baseos/RPM-GPG-KEY-acme\n\
             repo_gpgcheck=1\n"
        );
        assert_eq!(
            section(&text, "acme_tools_el9"),
            "[acme_tools_el9]\nname=Tools - Tools for EL9 (Library, acme)\n\
             baseurl=https://m.example/f/acme/library/tools/el9\nenabled=1\n\
             # gpgcheck=0: product Tools has no GPG key in the bundle, so dnf cannot check its packages\n\
             gpgcheck=0\n"
        );
    }

    #[test]
    fn library_selects_library_repositories() {
        let (_d, s) = store();
        let ids = run(
            &s,
            Filter {
                library: true,
                org: Some("acme".into()),
                ..Filter::default()
            },
        )
        .unwrap();
        assert_eq!(
            ids,
            [
                "acme_acme-os_appstream",
                "acme_acme-os_baseos",
                "acme_tools_el9"
            ]
        );
        let all = run(
            &s,
            Filter {
                library: true,
                ..Filter::default()
            },
        )
        .unwrap();
        assert_eq!(all.len(), 8, "{all:?}");
    }

    #[test]
    fn env_and_view_select_what_the_environment_holds() {
        let (_d, s) = store();
        let env = |e: Option<&str>, v: Option<&str>| {
            run(
                &s,
                Filter {
                    env: e.map(Into::into),
                    view: v.map(Into::into),
                    ..Filter::default()
                },
            )
            .unwrap()
        };
        assert_eq!(
            env(Some("dev"), None),
            ["acme_Dev_web_acme-os_baseos", "acme_Dev_web_tools_el9"]
        );
        assert_eq!(
            env(Some("PROD"), Some("web")),
            ["acme_Prod_web_acme-os_baseos"]
        );
        let library = [
            "acme_web_acme-os_baseos",
            "acme_web_tools_el9",
            "evil_v___w_p_q_r_",
        ];
        assert_eq!(env(Some("library"), None), library);
        assert_eq!(env(None, Some("web")), library[..2]);
        assert_eq!(env(Some("Library"), Some("web")), library[..2]);
    }

    #[test]
    fn repo_and_org_narrow_the_selection() {
        let (_d, s) = store();
        let ids = run(
            &s,
            Filter {
                repos: vec![("acme-os".into(), "baseos".into())],
                ..Filter::default()
            },
        )
        .unwrap();
        assert_eq!(
            ids,
            [
                "acme_acme-os_baseos",
                "acme_web_acme-os_baseos",
                "acme_Dev_web_acme-os_baseos",
                "acme_Prod_web_acme-os_baseos"
            ]
        );
        let ids = run(
            &s,
            Filter {
                env: Some("Dev".into()),
                repos: vec![
                    ("tools".into(), "el9".into()),
                    ("acme-os".into(), "baseos".into()),
                ],
                org: Some("acme".into()),
                ..Filter::default()
            },
        )
        .unwrap();
        assert_eq!(
            ids,
            ["acme_Dev_web_acme-os_baseos", "acme_Dev_web_tools_el9"]
        );
        let ids = run(
            &s,
            Filter {
                org: Some("a_b".into()),
                ..Filter::default()
            },
        )
        .unwrap();
        assert_eq!(ids, ["a_b_c_d", "a_b_c_d-2", "a_b_c_d_"]);
    }

    #[test]
    fn filters_that_match_nothing_say_what_there_is() {
        let (_d, s) = store();
        let err = |f: Filter| repofile_for(&s, None, &f).unwrap_err();
        let e = err(Filter {
            env: Some("Staging".into()),
            ..Filter::default()
        });
        assert!(matches!(e, RepofileError::NoEnvironment { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "no environment named Staging in this store; environments: Library, Dev, Prod, QA"
        );
        let e = err(Filter {
            env: Some("qa".into()),
            ..Filter::default()
        });
        assert!(matches!(e, RepofileError::EmptyEnvironment { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("environment QA holds no content view"),
            "{e}"
        );
        assert!(
            e.to_string().ends_with("hold one: Library, Dev, Prod"),
            "{e}"
        );
        let e = err(Filter {
            env: Some("Prod".into()),
            view: Some("db".into()),
            ..Filter::default()
        });
        assert!(matches!(e, RepofileError::NoView { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "environment Prod holds no content view db; it holds: web"
        );
        let e = err(Filter {
            env: Some("Prod".into()),
            repos: vec![("tools".into(), "el9".into())],
            ..Filter::default()
        });
        assert!(matches!(e, RepofileError::NoRepository { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "no repository tools/el9 among those selected (--env Prod); they are: acme-os/baseos"
        );
        let e = err(Filter {
            org: Some("Acme".into()),
            ..Filter::default()
        });
        assert!(matches!(e, RepofileError::NoOrganization { .. }), "{e:?}");
        assert!(
            e.to_string().contains("organizations: a, a_b, acme, evil"),
            "{e}"
        );
        let empty = tempfile::tempdir().unwrap();
        let empty = Store::open(empty.path(), Access::Create { wait: false }, &|_| {}).unwrap();
        assert_eq!(
            run(&empty, Filter::default()).unwrap(),
            Vec::<String>::new()
        );
        let e = repofile_for(
            &empty,
            None,
            &Filter {
                library: true,
                ..Filter::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, RepofileError::EmptyLibrary { .. }), "{e:?}");
        let e = err(Filter {
            env: Some("Dev\n[x]".into()),
            ..Filter::default()
        });
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn kickstart_variants_get_a_section_each() {
        let (_d, s) = store();
        s.db.conn
            .execute(
                "INSERT INTO publications(path, tree) VALUES('acme/library/acme-os/kickstart', 't')",
                [],
            )
            .unwrap();
        let tree = s.root.join("published/acme/library/acme-os/kickstart");
        for v in ["BaseOS", "AppStream"] {
            std::fs::create_dir_all(tree.join(v).join("repodata")).unwrap();
            std::fs::write(tree.join(v).join("repodata/repomd.xml"), "").unwrap();
        }
        std::fs::write(
            tree.join(".treeinfo"),
            "[variant-BaseOS]\nrepository = BaseOS\n[variant-AppStream]\nrepository = AppStream\n",
        )
        .unwrap();
        let text = repofile_for(
            &s,
            None,
            &Filter {
                library: true,
                repos: vec![("acme-os".into(), "kickstart".into())],
                ..Filter::default()
            },
        )
        .unwrap();
        assert_eq!(
            sections(&text),
            [
                "acme_acme-os_kickstart_BaseOS",
                "acme_acme-os_kickstart_AppStream"
            ]
        );
        let base = section(&text, "acme_acme-os_kickstart_BaseOS");
        assert!(
            base.contains("name=ACME OS - kickstart BaseOS (Library, acme)\n"),
            "{base}"
        );
        assert!(
            base.contains("/acme/library/acme-os/kickstart/BaseOS\n"),
            "{base}"
        );
        assert!(
            base.contains("/acme/library/acme-os/kickstart/RPM-GPG-KEY-acme\n"),
            "{base}"
        );
    }

    #[test]
    fn a_base_url_with_a_line_break_is_refused() {
        let (_d, s) = store();
        for b in ["http://x/\n[y]", "http://x/ y"] {
            assert!(matches!(
                repofile(&s, Some(b)),
                Err(RepofileError::BadBaseUrl(_))
            ));
        }
    }

    #[test]
    fn repo_arguments_are_product_slash_repo() {
        assert_eq!(
            parse_repo_arg("acme-os/baseos"),
            Ok(("acme-os".into(), "baseos".into()))
        );
        for bad in ["baseos", "/baseos", "acme-os/", "a/b/c"] {
            assert!(parse_repo_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_stay_on_their_line_and_urls_are_encoded() {
        assert_eq!(
            value("ACME OS\n[evil]\nbaseurl=http://x"),
            "ACME OS [evil] baseurl=http://x"
        );
        assert_eq!(value(" a\tb\r "), "a b");
        assert_eq!(value("a\u{2028}b\u{2029}c\u{85}d\u{202e}e"), "a b c d e");
        assert_eq!(
            url_path("/srv/my store/$basearch/a+b"),
            "/srv/my%20store/%24basearch/a%2Bb"
        );
        assert_eq!(url_path("acme/library/os/base"), "acme/library/os/base");
        assert_eq!(url_component("a/b[c]%\n"), "a%2Fb%5Bc%5D%25%0A");
        assert_eq!(id_component("a]b\nc:d.e-f_g é"), "a_b_c:d.e-f_g___");
    }
}
