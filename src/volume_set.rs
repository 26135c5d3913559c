//! A set of volumes given together: signatures checked, the bundle they belong to chosen,
//! its manifest parsed, and every volume sorted by number. Shared by verify and import.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::format::BundleId;
use crate::format::constants::{MANIFEST_FILE, VOLUME_FILE};
use crate::format::manifest::Manifest;
use crate::format::signify::PublicKey;
use crate::volumes::{self, ProblemKind, Volume};

/// One thing wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The volume directory as given.
    pub volume: String,
    /// Its number, when known.
    pub number: Option<u32>,
    /// The file on that volume, when one is at fault.
    pub file: Option<String>,
    /// Kind of problem.
    pub kind: ProblemKind,
    /// What it means.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.volume)?;
        if let Some(n) = self.number {
            write!(f, " (volume {n})")?;
        }
        match &self.file {
            Some(file) => write!(f, ": {file} {}", self.detail),
            None => write!(f, ": {}", self.detail),
        }
    }
}

/// Findings gathered while checking.
#[derive(Debug, Default)]
pub struct Findings {
    /// In the order found.
    pub findings: Vec<Finding>,
}

impl Findings {
    /// Record one.
    pub fn add(
        &mut self,
        dir: &Path,
        number: Option<u32>,
        file: Option<&str>,
        kind: ProblemKind,
        detail: impl Into<String>,
    ) {
        self.findings.push(Finding {
            volume: dir.display().to_string(),
            number,
            file: file.map(str::to_string),
            kind,
            detail: detail.into(),
        });
    }
}

/// Volumes given together, after their signatures are checked.
pub struct VolumeSet {
    /// The bundle most of them belong to, with its parsed manifest.
    pub bundle: Option<(BundleId, Manifest)>,
    /// That bundle's volumes by number.
    pub volumes: BTreeMap<u32, Volume>,
    /// Volumes of that bundle given a second time.
    pub duplicates: Vec<Volume>,
    /// Everything wrong so far.
    pub findings: Findings,
}

impl VolumeSet {
    /// Numbers of the bundle's volumes that were not given (or not usable).
    pub fn missing(&self) -> Vec<u32> {
        match &self.bundle {
            Some((_, m)) => (1..=m.volumes)
                .filter(|n| !self.volumes.contains_key(n))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Open every directory (signature first), pick the bundle, parse its manifest and sort
/// its volumes by number. Nothing but the small signed files is read.
pub fn open_set(dirs: &[PathBuf], trusted: &[PublicKey]) -> VolumeSet {
    let mut cx = Findings::default();
    let mut opened: Vec<(Volume, Vec<u8>)> = Vec::new();
    for dir in dirs {
        match volumes::open(dir, trusted) {
            Ok(v) => opened.push(v),
            Err(p) => cx.add(dir, None, Some(&p.file), p.kind, p.detail),
        }
    }
    let mut set = VolumeSet {
        bundle: None,
        volumes: BTreeMap::new(),
        duplicates: Vec::new(),
        findings: Findings::default(),
    };
    // The bundle most of the given volumes belong to (on a tie, the first given).
    let mut counts: BTreeMap<BundleId, (usize, std::cmp::Reverse<usize>)> = BTreeMap::new();
    for (i, (v, _)) in opened.iter().enumerate() {
        let e = counts
            .entry(v.info.bundle)
            .or_insert((0, std::cmp::Reverse(i)));
        e.0 += 1;
    }
    let Some(bundle) = counts.iter().max_by_key(|(_, c)| **c).map(|(b, _)| *b) else {
        if cx.findings.is_empty() {
            cx.findings.push(Finding {
                volume: "-".into(),
                number: None,
                file: None,
                kind: ProblemKind::Missing,
                detail: "no volume given".into(),
            });
        }
        set.findings = cx;
        return set;
    };
    let (first, bytes) = opened
        .iter()
        .find(|(v, _)| v.info.bundle == bundle)
        .expect("chosen from opened");
    let manifest = match Manifest::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            cx.add(
                &first.dir,
                Some(first.info.volume),
                Some(MANIFEST_FILE),
                ProblemKind::Malformed,
                e.to_string(),
            );
            set.findings = cx;
            return set;
        }
    };
    for (v, _) in opened {
        if v.info.bundle != bundle {
            cx.add(
                &v.dir,
                Some(v.info.volume),
                None,
                ProblemKind::WrongBundle,
                format!(
                    "belongs to bundle {}, not to bundle {} like the other volumes given: keep media of different bundles apart",
                    v.info.bundle.short(),
                    bundle.short()
                ),
            );
        } else if v.signer != manifest.signer {
            cx.add(
                &v.dir,
                Some(v.info.volume),
                Some(MANIFEST_FILE),
                ProblemKind::BadSignature,
                format!(
                    "names signer {} but the volume is signed by key {}",
                    manifest.signer, v.signer
                ),
            );
        } else if v.info.volumes != manifest.volumes {
            cx.add(
                &v.dir,
                Some(v.info.volume),
                Some(VOLUME_FILE),
                ProblemKind::Malformed,
                "disagrees with the manifest on the number of volumes",
            );
        } else if let Some(prev) = set.volumes.get(&v.info.volume) {
            cx.add(
                &v.dir,
                Some(v.info.volume),
                None,
                ProblemKind::Duplicate,
                format!(
                    "is volume {} again (also given as {}); checking both",
                    v.info.volume,
                    prev.dir.display()
                ),
            );
            set.duplicates.push(v);
        } else {
            set.volumes.insert(v.info.volume, v);
        }
    }
    set.bundle = Some((bundle, manifest));
    set.findings = cx;
    set
}
