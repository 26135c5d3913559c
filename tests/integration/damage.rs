//! Damaged, incomplete, mixed or foreign media: every problem is reported, precisely.

use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::common::*;

fn bundle() -> Packed {
    let p = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    assert_eq!(p.volumes.len(), 3);
    p
}

fn pack_file(vol: &Path) -> (PathBuf, String) {
    let e = std::fs::read_dir(vol.join("packs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    (
        e.path(),
        format!("packs/{}", e.file_name().to_string_lossy()),
    )
}

fn flip(path: &Path, at: u64) {
    let mut b = std::fs::read(path).unwrap();
    b[at as usize] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_flipped_byte_in_a_pack_is_named_with_its_volume_file_and_object() {
    let p = bundle();
    let (pack, rel) = pack_file(&p.volumes[1]);
    flip(&pack, 2000);
    let (code, r) = verify(&public(&p.key), &p.volumes, true);
    assert_ne!(code, 0);
    let f = findings(&r);
    assert!(
        f.contains(&(Some(2), Some(rel.clone()), "corrupt".into())),
        "{f:?}"
    );
    // --deep names the damaged object and the repository files that use it.
    let damaged: Vec<_> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "damaged-object")
        .collect();
    assert_eq!(damaged.len(), 1, "{r:#}");
    assert!(
        damaged[0]["detail"].as_str().unwrap().contains("library/"),
        "{}",
        damaged[0]
    );
    assert_eq!(r["intact"], serde_json::json!([1, 3]));
    assert_eq!(r["missing"], serde_json::json!([]));

    // The plain report says it in words.
    let (code, out, _) = run(ferry()
        .arg("verify")
        .arg("--trust")
        .arg(public(&p.key))
        .args(&p.volumes));
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("(volume 2): {rel} is corrupt")),
        "{out}"
    );
}

#[test]
fn truncated_and_deleted_files_are_told_apart() {
    let p = bundle();
    let (pack1, rel1) = pack_file(&p.volumes[0]);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&pack1)
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - 1000).unwrap();
    let (pack3, rel3) = pack_file(&p.volumes[2]);
    std::fs::remove_file(&pack3).unwrap();
    let (code, r) = verify(&public(&p.key), &p.volumes, false);
    assert_ne!(code, 0);
    let f = findings(&r);
    assert!(
        f.contains(&(Some(1), Some(rel1), "truncated".into())),
        "{f:?}"
    );
    assert!(
        f.contains(&(Some(3), Some(rel3), "missing".into())),
        "{f:?}"
    );
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(
        r["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{} of {len} bytes", len - 1000))
    );
}

#[test]
fn a_missing_volume_is_named_before_anything_is_read() {
    let p = bundle();
    let given = vec![p.volumes[0].clone(), p.volumes[2].clone()];
    let (code, r) = verify(&public(&p.key), &given, false);
    assert_ne!(code, 0);
    assert_eq!(r["missing"], serde_json::json!([2]));
    assert_eq!(r["findings"], serde_json::json!([]));
    let (_, out, _) = run(ferry()
        .arg("verify")
        .arg("--trust")
        .arg(public(&p.key))
        .args(&given));
    assert!(out.contains("MISSING volume 2 of 3"), "{out}");
}

