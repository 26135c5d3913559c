//! `ferry import`, `trust`, `status` and `repofile`, end to end with the real dnf.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// A copy of bundle B under `name` with one byte of the first pack of volume `vol`
/// (0-based) changed: the byte at `at(pack length)`, XORed with `mask`.
fn damaged_copy(t: &Two, name: &str, vol: usize, at: fn(usize) -> usize, mask: u8) -> Vec<PathBuf> {
    let dir = t.tmp.path().join(name);
    copy_dir(&t.tmp.path().join("b"), &dir);
    let vols = volumes(&dir);
    let pack = std::fs::read_dir(vols[vol].join("packs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&pack).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= mask;
    std::fs::write(&pack, bytes).unwrap();
    vols
}

fn repofile(store: &Path) -> String {
    ok(ferry().arg("repofile").arg("--store").arg(store))
}

#[test]
fn dnf_installs_from_the_published_store_with_gpg_checks_on() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    let out = must_import(&store, &t.key, &t.b);
    assert!(
        out.contains("published acme/library/acme-os/baseos"),
        "{out}"
    );
    let repo = repofile(&store);
    assert!(repo.contains("[acme_acme-os_baseos]"), "{repo}");
    assert!(repo.contains("[acme_web_acme-os_baseos]"), "{repo}");
    assert!(repo.contains(&format!(
        "gpgkey=file://{}/published/acme/library/acme-os/baseos/RPM-GPG-KEY-ferry-test",
        std::fs::canonicalize(&store).unwrap().display()
    )));

    // Install from the Library, with the package's dependency, checking signatures.
    let dnf = Dnf::new(&repo);
    let (code, o, e) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_baseos",
        "install",
        "ferry-tools",
        "ferry-tilde",
    ]);
    assert_eq!(code, 0, "{o}\n{e}");
    let installed = dnf.installed();
    for p in [
        "ferry-tools-2.0-1.noarch",
        "ferry-hello-1.1-1.noarch",
        "ferry-tilde-1.0~rc1+git5-1.noarch",
    ] {
        assert!(installed.contains(&p.to_string()), "{installed:?}");
    }
    assert!(
        installed
            .iter()
            .any(|p| p.starts_with("gpg-pubkey-8990ff08")),
        "the product key was imported: {installed:?}"
    );
    // Errata, groups and modules of the bundle.
    let (_, o, _) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_baseos",
        "updateinfo",
        "list",
        "--all",
    ]);
    for advisory in ["FERRY-2026:0001", "FERRY-2026:0002", "FERRY-2026:0003"] {
        assert!(o.contains(advisory), "{o}");
    }
    let (_, o, _) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_baseos",
        "group",
        "list",
    ]);
    assert!(o.contains("Ferry Core"), "{o}");
    let (_, o, _) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_appstream",
        "module",
        "list",
    ]);
    assert!(o.contains("ferry-app"), "{o}");
    // The content view publishes its own (older) snapshot of BaseOS.
    let (_, o, _) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_web_acme-os_baseos",
        "repoquery",
        "--qf",
        "%{name}-%{version}",
        "ferry-tools",
    ]);
    assert!(
        o.contains("ferry-tools-1.9") && !o.contains("ferry-tools-2.0"),
        "{o}"
    );

    // gpgcheck is real: without the key, the same install is refused.
    let nokey: String = repo
        .lines()
        .filter(|l| !l.starts_with("gpgkey="))
        .collect::<Vec<_>>()
        .join("\n");
    let dnf2 = Dnf::new(&nokey);
    let (code, _, _) = dnf2.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_baseos",
        "install",
        "ferry-hello",
    ]);
    assert_ne!(code, 0, "dnf installed an unverifiable package");
}

