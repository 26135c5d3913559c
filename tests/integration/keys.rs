//! `ferry keygen`.

use std::os::unix::fs::PermissionsExt as _;

use base64::Engine as _;

use crate::common::*;

#[test]
fn keygen_writes_signify_keys_and_never_overwrites_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("site");
    let out = ok(ferry().arg("keygen").arg("--out").arg(&prefix));
    let secret = key(&prefix);
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let pubtext = std::fs::read_to_string(public(&prefix)).unwrap();
    let mut lines = pubtext.lines();
    assert!(lines.next().unwrap().starts_with("untrusted comment: "));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(lines.next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 2 + 8 + 32);
    assert_eq!(&raw[..2], b"Ed");
    assert!(
        out.contains(&hex::encode(&raw[2..10])),
        "the key id is shown: {out}"
    );

    let before = std::fs::read(&secret).unwrap();
    let (code, _, err) = run(ferry().arg("keygen").arg("--out").arg(&prefix));
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&secret).unwrap(), before);

    ok(ferry()
        .arg("keygen")
        .arg("--out")
        .arg(&prefix)
        .arg("--force"));
    assert_ne!(std::fs::read(&secret).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