#[test]
fn a_wrong_key_is_refused_naming_the_signer() {
    let p = bundle();
    let other = keygen(p.tmp.path(), "other");
    let (code, r) = verify(&public(&other), &p.volumes, false);
    assert_ne!(code, 0);
    let f = findings(&r);
    assert_eq!(f.len(), 3, "{f:?}");
    assert!(f.iter().all(|(_, file, kind)| kind == "untrusted-key" && file.as_deref() == Some("SHA256.sig")));
    let signer = std::fs::read_to_string(public(&p.key)).unwrap();
    let signer_id = signer
        .lines()
        .next()
        .unwrap()
        .rsplit('(')
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    assert!(
        r["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&signer_id),
        "{r:#}"
    );
    assert_eq!(r["bundle"], serde_json::Value::Null);
}

#[test]
fn altered_signed_files_and_signatures_are_refused() {
    let p = bundle();
    // The manifest on volume 1: its hash no longer matches the signed list.
    flip(&p.volumes[0].join("manifest.toml"), 100);
    // The signed list on volume 2: the signature no longer verifies.
    let sig = p.volumes[1].join("SHA256.sig");
    let mut s = std::fs::read(&sig).unwrap();
    let n = s.len();
    s[n - 2] = if s[n - 2] == b'0' { b'1' } else { b'0' };
    std::fs::write(&sig, s).unwrap();
    // volume.toml on volume 3.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(p.volumes[2].join("volume.toml"))
        .unwrap();
    f.seek(SeekFrom::End(-2)).unwrap();
    f.write_all(b"9\n").unwrap();
    let (code, r) = verify(&public(&p.key), &p.volumes, false);
    assert_ne!(code, 0);
    let f = findings(&r);
    assert!(
        f.contains(&(Some(1), Some("manifest.toml".into()), "corrupt".into())),
        "{f:?}"
    );
    assert!(
        f.contains(&(None, Some("SHA256.sig".into()), "bad-signature".into())),
        "{f:?}"
    );
    assert!(
        f.contains(&(None, Some("volume.toml".into()), "corrupt".into())),
        "{f:?}"
    );
}

#[test]
fn a_deleted_signature_makes_the_volume_untrusted_and_missing() {
    let p = bundle();
    std::fs::remove_file(p.volumes[1].join("SHA256.sig")).unwrap();
    let (code, r) = verify(&public(&p.key), &p.volumes, false);
    assert_ne!(code, 0);
    assert!(
        findings(&r).contains(&(None, Some("SHA256.sig".into()), "missing".into())),
        "{r:#}"
    );
    assert_eq!(r["missing"], serde_json::json!([2]));
}

#[test]
fn media_of_another_bundle_are_not_mixed_in() {
    // zarf#3266: parts of an earlier run got mixed into a new set.
    let a = bundle();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    std::fs::write(
        &catalog,
        std::fs::read_to_string(&catalog)
            .unwrap()
            .replace("ACME OS 9", "ACME OS 9.1"),
    )
    .unwrap();
    // Same signer for both, so only the bundle differs.
    let out_b = tmp.path().join("b");
    let vols_b = pack_with(&catalog, &a.key, &out_b, &["--media-size", "1M"]);
    let given = vec![
        vols_b[0].clone(),
        a.volumes[1].clone(),
        a.volumes[2].clone(),
    ];
    let (code, r) = verify(&public(&a.key), &given, false);
    assert_ne!(code, 0);
    assert!(
        findings(&r).contains(&(Some(1), None, "wrong-bundle".into())),
        "{r:#}"
    );
    assert_eq!(r["missing"], serde_json::json!([1]));
}

#[test]
fn every_problem_is_reported_not_just_the_first_and_stray_files_are_ignored() {
    let p = bundle();
    // Things a desktop leaves on a stick are not the bundle's concern.
    std::fs::create_dir(p.volumes[0].join("System Volume Information")).unwrap();
    std::fs::write(p.volumes[0].join(".DS_Store"), b"junk").unwrap();
    let (code, r) = verify(&public(&p.key), &p.volumes, true);
    assert_eq!(code, 0, "{r:#}");

    for v in &p.volumes {
        let (pack, _) = pack_file(v);
        flip(&pack, 700);
    }
    let (code, r) = verify(&public(&p.key), &p.volumes, false);
    assert_ne!(code, 0);
    let f = findings(&r);
    assert_eq!(f.iter().filter(|x| x.2 == "corrupt").count(), 3, "{f:?}");
}

/// A digest of everything published (following the links), to compare cheaply.
fn published_digest(store: &Path) -> ferry::format::Sha256Digest {
    let mut all = Vec::new();
    for (k, v) in published_bytes(store) {
        all.extend_from_slice(k.as_bytes());
        all.push(0);
        all.extend_from_slice(ferry::format::Sha256Digest::of(&v).to_hex().as_bytes());
    }
    ferry::format::Sha256Digest::of(&all)
}

#[test]
fn three_hundred_seeded_random_damages_are_all_refused_by_verify_and_import_alike() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.a);
    let published = published_digest(&store);
    let status_before = status(&store);
    // The pristine volumes of B, and a working copy to damage one file at a time.
    let work = t.tmp.path().join("work");
    copy_dir(&t.tmp.path().join("b"), &work);
    let vols = volumes(&work);
    assert_eq!(vols.len(), 3);
    let mut files: Vec<(usize, String)> = Vec::new();
    for (i, v) in vols.iter().enumerate() {
        for e in walkdir::WalkDir::new(v).min_depth(1) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                files.push((i, e.path().strip_prefix(v).unwrap().display().to_string()));
            }
        }
    }
    let trust = public(&t.key);
    let mut rng = Rng(0x00c0_ffee_2026);
    let mut kinds = std::collections::BTreeMap::new();
    for trial in 0..300 {
        let (v, rel) = files[rng.below(files.len())].clone();
        let path = vols[v].join(&rel);
        let pristine = std::fs::read(&path).unwrap();
        let op = match rng.below(4) {
            0 | 1 => {
                // Flip bits of one byte. The comment line of SHA256.sig is not signed (it is
                // signify's "untrusted comment"), so damage there is not damage: skip it.
                let from = if rel == "SHA256.sig" {
                    pristine.iter().position(|&b| b == b'\n').unwrap() + 1
                } else {
                    0
                };
                let at = from + rng.below(pristine.len() - from);
                let mut b = pristine.clone();
                b[at] ^= 1 + rng.below(255) as u8;
                std::fs::write(&path, b).unwrap();
                format!("flip byte {at}")
            }
            2 => {
                let len = rng.below(pristine.len());
                std::fs::write(&path, &pristine[..len]).unwrap();
                format!("truncate to {len}")
            }
            _ => {
                std::fs::remove_file(&path).unwrap();
                "delete".to_string()
            }
        };
        let what = format!("trial {trial}: {op} of {rel} on {}", vols[v].display());
        *kinds
            .entry(op.split(' ').next().unwrap().to_string())
            .or_insert(0) += 1;

        // verify: refused, with a finding on that very file of that very volume.
        let (code, r) = verify(&trust, &vols, false);
        assert_eq!(code, 1, "{what}: verify accepted it: {r:#}");
        let dir = vols[v].display().to_string();
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["volume"] == dir.as_str() && f["file"] == rel.as_str()),
            "{what}: the finding does not name the file and volume: {r:#}"
        );
        // import: refused, saying the same, and nothing published changes.
        let (code, out, err) = import(&store, Some(&trust), &vols);
        assert_ne!(code, 0, "{what}: import accepted it: {out}");
        assert!(
            err.lines().any(|l| l.contains(&dir) && l.contains(&rel)),
            "{what}: import does not name the file and volume: {err}"
        );
        assert_eq!(
            published_digest(&store),
            published,
            "{what}: published trees changed"
        );
        std::fs::write(&path, &pristine).unwrap();
    }
    assert_eq!(status(&store), status_before);
    assert!(kinds.values().all(|&n| n >= 50), "{kinds:?}");
    eprintln!("300 trials, all refused by verify and import: {kinds:?}");
    // The undamaged volumes still import.
    must_import(&store, &t.key, &vols);
    assert_ne!(published_digest(&store), published);
}

