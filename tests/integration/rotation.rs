//! Media rotations: incremental bundles carry only what changed, the importing side applies
//! them in order, refuses old or replayed media, and takes volumes one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::format::Sha256Digest;
use ferry::format::manifest::Manifest;
use serde_json::Value;

use crate::common::*;

fn rotation(v: &str) -> PathBuf {
    testdata().join("library/rotation").join(v)
}

/// Make `to` hold exactly the files of `from`, leaving identical files untouched (as a
/// repository updated in place keeps its unchanged packages).
fn sync_repo(from: &Path, to: &Path) {
    let want = tree_bytes(from);
    if to.exists() {
        for (rel, bytes) in tree_bytes(to) {
            if want.get(&rel) != Some(&bytes) {
                std::fs::remove_file(to.join(&rel)).unwrap();
            }
        }
    }
    for (rel, bytes) in &want {
        let dst = to.join(rel);
        if !dst.exists() {
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::write(&dst, bytes).unwrap();
        }
    }
}

/// A site: a catalog whose one repository is `repo/`, a key, and an export state beside it.
struct Site {
    tmp: tempfile::TempDir,
    key: PathBuf,
    catalog: PathBuf,
}

impl Site {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let key = keygen(tmp.path(), "site");
        std::fs::copy(
            testdata().join("library/RPM-GPG-KEY-ferry-test"),
            tmp.path().join("RPM-GPG-KEY-ferry-test"),
        )
        .unwrap();
        let catalog = tmp.path().join("catalog.toml");
        std::fs::write(
            &catalog,
            "organization = \"acme\"\n\n[[product]]\nlabel = \"os\"\nname = \"ACME OS\"\ngpg_key = \"RPM-GPG-KEY-ferry-test\"\n\n\
             [[product.repository]]\nlabel = \"base\"\nname = \"Base\"\npath = \"repo\"\n",
        )
        .unwrap();
        Site { tmp, key, catalog }
    }

    fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }

    /// Pack into `out` with extra arguments; the JSON summary and the volumes.
    fn pack(&self, out: &str, extra: &[&str]) -> (Value, Vec<PathBuf>) {
        let dir = self.tmp.path().join(out);
        let stdout = ok(ferry()
            .arg("pack")
            .arg("--json")
            .arg("--catalog")
            .arg(&self.catalog)
            .arg("--key")
            .arg(key(&self.key))
            .arg("--out")
            .arg(&dir)
            .args(extra));
        (serde_json::from_str(&stdout).unwrap(), volumes(&dir))
    }
}

fn hashes(dir: &Path) -> BTreeMap<Sha256Digest, u64> {
    tree_bytes(dir)
        .values()
        .map(|b| (Sha256Digest::of(b), b.len() as u64))
        .collect()
}

fn manifest(vol: &Path) -> Manifest {
    Manifest::parse(&std::fs::read(vol.join("manifest.toml")).unwrap()).unwrap()
}

fn published(store: &Path, rel: &str) -> BTreeMap<String, Vec<u8>> {
    tree_bytes(&std::fs::canonicalize(store.join("published").join(rel)).unwrap())
        .into_iter()
        .filter(|(k, _)| !k.starts_with("RPM-GPG-KEY"))
        .collect()
}

