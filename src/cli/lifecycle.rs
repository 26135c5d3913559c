//! `ferry env`, `ferry promote` and `ferry history`: the site's lifecycle, for people.

use std::path::Path;

use anyhow::Result;

use super::EnvAction;
use ferry::store::environments::{self, Promotion};
use ferry::store::{Access, Store, history};

fn open_write(store: &Path, wait: bool) -> Result<Store> {
    Ok(Store::open(store, Access::Write { wait }, &|m| {
        eprintln!("{m}")
    })?)
}

/// `ferry env …`.
pub fn env(action: EnvAction) -> Result<i32> {
    match action {
        EnvAction::Create { store, after, name } => {
            let s = open_write(&store, true)?;
            let e = environments::create(&s, &name, after.as_deref())?;
            println!(
                "environment {} created after {}; the path is now {}",
                e.name,
                e.prior.as_deref().unwrap_or(environments::LIBRARY),
                path(&s)?
            );
        }
        EnvAction::List { store, json } => {
            let s = Store::open(&store, Access::Read, &|_| {})?;
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
                println!("{}", serde_json::to_string_pretty(&v)?);
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
                    println!(
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
            println!(
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
#[allow(clippy::too_many_arguments)]
pub fn promote(
    store: &Path,
    to: &str,
    org: Option<&str>,
    force: bool,
    wait: bool,
    json: bool,
    view: &str,
    version: &str,
) -> Result<i32> {
    let s = open_write(store, wait)?;
    let p = environments::promote(&s, org, view, version, to, force)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        println!("{}", promotion_line(&p));
        for path in &p.published {
            println!("  published {path}");
        }
    }
    Ok(0)
}

/// `ferry history`.
pub fn history(store: &Path, last: Option<u32>, json: bool) -> Result<i32> {
    let s = Store::open(store, Access::Read, &|_| {})?;
    let events = history::list(&s.db, last)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else if events.is_empty() {
        println!("no events recorded");
    } else {
        for e in events {
            println!("{e}");
        }
    }
    Ok(0)
}
