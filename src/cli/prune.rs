//! `ferry prune` and `ferry import --abandon`, for people.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::output::{print_json, quiet, say};
use ferry::import::abandon;
use ferry::size::human;
use ferry::store::prune::{self, PruneOptions, PruneReport};

/// Remove old versions and the files only they held.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store directory.
    #[arg(long, value_name = "STORE")]
    store: PathBuf,
    /// Versions to keep of each content view and of each Library repository (besides
    /// those an environment holds).
    #[arg(long, value_name = "N", default_value_t = ferry::store::prune::DEFAULT_KEEP, value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
    /// Only say what would be removed and freed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Remove uploads (STORE/uploads/KEY/) untouched for longer than this: 7d, 12h, 30m.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = ferry::store::prune::parse_duration)]
    uploads_older_than: std::time::Duration,
    /// Fail at once if another ferry is changing the store, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// `ferry prune`.
pub fn run(a: Args) -> Result<i32> {
    let opts = PruneOptions {
        store: a.store,
        keep: a.keep,
        dry_run: a.dry_run,
        wait: !a.no_wait,
        uploads_older_than: a.uploads_older_than,
    };
    let report = prune::prune(&opts, &|m| eprintln!("{m}"))?;
    if a.json {
        print_json("prune", "report", &report)?;
    } else if !quiet() {
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
        print_json("abandon", "abandoned", &a)?;
        return Ok(0);
    }
    let list = a
        .volumes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    say!(
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
