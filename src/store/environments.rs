//! Lifecycle environments (Library → Dev → QA → Prod, as Katello has them): an ordered path
//! of environments, each holding one version of each content view it was given.
//!
//! Library is built in: it holds every imported version and publishes the newest of each
//! view (`published/ORG/views/VIEW/…`). Every other environment holds the version an
//! operator promoted to it, published at `published/ORG/env/ENV/VIEW/PRODUCT/REPO`; an
//! import never changes it. A promotion is one database transaction (the environment's
//! publications and the event in the history), then the published links are flipped one by
//! one, each atomically: a client resolving a repository's path sees the old tree or the
//! new one.

use rusqlite::{OptionalExtension as _, params};
use serde::Serialize;

use super::db::DbError;
use super::{Store, StoreError, history};
use crate::import::version_cmp;

/// The built-in first environment.
pub const LIBRARY: &str = "Library";

/// Why an environment operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Its database.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Not a label.
    #[error(
        "{0:?} cannot name an environment: use 1-128 characters from A-Z a-z 0-9 . _ - that do not start with '.'"
    )]
    BadName(String),
    /// Library is not created, removed or promoted to.
    #[error("{0}")]
    Library(&'static str),
    /// An environment of that name exists.
    #[error("environment {0} exists already (names are compared ignoring case)")]
    Exists(String),
    /// No such environment.
    #[error("no environment {name} in this store; environments: {known}")]
    NoEnvironment {
        /// The name given.
        name: String,
        /// The path, for the message.
        known: String,
    },
    /// Removing an environment that hosts are using.
    #[error("environment {name} holds {held}: hosts that use it would lose their repositories")]
    InUse {
        /// The environment.
        name: String,
        /// What it holds.
        held: String,
    },
    /// The organization is ambiguous or unknown.
    #[error("{0}")]
    Organization(String),
    /// No such content-view version.
    #[error("{0}")]
    NoVersion(String),
    /// The version has not been through the environment before this one.
    #[error(
        "content view {view} version {version} has not reached {prior}, the environment before {env} (it holds {held}): promote it to {prior} first"
    )]
    OutOfOrder {
        /// View.
        view: String,
        /// Version.
        version: String,
        /// Target environment.
        env: String,
        /// The one before it.
        prior: String,
        /// What the prior holds.
        held: String,
    },
}

/// An environment on the path.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// Its name.
    pub name: String,
    /// Its place on the path: 0 is Library.
    pub position: i64,
    /// The environment before it (none for Library).
    pub prior: Option<String>,
    /// When it was created (none for Library).
    pub created: Option<String>,
}

/// The path: Library first, then every environment in order.
pub fn list(store: &Store) -> Result<Vec<Environment>, DbError> {
    let mut st = store
        .db
        .conn
        .prepare("SELECT name, created FROM environments ORDER BY position")?;
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = vec![Environment {
        name: LIBRARY.into(),
        position: 0,
        prior: None,
        created: None,
    }];
    for (i, (name, created)) in rows.into_iter().enumerate() {
        let prior = out.last().map(|e| e.name.clone());
        out.push(Environment {
            name,
            position: i as i64 + 1,
            prior,
            created: Some(created),
        });
    }
    Ok(out)
}

/// The environment named `name` (ignoring case).
pub fn find(store: &Store, name: &str) -> Result<Environment, EnvError> {
    let all = list(store)?;
    match all.iter().find(|e| e.name.eq_ignore_ascii_case(name)) {
        Some(e) => Ok(e.clone()),
        None => Err(EnvError::NoEnvironment {
            name: name.to_string(),
            known: path_text(&all),
        }),
    }
}