fn primary_listing(repo: &Path) -> Vec<String> {
    use ferry::yum;
    let repomd =
        yum::repomd::parse_repomd(&std::fs::read(repo.join("repodata/repomd.xml")).unwrap())
            .unwrap();
    let bytes = std::fs::read(repo.join(&repomd.primary().unwrap().location)).unwrap();
    let mut v: Vec<String> =
        yum::primary::parse_primary(yum::decompress::decompressed(&bytes[..]).unwrap())
            .unwrap()
            .into_iter()
            .map(|p| {
                format!(
                    "{}-{}:{}-{}.{}",
                    p.name, p.epoch, p.version, p.release, p.arch
                )
            })
            .collect();
    v.sort();
    v
}

#[test]
fn the_sha1_repository_and_the_dnf_fixture_list_the_same_packages_as_their_sources() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.b);
    let published = store.join("published/acme/library");
    for (repo_id, src, pubdir) in [
        (
            "acme_legacy_tools",
            testdata().join("library/repos/legacy"),
            published.join("legacy/tools"),
        ),
        (
            "acme_dnf-fixture_modules",
            testdata().join("fixtures/dnf-modules-x86_64"),
            published.join("dnf-fixture/modules"),
        ),
    ] {
        // Byte for byte, every file the metadata names is there.
        let src_files = tree_bytes(&src);
        let pub_files = tree_bytes(&std::fs::canonicalize(&pubdir).unwrap());
        for (path, bytes) in &pub_files {
            if path.starts_with("RPM-GPG-KEY") {
                continue;
            }
            assert_eq!(Some(bytes), src_files.get(path), "{repo_id}: {path}");
        }
        // dnf sees the packages the source's primary metadata lists (module_hotfixes shows
        // modular packages too, so the whole listing is compared).
        let dnf = Dnf::new(&repofile(&store));
        let (code, o, e) = dnf.run(&[
            "--disablerepo=*",
            &format!("--enablerepo={repo_id}"),
            &format!("--setopt={repo_id}.module_hotfixes=1"),
            "repoquery",
            "--qf",
            "%{name}-%{epoch}:%{version}-%{release}.%{arch}",
        ]);
        assert_eq!(code, 0, "{e}");
        let mut seen: Vec<String> = o
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, primary_listing(&src), "{repo_id}");
        assert!(seen.len() >= 3);
    }
}

#[test]
fn importing_the_same_bundle_again_is_a_no_op_that_says_so() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.b);
    let before = (published_bytes(&store), status(&store));
    let out = must_import(&store, &t.key, &t.b);
    assert!(out.contains("already imported"), "{out}");
    assert_eq!((published_bytes(&store), status(&store)), before);

    // "Already imported" is said only of intact media: damaged or mixed media of a bundle
    // the store has are refused like any others (they once got exit 0 unchecked).
    let vols = damaged_copy(&t, "damaged", 2, |_| 700, 1);
    let (code, out, err) = import(&store, Some(&public(&t.key)), &vols);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("refused") && err.contains("corrupt"), "{err}");
    let mixed = vec![
        t.b[0].clone(),
        t.a[1].clone(),
        t.b[1].clone(),
        t.b[2].clone(),
    ];
    let (code, out, err) = import(&store, Some(&public(&t.key)), &mixed);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("belongs to bundle"), "{err}");
    assert_eq!((published_bytes(&store), status(&store)), before);
}

