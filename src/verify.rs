//! `ferry verify`: check the volumes of a bundle with only the signer's public key, and
//! report every finding — not just the first — and which volumes are still missing. The
//! checks are the bundle reader's ([`crate::bundle`]), the same that `import` runs. With
//! [`VerifyOptions::partial`] (one stick at a kiosk) the volumes given are checked just as
//! completely, and the volumes not given, and the objects that continue on them, are named
//! instead of being findings (`spec/FORMAT.md` §12, "Checking part of a set").

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::bundle::{self, Depth, Finding, pass};
use crate::format::signify::PublicKey;
use crate::progress::Progress;

/// How to verify.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Also read every tar entry and decode every object (`--deep`).
    pub deep: bool,
    /// Check only the volumes given (`--partial`, one stick at a kiosk): each is checked
    /// completely, and the bundle's other volumes are named but are no finding.
    pub partial: bool,
}

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
    /// Whether only the volumes given were to be checked ([`VerifyOptions::partial`]).
    pub partial: bool,
    /// Volume numbers given and checked (intact or not).
    pub checked: Vec<u32>,
    /// Volume numbers given and intact.
    pub intact: Vec<u32>,
    /// Volume numbers whose absence is a problem: the bundle's volumes not given (or not
    /// usable), unless `partial`, where none is.
    pub missing: Vec<u32>,
    /// Volume numbers of the bundle not given (or not usable, see `findings`), whatever the
    /// mode: with `partial` they are not checked, and nothing is said about them.
    pub not_given: Vec<u32>,
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
    /// With `--deep`: of those, the objects that lie partly on the volumes checked and
    /// continue on a volume not given, so cannot be decoded here (`unchecked` names them).
    pub objects_unchecked: Option<u64>,
    /// With `--deep`: the objects counted in `objects_unchecked`.
    pub unchecked: Vec<Unchecked>,
}

/// An object the volumes given hold only part of: not decoded, and no finding (its bytes
/// here are still checked with their pack's SHA-256).
#[derive(Debug, Clone, Serialize)]
pub struct Unchecked {
    /// Its id.
    pub object: String,
    /// The volumes not given that hold the rest of it.
    pub continues_on: Vec<u32>,
    /// The tree files that use it (`TREE/PATH`).
    pub files: Vec<String>,
}

impl Report {
    /// True when nothing is wrong with the volumes given, and either the set is complete
    /// or only the volumes given were to be checked (`partial`).
    pub fn ok(&self) -> bool {
        self.bundle.is_some()
            && self.findings.is_empty()
            && self.missing.is_empty()
            && !self.checked.is_empty()
    }
}

