//! `ferry prune` and `ferry import --abandon`, for people.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use ferry::import::abandon;
use ferry::size::human;
use ferry::store::prune::{self, PruneOptions, PruneReport};

/// `ferry prune`.
pub fn prune(
    store: &Path,
    keep: u32,
    dry_run: bool,
    uploads_older_than: Duration,
    wait: bool,
    json: bool,
) -> Result<i32> {
    let opts = PruneOptions {
        store: store.to_path_buf(),
        keep,
        dry_run,
        wait,
        uploads_older_than,
    };
    let report = prune::prune(&opts, &|m| eprintln!("{m}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(0)
}

/// `1 object`, `2 objects`, `2 version directories`.
fn count(n: u64, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}

/// The report for a human.
fn text(r: &PruneReport) -> String {
    let mut s = String::new();
    let (would, verb) = if r.dry_run {
        ("would ", "would free")
    } else {
        ("", "freed")
    };
    for w in &r.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    if r.is_empty() {
        s.push_str(&format!(
            "nothing to prune (keeping the newest {} version{} of each content view and repository, and what environments hold)\n",
            r.keep,
            if r.keep == 1 { "" } else { "s" }
        ));
        return s;
    }
    if r.dry_run {
        s.push_str("dry run: nothing was changed\n");
    }
    for v in &r.view_versions {
        s.push_str(&format!(
            "{would}prune content view {}/{} version {}\n",
            v.organization, v.view, v.version
        ));
    }
    for v in &r.repository_versions {
        s.push_str(&format!(
            "{would}prune repository {}/{}/{} version {}\n",
            v.organization, v.product, v.repository, v.version
        ));
    }
    for u in &r.uploads_removed {
        s.push_str(&format!(
            "{would}remove abandoned upload {}{} (last written {}, {})\n",
            &u.key[..u.key.len().min(16)],
            match &u.bundle {
                Some(b) => format!(" of bundle {}", &b[..b.len().min(16)]),
                None => String::new(),
            },
            u.modified,
            human(u.bytes)
        ));
    }
    s.push_str(&format!(
        "{}, {} pruned; {}, {}{} removed; {verb} {} on disk ({} of objects)\n",
        count(r.view_versions.len() as u64, "content-view version"),
        count(r.repository_versions.len() as u64, "repository version"),
        count(r.version_dirs_removed, "version directory"),
        count(r.objects_removed, "object"),
        if r.uploads_removed.is_empty() {
            String::new()
        } else {
            format!(", {}", count(r.uploads_removed.len() as u64, "upload"))
        },
        human(r.bytes_freed),
        human(r.object_bytes_freed),
    ));
    s
}

/// `ferry import --abandon`.
pub fn abandon(store: &Path, bundle: &str, wait: bool, json: bool) -> Result<i32> {
    let a = abandon::abandon(store, bundle, wait, &|m| eprintln!("{m}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&a)?);
        return Ok(0);
    }
    let list = a
        .volumes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "abandoned bundle {}: {}{}{}; the objects its volumes stored are freed by the next ferry prune",
        &a.bundle[..16],
        if a.volumes.is_empty() {
            "no volume was recorded as staged".to_string()
        } else {
            format!(
                "staged volume{} {list}{} discarded",
                if a.volumes.len() == 1 { "" } else { "s" },
                a.total.map(|t| format!(" of {t}")).unwrap_or_default()
            )
        },
        if a.staging_removed {
            ", its staging area removed"
        } else {
            ""
        },
        if a.uploads_removed.is_empty() {
            String::new()
        } else {
            format!(", {} upload(s) removed", a.uploads_removed.len())
        }
    );
    Ok(0)
}
