//! What a bundle owes to the bundles its stream made before it:
//!
//! - **retirement**: every Library repository and content view that an earlier bundle
//!   carried and the catalog no longer has is listed in `[[retired]]` (`spec/FORMAT.md`
//!   §5.8), with the first sequence that stopped carrying it, in this bundle and every later
//!   one (so a site that skipped a bundle still learns it);
//! - **immutable versions**: a content-view version that an earlier bundle carried must
//!   carry the same content; a catalog that changed it is refused before anything is written.

use std::collections::{BTreeMap, BTreeSet};

use super::state::{ExportState, StateError, listing};

use crate::catalog::Catalog;
use crate::format::manifest::{Manifest, Retired, RetiredKind};

/// The retired records for a bundle of `sequence` made from `catalog`, given the stream's
/// newest bundle so far.
pub fn retired(previous: Option<&Manifest>, catalog: &Catalog, sequence: u64) -> Vec<Retired> {
    let Some(prev) = previous else {
        return Vec::new();
    };
    let repos: BTreeSet<String> = catalog
        .products
        .iter()
        .flat_map(|p| {
            p.repositories
                .iter()
                .map(move |r| format!("{}/{}", p.label, r.label).to_ascii_lowercase())
        })
        .collect();
    let views: BTreeSet<String> = catalog
        .content_views
        .iter()
        .map(|v| v.label.to_ascii_lowercase())
        .collect();
    let carried = |kind: RetiredKind, label: &str| match kind {
        RetiredKind::Repository => repos.contains(&label.to_ascii_lowercase()),
        RetiredKind::ContentView => views.contains(&label.to_ascii_lowercase()),
    };
    let mut out: Vec<Retired> = Vec::new();
    let mut add = |kind, label: String, since: u64| {
        if !carried(kind, &label)
            && !out
                .iter()
                .any(|r| r.kind == kind && r.label.eq_ignore_ascii_case(&label))
        {
            out.push(Retired {
                kind,
                label,
                since: since.min(sequence),
            });
        }
    };
    // Still retired since earlier bundles, then newly retired.
    for r in &prev.retired {
        add(r.kind, r.label.clone(), r.since);
    }
    for r in &prev.repositories {
        add(
            RetiredKind::Repository,
            format!("{}/{}", r.product, r.label),
            sequence,
        );
    }
    for v in &prev.content_views {
        add(RetiredKind::ContentView, v.label.clone(), sequence);
    }
    out.sort_by(|a, b| (a.kind, &a.label).cmp(&(b.kind, &b.label)));
    out
}

/// A content-view version whose content differs from what the stream shipped under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// View label.
    pub view: String,
    /// Version.
    pub version: String,
    /// The first repository (`product/repo`) that differs.
    pub repository: String,
    /// The sequence of the bundle that first shipped the version.
    pub shipped_in: u64,
}

/// The first content-view version of `new` that the stream shipped before with other
/// content (as the export state recorded it).
pub fn changed_version(state: &ExportState, new: &Manifest) -> Result<Option<Changed>, StateError> {
    for v in &new.content_views {
        let Some((seq, old)) = state.shipped_view(&new.organization, &v.label, &v.version)? else {
            continue;
        };
        let mut now = BTreeMap::new();
        for vr in &v.repositories {
            if let Some(t) = new.tree(&vr.tree) {
                now.insert(vr.repository.clone(), listing(t));
            }
        }
        let names: BTreeSet<&String> = old.keys().chain(now.keys()).collect();
        if let Some(name) = names.into_iter().find(|n| old.get(*n) != now.get(*n)) {
            return Ok(Some(Changed {
                view: v.label.clone(),
                version: v.version.clone(),
                repository: name.clone(),
                shipped_in: seq,
            }));
        }
    }
    Ok(None)
}
