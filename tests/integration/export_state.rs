//! The export state's day-2 operations (issue 11): `pack --dry-run`, `ferry bundles`,
//! `ferry bundles forget`, and `pack --again SEQ` with the site importing either copy.
//!
//! The `*_library` tests drive packing through `ferry::pack` (and the site through the
//! binary's `import` and `verify`); the others drive the CLI forms end to end.

use std::path::{Path, PathBuf};

use ferry::format::manifest::Manifest;
use ferry::pack::{self, PackOptions, Since};
use ferry::progress::Silent;
use serde_json::Value;

use crate::common::*;

const MIB: u64 = 1 << 20;

fn catalog() -> PathBuf {
    testdata().join("catalog.toml")
}

fn manifest(vol: &Path) -> Manifest {
    Manifest::parse(&std::fs::read(vol.join("manifest.toml")).unwrap()).unwrap()
}

fn files_bytes(vols: &[PathBuf]) -> u64 {
    vols.iter()
        .map(|v| tree_bytes(v).values().map(|b| b.len() as u64).sum::<u64>())
        .sum()
}

/// Import `vols` into `store` (trusting `key`): the exit status and everything printed.
fn import_text(store: &Path, key: &Path, vols: &[PathBuf]) -> (i32, String) {
    let (code, out, err) = import(store, Some(&public(key)), vols);
    (code, format!("{out}{err}"))
}

/// The site's side of a trip made twice: whichever copy comes first is imported, the other
/// is a no-op, and the next trip imports on either without `--allow-rollback`.
fn site_takes_either_copy(key: &Path, first: &[PathBuf], copy: &[PathBuf], next: &[PathBuf]) {
    for (a, b) in [(first, copy), (copy, first)] {
        let store = tempfile::tempdir().unwrap();
        let store = store.path().join("store");
        must_import(&store, key, a);
        let (code, text) = import_text(&store, key, b);
        assert_eq!(code, 0, "{text}");
        // Said so, naming the copy the store holds.
        let held =
            ferry::format::Sha256Digest::of(&std::fs::read(a[0].join("manifest.toml")).unwrap());
        assert!(
            text.contains(&format!(
                "is another copy of bundle {} (the same bundle, written again onto other media), which was imported on",
                &held.to_hex()[..16]
            )) && text.contains("nothing to do"),
            "{text}"
        );
        let (code, text) = import_text(&store, key, next);
        assert_eq!(code, 0, "the next trip after either copy: {text}");
        assert!(
            text.contains("sequence 2)"),
            "imported, not refused: {text}"
        );
        assert!(!text.contains("rollback"), "{text}");
    }
}

/// Guards issue 11: re-packing a lost trip onto smaller sticks made a second bundle of
/// the same sequence that the site refused without `--allow-rollback`.
#[test]
fn a_trip_written_again_through_the_library_imports_either_way() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = keygen(tmp.path(), "site");
    let sk = ferry::keys::load_secret(&key(&prefix)).unwrap();
    let cat = ferry::catalog::load(&catalog()).unwrap();
    let state = pack::state::default_dir(&key(&prefix));
    let opts = |out: &str, created: &str, media: Option<u64>, incremental: bool| {
        let mut o = PackOptions::new(tmp.path().join(out), created.into(), state.clone());
        o.set_media_size(media);
        o.since = incremental.then_some(Since::Newest);
        o
    };

    let first = pack::pack(
        &cat,
        &sk,
        &opts("trip-1", "2026-12-05T08:00:00Z", None, false),
        &Silent,
    )
    .unwrap();
    let copy = pack::again(
        &cat,
        &sk,
        1,
        &opts("trip-1-again", "ignored", Some(MIB), false),
        &Silent,
    )
    .unwrap();
    assert_eq!(first.volumes.len(), 1);
    assert!(copy.volumes.len() >= 3, "{:?}", copy.volumes);
    assert_ne!(
        first.bundle, copy.bundle,
        "another layout, another bundle id"
    );
    let (a, b) = (manifest(&first.volumes[0]), manifest(&copy.volumes[0]));
    assert_eq!(a.logical_id(), b.logical_id());
    assert_eq!(
        (b.sequence, b.created.as_str()),
        (1, "2026-12-05T08:00:00Z")
    );
    for v in &copy.volumes {
        assert!(files_bytes(std::slice::from_ref(v)) <= MIB);
    }
    // The copy is a bundle like any other: ferry verify --deep passes.
    let (code, report) = verify(&public(&prefix), &copy.volumes, true);
    assert_eq!(code, 0, "{report:#}");

    // Nothing recorded: the next incremental is sequence 2, on the first copy.
    let next = pack::pack(
        &cat,
        &sk,
        &opts("trip-2", "2026-12-06T08:00:00Z", None, true),
        &Silent,
    )
    .unwrap();
    assert_eq!((next.sequence, next.base), (2, Some(first.bundle)));
    site_takes_either_copy(&prefix, &first.volumes, &copy.volumes, &next.volumes);
}