#[test]
fn refused_bundles_leave_published_trees_byte_for_byte_unchanged() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.a);
    let before = published_bytes(&store);
    let status_before = status(&store);
    assert!(before.keys().any(|k| k.contains("ferry-tools-1.9-1")));
    let unchanged = |why: &str| {
        assert_eq!(
            published_bytes(&store),
            before,
            "{why}: published trees changed"
        );
        assert_eq!(status(&store), status_before, "{why}: the catalog changed");
    };

    // A corrupt volume: one byte of a pack on volume 2.
    let vols = damaged_copy(&t, "damaged", 1, |n| n / 2, 0x10);
    let (code, _, err) = import(&store, Some(&public(&t.key)), &vols);
    assert_ne!(code, 0);
    assert!(
        err.contains("volume 2") && err.contains("corrupt") && err.contains("nothing was changed"),
        "{err}"
    );
    unchanged("corrupt volume");

    // A wrong key.
    let other = keygen(t.tmp.path(), "other");
    let (code, _, err) = import(&store, Some(&public(&other)), &t.b);
    assert_ne!(code, 0);
    assert!(
        err.contains("not trusted") && err.contains("nothing was changed"),
        "{err}"
    );
    unchanged("wrong key");

    // A missing volume: the two given are verified and staged, nothing is published.
    let (code, out, err) = import(
        &store,
        Some(&public(&t.key)),
        &[t.b[0].clone(), t.b[2].clone()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("volumes 1, 3 of 3 verified and staged") && out.contains("still needed: 2"),
        "{out}"
    );
    unchanged("missing volume");

    // A correctly signed bundle whose object does not hash to its id (test vector).
    let v = testdata().join("vectors/cases/damaged-object");
    let vv = vec![v.join("vol-01"), v.join("vol-02")];
    let (code, _, err) = import(
        &store,
        Some(&testdata().join("vectors/keys/vector.pub")),
        &vv,
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("hashes to") && err.contains("filelists"),
        "{err}"
    );
    unchanged("damaged object");

    // And the good bundle still imports afterwards.
    must_import(&store, &t.key, &t.b);
    assert_ne!(published_bytes(&store), before);
}

#[test]
fn media_are_only_read_and_read_only_media_work() {
    let t = two_bundles();
    let before = tree_bytes(&t.tmp.path().join("b"));
    let store = t.tmp.path().join("store");
    // Mount the volumes read-only in a private mount namespace, as a write-protected stick.
    require("unshare");
    let ro = t.tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let script = format!(
        "mount --bind {b} {ro} && mount -o remount,bind,ro {ro} && {ferry} import --init --store {store} --trust {key} {ro}/vol-01 {ro}/vol-02 {ro}/vol-03",
        b = t.tmp.path().join("b").display(),
        ro = ro.display(),
        ferry = env!("CARGO_BIN_EXE_ferry"),
        store = store.display(),
        key = public(&t.key).display(),
    );
    let (code, out, err) = run(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert_eq!(code, 0, "import from read-only media failed:\n{out}\n{err}");
    assert!(out.contains("imported bundle"), "{out}");
    assert_eq!(
        tree_bytes(&t.tmp.path().join("b")),
        before,
        "the media changed"
    );
}

#[test]
fn registered_keys_replace_trust_flags_and_can_be_removed() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    let (code, _, err) = import(&store, None, &t.a);
    assert_ne!(code, 0);
    assert!(err.contains("no trusted key"), "{err}");
    let out = ok(ferry()
        .arg("trust")
        .arg("add")
        .arg("--store")
        .arg(&store)
        .arg(public(&t.key)));
    let id = out.split_whitespace().nth(2).unwrap().to_string();
    let list = ok(ferry().arg("trust").arg("list").arg("--store").arg(&store));
    assert!(list.contains(&id), "{list}");
    let (code, out, err) = import(&store, None, &t.a);
    assert_eq!(code, 0, "{out}{err}");
    ok(ferry()
        .arg("trust")
        .arg("remove")
        .arg("--store")
        .arg(&store)
        .arg(&id));
    let (code, _, err) = import(&store, None, &t.b);
    assert_ne!(code, 0);
    assert!(err.contains("no trusted key"), "{err}");
}

#[test]
fn one_import_at_a_time() {
    require("flock");
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.a);
    // Hold the store's lock as another import would.
    let mut holder = Command::new("flock")
        .arg(store.join("lock"))
        .args(["sleep", "3"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (code, _, err) = run(ferry()
        .args(["import", "--init"])
        .arg("--no-wait")
        .arg("--store")
        .arg(&store)
        .arg("--trust")
        .arg(public(&t.key))
        .args(&t.b));
    assert_ne!(code, 0);
    assert!(err.contains("is changing this store"), "{err}");
    // Without --no-wait it says so, waits, and then imports.
    let (code, out, err) = import(&store, Some(&public(&t.key)), &t.b);
    holder.wait().unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("waiting"), "{err}");
}

