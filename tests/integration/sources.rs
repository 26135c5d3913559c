//! Source repositories: real ones pack; corrupt, incomplete or hostile ones are refused
//! with the file named, and nothing is written.

use std::path::Path;

use crate::common::*;

fn pack_err(catalog: &Path, out: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let (code, _, err) = run(&mut pack_cmd(catalog, &k, out));
    assert_ne!(code, 0, "pack accepted a bad source");
    assert!(volumes(out).is_empty(), "volumes written despite the error");
    if out.exists() {
        assert_eq!(
            std::fs::read_dir(out).unwrap().count(),
            0,
            "leftovers in {}",
            out.display()
        );
    }
    err
}

#[test]
fn a_package_whose_bytes_differ_from_its_metadata_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    let rpm = tmp
        .path()
        .join("library/repos/baseos/Packages/b/beacon-1.2-1.noarch.rpm");
    let mut b = std::fs::read(&rpm).unwrap();
    let n = b.len();
    b[n - 10] ^= 1;
    std::fs::write(&rpm, b).unwrap();
    let err = pack_err(&catalog, &tmp.path().join("out"));
    assert!(
        err.contains("library/acme-os/baseos: Packages/b/beacon-1.2-1.noarch.rpm"),
        "{err}"
    );
    assert!(err.contains("sha256"), "{err}");
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn sha1_metadata_is_checked_too() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    let rpm = tmp
        .path()
        .join("library/repos/legacy/ferry-legacy-0.9-1.noarch.rpm");
    let mut b = std::fs::read(&rpm).unwrap();
    b[200] ^= 1;
    std::fs::write(&rpm, b).unwrap();
    let err = pack_err(&catalog, &tmp.path().join("out"));
    assert!(
        err.contains("ferry-legacy-0.9-1.noarch.rpm") && err.contains("sha1"),
        "{err}"
    );
}

#[test]
fn missing_and_truncated_files_are_all_listed_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    let lib = tmp.path().join("library/repos");
    std::fs::remove_file(lib.join("appstream/Packages/f/ferry-cli-1.0-1.noarch.rpm")).unwrap();
    let filelists = std::fs::read_dir(lib.join("baseos/repodata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("filelists"))
        .unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&filelists)
        .unwrap();
    f.set_len(10).unwrap();
    let err = pack_err(&catalog, &tmp.path().join("out"));
    assert!(err.contains("2 problems"), "{err}");
    assert!(err.contains("ferry-cli-1.0-1.noarch.rpm: missing"), "{err}");
    assert!(
        err.contains("filelists.xml.gz: is 10 bytes, the metadata says"),
        "{err}"
    );
}

#[test]
fn hostile_locations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    // Rewrite the legacy repository's primary to point outside the repository, and fix
    // up repomd.xml so only the location is wrong.
    let repodata = tmp.path().join("library/repos/legacy/repodata");
    let primary = repodata.join("primary.xml.gz");
    let xml = {
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(&primary).unwrap()),
            &mut s,
        )
        .unwrap();
        s
    };
    let evil = xml.replacen(
        "href=\"ferry-legacy-0.9-1.noarch.rpm\"",
        "href=\"../../../../etc/passwd\"",
        1,
    );
    assert_ne!(evil, xml);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, evil.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let old = std::fs::read(&primary).unwrap();
    std::fs::write(&primary, &bytes).unwrap();
    let sha1 = |b: &[u8]| {
        use sha1::Digest as _;
        hex::encode(sha1::Sha1::digest(b))
    };
    let repomd = std::fs::read_to_string(repodata.join("repomd.xml")).unwrap();
    let repomd = repomd.replace(&sha1(&old), &sha1(&bytes)).replace(
        &format!("<size>{}</size>", old.len()),
        &format!("<size>{}</size>", bytes.len()),
    );
    std::fs::write(repodata.join("repomd.xml"), repomd).unwrap();
    let err = pack_err(&catalog, &tmp.path().join("out"));
    assert!(err.contains("../../../../etc/passwd"), "{err}");
}

#[test]
fn catalog_mistakes_name_the_place() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    let text = std::fs::read_to_string(&catalog).unwrap();
    std::fs::write(
        &catalog,
        text.replace(
            "repositories = [\"acme-os/baseos\", \"acme-os/appstream\"]",
            "repositories = [\"acme-os/baseos\", \"acme-os/nope\"]",
        )
        .replacen(
            "arch = \"noarch\"",
            "arch = \"noarch\"\ncolour = \"red\"",
            1,
        ),
    )
    .unwrap();
    let err = pack_err(&catalog, &tmp.path().join("out"));
    assert!(err.contains("catalog.toml:"), "{err}");
    assert!(err.contains("colour"), "{err}");
    std::fs::write(
        &catalog,
        text.replace(
            "repositories = [\"acme-os/baseos\", \"acme-os/appstream\"]",
            "repositories = [\"acme-os/baseos\", \"acme-os/nope\"]",
        ),
    )
    .unwrap();
    let err = pack_err(&catalog, &tmp.path().join("out"));
    assert!(
        err.contains("\"acme-os/nope\", which no product defines"),
        "{err}"
    );
    assert!(err.contains("catalog.toml:"), "{err}");
}

