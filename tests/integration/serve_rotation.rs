//! `ferry serve` follows a key rotation as `ferry import` does (`spec/UPLOAD.md`, step 2):
//! a volume signed by a key the store does not trust is taken provisionally, its manifest
//! only; the manifest's rotation statements, signed by a trusted key, vouch for the
//! signer, and the volume is then received and imported as any other. A volume of an
//! unrelated key, or of a key rotated away, is refused, and nothing of it is kept.

use std::path::{Path, PathBuf};

use ferry::format::constants::MAX_MANIFEST_FILE;
use serde_json::Value;

use super::common::*;
use super::serve::Server;

/// `ferry push --server URL --token-file TOKEN VOLDIR...`.
fn push(s: &Server, token_file: &Path, vols: &[PathBuf]) -> (i32, String, String) {
    run(ferry()
        .args(["push", "--server", &s.url, "--token-file"])
        .arg(token_file)
        .args(vols))
}

/// A key's id, as the CLI and the messages give it.
fn key_id(prefix: &Path) -> String {
    ferry::keys::load_public(&public(prefix))
        .unwrap()
        .id
        .to_string()
}

/// The error of a refused volume: its signature posted, then its manifest (the one file a
/// volume of a key the store does not trust may send).
fn refused_at_manifest(s: &Server, vol: &Path) -> String {
    let job = s.job();
    let (code, view) = s.post_sig(&job, vol);
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["state"], "head", "{view}");
    assert_eq!(view["files"][0]["path"], "manifest.toml", "{view}");
    let key = view["key"].as_str().unwrap();
    let m = std::fs::read(vol.join("manifest.toml")).unwrap();
    let (code, v) = s.patch(key, "manifest.toml", 0, m.len() as u64, m);
    assert_eq!(code, 422, "{v}");
    let (_, v2) = s.get(&format!("/uploads/{key}"));
    assert_eq!(v2["state"], "refused", "{v2}");
    v["error"].as_str().unwrap().to_string()
}

#[test]
fn the_server_follows_a_key_rotation_as_import_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let catalog = testdata().join("catalog.toml");
    let pack = |k: &Path, out: &str, extra: &[&str]| -> Vec<PathBuf> {
        ok(ferry()
            .arg("pack")
            .arg("--catalog")
            .arg(&catalog)
            .arg("--key")
            .arg(key(k))
            .arg("--out")
            .arg(dir.join(out))
            .args(extra));
        volumes(&dir.join(out))
    };

    // A site that trusts OLD, and the first bundle, signed by OLD.
    let old = keygen(dir, "old");
    let store = dir.join("store");
    ok(ferry()
        .args(["trust", "add", "--store"])
        .arg(&store)
        .arg(public(&old)));
    let s = Server::start(&store, &[]);
    let token = dir.join("token");
    std::fs::write(&token, &s.token).unwrap();
    let b1 = pack(&old, "trip1", &[]);
    let (code, out, err) = push(&s, &token, &b1);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("imported bundle"), "{out}");

    // What someone holding OLD and a copy of its export state could pack later.
    copy_dir(&dir.join("old.state"), &dir.join("stolen.state"));

    // The key is rotated; the next bundle is signed by NEW and carries the statement.
    let new = dir.join("new");
    ok(ferry()
        .arg("keygen")
        .arg("--out")
        .arg(&new)
        .arg("--rotate-from")
        .arg(key(&old)));
    let (old_id, new_id) = (key_id(&old), key_id(&new));

    // An unrelated key: taken provisionally, its manifest only (at most the format's
    // limit), then refused as an untrusted key; nothing of it is kept.
    let stranger = keygen(dir, "stranger");
    let foreign = pack(&stranger, "foreign", &[]);
    let vol = &foreign[0];
    let job = s.job();
    let (code, view) = s.post_sig(&job, vol);
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["state"], "head", "{view}");
    assert_eq!(view["files"][0]["path"], "manifest.toml", "{view}");
    let key = view["key"].as_str().unwrap().to_string();
    let listed: Vec<String> = view["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    for other in listed.iter().filter(|p| *p != "manifest.toml") {
        // The first KiB only: the server answers before it reads a body, and a large one
        // would meet a closed connection instead of the answer.
        let mut b = std::fs::read(vol.join(other)).unwrap();
        let len = b.len() as u64;
        b.truncate(1024);
        let (code, v) = s.patch(&key, other, 0, len, b);
        assert_eq!(code, 422, "{other}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("nothing but manifest.toml is taken"),
            "{v}"
        );
    }
    let (code, v) = s.patch(&key, "manifest.toml", 0, MAX_MANIFEST_FILE + 1, Vec::new());
    assert_eq!(code, 413, "{v}");
    assert_eq!(upload_files(&store), vec![format!("{key}/SHA256.sig")]);
    let m = std::fs::read(vol.join("manifest.toml")).unwrap();
    let (code, v) = s.patch(&key, "manifest.toml", 0, m.len() as u64, m);
    assert_eq!(code, 422, "{v}");
    let why = v["error"].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "SHA256.sig is signed by key {}, which is not trusted (trusted: {old_id})",
            key_id(&stranger)
        )),
        "{why}"
    );
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );
    // `ferry push` says the same, and leaves nothing either.
    let (code, out, err) = push(&s, &token, &foreign);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("which is not trusted"), "{err}");
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );

    // The bundle signed by NEW: pushed as it is, imported, and the site follows the
    // rotation as `ferry import` does: NEW trusted, OLD no longer.
    let b2 = pack(&new, "trip2", &["--incremental"]);
    let (code, out, err) = push(&s, &token, &b2);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("imported bundle"), "{out}");
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );
    let listed = ok(ferry().args(["trust", "list", "--store"]).arg(&store));
    let keys: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(keys, vec![new_id.as_str()], "{listed}");
    let (_, st) = s.get("/status");
    assert_eq!(st["trusted_keys"], serde_json::json!([new_id]), "{st}");
    let b = st["bundles"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&b["sequence"], &b["signer"]),
        (&2.into(), &new_id.clone().into()),
        "{st}"
    );
    let history = st["history"].to_string();
    assert!(history.contains("key-rotation"), "{history}");

    // A bundle signed by OLD after the rotation: refused naming it, as `ferry import`
    // refuses it, and nothing of it is kept.
    let b3 = pack(
        &old,
        "stolen",
        &[
            "--incremental",
            "--state",
            dir.join("stolen.state").to_str().unwrap(),
        ],
    );
    let why = refused_at_manifest(&s, &b3[0]);
    assert!(
        why.contains(&format!(
            "is signed by key {old_id}, which was rotated to key {new_id}"
        )),
        "{why}"
    );
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );
    let (code, out, err) = push(&s, &token, &b3);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(&why), "{err}\n{why}");
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );
    let (code, _, err) = run(ferry().args(["import", "--store"]).arg(&store).args(&b3));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&why),
        "import says:\n{err}\nthe server said:\n{why}"
    );

    // The rotation is done: NEW's next bundle is taken as any trusted volume.
    let b4 = pack(&new, "trip3", &["--incremental"]);
    let job = s.job();
    let (code, view) = s.post_sig(&job, &b4[0]);
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["files"][0]["path"], "volume.toml", "{view}");
    let (code, v): (u16, Value) = s.upload_volume(&job, &b4[0]);
    assert_eq!(code, 200, "{v}");
    let j = s.wait(&job);
    assert_eq!(j["result"], "imported", "{j}");
}
