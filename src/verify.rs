//! `ferry verify`: check the volumes of a bundle with only the signer's public key, and
//! report every finding — not just the first — and which volumes are still missing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::format::ObjectId;
use crate::format::constants::{
    MANIFEST_FILE, PACK_EXTENSION, PACKS_DIR, README_FILE, VOLUME_FILE,
};
use crate::format::manifest::Manifest;
use crate::format::signify::PublicKey;
use crate::object_reader::read_object;
use crate::progress::Progress;
use crate::volume_set::{self, Finding, Findings};
use crate::volumes::{self, FileCheck, ProblemKind, Volume};

/// The outcome of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The bundle checked (the one most volumes belong to).
    pub bundle: Option<String>,
    /// Its organization.
    pub organization: Option<String>,
    /// Its sequence number.
    pub sequence: Option<u64>,
    /// Its creation time.
    pub created: Option<String>,
    /// Key that signed it.
    pub signer: Option<String>,
    /// How many volumes it has.
    pub volumes: Option<u32>,
    /// Volume numbers given and intact.
    pub intact: Vec<u32>,
    /// Volume numbers not given.
    pub missing: Vec<u32>,
    /// Everything wrong.
    pub findings: Vec<Finding>,
    /// Packs whose SHA-256 was checked.
    pub packs_checked: usize,
    /// Bytes read to check them.
    pub bytes_checked: u64,
    /// With `--deep`: objects decoded and found intact.
    pub objects_checked: Option<u64>,
    /// With `--deep`: objects that could not be checked because a volume is missing.
    pub objects_unavailable: Option<u64>,
}

impl Report {
    /// True when the set is complete and nothing is wrong.
    pub fn ok(&self) -> bool {
        self.bundle.is_some() && self.findings.is_empty() && self.missing.is_empty()
    }
}

/// Check volume directories against trusted keys.
pub fn verify(
    dirs: &[PathBuf],
    trusted: &[PublicKey],
    deep: bool,
    progress: &dyn Progress,
) -> Report {
    let mut report = Report::default();
    let set = volume_set::open_set(dirs, trusted);
    let mut cx = set.findings;
    let Some((bundle, manifest)) = set.bundle else {
        report.findings = cx.findings;
        return report;
    };
    report.bundle = Some(bundle.to_hex());
    report.organization = Some(manifest.organization.clone());
    report.sequence = Some(manifest.sequence);
    report.created = Some(manifest.created.clone());
    report.signer = Some(manifest.signer.to_string());
    report.volumes = Some(manifest.volumes);
    let by_number = set.volumes;
    for v in &set.duplicates {
        // A volume given twice: check the copy too, under its own directory.
        check_packs(&mut cx, v, &manifest, progress, &mut report);
    }

    // 4. Every file on every volume.
    let total: u64 = by_number
        .keys()
        .flat_map(|n| manifest.packs.values().filter(move |p| p.volume == *n))
        .map(|p| p.size)
        .sum();
    progress.begin("checking packs", Some(total));
    let mut complete_packs: HashMap<String, PathBuf> = HashMap::new();
    for v in by_number.values() {
        let before = cx.findings.len();
        complete_packs.extend(check_packs(&mut cx, v, &manifest, progress, &mut report));
        if cx.findings.len() == before {
            report.intact.push(v.info.volume);
        }
    }
    progress.end();
    report.missing = (1..=manifest.volumes)
        .filter(|n| !by_number.contains_key(n))
        .collect();

    // 5. Deep: decode every object whose packs are all there in full (a corrupt pack of the
    // right size is decoded too: that names the objects it damages).
    if deep {
        deep_check(
            &mut cx,
            &manifest,
            &complete_packs,
            &by_number,
            progress,
            &mut report,
        );
    }
    report.findings = cx.findings;
    report
}

/// Path of a pack on a volume.
pub fn pack_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(PACKS_DIR).join(format!("{name}.{PACK_EXTENSION}"))
}