/// A copy whose sources changed is not written; the file is named.
#[test]
fn a_trip_is_not_written_again_from_changed_sources_library() {
    let tmp = tempfile::tempdir().unwrap();
    let cat_path = testdata_copy(tmp.path());
    let lib = tmp.path();
    let prefix = keygen(tmp.path(), "site");
    let sk = ferry::keys::load_secret(&key(&prefix)).unwrap();
    let cat = ferry::catalog::load(&cat_path).unwrap();
    let state = pack::state::default_dir(&key(&prefix));
    let o = PackOptions::new(
        tmp.path().join("t1"),
        "2026-12-05T08:00:00Z".into(),
        state.clone(),
    );
    pack::pack(&cat, &sk, &o, &Silent).unwrap();
    let rpm = lib.join("library/repos/baseos/Packages/b/beacon-1.2-1.noarch.rpm");
    let mut bytes = std::fs::read(&rpm).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&rpm, bytes).unwrap();
    let o = PackOptions::new(tmp.path().join("t1-again"), "x".into(), state);
    let e = pack::again(&cat, &sk, 1, &o, &Silent).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("beacon-1.2-1.noarch.rpm") && msg.contains("changed since"),
        "{msg}"
    );
    assert!(volumes(&o.out).is_empty());
}

// ---- The CLI forms (`ferry pack --dry-run`, `ferry bundles`, `pack --again`). ----

/// `ferry pack ... --json` plus `extra`: the parsed output.
fn pack_json(prefix: &Path, out: &Path, extra: &[&str]) -> Value {
    let stdout = ok(pack_cmd(&catalog(), prefix, out).arg("--json").args(extra));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// `ferry bundles --key K --json`: the bundles listed.
fn bundles_json(prefix: &Path) -> Vec<Value> {
    let stdout = ok(ferry()
        .arg("bundles")
        .arg("--key")
        .arg(key(prefix))
        .arg("--json"));
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let list = v.get("bundles").cloned().unwrap_or(v);
    list.as_array().expect("a list of bundles").clone()
}

#[test]
fn dry_run_says_what_pack_will_write_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = keygen(tmp.path(), "site");
    let out = tmp.path().join("out");
    let state = tmp.path().join("site.state");

    let dry = pack_json(&prefix, &out, &["--dry-run", "--media-size", "1M"]);
    assert!(!out.exists(), "a dry run writes no volume");
    assert!(!state.exists(), "a dry run creates no export state");
    assert_eq!(dry["sequence"], 1);
    assert!(dry["base"].is_null());
    assert!(dry["objects_new"].as_u64().unwrap() > 0);
    assert_eq!(dry["objects_reused"], 0);
    assert_eq!(dry["repositories"].as_array().unwrap().len(), 4);

    let vols = pack_with(&catalog(), &prefix, &out, &["--media-size", "1M"]);
    assert_eq!(dry["volumes"].as_u64(), Some(vols.len() as u64), "{dry:#}");
    assert_eq!(
        dry["bytes"].as_u64(),
        Some(files_bytes(&vols)),
        "exact, not an estimate"
    );
    assert_eq!(
        dry["objects_new"].as_u64(),
        Some(manifest(&vols[0]).objects.len() as u64)
    );

    // Incremental: the base is the bundle just made, everything is reused.
    let db = std::fs::read(state.join("state.db")).unwrap();
    let dry = pack_json(
        &prefix,
        &tmp.path().join("o2"),
        &["--dry-run", "--incremental"],
    );
    assert_eq!(std::fs::read(state.join("state.db")).unwrap(), db);
    assert_eq!(dry["sequence"], 2);
    let base = Manifest::id_of(&std::fs::read(vols[0].join("manifest.toml")).unwrap());
    assert_eq!(dry["base"].as_str(), Some(base.to_hex().as_str()));
    assert_eq!(dry["objects_new"], 0);
    assert!(dry["objects_reused"].as_u64().unwrap() > 0);
    assert!(!tmp.path().join("o2").exists());

    // The human summary.
    let text =
        ok(pack_cmd(&catalog(), &prefix, &tmp.path().join("o3"))
            .args(["--dry-run", "--incremental"]));
    assert!(text.contains("sequence 2"), "{text}");
}