#[test]
fn an_incremental_bundle_carries_only_what_changed_and_dnf_sees_exactly_v2() {
    let site = Site::new();
    sync_repo(&rotation("v1"), &site.repo());
    let (s1, b1) = site.pack("trip1", &[]);
    assert_eq!(s1["sequence"], 1);
    assert_eq!(s1["base"], Value::Null);

    sync_repo(&rotation("v2"), &site.repo());
    // PREV given as one of its volume directories.
    let (s2, b2) = site.pack("trip2", &["--since", b1[0].to_str().unwrap()]);
    assert_eq!(s2["sequence"], 2);
    assert_eq!(s2["base"], s1["bundle"]);
    let m2 = manifest(&b2[0]);
    let base = m2.base.as_ref().unwrap();
    assert_eq!(base.bundle.to_hex(), s1["bundle"].as_str().unwrap());
    assert_eq!((base.sequence, m2.sequence), (1, 2));

    // PREV given as its manifest file names the same base.
    let (s2b, _) = site.pack(
        "trip2b",
        &[
            "--since",
            b1[0].join("manifest.toml").to_str().unwrap(),
            "--state",
            site.tmp.path().join("state-b").to_str().unwrap(),
        ],
    );
    assert_eq!(
        (&s2b["base"], &s2b["sequence"]),
        (&s1["bundle"], &s2["sequence"])
    );
    assert_eq!(s2b["objects"], s2["objects"]);

    // Only the new contents are carried, and their bytes are all the media hold.
    let (v1, v2) = (hashes(&rotation("v1")), hashes(&rotation("v2")));
    let new: BTreeMap<_, _> = v2.iter().filter(|(h, _)| !v1.contains_key(h)).collect();
    let carried: BTreeSet<_> = m2.objects.keys().collect();
    assert_eq!(carried, new.keys().copied().collect::<BTreeSet<_>>());
    let new_bytes: u64 = new.values().copied().sum();
    let pack_bytes = s2["pack_bytes"].as_u64().unwrap();
    let overhead = 1024 * (m2.objects.len() as u64 + m2.packs.len() as u64);
    assert!(
        pack_bytes <= new_bytes + overhead,
        "{pack_bytes} bytes of packs for {new_bytes} bytes of new content"
    );
    // Unchanged files were not read again.
    assert_eq!(
        s2["files_read"].as_u64().unwrap() as usize,
        new.len(),
        "{s2:#}"
    );
    // The description is complete: the tree is all of v2.
    assert_eq!(m2.trees[0].files.len(), tree_bytes(&rotation("v2")).len());
    let (code, r) = verify(&public(&site.key), &b2, true);
    assert_eq!(code, 0, "{r:#}");

    // Full, then incremental: the published repository is v2 exactly.
    let store = site.tmp.path().join("store");
    must_import(&store, &site.key, &b1);
    assert_eq!(
        published(&store, "acme/library/os/base"),
        tree_bytes(&rotation("v1"))
    );
    let out = must_import(&store, &site.key, &b2);
    assert!(
        out.contains("published acme/library/os/base  version 2"),
        "{out}"
    );
    assert_eq!(
        published(&store, "acme/library/os/base"),
        tree_bytes(&rotation("v2"))
    );

    let repo = ok(ferry().arg("repofile").arg("--store").arg(&store));
    let dnf = Dnf::new(&repo);
    let (code, o, e) = dnf.run(&["install", "ferry-tools", "ferry-tilde"]);
    assert_eq!(code, 0, "{o}{e}");
    let installed = dnf.installed();
    assert!(
        installed.contains(&"ferry-tools-2.0-1.noarch".to_string()),
        "{installed:?}"
    );
    assert!(
        installed.contains(&"ferry-hello-1.1-1.noarch".to_string()),
        "{installed:?}"
    );
    let (code, _, _) = dnf.run(&["install", "ferry-docs"]);
    assert_ne!(code, 0, "the package removed upstream is still installable");
    let (_, o, _) = dnf.run(&["repoquery", "--qf", "%{name}", "ferry-docs"]);
    assert!(!o.contains("ferry-docs"), "{o}");
    let (_, o, _) = dnf.run(&["updateinfo", "list", "--all"]);
    assert!(
        o.contains("FERRY-2026:0001") && o.contains("FERRY-2026:0002"),
        "{o}"
    );
    // The removed package stays in the store's history.
    let docs = Sha256Digest::of(
        &std::fs::read(rotation("v1").join("Packages/f/ferry-docs-1.0-1.noarch.rpm")).unwrap(),
    )
    .to_hex();
    assert!(
        store
            .join("objects")
            .join(&docs[..2])
            .join(&docs[2..])
            .is_file()
    );

    // Without its base, the incremental names the bundle to import first.
    let fresh = site.tmp.path().join("fresh");
    let (code, _, err) = import(&fresh, Some(&public(&site.key)), &b2);
    assert_ne!(code, 0);
    assert!(
        err.contains(s1["bundle"].as_str().unwrap())
            && err.contains("sequence 1")
            && err.contains(&manifest(&b1[0]).created),
        "{err}"
    );
    assert_eq!(published_bytes(&fresh), BTreeMap::new());
}

