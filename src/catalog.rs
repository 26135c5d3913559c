//! The operator's catalog file (`catalog.toml`): organization, products with their yum
//! repositories, and content-view versions. Every error names the file, line and column.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::format::constants::MAX_NAME;
use crate::format::manifest::is_label;

/// A checked catalog. Paths are resolved against the catalog file's directory.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Organization label.
    pub organization: String,
    /// Products in file order.
    pub products: Vec<Product>,
    /// Content-view versions in file order.
    pub content_views: Vec<ContentView>,
}

/// A product.
#[derive(Debug, Clone)]
pub struct Product {
    /// Label.
    pub label: String,
    /// Display name.
    pub name: String,
    /// GPG key file, if any.
    pub gpg_key: Option<PathBuf>,
    /// Repositories in file order.
    pub repositories: Vec<Repository>,
}

/// A Library repository.
#[derive(Debug, Clone)]
pub struct Repository {
    /// Label.
    pub label: String,
    /// Display name.
    pub name: String,
    /// Where its content is.
    pub source: Source,
    /// Architecture, if given.
    pub arch: Option<String>,
}

/// Where a repository's content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory holding `repodata/repomd.xml`.
    Dir(PathBuf),
    /// A URL whose `repodata/repomd.xml` names the content; `pack` fetches it.
    Url(Remote),
    /// A URL source already fetched into this directory of the cache.
    Mirror {
        /// The cache's copy.
        dir: PathBuf,
        /// Where it came from.
        url: url::Url,
    },
}

impl Source {
    /// The directory, for a local source.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            Source::Dir(p) | Source::Mirror { dir: p, .. } => Some(p),
            Source::Url(_) => None,
        }
    }

    /// How to name it to the operator: the directory or the URL.
    pub fn display(&self) -> String {
        match self {
            Source::Dir(p) => p.display().to_string(),
            Source::Url(Remote { url, .. }) | Source::Mirror { url, .. } => url.to_string(),
        }
    }
}

/// A repository served over HTTP(S), with yum's options for reaching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The repository's base URL (http or https, ending in `/`, no query, no credentials).
    pub url: url::Url,
    /// Certificates, verification and credentials.
    pub access: Access,
}

/// yum's options for reaching a repository: `sslcacert`, `sslclientcert`, `sslclientkey`,
/// `sslverify`, `username` and a password from a file or the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// CA certificates (PEM) trusted for the server, beside the system's.
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM).
    pub client_cert: Option<PathBuf>,
    /// Client key (PEM).
    pub client_key: Option<PathBuf>,
    /// Check the server's certificate (default true).
    pub verify: bool,
    /// HTTP Basic user name.
    pub username: Option<String>,
    /// Where the password is.
    pub password: Option<Password>,
}

/// Where a password is: never in the catalog itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// The first line of this file.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// A content-view version.
#[derive(Debug, Clone)]
pub struct ContentView {
    /// Label.
    pub label: String,
    /// Display name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `(product/repository, own snapshot if it has one)`, in file order. A snapshot URL
    /// is reached with the options of the Library repository it is a snapshot of.
    pub repositories: Vec<(String, Option<Source>)>,
}

/// One problem in a catalog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Everything wrong with a catalog file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogError {
    /// The catalog file.
    pub file: PathBuf,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}:",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            match (p.line, p.column) {
                (Some(l), Some(c)) => {
                    write!(f, "\n  {}:{l}:{c}: {}", self.file.display(), p.message)?
                }
                _ => write!(f, "\n  {}: {}", self.file.display(), p.message)?,
            }
        }
        Ok(())
    }
}

