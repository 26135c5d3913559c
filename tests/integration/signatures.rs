//! Signatures: unknown, removed, altered and re-signed keys are refused by verify and by
//! import; a key that is not a valid (or is a weak) Ed25519 key is not accepted at all.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::*;
use crate::forge::resign;

fn good(dir: &Path) -> Vec<PathBuf> {
    copy_dir(&testdata().join("vectors/cases/good"), dir);
    vec![dir.join("vol-01"), dir.join("vol-02")]
}

fn vector_pub() -> PathBuf {
    testdata().join("vectors/keys/vector.pub")
}

/// A public key file with its record changed by `edit` (the comment kept).
fn altered(from: &Path, to: &Path, edit: impl Fn(&mut Vec<u8>)) {
    let text = std::fs::read_to_string(from).unwrap();
    let mut lines = text.lines();
    let comment = lines.next().unwrap();
    let mut raw = B64.decode(lines.next().unwrap()).unwrap();
    edit(&mut raw);
    std::fs::write(to, format!("{comment}\n{}\n", B64.encode(raw))).unwrap();
}

/// verify and import with `trust` both refuse `vols`, verify with a finding of `kind`.
fn both_refuse(vols: &[PathBuf], trust: &Path, kind: &str, says: &str) {
    let (code, r) = verify(trust, vols, false);
    assert_eq!(code, 1, "{r:#}");
    assert!(findings(&r).iter().any(|f| f.2 == kind), "{kind}: {r:#}");
    let store = tempfile::tempdir().unwrap();
    let (code, out, err) = import(store.path(), Some(trust), vols);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains(says), "{says}: {err}");
}

#[test]
fn unknown_altered_removed_and_resigned_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let vols = good(&tmp.path().join("b"));
    let (code, r) = verify(&vector_pub(), &vols, false);
    assert_eq!(code, 0, "{r:#}");

    // Unknown: another key.
    let other = keygen(tmp.path(), "other");
    both_refuse(&vols, &public(&other), "untrusted-key", "is not trusted");

    // Altered: the key's bytes changed, its number kept: the signature no longer verifies.
    let bent = tmp.path().join("bent.pub");
    altered(&vector_pub(), &bent, |r| r[20] ^= 0x01);
    let (code, out, err) = run(ferry().arg("verify").arg("--trust").arg(&bent).args(&vols));
    // Either the altered point is not a valid key at all, or signatures fail with it.
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("does not verify") || err.contains("not a valid Ed25519 key"),
        "{out}{err}"
    );
    // Altered: the key number changed: the signer is not trusted.
    let renumbered = tmp.path().join("renumbered.pub");
    altered(&vector_pub(), &renumbered, |r| r[2] ^= 0x01);
    both_refuse(&vols, &renumbered, "untrusted-key", "is not trusted");

    // Removed: trusted, then no longer.
    let store = tmp.path().join("store");
    ok(ferry()
        .arg("trust")
        .arg("add")
        .arg("--store")
        .arg(&store)
        .arg(vector_pub()));
    let id = &std::fs::read_to_string(vols[0].join("manifest.toml")).unwrap()[..]
        .lines()
        .find(|l| l.starts_with("signer = "))
        .unwrap()[10..26]
        .to_string();
    ok(ferry()
        .arg("trust")
        .arg("remove")
        .arg("--store")
        .arg(&store)
        .arg(id));
    let (code, _, err) = import(&store, None, &vols);
    assert_ne!(code, 0);
    assert!(err.contains("no trusted key"), "{err}");

    // Re-signed by an untrusted key: that volume is refused, naming the key.
    let resigned = good(&tmp.path().join("resigned"));
    let other_key = ferry::keys::load_secret(&key(&other)).unwrap();
    resign(&resigned[1], &other_key, |_| {});
    both_refuse(
        &resigned,
        &vector_pub(),
        "untrusted-key",
        &other_key.id.to_string(),
    );

    // Re-signed by a second trusted key that is not the manifest's signer.
    let (code, out, err) = run(ferry()
        .arg("verify")
        .arg("--trust")
        .arg(vector_pub())
        .arg("--trust")
        .arg(public(&other))
        .args(&resigned));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("SHA256.sig is made with key") && out.contains("manifest names signer"),
        "{out}"
    );
    let store = tempfile::tempdir().unwrap();
    let (code, _, err) = run(ferry()
        .args(["import", "--init"])
        .arg("--store")
        .arg(store.path())
        .arg("--trust")
        .arg(vector_pub())
        .arg("--trust")
        .arg(public(&other))
        .args(&resigned));
    assert_ne!(code, 0);
    assert!(err.contains("manifest names signer"), "{err}");
}

#[test]
fn weak_and_invalid_public_keys_are_not_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let vols = good(&tmp.path().join("b"));
    // A small-order point (the identity, encoded as y = 1) and a point not on the curve.
    for (name, point) in [
        ("identity", {
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        }),
        ("off-curve", [0xffu8; 32]),
    ] {
        let bad = tmp.path().join(format!("{name}.pub"));
        altered(&vector_pub(), &bad, |r| r[10..42].copy_from_slice(&point));
        let (code, _, err) = run(ferry().arg("verify").arg("--trust").arg(&bad).args(&vols));
        assert_ne!(code, 0);
        assert!(err.contains("not a valid Ed25519 key"), "{name}: {err}");
        let (code, _, err) = run(ferry()
            .arg("trust")
            .arg("add")
            .arg("--store")
            .arg(tmp.path().join("store"))
            .arg(&bad));
        assert_ne!(code, 0);
        assert!(err.contains("not a valid Ed25519 key"), "{name}: {err}");
    }
}
