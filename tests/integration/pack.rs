//! `ferry pack` on the test library: volumes, limits, dedup, determinism, output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ferry::format::Sha256Digest;
use ferry::format::manifest::Manifest;

use crate::common::*;

const MIB: u64 = 1 << 20;

fn manifest(vol: &Path) -> Manifest {
    Manifest::parse(&std::fs::read(vol.join("manifest.toml")).unwrap()).unwrap()
}

#[test]
fn pack_then_verify_a_multi_volume_bundle() {
    let p = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    assert!(p.volumes.len() >= 3, "{:?}", p.volumes);
    let names: Vec<String> = p
        .volumes
        .iter()
        .map(|v| v.file_name().unwrap().to_string_lossy().into())
        .collect();
    let expected: Vec<String> = (1..=names.len()).map(|n| format!("vol-{n:02}")).collect();
    assert_eq!(names, expected);

    // The files of one volume never exceed the medium; no file exceeds it either.
    for v in &p.volumes {
        let total: u64 = tree_bytes(v).values().map(|b| b.len() as u64).sum();
        assert!(total <= MIB, "{} holds {total} bytes", v.display());
    }
    let (code, report) = verify(&public(&p.key), &p.volumes, true);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    let m = manifest(&p.volumes[0]);
    assert_eq!(
        report["objects_checked"].as_u64(),
        Some(m.objects.len() as u64)
    );
    assert_eq!(report["volumes"].as_u64(), Some(p.volumes.len() as u64));
    assert_eq!(m.volumes as usize, p.volumes.len());

    // Every volume carries the same manifest, and says which volume it is.
    for (i, v) in p.volumes.iter().enumerate() {
        assert_eq!(
            std::fs::read(v.join("manifest.toml")).unwrap(),
            std::fs::read(p.volumes[0].join("manifest.toml")).unwrap()
        );
        let vt = std::fs::read_to_string(v.join("volume.toml")).unwrap();
        assert!(
            vt.contains(&format!(
                "volume = {}\nvolumes = {}\n",
                i + 1,
                p.volumes.len()
            )),
            "{vt}"
        );
    }

    // The package larger than a medium is split across volumes.
    let big =
        m.tree("library/acme-os/appstream").unwrap().files["Packages/f/ferry-big-1.0-1.noarch.rpm"];
    let vols: BTreeSet<u32> = m.objects[&big]
        .pieces
        .iter()
        .map(|pc| m.packs[&pc.pack].volume)
        .collect();
    assert!(vols.len() >= 2, "ferry-big is on volumes {vols:?}");

    // Packs are plain tar archives.
    require("tar");
    for v in &p.volumes {
        for e in std::fs::read_dir(v.join("packs")).unwrap() {
            ok(std::process::Command::new("tar")
                .arg("-tf")
                .arg(e.unwrap().path()));
        }
    }
}

