//! `ferry env`, `ferry promote` and `ferry history`: the site's lifecycle, for people.

use std::path::PathBuf;

use anyhow::Result;

use super::common::{open_read, open_write};
use super::output::{print_json, say};
use ferry::store::environments::{self, Promotion};
use ferry::store::{Store, history};

/// Manage the lifecycle environments of a store.
#[derive(clap::Args, Debug)]
pub struct EnvArgs {
    #[command(subcommand)]
    action: EnvAction,
}

#[derive(clap::Subcommand, Debug)]
enum EnvAction {
    /// Add an environment to the path (at its end, or after PREV).
    Create {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Put it right after this environment (Library, or one created before).
        #[arg(long, value_name = "PREV")]
        after: Option<String>,
        /// Its name (A-Z a-z 0-9 . _ -).
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List the path and what each environment holds.
    List {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an environment (one that holds content only with --force).
    Remove {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Remove it and unpublish what it holds.
        #[arg(long)]
        force: bool,
        /// Its name.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// Publish a stored content-view version for an environment.
#[derive(clap::Args, Debug)]
pub struct PromoteArgs {
    /// The store directory.
    #[arg(long, value_name = "STORE")]
    store: PathBuf,
    /// The environment.
    #[arg(long, value_name = "ENV")]
    to: String,
    /// The organization (needed when the store holds several).
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// Promote even if the version has not reached the environment before this one.
    #[arg(long)]
    force: bool,
    /// Fail at once if another ferry is changing the store, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// The content view's label.
    #[arg(value_name = "VIEW")]
    view: String,
    /// The version.
    #[arg(value_name = "VERSION")]
    version: String,
}

/// List the store's history.
#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// The store directory.
    #[arg(long, value_name = "STORE")]
    store: PathBuf,
    /// Only the newest N events.
    #[arg(long, value_name = "N")]
    last: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `ferry env …`.
pub fn env(a: EnvArgs) -> Result<i32> {
    match a.action {
        EnvAction::Create { store, after, name } => {
            let s = open_write(&store, true)?;
            let e = environments::create(&s, &name, after.as_deref())?;
            say!(
                "environment {} created after {}; the path is now {}",
                e.name,
                e.prior.as_deref().unwrap_or(environments::LIBRARY),
                path(&s)?
            );
        }
        EnvAction::List { store, json } => {
            let s = open_read(&store)?;
            let all = environments::list(&s)?;
            let mut out = Vec::new();
            for e in &all {
                let holds: Vec<serde_json::Value> = if e.position == 0 {
                    library_views(&s)?
                } else {
                    environments::held(&s, &e.name)?
                        .into_iter()
                        .map(|(o, v, ver)| serde_json::json!({"organization": o, "view": v, "version": ver}))
                        .collect()
                };
                out.push((e, holds));
            }
            if json {
                let v: Vec<serde_json::Value> = out
                    .iter()
                    .map(|(e, holds)| {
                        let mut v = serde_json::to_value(e).unwrap_or_default();
                        v["views"] = serde_json::Value::Array(holds.clone());
                        v
                    })
                    .collect();
                print_json("environments", "environments", &v)?;
            } else {
                for (e, holds) in out {
                    let what: Vec<String> = holds
                        .iter()
                        .map(|h| {
                            format!(
                                "{}/{} {}",
                                h["organization"].as_str().unwrap_or(""),
                                h["view"].as_str().unwrap_or(""),
                                h["version"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    say!(
                        "{}. {}  {}",
                        e.position + 1,
                        e.name,
                        if what.is_empty() {
                            "(holds no content view)".to_string()
                        } else {
                            what.join(", ")
                        }
                    );
                }
            }
        }
        EnvAction::Remove { store, force, name } => {
            let s = open_write(&store, true)?;
            let held = environments::remove(&s, &name, force)?;
            say!(
                "environment {name} removed{}; the path is now {}",
                if held.is_empty() {
                    String::new()
                } else {
                    format!(" and {} content-view versions unpublished", held.len())
                },
                path(&s)?
            );
        }
    }
    Ok(0)
}

/// The newest stored version of every view that is not retired, as Library holds them.
fn library_views(s: &Store) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for (org, view) in environments::library_views(s)? {
        if let Some(v) = environments::holding(s, &org, environments::LIBRARY, &view)? {
            out.push(serde_json::json!({"organization": org, "view": view, "version": v}));
        }
    }
    Ok(out)
}

fn path(s: &Store) -> Result<String> {
    Ok(environments::list(s)?
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(" → "))
}

/// One line for a promotion.
pub fn promotion_line(p: &Promotion) -> String {
    format!(
        "{} {}/{} version {} to {}{} ({} repositor{})",
        if p.backout { "backed out" } else { "promoted" },
        p.organization,
        p.view,
        p.version,
        p.environment,
        match &p.previous {
            Some(v) => format!(", which held {v}"),
            None => String::new(),
        },
        p.published.len(),
        if p.published.len() == 1 { "y" } else { "ies" }
    )
}

/// `ferry promote`.
pub fn promote(a: PromoteArgs) -> Result<i32> {
    let s = open_write(&a.store, !a.no_wait)?;
    let p = environments::promote(&s, a.org.as_deref(), &a.view, &a.version, &a.to, a.force)?;
    if a.json {
        print_json("promote", "promotion", &p)?;
    } else {
        say!("{}", promotion_line(&p));
        for path in &p.published {
            say!("  published {path}");
        }
    }
    Ok(0)
}

/// `ferry history`.
pub fn history(a: HistoryArgs) -> Result<i32> {
    let s = open_read(&a.store)?;
    let events = history::list(&s.db, a.last)?;
    if a.json {
        print_json("history", "events", &events)?;
    } else if events.is_empty() {
        say!("no events recorded");
    } else {
        for e in events {
            say!("{e}");
        }
    }
    Ok(0)
}
