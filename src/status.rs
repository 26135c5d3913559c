//! `ferry status`: what a store holds and publishes, and where it came from.

use std::fmt;

use rusqlite::params;
use serde::Serialize;

use crate::store::Store;
use crate::store::db::DbError;
use crate::store::usage::DiskUsage;

/// The state of a store.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Organizations with content.
    pub organizations: Vec<String>,
    /// Products.
    pub products: Vec<ProductStatus>,
    /// Library repositories.
    pub repositories: Vec<RepositoryStatus>,
    /// Content-view versions.
    pub content_views: Vec<ViewStatus>,
    /// Bundles imported, oldest first.
    pub bundles: Vec<BundleStatus>,
    /// Keys registered as trusted.
    pub trusted_keys: Vec<String>,
    /// Bundles whose volumes are arriving one at a time.
    pub staged: Vec<StagedStatus>,
    /// The newest events of the store's history (imports, stages, rollbacks, trust changes).
    pub history: Vec<HistoryEvent>,
    /// What the store takes on disk, what `ferry prune` would free, and what each published
    /// tree alone holds (measured by [`with_disk_usage`]; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskUsage>,
    /// The lifecycle path, Library first, with the content-view version each environment holds.
    pub environments: Vec<EnvironmentStatus>,
    /// Repositories and views the export side no longer ships.
    pub retired: Vec<RetiredStatus>,
}

/// An environment and what it holds.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    /// Its name.
    pub name: String,
    /// The content-view versions it holds.
    pub views: Vec<HeldView>,
}

/// A content-view version an environment holds.
#[derive(Debug, Clone, Serialize)]
pub struct HeldView {
    /// Organization.
    pub organization: String,
    /// View label.
    pub view: String,
    /// Version.
    pub version: String,
    /// When it was promoted there (none for Library, which holds the newest).
    pub promoted: Option<String>,
}

/// Something retired.
#[derive(Debug, Clone, Serialize)]
pub struct RetiredStatus {
    /// Organization.
    pub organization: String,
    /// `repository` or `content_view`.
    pub kind: String,
    /// `product/repo`, or the view's label.
    pub label: String,
    /// The first sequence that no longer carried it.
    pub since: i64,
    /// When this store learnt it.
    pub time: String,
}

/// A bundle partly staged.
#[derive(Debug, Clone, Serialize)]
pub struct StagedStatus {
    /// Bundle id.
    pub bundle: String,
    /// Volume numbers verified and staged.
    pub volumes: Vec<u32>,
    /// Volume numbers still needed (when the store knows the bundle's volume count).
    pub remaining: Vec<u32>,
}

/// One event of the history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEvent {
    /// When.
    pub time: String,
    /// What: `import`, `stage`, `rollback`, `trust-add`, `trust-remove`.
    pub event: String,
    /// The bundle concerned.
    pub bundle: Option<String>,
    /// Details.
    pub detail: String,
}

/// Events shown by `status`.
const HISTORY_SHOWN: i64 = 50;

/// A product.
#[derive(Debug, Clone, Serialize)]
pub struct ProductStatus {
    /// Organization.
    pub organization: String,
    /// Label.
    pub label: String,
    /// Name.
    pub name: String,
    /// Its GPG key file name, if it has one.
    pub gpg_key: Option<String>,
}

/// A Library repository.
#[derive(Debug, Clone, Serialize)]
pub struct RepositoryStatus {
    /// Organization.
    pub organization: String,
    /// Product label.
    pub product: String,
    /// Repository label.
    pub label: String,
    /// Name.
    pub name: String,
    /// Current version number.
    pub version: i64,
    /// Packages in it.
    pub packages: i64,
    /// Files in it.
    pub files: i64,
    /// Bytes of its files.
    pub bytes: i64,
    /// Bundle the current version came from.
    pub bundle: String,
    /// Path under `published/`.
    pub published: String,
    /// Earlier versions kept in the store (not pruned).
    pub history: i64,
}