#[test]
fn status_and_repofile_describe_the_store() {
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.a);
    must_import(&store, &t.key, &t.b);
    let s = status(&store);
    let repos = s["repositories"].as_array().unwrap();
    let baseos = repos.iter().find(|r| r["label"] == "baseos").unwrap();
    assert_eq!(baseos["version"], 2);
    assert_eq!(baseos["history"], 1);
    assert_eq!(baseos["packages"], 7);
    assert_eq!(baseos["bundle"].as_str().unwrap().len(), 64);
    let appstream = repos.iter().find(|r| r["label"] == "appstream").unwrap();
    assert_eq!(
        appstream["version"], 1,
        "unchanged content is not a new version"
    );
    assert_eq!(s["bundles"].as_array().unwrap().len(), 2);
    assert_eq!(s["bundles"][1]["volumes"], 3);
    assert_eq!(s["bundles"][1]["signer"].as_str().unwrap().len(), 16);
    assert_eq!(s["content_views"][0]["label"], "web");
    let plain = ok(ferry().arg("status").arg("--store").arg(&store));
    assert!(
        plain.contains("acme/acme-os/baseos") && plain.contains("version 2"),
        "{plain}"
    );

    let r = ok(ferry()
        .arg("repofile")
        .arg("--store")
        .arg(&store)
        .args(["--base-url", "https://mirror.example/ferry/"]));
    assert!(
        r.contains("baseurl=https://mirror.example/ferry/acme/library/acme-os/baseos\n"),
        "{r}"
    );
    assert!(r.contains("gpgkey=https://mirror.example/ferry/acme/library/acme-os/baseos/RPM-GPG-KEY-ferry-test\n"), "{r}");
    assert!(
        r.contains("[acme_dnf-fixture_modules]") && r.contains("gpgcheck=0"),
        "{r}"
    );
}

#[test]
fn publishing_costs_no_second_copy() {
    use std::os::unix::fs::MetadataExt as _;
    let t = two_bundles();
    let store = t.tmp.path().join("store");
    must_import(&store, &t.key, &t.b);
    let rpm = store
        .join("published/acme/library/acme-os/appstream/Packages/f/ferry-big-1.0-1.noarch.rpm");
    let m = std::fs::metadata(&rpm).unwrap();
    assert!(
        m.nlink() >= 2,
        "published file is not a hard link to the store's object"
    );
    let id = ferry::format::Sha256Digest::of(&std::fs::read(&rpm).unwrap()).to_hex();
    let object = store.join("objects").join(&id[..2]).join(&id[2..]);
    assert_eq!(std::fs::metadata(object).unwrap().ino(), m.ino());
}

#[test]
fn a_store_without_room_is_refused_with_the_figures() {
    require("unshare");
    let t = two_bundles();
    let store = t.tmp.path().join("small");
    std::fs::create_dir(&store).unwrap();
    // A 1 MiB file system for a bundle of about 2 MiB, in a private mount namespace.
    let script = format!(
        "mount -t tmpfs -o size=1M tmpfs {store} && {ferry} import --init --store {store} --trust {key} {vols}; rc=$?; find {store}/published {store}/objects -type f | wc -l; exit $rc",
        store = store.display(),
        ferry = env!("CARGO_BIN_EXE_ferry"),
        key = public(&t.key).display(),
        vols =
            t.b.iter()
                .map(|v| v.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
    );
    let (code, out, err) = run(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("not enough space") && err.contains("MiB") && err.contains("free"),
        "{err}"
    );
    assert_eq!(out.trim(), "0", "files were written: {out}");
}
