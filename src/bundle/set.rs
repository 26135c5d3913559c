//! Volumes given together (`spec/FORMAT.md` §6.5): each opened signature first, the
//! bundle most of them belong to chosen, its manifest read once and parsed, and every
//! volume that belongs with it sorted by number. A volume of another bundle, a volume
//! given twice, or one that disagrees with the manifest is named, never combined.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::findings::{Finding, ProblemKind};
use super::volume::{self, Volume};
use crate::format::BundleId;
use crate::format::constants::{MANIFEST_FILE, SIGNATURE_FILE, VOLUME_FILE};
use crate::format::manifest::Manifest;
use crate::format::signify::PublicKey;

/// A bundle whose manifest was read from a signed volume and parsed.
#[derive(Debug)]
pub struct Bundle {
    /// Its id (the SHA-256 of the manifest).
    pub id: BundleId,
    /// The manifest.
    pub manifest: Manifest,
    /// The manifest's size in bytes.
    pub manifest_len: u64,
}

/// Volumes given together, after their signatures and identities are checked.
#[derive(Debug)]
pub struct VolumeSet {
    /// The bundle most of them belong to.
    pub bundle: Option<Bundle>,
    /// That bundle's usable volumes by number.
    pub volumes: BTreeMap<u32, Volume>,
    /// Everything wrong so far.
    pub findings: Vec<Finding>,
}

impl VolumeSet {
    /// Numbers of the bundle's volumes that were not given (or are not usable).
    pub fn missing(&self) -> Vec<u32> {
        match &self.bundle {
            Some(b) => (1..=b.manifest.volumes)
                .filter(|n| !self.volumes.contains_key(n))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Open every directory (signature first), pick the bundle, read and parse its manifest
/// once, and sort its volumes by number. Nothing but the small signed files is read.
pub fn open(dirs: &[PathBuf], trusted: &[PublicKey]) -> VolumeSet {
    let mut findings = Vec::new();
    let mut opened: Vec<(Volume, Vec<Finding>)> = Vec::new();
    for dir in dirs {
        match volume::open(dir, trusted) {
            Ok(v) => opened.push(v),
            Err(f) => findings.push(f),
        }
    }
    let mut set = VolumeSet {
        bundle: None,
        volumes: BTreeMap::new(),
        findings: Vec::new(),
    };
    // The bundle most of the given volumes belong to (on a tie, the first given).
    let mut counts: BTreeMap<BundleId, (usize, std::cmp::Reverse<usize>)> = BTreeMap::new();
    for (i, (v, _)) in opened.iter().enumerate() {
        counts
            .entry(v.info.bundle)
            .or_insert((0, std::cmp::Reverse(i)))
            .0 += 1;
    }
    let Some(id) = counts.iter().max_by_key(|(_, c)| **c).map(|(b, _)| *b) else {
        if findings.is_empty() {
            findings.push(Finding::new(
                std::path::Path::new("-"),
                None,
                None,
                ProblemKind::Missing,
                "no volume given",
            ));
        }
        set.findings = findings;
        return set;
    };
    let first = opened
        .iter()
        .map(|(v, _)| v)
        .find(|v| v.info.bundle == id)
        .expect("chosen from the opened volumes");
    let parsed = first.read_manifest().and_then(|bytes| {
        let len = bytes.len() as u64;
        Manifest::parse(&bytes)
            .map(|m| (m, len))
            .map_err(|e| first.finding(Some(MANIFEST_FILE), ProblemKind::Malformed, e.to_string()))
    });
    let (manifest, manifest_len) = match parsed {
        Ok(m) => m,
        Err(f) => {
            findings.push(f);
            set.findings = findings;
            return set;
        }
    };
    for (v, extra) in opened {
        let n = v.info.volume;
        if v.info.bundle != id {
            findings.push(v.finding(
                None,
                ProblemKind::WrongBundle,
                format!(
                    "belongs to bundle {}, not to bundle {} like the other volumes given: keep media of different bundles apart",
                    v.info.bundle.short(),
                    id.short()
                ),
            ));
        } else if v.signer != manifest.signer {
            findings.push(v.finding(
                Some(SIGNATURE_FILE),
                ProblemKind::BadSignature,
                format!(
                    "is made with key {}, but the manifest names signer {}: a bundle has one signer",
                    v.signer, manifest.signer
                ),
            ));
        } else if v.info.volumes != manifest.volumes {
            findings.push(v.finding(
                Some(VOLUME_FILE),
                ProblemKind::Malformed,
                format!(
                    "says the bundle has {} volumes, the manifest {}",
                    v.info.volumes, manifest.volumes
                ),
            ));
        } else if let Some(prev) = set.volumes.get(&n) {
            findings.push(v.finding(
                None,
                ProblemKind::Duplicate,
                format!(
                    "is volume {n} again (also given as {}): give each volume once",
                    prev.dir.display()
                ),
            ));
        } else {
            findings.extend(extra);
            findings.extend(volume::account(&v, &manifest));
            set.volumes.insert(n, v);
        }
    }
    set.bundle = Some(Bundle {
        id,
        manifest,
        manifest_len,
    });
    set.findings = findings;
    set
}