/// A content-view version.
#[derive(Debug, Clone, Serialize)]
pub struct ViewStatus {
    /// Organization.
    pub organization: String,
    /// Label.
    pub label: String,
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// Bundle it came from.
    pub bundle: String,
    /// When it was imported.
    pub imported: String,
    /// Repositories: `product/repo` with package counts.
    pub repositories: Vec<(String, i64)>,
    /// When `ferry prune` removed it (its record stays), if it did.
    pub pruned: Option<String>,
}

/// A bundle imported.
#[derive(Debug, Clone, Serialize)]
pub struct BundleStatus {
    /// Its id.
    pub bundle: String,
    /// Organization.
    pub organization: String,
    /// Signing key id.
    pub signer: String,
    /// Sequence.
    pub sequence: i64,
    /// Base bundle, for incremental ones.
    pub base: Option<String>,
    /// Created (on the connected side).
    pub created: String,
    /// Imported (here).
    pub imported: String,
    /// Volumes it came on.
    pub volumes: i64,
}

/// Read the status of a store.
pub fn status(store: &Store) -> Result<Status, DbError> {
    let c = &store.db.conn;
    let strings = |sql: &str| -> Result<Vec<String>, DbError> {
        let mut st = c.prepare(sql)?;
        let r = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(r)
    };
    let organizations = strings("SELECT DISTINCT organization FROM bundles ORDER BY organization")?;
    let trusted_keys = strings("SELECT key_id FROM trusted_keys ORDER BY key_id")?;
    let mut st = c.prepare(
        "SELECT organization, label, name, gpg_key_name FROM products ORDER BY organization, label",
    )?;
    let products = st
        .query_map([], |r| {
            Ok(ProductStatus {
                organization: r.get(0)?,
                label: r.get(1)?,
                name: r.get(2)?,
                gpg_key: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare(
        "SELECT r.organization, r.product, r.label, r.name, v.version, v.packages, v.files, v.bytes, v.bundle,
                (SELECT COUNT(*) FROM repository_versions h WHERE h.organization = r.organization
                   AND h.product = r.product AND h.label = r.label AND h.pruned IS NULL) - 1
         FROM repositories r JOIN repository_versions v
           ON v.organization = r.organization AND v.product = r.product AND v.label = r.label
         WHERE v.version = (SELECT MAX(version) FROM repository_versions m WHERE m.organization = r.organization
                              AND m.product = r.product AND m.label = r.label)
           AND NOT EXISTS (SELECT 1 FROM retirements x WHERE x.organization = r.organization
                           AND x.kind = 'repository' AND x.label = r.product || '/' || r.label)
         ORDER BY r.organization, r.product, r.label",
    )?;
    let repositories = st
        .query_map([], |r| {
            let org: String = r.get(0)?;
            let product: String = r.get(1)?;
            let label: String = r.get(2)?;
            Ok(RepositoryStatus {
                published: format!("{org}/library/{product}/{label}"),
                organization: org,
                product,
                label,
                name: r.get(3)?,
                version: r.get(4)?,
                packages: r.get(5)?,
                files: r.get(6)?,
                bytes: r.get(7)?,
                bundle: r.get(8)?,
                history: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare(
        "SELECT organization, label, version, name, bundle, imported, pruned FROM view_versions ORDER BY organization, label, seq",
    )?;
    let mut content_views: Vec<ViewStatus> = st
        .query_map([], |r| {
            Ok(ViewStatus {
                organization: r.get(0)?,
                label: r.get(1)?,
                version: r.get(2)?,
                name: r.get(3)?,
                bundle: r.get(4)?,
                imported: r.get(5)?,
                repositories: Vec::new(),
                pruned: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    for v in &mut content_views {
        let mut st = c.prepare(
            "SELECT product || '/' || repository, packages FROM view_repositories
             WHERE organization = ?1 AND view = ?2 AND view_version = ?3 ORDER BY product, repository",
        )?;
        v.repositories = st
            .query_map(params![v.organization, v.label, v.version], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
    }
    let mut st = c.prepare(
        "SELECT id, organization, signer, sequence, base, created, imported, volumes FROM bundles ORDER BY imported, sequence",
    )?;
    let bundles = st
        .query_map([], |r| {
            Ok(BundleStatus {
                bundle: r.get(0)?,
                organization: r.get(1)?,
                signer: r.get(2)?,
                sequence: r.get(3)?,
                base: r.get(4)?,
                created: r.get(5)?,
                imported: r.get(6)?,
                volumes: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare(
        "SELECT s.bundle, group_concat(s.volume), b.volumes FROM staged_volumes s
         LEFT JOIN staged_bundles b ON b.bundle = s.bundle
         WHERE s.bundle NOT IN (SELECT id FROM bundles) GROUP BY s.bundle ORDER BY s.bundle",
    )?;
    let staged = st
        .query_map([], |r| {
            let list: String = r.get(1)?;
            let total: Option<u32> = r.get(2)?;
            let mut volumes: Vec<u32> = list.split(',').filter_map(|v| v.parse().ok()).collect();
            volumes.sort_unstable();
            let remaining = (1..=total.unwrap_or(0))
                .filter(|n| !volumes.contains(n))
                .collect();
            Ok(StagedStatus {
                bundle: r.get(0)?,
                volumes,
                remaining,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare(
        "SELECT time, event, bundle, detail FROM (SELECT * FROM history ORDER BY id DESC LIMIT ?1) ORDER BY id",
    )?;
    let history = st
        .query_map(params![HISTORY_SHOWN], |r| {
            Ok(HistoryEvent {
                time: r.get(0)?,
                event: r.get(1)?,
                bundle: r.get(2)?,
                detail: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let environments = environments(store)?;
    let mut st = c.prepare(
        "SELECT organization, kind, label, since, time FROM retirements ORDER BY organization, kind, label",
    )?;
    let retired = st
        .query_map([], |r| {
            Ok(RetiredStatus {
                organization: r.get(0)?,
                kind: r.get(1)?,
                label: r.get(2)?,
                since: r.get(3)?,
                time: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Status {
        disk: None,
        environments,
        retired,
        staged,
        history,
        organizations,
        products,
        repositories,
        content_views,
        bundles,
        trusted_keys,
    })
}

/// The path and what each environment holds; Library holds the newest stored version of
/// every view that is not retired.
fn environments(store: &Store) -> Result<Vec<EnvironmentStatus>, DbError> {
    use crate::store::environments as envs;
    let views = envs::library_views(store)?;
    let mut out = Vec::new();
    for e in envs::list(store)? {
        let views = if e.position == 0 {
            let mut held = Vec::new();
            for (org, view) in &views {
                if let Some(version) = envs::holding(store, org, envs::LIBRARY, view)? {
                    held.push(HeldView {
                        organization: org.clone(),
                        view: view.clone(),
                        version,
                        promoted: None,
                    });
                }
            }
            held
        } else {
            let mut st = store.db.conn.prepare(
                "SELECT organization, view, version, promoted FROM environment_views
                 WHERE environment = ?1 ORDER BY organization, view",
            )?;
            st.query_map(params![e.name], |r| {
                Ok(HeldView {
                    organization: r.get(0)?,
                    view: r.get(1)?,
                    version: r.get(2)?,
                    promoted: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?
        };
        out.push(EnvironmentStatus {
            name: e.name,
            views,
        });
    }
    Ok(out)
}

/// Errors of [`with_disk_usage`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// Reading the catalog.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Measuring the disk.
    #[error("measuring the store's disk usage: {0}")]
    Disk(#[from] crate::store::prune::PruneError),
}

/// The status with the store's disk usage (which walks the whole store).
pub fn with_disk_usage(store: &Store) -> Result<Status, StatusError> {
    let mut s = status(store)?;
    s.disk = Some(crate::store::usage::measure(store)?);
    Ok(s)
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::size::human;
        if self.bundles.is_empty() {
            return write!(f, "the store is empty: no bundle imported yet");
        }
        writeln!(f, "organizations: {}", self.organizations.join(", "))?;
        writeln!(f, "\nrepositories (Library):")?;
        for r in &self.repositories {
            writeln!(
                f,
                "  {}/{}/{}  {:?}  version {}  {} packages  {}  from bundle {}{}",
                r.organization,
                r.product,
                r.label,
                r.name,
                r.version,
                r.packages,
                human(r.bytes as u64),
                &r.bundle[..16],
                if r.history > 0 {
                    format!("  ({} earlier versions kept)", r.history)
                } else {
                    String::new()
                }
            )?;
        }
        if !self.content_views.is_empty() {
            writeln!(f, "\ncontent views:")?;
            for v in &self.content_views {
                let repos: Vec<String> = v
                    .repositories
                    .iter()
                    .map(|(r, n)| format!("{r} ({n} packages)"))
                    .collect();
                writeln!(
                    f,
                    "  {}/{} version {}  {:?}  from bundle {}: {}{}",
                    v.organization,
                    v.label,
                    v.version,
                    v.name,
                    &v.bundle[..16],
                    repos.join(", "),
                    match &v.pruned {
                        Some(t) => format!("  (pruned {t})"),
                        None => String::new(),
                    }
                )?;
            }
        }
        writeln!(f, "\nenvironments:")?;
        for e in &self.environments {
            let held: Vec<String> = e
                .views
                .iter()
                .map(|v| format!("{}/{} {}", v.organization, v.view, v.version))
                .collect();
            writeln!(
                f,
                "  {:<12} {}",
                e.name,
                if held.is_empty() {
                    "(no content view)".to_string()
                } else {
                    held.join(", ")
                }
            )?;
        }
        if !self.retired.is_empty() {
            writeln!(
                f,
                "\nretired (no longer shipped; kept where an environment holds it):"
            )?;
            for r in &self.retired {
                writeln!(
                    f,
                    "  {} {}/{}  since sequence {}",
                    r.kind.replace('_', " "),
                    r.organization,
                    r.label,
                    r.since
                )?;
            }
        }
        writeln!(f, "\nbundles imported:")?;
        for b in &self.bundles {
            writeln!(
                f,
                "  {}  {}  sequence {}  signed by {}  created {}  imported {}  {} volume{}",
                &b.bundle[..16],
                b.organization,
                b.sequence,
                b.signer,
                b.created,
                b.imported,
                b.volumes,
                if b.volumes == 1 { "" } else { "s" }
            )?;
        }
        for s in &self.staged {
            let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            write!(
                f,
                "  {}  partly staged: volumes {} so far",
                &s.bundle[..16],
                list(&s.volumes)
            )?;
            if s.remaining.is_empty() {
                writeln!(f)?;
            } else {
                writeln!(f, "; still needed: {}", list(&s.remaining))?;
            }
        }
        if let Some(last) = self.history.last() {
            writeln!(
                f,
                "\nlast event: {} {} {}",
                last.time, last.event, last.detail
            )?;
        }
        write!(
            f,
            "\ntrusted keys: {}",
            if self.trusted_keys.is_empty() {
                "none registered (imports pass --trust)".to_string()
            } else {
                self.trusted_keys.join(", ")
            }
        )?;
        if let Some(d) = &self.disk {
            write_disk(f, d)?;
        }
        Ok(())
    }
}

/// The disk-usage lines.
fn write_disk(f: &mut fmt::Formatter<'_>, d: &DiskUsage) -> fmt::Result {
    use crate::size::human;
    let p = &d.prune;
    write!(
        f,
        "\n\ndisk usage: {} on disk (each file counted once)",
        human(d.store_bytes)
    )?;
    if p.is_empty() {
        write!(f, "\n  ferry prune would free nothing")?;
    } else {
        write!(
            f,
            "\n  ferry prune would free {}: content-view versions {}, repository versions {}, version directories {}, objects {}, abandoned uploads {}",
            human(d.prunable_bytes),
            p.view_versions.len(),
            p.repository_versions.len(),
            p.version_dirs_removed,
            p.objects_removed,
            p.uploads_removed.len()
        )?;
    }
    if !d.published.is_empty() {
        write!(f, "\n  held by one published tree alone:")?;
        for t in &d.published {
            match &t.same_tree_as {
                Some(first) => write!(f, "\n    {}  (the tree of {first})", t.path)?,
                None => write!(f, "\n    {}  {}", t.path, human(t.bytes))?,
            }
        }
    }
    Ok(())
}