// The keys each table may have: `parse` reports every other key, with its place, before
// deserializing (serde's `deny_unknown_fields` stops at the first). Keep these lists and the
// `Raw*` structs below in step; `deny_unknown_fields` stays as a backstop.
const TOP_KEYS: &[&str] = &["organization", "product", "content_view"];
const PRODUCT_KEYS: &[&str] = &["label", "name", "gpg_key", "repository"];
const REPO_KEYS: &[&str] = &[
    "label",
    "name",
    "path",
    "url",
    "arch",
    "sslcacert",
    "sslclientcert",
    "sslclientkey",
    "sslverify",
    "username",
    "password_file",
    "password_env",
];
const VIEW_KEYS: &[&str] = &["label", "name", "version", "repositories", "snapshots"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    organization: Spanned<String>,
    #[serde(default)]
    product: Vec<RawProduct>,
    #[serde(default)]
    content_view: Vec<RawView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    label: Spanned<String>,
    name: Spanned<String>,
    gpg_key: Option<Spanned<String>>,
    #[serde(default)]
    repository: Vec<RawRepo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    label: Spanned<String>,
    name: Spanned<String>,
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    arch: Option<Spanned<String>>,
    sslcacert: Option<Spanned<String>>,
    sslclientcert: Option<Spanned<String>>,
    sslclientkey: Option<Spanned<String>>,
    sslverify: Option<bool>,
    username: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    label: Spanned<String>,
    name: Spanned<String>,
    version: Spanned<String>,
    repositories: Vec<Spanned<String>>,
    #[serde(default)]
    snapshots: HashMap<String, Spanned<String>>,
}