/// Check the packs and README of one volume; returns the packs that are there in full
/// (intact, or corrupt but of the signed size).
fn check_packs(
    cx: &mut Findings,
    v: &Volume,
    manifest: &Manifest,
    progress: &dyn Progress,
    report: &mut Report,
) -> HashMap<String, PathBuf> {
    let n = Some(v.info.volume);
    let mut good = HashMap::new();
    let mut expected: BTreeSet<String> = [VOLUME_FILE, MANIFEST_FILE, README_FILE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (name, pack) in manifest
        .packs
        .iter()
        .filter(|(_, p)| p.volume == v.info.volume)
    {
        let rel = format!("{PACKS_DIR}/{name}.{PACK_EXTENSION}");
        expected.insert(rel.clone());
        if v.listed(&rel) != Some(pack.sha256) {
            cx.add(
                &v.dir,
                n,
                Some(&rel),
                ProblemKind::BadSignature,
                "is in the manifest but the signed list disagrees about it",
            );
            continue;
        }
        let path = pack_path(&v.dir, name);
        report.packs_checked += 1;
        match volumes::check_file(&path, pack.sha256, Some(pack.size), &|b| {
            progress.advance(b)
        }) {
            FileCheck::Ok => {
                report.bytes_checked += pack.size;
                good.insert(name.clone(), path);
            }
            FileCheck::Missing => cx.add(&v.dir, n, Some(&rel), ProblemKind::Missing, "is missing"),
            FileCheck::Truncated { found } => cx.add(
                &v.dir,
                n,
                Some(&rel),
                ProblemKind::Truncated,
                format!("is truncated: {found} of {} bytes", pack.size),
            ),
            FileCheck::TooLong { found } => cx.add(
                &v.dir,
                n,
                Some(&rel),
                ProblemKind::Corrupt,
                format!("is {found} bytes, {} more than signed", found - pack.size),
            ),
            FileCheck::Corrupt => {
                cx.add(
                    &v.dir,
                    n,
                    Some(&rel),
                    ProblemKind::Corrupt,
                    "is corrupt: its SHA-256 does not match the signed one",
                );
                good.insert(name.clone(), path);
            }
            FileCheck::Unreadable(e) => cx.add(
                &v.dir,
                n,
                Some(&rel),
                ProblemKind::Unreadable,
                format!("cannot be read: {e}"),
            ),
        }
    }
    match v.listed(README_FILE) {
        Some(h) => match volumes::check_file(&v.dir.join(README_FILE), h, None, &|_| {}) {
            FileCheck::Ok => {}
            FileCheck::Missing => cx.add(
                &v.dir,
                n,
                Some(README_FILE),
                ProblemKind::Missing,
                "is missing",
            ),
            _ => cx.add(
                &v.dir,
                n,
                Some(README_FILE),
                ProblemKind::Corrupt,
                "does not match its signed SHA-256",
            ),
        },
        None => cx.add(
            &v.dir,
            n,
            Some(README_FILE),
            ProblemKind::Malformed,
            "is not covered by the signed list",
        ),
    }
    for e in &v.list {
        if !expected.contains(&e.path) {
            cx.add(
                &v.dir,
                n,
                Some(&e.path),
                ProblemKind::Malformed,
                "is in the signed list but not in the manifest",
            );
        }
    }
    good
}

fn deep_check(
    cx: &mut Findings,
    manifest: &Manifest,
    present: &HashMap<String, PathBuf>,
    by_number: &BTreeMap<u32, Volume>,
    progress: &dyn Progress,
    report: &mut Report,
) {
    let total: u64 = manifest.objects.values().map(|o| o.size).sum();
    progress.begin("decoding objects", Some(total));
    let mut checked = 0u64;
    let mut unavailable = 0u64;
    let mut users: HashMap<ObjectId, Vec<String>> = HashMap::new();
    for t in &manifest.trees {
        for (path, id) in &t.files {
            users
                .entry(*id)
                .or_default()
                .push(format!("{}/{path}", t.name));
        }
    }
    for (id, o) in &manifest.objects {
        if o.pieces.iter().any(|p| !present.contains_key(&p.pack)) {
            unavailable += 1;
            continue;
        }
        let mut sink = std::io::sink();
        match read_object(id, o, present, &mut sink) {
            Ok(()) => checked += 1,
            Err(e) => {
                let first = &o.pieces[0];
                let vol = manifest.packs[&first.pack].volume;
                let dir = by_number
                    .get(&vol)
                    .map_or_else(|| PathBuf::from("-"), |v| v.dir.clone());
                let names = users.get(id).map(|u| u.join(", ")).unwrap_or_default();
                cx.add(
                    &dir,
                    Some(vol),
                    Some(&format!("{PACKS_DIR}/{}.{PACK_EXTENSION}", first.pack)),
                    ProblemKind::DamagedObject,
                    format!(
                        "holds object {} ({names}) which is damaged: {e}",
                        id.short()
                    ),
                );
            }
        }
        progress.advance(o.size);
    }
    progress.end();
    report.objects_checked = Some(checked);
    report.objects_unavailable = Some(unavailable);
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(b), Some(n)) = (&self.bundle, self.volumes) {
            writeln!(
                f,
                "bundle {} (organization {}, sequence {}, created {}, signed by key {}): {n} volume{}",
                &b[..16],
                self.organization.as_deref().unwrap_or("?"),
                self.sequence.unwrap_or(0),
                self.created.as_deref().unwrap_or("?"),
                self.signer.as_deref().unwrap_or("?"),
                if n == 1 { "" } else { "s" }
            )?;
        }
        for finding in &self.findings {
            writeln!(f, "FAIL {finding}")?;
        }
        if let Some(n) = self.volumes
            && !self.missing.is_empty()
        {
            let list: Vec<String> = self.missing.iter().map(u32::to_string).collect();
            writeln!(
                f,
                "MISSING volume{} {} of {n}: insert {} and run the same command again with every volume",
                if self.missing.len() == 1 { "" } else { "s" },
                list.join(", "),
                if self.missing.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            )?;
        }
        write!(
            f,
            "{} pack{} checked ({} bytes)",
            self.packs_checked,
            if self.packs_checked == 1 { "" } else { "s" },
            self.bytes_checked
        )?;
        if let Some(c) = self.objects_checked {
            write!(f, ", {c} objects decoded and intact")?;
            if let Some(u) = self.objects_unavailable.filter(|&u| u > 0) {
                write!(f, ", {u} not checkable (on missing volumes)")?;
            }
        }
        writeln!(f)?;
        if self.ok() {
            write!(
                f,
                "OK: every volume is intact and signed, and the set is complete"
            )
        } else {
            write!(
                f,
                "NOT OK: {} problem{}{}",
                self.findings.len(),
                if self.findings.len() == 1 { "" } else { "s" },
                if self.missing.is_empty() {
                    String::new()
                } else {
                    format!(", {} volume(s) missing", self.missing.len())
                }
            )
        }
    }
}
