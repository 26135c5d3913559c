//! `ferry verify`: check the volumes of a bundle with only the signer's public key, and
//! report every finding — not just the first — and which volumes are still missing. The
//! checks are the bundle reader's ([`crate::bundle`]), the same that `import` runs.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::bundle::{self, Depth, Finding, pass};
use crate::format::signify::PublicKey;
use crate::progress::Progress;

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
    /// With `--deep`: objects that could not be checked (a volume is missing, or a pack
    /// could not be read).
    pub objects_unavailable: Option<u64>,
}

impl Report {
    /// True when the set is complete and nothing is wrong.
    pub fn ok(&self) -> bool {
        self.bundle.is_some() && self.findings.is_empty() && self.missing.is_empty()
    }
}

/// Check volume directories against trusted keys; `deep` also decodes every object.
pub fn verify(
    dirs: &[PathBuf],
    trusted: &[PublicKey],
    deep: bool,
    progress: &dyn Progress,
) -> Report {
    let set = bundle::set::open(dirs, trusted);
    let mut report = Report {
        missing: set.missing(),
        findings: set.findings,
        ..Report::default()
    };
    let Some(b) = &set.bundle else {
        return report;
    };
    let m = &b.manifest;
    report.bundle = Some(b.id.to_hex());
    report.organization = Some(m.organization.clone());
    report.sequence = Some(m.sequence);
    report.created = Some(m.created.clone());
    report.signer = Some(m.signer.to_string());
    report.volumes = Some(m.volumes);
    let depth = if deep { Depth::Objects } else { Depth::Packs };
    let p = pass::run(b, &set.volumes, depth, &mut pass::Discard, progress)
        .expect("discarding decoded objects cannot fail");
    report.findings.extend(p.findings);
    report.packs_checked = p.packs_checked;
    report.bytes_checked = p.bytes_checked;
    if deep {
        report.objects_checked = Some(p.objects_checked);
        report.objects_unavailable = Some(p.objects_unchecked);
    }
    report.intact = set
        .volumes
        .keys()
        .copied()
        .filter(|n| {
            !report.findings.iter().any(|f| {
                f.number == Some(*n) && set.volumes[n].dir.display().to_string() == f.volume
            })
        })
        .collect();
    report
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
