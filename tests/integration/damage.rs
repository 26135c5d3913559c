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
        f.contains(&(None, Some("manifest.toml".into()), "corrupt".into())),
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