/// Check volume directories against trusted keys, as deep as `opts` says: every volume
/// given completely (signature, signed list, packs, and with `deep` every entry and
/// every object that lies wholly on them). Without `partial` the set must be complete;
/// with it, the volumes not given are only named.
pub fn verify(
    dirs: &[PathBuf],
    trusted: &[PublicKey],
    opts: VerifyOptions,
    progress: &dyn Progress,
) -> Report {
    let set = bundle::set::open(dirs, trusted);
    let not_given = set.missing();
    let mut report = Report {
        partial: opts.partial,
        checked: set.volumes.keys().copied().collect(),
        missing: if opts.partial {
            Vec::new()
        } else {
            not_given.clone()
        },
        not_given,
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
    let depth = if opts.deep {
        Depth::Objects
    } else {
        Depth::Packs
    };
    let p = pass::run(b, &set.volumes, depth, &mut pass::Discard, progress)
        .expect("discarding decoded objects cannot fail");
    report.findings.extend(p.findings);
    report.packs_checked = p.packs_checked;
    report.bytes_checked = p.bytes_checked;
    if opts.deep {
        report.objects_checked = Some(p.objects_checked);
        report.objects_unavailable = Some(p.objects_unchecked);
        report.objects_unchecked = Some(p.continuing.len() as u64);
        if !p.continuing.is_empty() {
            let ids: Vec<_> = p.continuing.iter().map(|c| c.object).collect();
            let mut users = pass::users_of(m, &ids);
            report.unchecked = p
                .continuing
                .into_iter()
                .map(|c| Unchecked {
                    object: c.object.to_hex(),
                    continues_on: c.on,
                    files: users.remove(&c.object).unwrap_or_default(),
                })
                .collect();
        }
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

/// `2`, `2, 3`.
fn numbers(ns: &[u32]) -> String {
    ns.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// `volume 2`, `volumes 2, 3`.
fn volumes(ns: &[u32]) -> String {
    format!(
        "volume{} {}",
        if ns.len() == 1 { "" } else { "s" },
        numbers(ns)
    )
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
        if let Some(n) = self.volumes.filter(|_| self.partial) {
            write!(
                f,
                "PARTIAL: checked {} of {n}",
                if self.checked.is_empty() {
                    "no volume".to_string()
                } else {
                    volumes(&self.checked)
                }
            )?;
            if !self.not_given.is_empty() {
                write!(
                    f,
                    "; not given: {} (check {} too, one at a time or together)",
                    volumes(&self.not_given),
                    if self.not_given.len() == 1 {
                        "it"
                    } else {
                        "them"
                    }
                )?;
            }
            writeln!(f)?;
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
            if self.partial {
                if let Some(u) = self.objects_unchecked.filter(|&u| u > 0) {
                    write!(f, ", {u} not checked (continuing on a volume not given)")?;
                }
            } else if let Some(u) = self.objects_unavailable.filter(|&u| u > 0) {
                write!(f, ", {u} not checkable (on missing volumes)")?;
            }
        }
        writeln!(f)?;
        if self.partial {
            for u in &self.unchecked {
                writeln!(
                    f,
                    "object {} ({}) not checked: continues on {}",
                    &u.object[..16],
                    pass::named(&u.files),
                    volumes(&u.continues_on)
                )?;
            }
        }
        if self.ok() && self.partial {
            write!(
                f,
                "OK: {} intact and signed{}",
                if self.checked.len() == 1 {
                    format!("volume {} is", self.checked[0])
                } else {
                    format!("volumes {} are", numbers(&self.checked))
                },
                if self.not_given.is_empty() {
                    ", and the set is complete".to_string()
                } else {
                    format!(
                        "; {} {} not given and not checked",
                        volumes(&self.not_given),
                        if self.not_given.len() == 1 {
                            "was"
                        } else {
                            "were"
                        }
                    )
                }
            )
        } else if self.ok() {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::bundle::ProblemKind;
    use crate::format::KeyId;
    use crate::format::signify::SecretKey;
    use crate::progress::Silent;

    /// testdata's catalog packed onto 1 MiB media: three volumes, some objects split
    /// across two of them.
    fn bundle(dir: &Path) -> (Vec<PathBuf>, PublicKey) {
        let sk = SecretKey::from_seed([7; 32], KeyId([1, 2, 3, 4, 5, 6, 7, 8]));
        let catalog = crate::catalog::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/catalog.toml"),
        )
        .unwrap();
        let mut opts = crate::pack::PackOptions::new(
            dir.join("out"),
            "2026-01-01T00:00:00Z".into(),
            dir.join("state"),
        );
        opts.set_media_size(Some(1 << 20));
        let s = crate::pack::pack(&catalog, &sk, &opts, &Silent).unwrap();
        assert_eq!(s.volumes.len(), 3);
        (s.volumes, sk.public())
    }

    fn run(vols: &[PathBuf], key: &PublicKey, deep: bool, partial: bool) -> Report {
        verify(
            vols,
            std::slice::from_ref(key),
            VerifyOptions { deep, partial },
            &Silent,
        )
    }

    #[test]
    fn each_volume_alone_is_checked_completely_and_names_the_others() {
        let tmp = tempfile::tempdir().unwrap();
        let (vols, key) = bundle(tmp.path());
        let full = run(&vols, &key, true, false);
        assert!(full.ok(), "{full}");
        let total = full.objects_checked.unwrap();
        assert_eq!(full.objects_unchecked, Some(0));
        assert_eq!(full.not_given, Vec::<u32>::new());

        let mut decoded = 0;
        let mut continuing = BTreeSet::new();
        let (mut packs, mut bytes) = (0, 0);
        for (i, v) in vols.iter().enumerate() {
            let n = i as u32 + 1;
            let r = run(std::slice::from_ref(v), &key, true, true);
            assert!(r.ok(), "{r}");
            assert_eq!(r.checked, vec![n]);
            assert_eq!(r.intact, vec![n]);
            assert_eq!(r.missing, Vec::<u32>::new());
            let others: Vec<u32> = (1..=3).filter(|&k| k != n).collect();
            assert_eq!(r.not_given, others);
            assert_eq!(r.objects_unchecked, Some(r.unchecked.len() as u64));
            for u in &r.unchecked {
                assert!(!u.continues_on.is_empty());
                assert!(u.continues_on.iter().all(|k| others.contains(k)), "{u:?}");
                continuing.insert(u.object.clone());
            }
            decoded += r.objects_checked.unwrap();
            packs += r.packs_checked;
            bytes += r.bytes_checked;
            let text = r.to_string();
            assert!(
                text.contains(&format!("PARTIAL: checked volume {n} of 3")),
                "{text}"
            );
            assert!(!text.contains("MISSING"), "{text}");
            assert!(text.ends_with("were not given and not checked"), "{text}");
            for u in &r.unchecked {
                assert!(
                    text.contains(&format!("object {} (", &u.object[..16])),
                    "{text}"
                );
            }
        }
        // Every pack and byte once; every object decoded on the one volume that holds all
        // of it, or continuing across volumes and named as such.
        assert!(!continuing.is_empty(), "1 MiB media split some object");
        assert_eq!(packs, full.packs_checked);
        assert_eq!(bytes, full.bytes_checked);
        assert_eq!(decoded + continuing.len() as u64, total);

        // Without --deep, no object is counted either way.
        let r = run(&vols[1..2], &key, false, true);
        assert!(r.ok(), "{r}");
        assert_eq!(r.objects_unchecked, None);
        assert!(r.unchecked.is_empty());
    }

    #[test]
    fn without_partial_one_volume_is_an_incomplete_set() {
        let tmp = tempfile::tempdir().unwrap();
        let (vols, key) = bundle(tmp.path());
        let r = run(&vols[..1], &key, true, false);
        assert!(!r.ok());
        assert_eq!(r.missing, vec![2, 3]);
        assert_eq!(r.not_given, vec![2, 3]);
        assert!(r.findings.is_empty(), "{r}");
        let text = r.to_string();
        assert!(text.contains("MISSING volumes 2, 3 of 3"), "{text}");
        assert!(!text.contains("PARTIAL"), "{text}");
    }

    #[test]
    fn partial_still_reports_damage_duplicates_and_other_bundles() {
        let tmp = tempfile::tempdir().unwrap();
        let (vols, key) = bundle(tmp.path());

        // A duplicate is a finding, partial or not.
        let r = run(&[vols[0].clone(), vols[0].clone()], &key, false, true);
        assert!(!r.ok());
        assert!(r.findings.iter().any(|f| f.kind == ProblemKind::Duplicate));

        // A volume of another bundle (same key) is not mixed in.
        let other = tempfile::tempdir().unwrap();
        let sk = SecretKey::from_seed([7; 32], KeyId([1, 2, 3, 4, 5, 6, 7, 8]));
        let catalog = crate::catalog::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/catalog.toml"),
        )
        .unwrap();
        let mut opts = crate::pack::PackOptions::new(
            other.path().join("out"),
            "2026-02-01T00:00:00Z".into(),
            other.path().join("state"),
        );
        opts.set_media_size(Some(1 << 20));
        let b = crate::pack::pack(&catalog, &sk, &opts, &Silent).unwrap();
        let r = run(&[vols[0].clone(), b.volumes[1].clone()], &key, false, true);
        assert!(!r.ok());
        assert!(
            r.findings
                .iter()
                .any(|f| f.kind == ProblemKind::WrongBundle),
            "{r}"
        );

        // A damaged pack on volume 2, checked alone: named with its volume and file.
        let packs = vols[1].join("packs");
        let pack = std::fs::read_dir(&packs)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[2000] ^= 0x40;
        std::fs::write(&pack, bytes).unwrap();
        for deep in [false, true] {
            let r = run(&vols[1..2], &key, deep, true);
            assert!(!r.ok(), "{r}");
            let rel = format!("packs/{}", pack.file_name().unwrap().to_string_lossy());
            assert!(
                r.findings.iter().any(|f| f.number == Some(2)
                    && f.file.as_deref() == Some(rel.as_str())
                    && f.kind == ProblemKind::Corrupt),
                "{r}"
            );
            assert!(r.intact.is_empty());
            assert_eq!(r.checked, vec![2]);
            assert!(r.to_string().contains("NOT OK"), "{r}");
        }
        // The other volumes alone are still good.
        assert!(run(&vols[..1], &key, true, true).ok());
    }

    #[test]
    fn an_untrusted_volume_alone_is_not_ok() {
        let tmp = tempfile::tempdir().unwrap();
        let (vols, _) = bundle(tmp.path());
        let stranger = SecretKey::from_seed([9; 32], KeyId([9; 8])).public();
        let r = run(&vols[..1], &stranger, false, true);
        assert!(!r.ok());
        assert!(r.bundle.is_none());
        assert!(
            r.findings
                .iter()
                .any(|f| f.kind == ProblemKind::UntrustedKey)
        );
    }
}