#[test]
fn rotations_apply_in_order_and_old_or_replayed_media_change_nothing() {
    let site = Site::new();
    let mut trips = Vec::new();
    for (i, v) in ["v1", "v2", "v3"].iter().enumerate() {
        sync_repo(&rotation(v), &site.repo());
        let extra: &[&str] = if i == 0 { &[] } else { &["--incremental"] };
        let (s, vols) = site.pack(&format!("trip{}", i + 1), extra);
        assert_eq!(s["sequence"], i as u64 + 1);
        if i > 0 {
            assert_eq!(
                s["base"],
                trips
                    .last()
                    .map(|(s, _): &(Value, Vec<PathBuf>)| s["bundle"].clone())
                    .unwrap()
            );
        }
        trips.push((s, vols));
    }
    let store = site.tmp.path().join("store");
    for (_, vols) in &trips {
        must_import(&store, &site.key, vols);
    }
    // Three rotations give what one full bundle of the last state gives.
    let (_, full) = site.pack(
        "full",
        &[
            "--state",
            site.tmp.path().join("other-state").to_str().unwrap(),
        ],
    );
    let reference = site.tmp.path().join("reference");
    must_import(&reference, &site.key, &full);
    assert_eq!(
        published(&store, "acme/library/os/base"),
        published(&reference, "acme/library/os/base")
    );
    assert_eq!(
        published(&store, "acme/library/os/base"),
        tree_bytes(&rotation("v3"))
    );

    let before = published_bytes(&store);
    let status = || -> Value {
        serde_json::from_str(&ok(ferry()
            .args(["status", "--json", "--store"])
            .arg(&store)))
        .unwrap()
    };
    let catalog = |mut s: Value| {
        s.as_object_mut().unwrap().remove("history");
        s.as_object_mut().unwrap().remove("disk");
        s
    };
    let status_before = catalog(status());

    // A full bundle of sequence 1 offered to a store at sequence 3: refused as stale.
    let (code, _, err) = import(&store, Some(&public(&site.key)), &full);
    assert_ne!(code, 0);
    assert!(
        err.contains("sequence 1")
            && err.contains("sequence 3")
            && err.contains("--allow-rollback"),
        "{err}"
    );
    assert_eq!(published_bytes(&store), before);
    assert_eq!(catalog(status()), status_before);

    // The old v1 media again: exactly a bundle already imported, a no-op.
    let out = must_import(&store, &site.key, &trips[0].1);
    assert!(out.contains("already imported"), "{out}");
    assert_eq!(published_bytes(&store), before);

    // A trip with no change carries nothing but is still a signed, importable bundle.
    let (s4, nothing) = site.pack("trip4", &["--incremental"]);
    assert_eq!(
        (
            s4["sequence"].as_u64(),
            s4["objects"].as_u64(),
            nothing.len()
        ),
        (Some(4), Some(0), 1)
    );
    let (code, r) = verify(&public(&site.key), &nothing, true);
    assert_eq!(code, 0, "{r:#}");
    let out = must_import(&store, &site.key, &nothing);
    assert!(out.contains("unchanged acme/library/os/base"), "{out}");

    // A deliberate rollback is possible, and recorded.
    let out = ok(ferry()
        .args(["import", "--init"])
        .arg("--allow-rollback")
        .arg("--store")
        .arg(&store)
        .arg("--trust")
        .arg(public(&site.key))
        .args(&full));
    assert!(out.contains("imported bundle"), "{out}");
    let s = status();
    assert!(
        s["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "rollback"),
        "{s:#}"
    );
}

#[test]
fn volumes_fed_one_per_run_in_any_order_complete_the_import() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let vols = pack_with(
        &testdata().join("catalog.toml"),
        &k,
        &tmp.path().join("b"),
        &["--media-size", "1M"],
    );
    assert_eq!(vols.len(), 3);
    let reference = tmp.path().join("reference");
    must_import(&reference, &k, &vols);

    let store = tmp.path().join("store");
    let out = must_import(&store, &k, &[vols[2].clone()]);
    assert!(
        out.contains("volume 3 of 3 verified and staged") && out.contains("still needed: 1, 2"),
        "{out}"
    );
    // The same stick again changes nothing.
    let out = must_import(&store, &k, &[vols[2].clone()]);
    assert!(out.contains("still needed: 1, 2"), "{out}");
    let out = must_import(&store, &k, &[vols[0].clone()]);
    assert!(
        out.contains("volumes 1, 3 of 3 verified and staged") && out.contains("still needed: 2"),
        "{out}"
    );
    assert_eq!(
        published_bytes(&store),
        BTreeMap::new(),
        "published before the last volume"
    );
    // ferry-big spans volumes 1 and 2: its piece from volume 1 waits in the staging area.
    let staged_pieces: usize = std::fs::read_dir(store.join("staging"))
        .unwrap()
        .map(|b| std::fs::read_dir(b.unwrap().path().join("pieces")).map_or(0, |d| d.count()))
        .sum();
    assert!(staged_pieces >= 1, "no piece staged");
    let s: Value = serde_json::from_str(&ok(ferry()
        .args(["status", "--json", "--store"])
        .arg(&store)))
    .unwrap();
    assert_eq!(s["staged"][0]["volumes"], serde_json::json!([1, 3]));
    let out = must_import(&store, &k, &[vols[1].clone()]);
    assert!(out.contains("imported bundle"), "{out}");
    assert_eq!(published_bytes(&store), published_bytes(&reference));
    assert!(
        !store.join("staging").read_dir().unwrap().any(|_| true),
        "staging area left behind"
    );
}