fn path_text(all: &[Environment]) -> String {
    all.iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

fn now() -> String {
    crate::time::rfc3339(crate::time::now_secs())
}

/// Add `name` to the path, after `after` (default: at its end).
pub fn create(store: &Store, name: &str, after: Option<&str>) -> Result<Environment, EnvError> {
    if !crate::format::manifest::is_label(name) {
        return Err(EnvError::BadName(name.to_string()));
    }
    if name.eq_ignore_ascii_case(LIBRARY) {
        return Err(EnvError::Library(
            "Library is built in: it is always the first environment",
        ));
    }
    let all = list(store)?;
    if let Some(e) = all.iter().find(|e| e.name.eq_ignore_ascii_case(name)) {
        return Err(EnvError::Exists(e.name.clone()));
    }
    let position = match after {
        None => all.len() as i64,
        Some(a) => find(store, a)?.position + 1,
    };
    let tx = store
        .db
        .conn
        .unchecked_transaction()
        .map_err(DbError::from)?;
    let t = now();
    tx.execute(
        "UPDATE environments SET position = position + 1 WHERE position >= ?1",
        params![position],
    )
    .map_err(DbError::from)?;
    tx.execute(
        "INSERT INTO environments(name, position, created) VALUES(?1, ?2, ?3)",
        params![name, position, t],
    )
    .map_err(DbError::from)?;
    let prior = all[(position - 1) as usize].name.clone();
    history::record(
        &tx,
        &t,
        "environment-create",
        None,
        &format!("environment {name} after {prior}"),
    )
    .map_err(DbError::from)?;
    tx.commit().map_err(DbError::from)?;
    find(store, name)
}

/// What an environment holds: `(organization, view, version)`.
pub fn held(store: &Store, env: &str) -> Result<Vec<(String, String, String)>, DbError> {
    let mut st = store.db.conn.prepare(
        "SELECT organization, view, version FROM environment_views WHERE environment = ?1
         ORDER BY organization, view",
    )?;
    let rows = st.query_map(params![env], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Remove an environment; one that holds content only with `force` (its trees are then
/// unpublished). Returns what it held.
pub fn remove(
    store: &Store,
    name: &str,
    force: bool,
) -> Result<Vec<(String, String, String)>, EnvError> {
    if name.eq_ignore_ascii_case(LIBRARY) {
        return Err(EnvError::Library(
            "Library is built in and cannot be removed",
        ));
    }
    let env = find(store, name)?;
    let holds = held(store, &env.name)?;
    if !holds.is_empty() && !force {
        return Err(EnvError::InUse {
            name: env.name,
            held: describe(&holds),
        });
    }
    let tx = store
        .db
        .conn
        .unchecked_transaction()
        .map_err(DbError::from)?;
    let t = now();
    for (org, _, _) in &holds {
        let prefix = format!("{org}/env/{}/", env.name);
        tx.execute(
            "DELETE FROM publications WHERE substr(path, 1, length(?1)) = ?1",
            params![prefix],
        )
        .map_err(DbError::from)?;
    }
    tx.execute(
        "DELETE FROM environment_views WHERE environment = ?1",
        params![env.name],
    )
    .map_err(DbError::from)?;
    tx.execute(
        "DELETE FROM environments WHERE name = ?1",
        params![env.name],
    )
    .map_err(DbError::from)?;
    tx.execute(
        "UPDATE environments SET position = position - 1 WHERE position > ?1",
        params![env.position],
    )
    .map_err(DbError::from)?;
    let detail = if holds.is_empty() {
        format!("environment {}", env.name)
    } else {
        format!("environment {} (it held {})", env.name, describe(&holds))
    };
    history::record(&tx, &t, "environment-remove", None, &detail).map_err(DbError::from)?;
    tx.commit().map_err(DbError::from)?;
    store.reconcile()?;
    Ok(holds)
}

fn describe(holds: &[(String, String, String)]) -> String {
    holds
        .iter()
        .map(|(o, v, ver)| format!("{o}/{v} {ver}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The organization meant: the one given, or the store's only one.
pub fn organization(store: &Store, given: Option<&str>) -> Result<String, EnvError> {
    let mut st = store
        .db
        .conn
        .prepare("SELECT DISTINCT organization FROM bundles ORDER BY organization")
        .map_err(DbError::from)?;
    let orgs: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(DbError::from)?
        .collect::<Result<_, _>>()
        .map_err(DbError::from)?;
    match given {
        Some(o) if orgs.iter().any(|x| x == o) => Ok(o.to_string()),
        Some(o) => Err(EnvError::Organization(format!(
            "no organization {o} in this store; it has: {}",
            list_or_none(&orgs)
        ))),
        None if orgs.len() == 1 => Ok(orgs[0].clone()),
        None if orgs.is_empty() => Err(EnvError::Organization(
            "the store holds no content yet: import a bundle first".into(),
        )),
        None => Err(EnvError::Organization(format!(
            "the store holds several organizations ({}): say which",
            orgs.join(", ")
        ))),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The versions of a view the store holds (not pruned), oldest first.
pub fn stored_versions(store: &Store, org: &str, view: &str) -> Result<Vec<String>, DbError> {
    let mut st = store.db.conn.prepare(
        "SELECT version FROM view_versions WHERE organization = ?1 AND label = ?2 AND pruned IS NULL",
    )?;
    let mut v: Vec<String> = st
        .query_map(params![org, view], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    v.sort_by(|a, b| version_cmp(a, b));
    Ok(v)
}

/// Every view (organization, label) with a stored version that is not retired: the views
/// the Library holds, sorted.
pub fn library_views(store: &Store) -> Result<Vec<(String, String)>, DbError> {
    let mut st = store.db.conn.prepare(
        "SELECT DISTINCT organization, label FROM view_versions v WHERE pruned IS NULL
         AND NOT EXISTS (SELECT 1 FROM retirements r WHERE r.organization = v.organization
                         AND r.kind = 'content_view' AND r.label = v.label)
         ORDER BY organization, label",
    )?;
    let views = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(views)
}

/// The version of `view` that `env` holds. Library holds the newest stored version.
pub fn holding(store: &Store, org: &str, env: &str, view: &str) -> Result<Option<String>, DbError> {
    if env.eq_ignore_ascii_case(LIBRARY) {
        return Ok(stored_versions(store, org, view)?.pop());
    }
    Ok(store
        .db
        .conn
        .query_row(
            "SELECT version FROM environment_views WHERE organization = ?1 AND environment = ?2 AND view = ?3",
            params![org, env, view],
            |r| r.get(0),
        )
        .optional()?)
}

/// An environment one can promote to: any but Library.
pub fn check_target(store: &Store, env: &str) -> Result<Environment, EnvError> {
    if env.eq_ignore_ascii_case(LIBRARY) {
        return Err(EnvError::Library(
            "Library always holds the newest imported version of each view: promote to an environment after it",
        ));
    }
    find(store, env)
}

/// A promotion made.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Promotion {
    /// Organization.
    pub organization: String,
    /// Content view.
    pub view: String,
    /// The version now held.
    pub version: String,
    /// Environment.
    pub environment: String,
    /// The version held before, if any.
    pub previous: Option<String>,
    /// Whether this moved the environment to an older version (a back-out).
    pub backout: bool,
    /// Paths under `published/` now showing the version.
    pub published: Vec<String>,
}

/// Publish stored version `version` of `view` for environment `env`. The version must have
/// reached the environment before (it holds this version or a newer one), unless `force`.
pub fn promote(
    store: &Store,
    org: Option<&str>,
    view: &str,
    version: &str,
    env: &str,
    force: bool,
) -> Result<Promotion, EnvError> {
    let org = organization(store, org)?;
    let target = check_target(store, env)?;
    let stored = stored_versions(store, &org, view)?;
    if !stored.iter().any(|v| v == version) {
        return Err(EnvError::NoVersion(if stored.is_empty() {
            format!("this store holds no version of content view {view} for {org}")
        } else {
            format!(
                "this store holds no version {version} of content view {view} for {org}; it holds {}",
                stored.join(", ")
            )
        }));
    }
    let prior = target.prior.clone().unwrap_or_else(|| LIBRARY.into());
    if !force {
        let held = holding(store, &org, &prior, view)?;
        let reached = held
            .as_deref()
            .is_some_and(|h| version_cmp(h, version) != std::cmp::Ordering::Less);
        if !reached {
            return Err(EnvError::OutOfOrder {
                view: view.into(),
                version: version.into(),
                env: target.name,
                prior,
                held: held.map_or("no version".into(), |h| format!("version {h}")),
            });
        }
    }
    let previous = holding(store, &org, &target.name, view)?;
    let tx = store
        .db
        .conn
        .unchecked_transaction()
        .map_err(DbError::from)?;
    let p = publish_in(&tx, &org, &target.name, view, version, previous, force)?;
    tx.commit().map_err(DbError::from)?;
    store.reconcile()?;
    Ok(p)
}

/// Inside the caller's transaction: make `env` hold `version` of `view` (its
/// publications, the record of what it holds, and the event).
pub(crate) fn publish_in(
    tx: &rusqlite::Transaction<'_>,
    org: &str,
    env: &str,
    view: &str,
    version: &str,
    previous: Option<String>,
    force: bool,
) -> Result<Promotion, DbError> {
    let backout = previous
        .as_deref()
        .is_some_and(|p| version_cmp(version, p) == std::cmp::Ordering::Less);
    let t = now();
    let prefix = format!("{org}/env/{env}/{view}/");
    tx.execute(
        "DELETE FROM publications WHERE substr(path, 1, length(?1)) = ?1",
        params![prefix],
    )?;
    let rows: Vec<(String, String, String)> = {
        let mut st = tx.prepare(
            "SELECT product, repository, tree FROM view_repositories
             WHERE organization = ?1 AND view = ?2 AND view_version = ?3 ORDER BY product, repository",
        )?;
        st.query_map(params![org, view, version], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut published = Vec::new();
    for (product, repo, tree) in rows {
        let path = format!("{prefix}{product}/{repo}");
        tx.execute(
            "INSERT OR REPLACE INTO publications(path, tree) VALUES(?1, ?2)",
            params![path, tree],
        )?;
        published.push(path);
    }
    tx.execute(
        "INSERT OR REPLACE INTO environment_views(organization, environment, view, version, promoted)
         VALUES(?1, ?2, ?3, ?4, ?5)",
        params![org, env, view, version, t],
    )?;
    let detail = format!(
        "content view {org}/{view} version {version} to {env}{}{}{}",
        match &previous {
            Some(p) => format!(" (was {p})"),
            None => String::new(),
        },
        if backout {
            ": a back-out to an older version"
        } else {
            ""
        },
        if force { " (--force)" } else { "" },
    );
    history::record(tx, &t, "promote", None, &detail)?;
    Ok(Promotion {
        organization: org.to_string(),
        view: view.into(),
        version: version.into(),
        environment: env.to_string(),
        previous,
        backout,
        published,
    })
}
