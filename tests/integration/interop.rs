//! Standard tools that are not ferry check what ferry writes: signify-openbsd checks every
//! volume, tar lists and extracts packs, and keys move between ferry and signify.

use std::process::Command;

use crate::common::*;

#[test]
fn every_volume_passes_signify_and_signify_catches_tampering() {
    require("signify-openbsd");
    let p = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    for v in &p.volumes {
        let out = ok(Command::new("signify-openbsd")
            .current_dir(v)
            .args(["-C", "-p"])
            .arg(public(&p.key))
            .args(["-x", "SHA256.sig"]));
        assert!(out.contains("Signature Verified"), "{out}");
        let files = std::fs::read_dir(v.join("packs")).unwrap().count() + 3;
        assert_eq!(
            out.lines().filter(|l| l.ends_with(": OK")).count(),
            files,
            "{out}"
        );
    }
    let pack = std::fs::read_dir(p.volumes[0].join("packs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut b = std::fs::read(&pack).unwrap();
    b[4096] ^= 1;
    std::fs::write(&pack, b).unwrap();
    let (code, out, err) = run(Command::new("signify-openbsd")
        .current_dir(&p.volumes[0])
        .args(["-C", "-p"])
        .arg(public(&p.key))
        .args(["-x", "SHA256.sig"]));
    assert_ne!(code, 0, "signify accepted a damaged pack: {out}");
    assert!(format!("{out}{err}").contains("FAIL"), "{out}{err}");
}

#[test]
fn a_key_made_by_signify_signs_bundles_and_ferry_keys_work_in_signify() {
    require("signify-openbsd");
    let tmp = tempfile::tempdir().unwrap();
    // signify's key (no passphrase) packs a bundle that ferry and signify verify.
    ok(Command::new("signify-openbsd")
        .args(["-G", "-n", "-p"])
        .arg(tmp.path().join("s.pub"))
        .arg("-s")
        .arg(tmp.path().join("s.sec")));
    let out = tmp.path().join("out");
    ok(ferry()
        .arg("pack")
        .arg("--catalog")
        .arg(testdata().join("catalog.toml"))
        .arg("--key")
        .arg(tmp.path().join("s.sec"))
        .arg("--out")
        .arg(&out));
    let vols = volumes(&out);
    let (code, r) = verify(&tmp.path().join("s.pub"), &vols, false);
    assert_eq!(code, 0, "{r:#}");

    // ferry's key signs a message with signify, and signify checks it with ferry's public key.
    let k = keygen(tmp.path(), "f");
    std::fs::write(tmp.path().join("msg"), b"hello\n").unwrap();
    // signify insists on the names NAME.sec / NAME.pub when signing.
    std::fs::copy(key(&k), tmp.path().join("f.sec")).unwrap();
    ok(Command::new("signify-openbsd")
        .arg("-S")
        .arg("-s")
        .arg(tmp.path().join("f.sec"))
        .arg("-m")
        .arg(tmp.path().join("msg")));
    ok(Command::new("signify-openbsd")
        .arg("-V")
        .arg("-p")
        .arg(public(&k))
        .arg("-m")
        .arg(tmp.path().join("msg")));
}

#[test]
fn packs_are_tar_archives_whose_entries_are_the_objects() {
    require("tar");
    require("sha256sum");
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let dest = p.tmp.path().join("x");
    std::fs::create_dir(&dest).unwrap();
    for e in std::fs::read_dir(p.volumes[0].join("packs")).unwrap() {
        ok(Command::new("tar")
            .arg("-xf")
            .arg(e.unwrap().path())
            .arg("-C")
            .arg(&dest));
    }
    // A raw single-piece entry is named by its SHA-256: sha256sum checks it by hand.
    let mut checked = 0;
    for e in std::fs::read_dir(&dest).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.len() == 64 {
            let out = ok(Command::new("sha256sum").arg(dest.join(&name)));
            assert!(out.starts_with(&name), "{out}");
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}