struct Ctx<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn at(&mut self, span: std::ops::Range<usize>, message: String) {
        let (line, column) = line_col(self.text, span.start);
        self.problems.push(Problem {
            line: Some(line),
            column: Some(column),
            message,
        });
    }

    fn label<T: AsRef<str>>(&mut self, s: &Spanned<T>, what: &str) {
        if !is_label(s.get_ref().as_ref()) {
            self.at(
                s.span(),
                format!(
                    "{what} {:?} must be 1-128 characters from A-Z a-z 0-9 . _ - and not start with '.'",
                    s.get_ref().as_ref()
                ),
            );
        }
    }

    /// A display name: it ends up in manifests and in dnf `.repo` files, so no control
    /// characters (Unicode Cc: newlines, tabs, escapes, …) and at most [`MAX_NAME`] bytes.
    fn name(&mut self, s: &Spanned<String>, what: &str) {
        let n = s.get_ref();
        if n.len() > MAX_NAME {
            self.at(
                s.span(),
                format!(
                    "{what} is {} bytes long; at most {MAX_NAME} are allowed",
                    n.len()
                ),
            );
        } else if let Some(c) = n.chars().find(|c| c.is_control()) {
            self.at(
                s.span(),
                format!(
                    "{what} {n:?} contains the control character U+{:04X}; names are written to manifests and dnf .repo files and must be one line of printable text",
                    u32::from(c)
                ),
            );
        }
    }

    /// The problems in file order; those without a place last.
    fn sorted(mut self) -> Vec<Problem> {
        self.problems
            .sort_by_key(|p| (p.line.is_none(), p.line, p.column));
        self.problems
    }

    /// A TOML syntax or type error.
    fn toml(&mut self, e: &toml::de::Error) {
        let (line, column) = match e.span() {
            Some(s) => {
                let (l, c) = line_col(self.text, s.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        self.problems.push(Problem {
            line,
            column,
            message: e.message().to_string(),
        });
    }

    /// Report every key of `table` not in `known`, and remove it so that deserializing
    /// the rest can go on and find the other problems.
    fn strip_unknown(&mut self, table: &mut DeTable<'_>, what: &str, known: &[&str]) {
        let mut unknown: Vec<(std::ops::Range<usize>, String)> = table
            .iter()
            .filter(|(k, _)| !known.contains(&k.get_ref().as_ref()))
            .map(|(k, _)| (k.span(), k.get_ref().to_string()))
            .collect();
        unknown.sort_by_key(|(span, _)| span.start);
        for (span, key) in unknown {
            self.at(
                span,
                format!(
                    "unknown key {key:?} in {what} (expected one of: {})",
                    known.join(", ")
                ),
            );
            table.remove(key.as_str());
        }
    }

    /// Report and remove the unknown keys of every table of the catalog.
    fn strip_all_unknown(&mut self, doc: &mut DeTable<'_>) {
        self.strip_unknown(doc, "the top level", TOP_KEYS);
        for p in tables_mut(doc, "product") {
            self.strip_unknown(p, "a [[product]]", PRODUCT_KEYS);
            for r in tables_mut(p, "repository") {
                self.strip_unknown(r, "a [[product.repository]]", REPO_KEYS);
            }
        }
        for v in tables_mut(doc, "content_view") {
            self.strip_unknown(v, "a [[content_view]]", VIEW_KEYS);
        }
    }
}

/// The tables in the array `key` of `table` (none if it is missing or not an array of
/// tables: deserializing reports that).
fn tables_mut<'a, 'i>(
    table: &'a mut DeTable<'i>,
    key: &str,
) -> impl Iterator<Item = &'a mut DeTable<'i>> {
    let items: &'a mut [Spanned<DeValue<'i>>] = match table.get_mut(key).map(Spanned::get_mut) {
        Some(DeValue::Array(a)) => a,
        _ => &mut [],
    };
    items.iter_mut().filter_map(|v| match v.get_mut() {
        DeValue::Table(t) => Some(t),
        _ => None,
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Read and check a catalog file.
pub fn load(file: &Path) -> Result<Catalog, CatalogError> {
    let err = |message: String| CatalogError {
        file: file.to_path_buf(),
        problems: vec![Problem {
            line: None,
            column: None,
            message,
        }],
    };
    let text = std::fs::read_to_string(file).map_err(|e| err(format!("cannot read: {e}")))?;
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    parse(&text, &dir).map_err(|problems| CatalogError {
        file: file.to_path_buf(),
        problems,
    })
}

/// Parse and check catalog text; relative paths are resolved against `dir`.
///
/// Every problem is returned at once, in file order, each with its line and column when
/// it has one: TOML syntax errors (the first one only: nothing after it can be trusted),
/// every unknown key in any table, wrong value types, bad labels and names, duplicates,
/// missing paths and references to undefined repositories.
pub fn parse(text: &str, dir: &Path) -> Result<Catalog, Vec<Problem>> {
    let mut cx = Ctx {
        text,
        problems: Vec::new(),
    };
    let mut doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            cx.toml(&e);
            return Err(cx.problems);
        }
    };
    cx.strip_all_unknown(doc.get_mut());
    let raw = match RawCatalog::deserialize(toml::de::Deserializer::from(doc)) {
        Ok(raw) => raw,
        Err(e) => {
            cx.toml(&e);
            return Err(cx.sorted());
        }
    };
    cx.label(&raw.organization, "organization");

    let mut products = Vec::new();
    let mut product_seen = HashMap::new();
    let mut repo_keys = BTreeSet::new();
    // The options of each URL repository, for snapshots of it given as URLs.
    let mut access_of: HashMap<String, Option<Access>> = HashMap::new();
    for p in raw.product {
        cx.label(&p.label, "product label");
        cx.name(&p.name, "product name");
        if product_seen.insert(p.label.get_ref().clone(), ()).is_some() {
            cx.at(
                p.label.span(),
                format!("duplicate product label {:?}", p.label.get_ref()),
            );
        }
        let gpg_key = p.gpg_key.map(|k| {
            let path = dir.join(k.get_ref());
            if !path.is_file() {
                cx.at(
                    k.span(),
                    format!("GPG key file {} does not exist", path.display()),
                );
            }
            path
        });
        let mut repositories = Vec::new();
        let mut repo_seen = BTreeSet::new();
        for r in p.repository {
            cx.label(&r.label, "repository label");
            cx.name(&r.name, "repository name");
            if !repo_seen.insert(r.label.get_ref().clone()) {
                cx.at(
                    r.label.span(),
                    format!(
                        "duplicate repository label {:?} in product {:?}",
                        r.label.get_ref(),
                        p.label.get_ref()
                    ),
                );
            }
            if let Some(a) = &r.arch {
                cx.label(a, "arch");
            }
            let source = repo_source(&mut cx, dir, &r);
            repo_keys.insert(format!("{}/{}", p.label.get_ref(), r.label.get_ref()));
            if let Some(source) = source {
                access_of.insert(
                    format!("{}/{}", p.label.get_ref(), r.label.get_ref()),
                    match &source {
                        Source::Url(u) => Some(u.access.clone()),
                        _ => None,
                    },
                );
                repositories.push(Repository {
                    label: r.label.into_inner(),
                    name: r.name.into_inner(),
                    source,
                    arch: r.arch.map(Spanned::into_inner),
                });
            }
        }
        products.push(Product {
            label: p.label.into_inner(),
            name: p.name.into_inner(),
            gpg_key,
            repositories,
        });
    }

    let mut content_views = Vec::new();
    let mut view_seen = BTreeSet::new();
    for v in raw.content_view {
        cx.label(&v.label, "content view label");
        cx.name(&v.name, "content view name");
        cx.label(&v.version, "content view version");
        if !view_seen.insert((v.label.get_ref().clone(), v.version.get_ref().clone())) {
            cx.at(
                v.label.span(),
                format!(
                    "duplicate content view {:?} version {:?}",
                    v.label.get_ref(),
                    v.version.get_ref()
                ),
            );
        }
        let mut listed = BTreeSet::new();
        let mut repositories = Vec::new();
        for r in &v.repositories {
            if !repo_keys.contains(r.get_ref()) {
                cx.at(
                    r.span(),
                    format!(
                        "content view {:?} refers to repository {:?}, which no product defines (write product/repository)",
                        v.label.get_ref(),
                        r.get_ref()
                    ),
                );
            }
            if !listed.insert(r.get_ref().clone()) {
                cx.at(
                    r.span(),
                    format!("repository {:?} is listed twice", r.get_ref()),
                );
            }
        }
        let mut snaps: Vec<_> = v.snapshots.into_iter().collect();
        snaps.sort_by_key(|(_, p)| p.span().start);
        let mut snapshot_of = HashMap::new();
        for (key, p) in snaps {
            if !listed.contains(&key) {
                cx.at(
                    p.span(),
                    format!("snapshot given for {key:?}, which this content view does not list in repositories"),
                );
            }
            let source = if is_url(p.get_ref()) {
                let access = access_of.get(&key).cloned().flatten().unwrap_or(Access {
                    ca: None,
                    client_cert: None,
                    client_key: None,
                    verify: true,
                    username: None,
                    password: None,
                });
                check_url(&mut cx, &p).map(|url| Source::Url(Remote { url, access }))
            } else {
                let path = dir.join(p.get_ref());
                check_repo_dir(&mut cx, &p, &path);
                Some(Source::Dir(path))
            };
            if let Some(source) = source {
                snapshot_of.insert(key, source);
            }
        }
        for r in v.repositories {
            let r = r.into_inner();
            let snap = snapshot_of.remove(&r);
            repositories.push((r, snap));
        }
        content_views.push(ContentView {
            label: v.label.into_inner(),
            name: v.name.into_inner(),
            version: v.version.into_inner(),
            repositories,
        });
    }

    if products.iter().all(|p| p.repositories.is_empty()) {
        cx.problems.push(Problem {
            line: None,
            column: None,
            message: "the catalog defines no repository: nothing to pack".into(),
        });
    }
    if cx.problems.is_empty() {
        Ok(Catalog {
            organization: raw.organization.into_inner(),
            products,
            content_views,
        })
    } else {
        Err(cx.sorted())
    }
}

/// Whether a source string is a URL rather than a path.
fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

/// A repository's source from its keys: `path`, or `url` with yum's options.
fn repo_source(cx: &mut Ctx<'_>, dir: &Path, r: &RawRepo) -> Option<Source> {
    let url_only = [
        (&r.sslcacert, "sslcacert"),
        (&r.sslclientcert, "sslclientcert"),
        (&r.sslclientkey, "sslclientkey"),
        (&r.username, "username"),
        (&r.password_file, "password_file"),
        (&r.password_env, "password_env"),
    ];
    match (&r.path, &r.url) {
        (Some(p), None) => {
            for (v, key) in url_only {
                if let Some(v) = v {
                    cx.at(
                        v.span(),
                        format!("{key} applies to a url repository, not to a path"),
                    );
                }
            }
            let path = dir.join(p.get_ref());
            check_repo_dir(cx, p, &path);
            Some(Source::Dir(path))
        }
        (None, Some(u)) => {
            let url = check_url(cx, u)?;
            let file = |cx: &mut Ctx<'_>, v: &Option<Spanned<String>>, what: &str| {
                v.as_ref().map(|v| {
                    let path = dir.join(v.get_ref());
                    if !path.is_file() {
                        cx.at(
                            v.span(),
                            format!("{what} {} does not exist", path.display()),
                        );
                    }
                    path
                })
            };
            let ca = file(cx, &r.sslcacert, "sslcacert");
            let client_cert = file(cx, &r.sslclientcert, "sslclientcert");
            let client_key = file(cx, &r.sslclientkey, "sslclientkey");
            match (&client_cert, &r.sslclientkey) {
                (Some(_), None) => cx.at(
                    u.span(),
                    "sslclientcert is given without sslclientkey".into(),
                ),
                (None, Some(k)) => cx.at(
                    k.span(),
                    "sslclientkey is given without sslclientcert".into(),
                ),
                _ => {}
            }
            let password = match (&r.password_file, &r.password_env) {
                (Some(_), Some(e)) => {
                    cx.at(
                        e.span(),
                        "give password_file or password_env, not both".into(),
                    );
                    None
                }
                (Some(_), None) => file(cx, &r.password_file, "password_file").map(Password::File),
                (None, Some(e)) => {
                    let v = e.get_ref();
                    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                        cx.at(
                            e.span(),
                            format!("password_env {v:?} is not an environment variable name"),
                        );
                    }
                    Some(Password::Env(v.clone()))
                }
                (None, None) => None,
            };
            if password.is_some() && r.username.is_none() {
                cx.at(u.span(), "a password is given without username".into());
            }
            if let Some(n) = &r.username {
                cx.name(n, "username");
            }
            Some(Source::Url(Remote {
                url,
                access: Access {
                    ca,
                    client_cert,
                    client_key,
                    verify: r.sslverify.unwrap_or(true),
                    username: r.username.as_ref().map(|u| u.get_ref().clone()),
                    password,
                },
            }))
        }
        (Some(p), Some(_)) => {
            cx.at(
                p.span(),
                "a repository has a path or a url, not both".into(),
            );
            None
        }
        (None, None) => {
            cx.at(
                r.label.span(),
                format!("repository {:?} needs a path or a url", r.label.get_ref()),
            );
            None
        }
    }
}