#[test]
fn an_incremental_pack_does_not_read_unchanged_files_again() {
    require("createrepo_c");
    let site = Site::new();
    // A repository with SHA-1 metadata: only the file cache can tell an unchanged package.
    let repo = site.repo();
    std::fs::create_dir_all(&repo).unwrap();
    for f in [
        "acme-release-9.0-1.noarch.rpm",
        "beacon-1.2-1.noarch.rpm",
        "ferry-hello-1.0-1.noarch.rpm",
    ] {
        std::fs::copy(
            rotation("v1").join("Packages").join(&f[..1]).join(f),
            repo.join(f),
        )
        .unwrap();
    }
    let createrepo = || {
        ok(Command::new("createrepo_c")
            .args(["--quiet", "--checksum", "sha1"])
            .arg(&repo))
    };
    createrepo();
    let (s1, _) = site.pack("trip1", &[]);
    assert_eq!(
        s1["files_read"].as_u64(),
        Some(3 + tree_bytes(&repo.join("repodata")).len() as u64)
    );

    // A new package arrives; the others are untouched.
    std::fs::copy(
        rotation("v3").join("Packages/f/ferry-cli-1.0-1.noarch.rpm"),
        repo.join("ferry-cli-1.0-1.noarch.rpm"),
    )
    .unwrap();
    createrepo();
    // Prove that an unchanged package is not read: change its bytes but not its size,
    // modification time or inode. A pack that read it would refuse it (sha1 mismatch).
    let beacon = repo.join("beacon-1.2-1.noarch.rpm");
    let mtime = std::fs::metadata(&beacon).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&beacon).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 1;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&beacon)
        .unwrap();
    std::io::Write::write_all(&mut &f, &bytes).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);

    let (s2, b2) = site.pack("trip2", &["--incremental"]);
    let metadata = tree_bytes(&repo.join("repodata")).len() as u64;
    assert_eq!(s2["files_read"].as_u64(), Some(metadata + 1), "{s2:#}");
    let (code, r) = verify(&public(&site.key), &b2, true);
    assert_eq!(code, 0, "{r:#}");
    // Without the cache (a fresh state) every file is read, and the change is caught.
    let (code, _, err) = run(ferry()
        .arg("pack")
        .arg("--catalog")
        .arg(&site.catalog)
        .arg("--key")
        .arg(key(&site.key))
        .arg("--state")
        .arg(site.tmp.path().join("fresh-state"))
        .arg("--out")
        .arg(site.tmp.path().join("trip3")));
    assert_ne!(code, 0);
    assert!(
        err.contains("beacon-1.2-1.noarch.rpm") && err.contains("sha1"),
        "{err}"
    );
}