#[test]
fn each_distinct_content_is_stored_once_and_trees_match_the_sources() {
    let p = pack(&testdata().join("catalog.toml"), &[]);
    assert_eq!(p.volumes.len(), 1);
    let m = manifest(&p.volumes[0]);
    let lib = testdata().join("library");
    let sources: BTreeMap<&str, std::path::PathBuf> = [
        ("library/acme-os/baseos", lib.join("repos/baseos")),
        ("library/acme-os/appstream", lib.join("repos/appstream")),
        ("library/legacy/tools", lib.join("repos/legacy")),
        (
            "library/dnf-fixture/modules",
            testdata().join("fixtures/dnf-modules-x86_64"),
        ),
        (
            "views/web/1.0/acme-os/baseos",
            lib.join("cv/web/1.0/baseos"),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        m.trees
            .iter()
            .map(|t| t.name.as_str())
            .collect::<BTreeSet<_>>(),
        sources.keys().copied().collect()
    );

    let mut distinct = BTreeSet::new();
    let mut files = 0;
    for t in &m.trees {
        let dir = &sources[t.name.as_str()];
        for (path, id) in &t.files {
            assert_eq!(
                &Sha256Digest::of(&std::fs::read(dir.join(path)).unwrap()),
                id,
                "{}/{path}",
                t.name
            );
            distinct.insert(*id);
            files += 1;
        }
        // createrepo_c-made repositories: the tree holds every file of the repository.
        if t.name != "library/dnf-fixture/modules" {
            let on_disk: BTreeSet<String> = tree_bytes(dir).into_keys().collect();
            assert_eq!(
                t.files.keys().cloned().collect::<BTreeSet<_>>(),
                on_disk,
                "{}",
                t.name
            );
        }
    }
    assert_eq!(m.objects.keys().copied().collect::<BTreeSet<_>>(), distinct);
    assert!(
        files > distinct.len() + 5,
        "{files} files, {} objects: no sharing?",
        distinct.len()
    );
    // ferry-docs is in baseos, legacy (sha1 metadata) and the view snapshot: one object.
    let docs =
        m.tree("library/acme-os/baseos").unwrap().files["Packages/f/ferry-docs-1.0-1.noarch.rpm"];
    assert_eq!(
        m.tree("library/legacy/tools").unwrap().files["ferry-docs-1.0-1.noarch.rpm"],
        docs
    );
    assert_eq!(
        m.tree("views/web/1.0/acme-os/baseos").unwrap().files["Packages/f/ferry-docs-1.0-1.noarch.rpm"],
        docs
    );
    assert_eq!(m.objects[&docs].pieces.len(), 1);
    // The view without a snapshot of appstream uses the Library tree.
    let web = &m.content_views[0];
    assert_eq!(web.repositories[1].tree, "library/acme-os/appstream");
    // GPG key contents travel in the manifest.
    assert!(
        m.products[0]
            .gpg_key
            .as_ref()
            .unwrap()
            .content
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    );
    // Metadata compresses; RPMs are stored raw.
    use ferry::format::manifest::Encoding;
    assert_eq!(m.objects[&docs].encoding, Encoding::Raw);
    assert!(m.objects.values().any(|o| o.encoding == Encoding::Zstd));
}

#[test]
fn same_catalog_key_and_epoch_give_identical_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    // The same export state position too: each run starts from a fresh state, so both
    // bundles are sequence 1.
    let run_pack = |out: &str| {
        ok(ferry()
            .env("SOURCE_DATE_EPOCH", "1767225600")
            .args(["pack", "--media-size", "700K", "--catalog"])
            .arg(testdata().join("catalog.toml"))
            .arg("--key")
            .arg(key(&k))
            .arg("--state")
            .arg(tmp.path().join(format!("state-{out}")))
            .arg("--out")
            .arg(tmp.path().join(out)));
        tree_bytes(&tmp.path().join(out))
    };
    let a = run_pack("a");
    let b = run_pack("b");
    assert!(a.len() > 10);
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(v == &b[k], "{k} differs");
    }
    assert!(
        String::from_utf8_lossy(&a["vol-01/manifest.toml"])
            .contains("created = \"2026-01-01T00:00:00Z\"")
    );
}

#[test]
fn max_file_size_splits_packs_on_one_volume() {
    let p = pack(
        &testdata().join("catalog.toml"),
        &["--max-file-size", "256K"],
    );
    assert_eq!(p.volumes.len(), 1);
    let packs: Vec<_> = std::fs::read_dir(p.volumes[0].join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(packs.len() >= 8, "{} packs", packs.len());
    for f in &packs {
        assert!(
            std::fs::metadata(f).unwrap().len() <= 256 * 1024,
            "{}",
            f.display()
        );
    }
    let (code, report) = verify(&public(&p.key), &p.volumes, true);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn plain_output_without_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let (code, out, err) = run(ferry()
        .arg("pack")
        .arg("--catalog")
        .arg(testdata().join("catalog.toml"))
        .arg("--key")
        .arg(key(&k))
        .arg("--out")
        .arg(tmp.path().join("o"))
        .args(["--media-size", "1M"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("3 volumes") || out.contains("volumes,"),
        "{out}"
    );
    assert!(out.contains("vol-01"), "{out}");
    assert!(err.lines().any(|l| l.starts_with("packing: ")), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "escape codes when stderr is not a terminal: {err:?}"
    );
}

#[test]
fn refuses_an_output_directory_that_holds_a_bundle_and_media_too_small() {
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let before = tree_bytes(&p.out);
    let (code, _, err) = run(&mut pack_cmd(
        &testdata().join("catalog.toml"),
        &p.key,
        &p.out,
    ));
    assert_ne!(code, 0);
    assert!(err.contains("already holds a bundle"), "{err}");
    assert_eq!(tree_bytes(&p.out), before);

    let (code, _, err) = run(pack_cmd(
        &testdata().join("catalog.toml"),
        &p.key,
        &p.tmp.path().join("small"),
    )
    .args(["--media-size", "40K"]));
    assert_ne!(code, 0);
    assert!(err.contains("too small"), "{err}");
    assert!(volumes(&p.tmp.path().join("small")).is_empty());
}