/// verify and import both refuse `given` and name `kind` on `dir`.
fn both_refuse(t: &Two, given: &[PathBuf], dir: &Path, kind: &str) {
    let (code, r) = verify(&public(&t.key), given, false);
    assert_eq!(code, 1, "{r:#}");
    let name = dir.display().to_string();
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["volume"] == name.as_str() && f["kind"] == kind),
        "{kind} on {name}: {r:#}"
    );
    let store = t.tmp.path().join(format!("store-{}", rand_suffix()));
    let (code, out, err) = import(&store, Some(&public(&t.key)), given);
    assert_ne!(code, 0, "import accepted it: {out}");
    assert!(err.contains(&name) && err.contains("refused"), "{err}");
    assert!(
        !store.join("published").exists()
            || std::fs::read_dir(store.join("published"))
                .unwrap()
                .next()
                .is_none()
    );
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

#[test]
fn mixed_media_are_refused_by_verify_and_import_alike() {
    let t = two_bundles();
    // A volume of another bundle (A's volume 1 with B's 2 and 3).
    let given = vec![t.a[0].clone(), t.b[1].clone(), t.b[2].clone()];
    both_refuse(&t, &given, &t.a[0], "wrong-bundle");
    // A volume of another pack run of the same catalog with the same key (its own export
    // state and creation time: another bundle).
    let again = t.tmp.path().join("b-again");
    let state = t.tmp.path().join("other-state");
    let vols = pack_with(
        &testdata().join("catalog.toml"),
        &t.key,
        &again,
        &["--media-size", "1M", "--state", state.to_str().unwrap()],
    );
    assert_ne!(
        std::fs::read(vols[0].join("volume.toml")).unwrap(),
        std::fs::read(t.b[0].join("volume.toml")).unwrap(),
        "another run makes another bundle"
    );
    let given = vec![vols[0].clone(), t.b[1].clone(), t.b[2].clone()];
    both_refuse(&t, &given, &vols[0], "wrong-bundle");
    // The same volume twice (another copy of it, and the very same directory).
    let copy = t.tmp.path().join("copy-of-vol-02");
    copy_dir(&t.b[1], &copy);
    let given = vec![t.b[0].clone(), t.b[1].clone(), copy.clone(), t.b[2].clone()];
    both_refuse(&t, &given, &copy, "duplicate");
    let given = vec![
        t.b[0].clone(),
        t.b[1].clone(),
        t.b[1].clone(),
        t.b[2].clone(),
    ];
    both_refuse(&t, &given, &t.b[1], "duplicate");
}