#[test]
fn bundles_lists_what_was_made_and_forget_takes_back_the_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = keygen(tmp.path(), "site");
    let one = pack_with(
        &catalog(),
        &prefix,
        &tmp.path().join("1"),
        &["--media-size", "1M"],
    );
    let two = pack_with(
        &catalog(),
        &prefix,
        &tmp.path().join("2"),
        &["--incremental"],
    );
    let three = pack_with(
        &catalog(),
        &prefix,
        &tmp.path().join("3"),
        &["--incremental"],
    );
    let id = |v: &[PathBuf]| {
        Manifest::id_of(&std::fs::read(v[0].join("manifest.toml")).unwrap()).to_hex()
    };

    let list = bundles_json(&prefix);
    assert_eq!(list.len(), 3);
    for (b, (vols, seq)) in list.iter().zip([(&one, 1), (&two, 2), (&three, 3)]) {
        assert_eq!(b["sequence"], seq);
        assert_eq!(b["bundle"].as_str(), Some(id(vols).as_str()));
        assert_eq!(b["volumes"].as_u64(), Some(vols.len() as u64));
        assert_eq!(b["bytes"].as_u64(), Some(files_bytes(vols)));
        assert!(b["created"].is_string());
    }
    assert!(list[0]["base"].is_null());
    assert_eq!(list[1]["base"].as_str(), Some(id(&one).as_str()));

    // Only a sequence it made; forgetting 2 forgets 3 as well.
    let (code, _, err) = run(ferry()
        .args(["bundles", "forget", "--key"])
        .arg(key(&prefix))
        .arg("7"));
    assert_ne!(code, 0);
    assert!(err.contains("sequence 7"), "{err}");
    let text = ok(ferry()
        .args(["bundles", "forget", "--key"])
        .arg(key(&prefix))
        .arg("2"));
    assert!(text.contains("sequence 2"), "{text}");
    let list = bundles_json(&prefix);
    assert_eq!(list.len(), 1);

    // The next incremental reuses sequence 2, on bundle 1, and carries again what 2 did.
    let again = pack_with(
        &catalog(),
        &prefix,
        &tmp.path().join("2b"),
        &["--incremental"],
    );
    let m = manifest(&again[0]);
    assert_eq!(m.sequence, 2);
    assert_eq!(m.base.as_ref().map(|b| b.bundle.to_hex()), Some(id(&one)));
    assert_eq!(m.objects.len(), manifest(&two[0]).objects.len());
}

/// Guards issue 11 (see the library test above), through the CLI.
#[test]
fn pack_again_writes_the_same_trip_onto_smaller_media() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = keygen(tmp.path(), "site");
    let first = pack_with(&catalog(), &prefix, &tmp.path().join("1"), &[]);
    let copy = pack_with(
        &catalog(),
        &prefix,
        &tmp.path().join("1-again"),
        &["--again", "1", "--media-size", "1M"],
    );
    assert_eq!(first.len(), 1);
    assert!(copy.len() >= 3, "{copy:?}");
    assert_eq!(
        manifest(&first[0]).logical_id(),
        manifest(&copy[0]).logical_id()
    );
    let (code, report) = verify(&public(&prefix), &copy, true);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(bundles_json(&prefix).len(), 1, "--again records no bundle");

    let next = pack_with(
        &catalog(),
        &prefix,
        &tmp.path().join("2"),
        &["--incremental"],
    );
    assert_eq!(manifest(&next[0]).sequence, 2);
    site_takes_either_copy(&prefix, &first, &copy, &next);

    // A sequence the state did not make.
    let (code, _, err) =
        run(pack_cmd(&catalog(), &prefix, &tmp.path().join("x")).args(["--again", "9"]));
    assert_ne!(code, 0);
    assert!(err.contains("sequence 9"), "{err}");
}