#[test]
fn the_dnf_test_suite_repository_packs_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        format!(
            "organization = \"dnf\"\n[[product]]\nlabel = \"fixture\"\nname = \"dnf fixture\"\n[[product.repository]]\nlabel = \"modules\"\nname = \"modules\"\npath = \"{}\"\n",
            testdata().join("fixtures/dnf-modules-x86_64").display()
        ),
    )
    .unwrap();
    let p = pack(&catalog, &["--media-size", "200K"]);
    assert!(p.volumes.len() >= 2);
    let (code, r) = verify(&public(&p.key), &p.volumes, true);
    assert_eq!(code, 0, "{r:#}");
    let m = ferry::format::manifest::Manifest::parse(
        &std::fs::read(p.volumes[0].join("manifest.toml")).unwrap(),
    )
    .unwrap();
    let t = &m.trees[0];
    assert_eq!(t.packages, 44);
    assert_eq!(t.files.keys().filter(|f| f.ends_with(".rpm")).count(), 44);
    assert!(t.files.keys().any(|f| f.ends_with("modules.yaml.gz")));
    assert!(t.files.keys().any(|f| f.ends_with("primary.sqlite.bz2")));
}

#[test]
fn the_library_script_rebuilds_a_library_that_packs() {
    for tool in ["rpmbuild", "rpmsign", "createrepo_c", "modifyrepo_c", "gpg"] {
        require(tool);
    }
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("library");
    ok(std::process::Command::new(testdata().join("build-library.sh")).arg(&lib));
    std::fs::create_dir_all(tmp.path().join("fixtures")).unwrap();
    copy_dir(&testdata().join("fixtures"), &tmp.path().join("fixtures"));
    std::fs::copy(
        testdata().join("catalog.toml"),
        tmp.path().join("catalog.toml"),
    )
    .unwrap();
    let p = pack(&tmp.path().join("catalog.toml"), &["--media-size", "1M"]);
    let (code, r) = verify(&public(&p.key), &p.volumes, true);
    assert_eq!(code, 0, "{r:#}");
    // The rebuilt RPMs are the committed ones (the script is reproducible for packages).
    for rpm in [
        "repos/baseos/Packages/f/ferry-tilde-1.0~rc1+git5-1.noarch.rpm",
        "repos/appstream/Packages/f/ferry-big-1.0-1.noarch.rpm",
    ] {
        assert_eq!(
            std::fs::read(lib.join(rpm)).unwrap(),
            std::fs::read(testdata().join("library").join(rpm)).unwrap(),
            "{rpm}"
        );
    }
}

/// gpg with the test signing key, in a home of its own under `dir`.
fn gpg(dir: &Path) -> impl Fn(&[&std::ffi::OsStr]) {
    require("gpg");
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let h = home.clone();
    ok(std::process::Command::new("gpg")
        .env("GNUPGHOME", &h)
        .args(["--batch", "--quiet", "--import"])
        .arg(testdata().join("keys/gpg-test-secret.asc")));
    move |args| {
        ok(std::process::Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--yes", "--quiet"])
            .args(args));
    }
}

#[test]
fn a_signed_repomd_is_checked_at_pack_carried_and_checked_again_by_dnf() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = testdata_copy(tmp.path());
    let repomd = tmp.path().join("library/repos/baseos/repodata/repomd.xml");
    let sign = gpg(tmp.path());
    sign(&[
        "--armor".as_ref(),
        "--detach-sign".as_ref(),
        repomd.as_os_str(),
    ]);
    let asc = repomd.with_extension("xml.asc");
    assert!(asc.is_file());

    // Signed by the product's key: packed, imported, published with its signature, and
    // the repo file asks dnf to check it.
    let p = pack(&catalog, &[]);
    let store = p.tmp.path().join("store");
    must_import(&store, &p.key, &p.volumes);
    let published = store.join("published/acme/library/acme-os/baseos/repodata/repomd.xml.asc");
    assert_eq!(
        std::fs::read(&published).unwrap(),
        std::fs::read(&asc).unwrap()
    );
    let repofile = ok(ferry().args(["repofile", "--store"]).arg(&store));
    let section: String = repofile
        .split("\n[")
        .find(|s| s.starts_with("acme_acme-os_baseos]"))
        .unwrap()
        .to_string();
    assert!(section.contains("repo_gpgcheck=1"), "{section}");
    let dnf = Dnf::new(&repofile);
    let (code, o, e) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_baseos",
        "install",
        "ferry-hello",
    ]);
    assert_eq!(code, 0, "{o}\n{e}");
    assert!(
        dnf.installed()
            .iter()
            .any(|p| p.starts_with("ferry-hello-"))
    );

    // repomd.xml changed after it was signed: refused, naming the signature.
    let text = std::fs::read_to_string(&repomd).unwrap();
    std::fs::write(&repomd, text.replacen("<revision>", "<revision>1", 1)).unwrap();
    let err = pack_err(&catalog, &tmp.path().join("tampered"));
    assert!(
        err.contains("library/acme-os/baseos")
            && err.contains("repomd.xml.asc")
            && err.contains("does not verify"),
        "{err}"
    );
}
