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

#[test]
fn pack_refuses_a_secret_key_that_other_users_can_read() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = keygen(tmp.path(), "site");
    let secret = key(&prefix);
    let catalog = testdata().join("vectors/catalog.toml");
    let out = tmp.path().join("out");
    let pack = || {
        let mut c = pack_cmd(&catalog, &prefix, &out);
        c.arg("--state").arg(tmp.path().join("state"));
        c
    };

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(&mut pack());
    assert_ne!(code, 0, "a 0644 secret key was used: {err}");
    assert!(
        err.contains(&format!("{} can be read by other users", secret.display())),
        "{err}"
    );
    assert!(err.contains("mode 0644"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", secret.display())),
        "{err}"
    );
    assert!(
        volumes(&out).is_empty(),
        "volumes written with a refused key"
    );

    // The same key, made private, packs.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&mut pack());
    assert!(!volumes(&out).is_empty());
}