/// A repository URL: http or https, no variables left, no credentials, no query; it is
/// returned ending in `/` so that the metadata's paths join under it.
fn check_url(cx: &mut Ctx<'_>, at: &Spanned<String>) -> Option<url::Url> {
    let s = at.get_ref();
    if let Some(i) = s.find('$') {
        cx.at(
            at.span(),
            format!(
                "url {s:?} still holds a variable ({}); give its value",
                &s[i..]
            ),
        );
        return None;
    }
    let mut url = match url::Url::parse(s) {
        Ok(u) => u,
        Err(e) => {
            cx.at(at.span(), format!("url {s:?} is not a URL: {e}"));
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        cx.at(
            at.span(),
            format!("url {s:?}: only http and https are supported"),
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        cx.at(
            at.span(),
            "a url must not hold credentials: use username and password_file or password_env"
                .into(),
        );
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() {
        cx.at(
            at.span(),
            format!("url {s:?} has a query or fragment; give the repository's directory"),
        );
        return None;
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Some(url)
}

fn check_repo_dir(cx: &mut Ctx<'_>, at: &Spanned<String>, path: &Path) {
    if !path.is_dir() {
        cx.at(
            at.span(),
            format!("repository directory {} does not exist", path.display()),
        );
    } else if !path.join("repodata/repomd.xml").is_file() && !path.join(".treeinfo").is_file() {
        cx.at(
            at.span(),
            format!(
                "{} is not a yum repository: repodata/repomd.xml is missing (and no .treeinfo makes it a kickstart tree)",
                path.display()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("r/repodata")).unwrap();
        std::fs::write(d.path().join("r/repodata/repomd.xml"), "<repomd/>").unwrap();
        std::fs::write(d.path().join("KEY"), "key").unwrap();
        d
    }

    #[test]
    fn good_catalog() {
        let d = repo_dir();
        let text = r#"
organization = "acme"
[[product]]
label = "os"
name = "OS"
gpg_key = "KEY"
[[product.repository]]
label = "base"
name = "Base"
path = "r"
[[content_view]]
label = "web"
name = "Web"
version = "1.0"
repositories = ["os/base"]
snapshots = { "os/base" = "r" }
"#;
        let c = parse(text, d.path()).unwrap();
        assert_eq!(
            c.products[0].repositories[0].source,
            Source::Dir(d.path().join("r"))
        );
        assert_eq!(
            c.content_views[0].repositories[0].1,
            Some(Source::Dir(d.path().join("r")))
        );
    }

    #[test]
    fn every_problem_is_named_with_its_place() {
        let d = repo_dir();
        let text = r#"organization = "acme"
[[product]]
label = "os"
name = "OS"
[[product.repository]]
label = "base"
name = "Base"
path = "missing"
[[product.repository]]
label = "base"
name = "Base again"
path = "r"
[[content_view]]
label = "web"
name = "Web"
version = "1.0"
repositories = ["os/nope"]
"#;
        let p = parse(text, d.path()).unwrap_err();
        let msgs: Vec<String> = p
            .iter()
            .map(|p| format!("{}:{} {}", p.line.unwrap(), p.column.unwrap(), p.message))
            .collect();
        assert_eq!(p.len(), 3, "{msgs:#?}");
        assert!(msgs[0].starts_with("8:8 repository directory"), "{msgs:#?}");
        assert!(
            msgs[1].starts_with("10:9 duplicate repository label"),
            "{msgs:#?}"
        );
        assert!(
            msgs[2].starts_with("17:17 content view \"web\" refers to repository \"os/nope\""),
            "{msgs:#?}"
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_a_place() {
        let d = repo_dir();
        let p = parse("organization = \"a\"\ncolour = \"blue\"\n", d.path()).unwrap_err();
        assert_eq!(p[0].line, Some(2));
        assert!(p[0].message.contains("colour"), "{:?}", p[0]);
    }

    #[test]
    fn every_unknown_key_in_every_table_is_reported_with_the_other_problems() {
        let d = repo_dir();
        let text = r#"organization = "acme"
colour = "blue"
[[product]]
label = "os"
name = "OS"
flavour = 1
[[product.repository]]
label = "base"
name = "Base"
path = "r"
mirror = "http://example.com/"
[[content_view]]
label = "web"
name = "Web"
version = "1.0"
repositories = ["os/nope"]
size = { big = true }
"#;
        let p = parse(text, d.path()).unwrap_err();
        let msgs: Vec<String> = p
            .iter()
            .map(|p| format!("{}:{} {}", p.line.unwrap(), p.column.unwrap(), p.message))
            .collect();
        assert_eq!(p.len(), 5, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("2:1 unknown key \"colour\" in the top level"),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].starts_with("6:1 unknown key \"flavour\" in a [[product]]"),
            "{msgs:#?}"
        );
        assert!(
            msgs[2].starts_with("11:1 unknown key \"mirror\" in a [[product.repository]]"),
            "{msgs:#?}"
        );
        assert!(
            msgs[3].starts_with("16:17 content view \"web\" refers to repository \"os/nope\""),
            "{msgs:#?}"
        );
        assert!(
            msgs[4].starts_with("17:1 unknown key \"size\" in a [[content_view]]"),
            "{msgs:#?}"
        );
    }

    #[test]
    fn unknown_keys_are_reported_together_with_a_wrong_type() {
        let d = repo_dir();
        let text = "organization = \"a\"\ncolour = \"blue\"\n[[product]]\nlabel = 7\nname = \"x\"\nflavour = 1\n";
        let p = parse(text, d.path()).unwrap_err();
        assert_eq!(p.len(), 3, "{p:#?}");
        assert_eq!((p[0].line, p[0].column), (Some(2), Some(1)), "{p:#?}");
        assert!(p[0].message.contains("colour"), "{p:#?}");
        assert_eq!(p[1].line, Some(4), "{p:#?}");
        assert_eq!((p[2].line, p[2].column), (Some(6), Some(1)), "{p:#?}");
        assert!(p[2].message.contains("flavour"), "{p:#?}");
    }

    #[test]
    fn names_with_control_characters_or_too_long_are_refused_with_a_place() {
        let d = repo_dir();
        let catalog = |product: &str, repo: &str, view: &str| {
            format!(
                "organization = \"acme\"\n[[product]]\nlabel = \"os\"\nname = {product}\n\
                 [[product.repository]]\nlabel = \"base\"\nname = {repo}\npath = \"r\"\n\
                 [[content_view]]\nlabel = \"web\"\nname = {view}\nversion = \"1\"\n\
                 repositories = [\"os/base\"]\n"
            )
        };
        let ok = catalog("\"OS\"", "\"Base\"", "\"Web\"");
        parse(&ok, d.path()).unwrap();

        // A newline would start a new line of a dnf .repo file: name=…\ngpgcheck=0.
        let p = parse(
            &catalog("\"OS\\ngpgcheck=0\"", "\"Base\\tOS\"", "\"Web\\u001b[31m\""),
            d.path(),
        )
        .unwrap_err();
        let msgs: Vec<String> = p
            .iter()
            .map(|p| format!("{}:{} {}", p.line.unwrap(), p.column.unwrap(), p.message))
            .collect();
        assert_eq!(p.len(), 3, "{msgs:#?}");
        assert!(msgs[0].starts_with("4:8 product name"), "{msgs:#?}");
        assert!(msgs[0].contains("U+000A"), "{msgs:#?}");
        assert!(msgs[1].starts_with("7:8 repository name"), "{msgs:#?}");
        assert!(msgs[1].contains("U+0009"), "{msgs:#?}");
        assert!(msgs[2].starts_with("11:8 content view name"), "{msgs:#?}");
        assert!(msgs[2].contains("U+001B"), "{msgs:#?}");

        // A multi-line string is refused the same way.
        let p = parse(
            &catalog("\"\"\"\nOS\nNine\"\"\"", "\"Base\"", "\"Web\""),
            d.path(),
        )
        .unwrap_err();
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!((p[0].line, p[0].column), (Some(4), Some(8)), "{p:#?}");

        let longest = format!("\"{}\"", "é".repeat(MAX_NAME / 2));
        parse(&catalog("\"OS\"", &longest, "\"Web\""), d.path()).unwrap();
        let too_long = format!("\"{}\"", "x".repeat(MAX_NAME + 1));
        let p = parse(&catalog("\"OS\"", &too_long, "\"Web\""), d.path()).unwrap_err();
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!((p[0].line, p[0].column), (Some(7), Some(8)), "{p:#?}");
        assert!(p[0].message.contains("1025 bytes"), "{p:#?}");
    }
}
