//! `ferry catalog`: catalogs written from a directory of repositories and from a dnf .repo
//! file.

use crate::common::*;

#[test]
fn scan_writes_a_catalog_that_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let repos = tmp.path().join("repos");
    copy_dir(&testdata().join("library/repos"), &repos);
    std::fs::copy(
        testdata().join("library/RPM-GPG-KEY-ferry-test"),
        repos.join("RPM-GPG-KEY-ferry-test"),
    )
    .unwrap();
    let catalog = tmp.path().join("catalog.toml");
    let scan = |extra: &[&str]| {
        let mut c = ferry();
        c.args(["catalog", "scan"])
            .arg(&repos)
            .args(["--organization", "acme", "--out"])
            .arg(&catalog)
            .args(extra);
        c
    };
    ok(&mut scan(&[]));
    let text = std::fs::read_to_string(&catalog).unwrap();
    for line in [
        "label = \"repos\"",
        "gpg_key = \"repos/RPM-GPG-KEY-ferry-test\"",
        "path = \"repos/appstream\"",
        "path = \"repos/baseos\"",
        "path = \"repos/legacy\"",
        "# Paths are relative to this file's directory",
        "# Products (--group parent)",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }

    // An existing file is kept unless --force.
    let (code, _, err) = run(&mut scan(&[]));
    assert_ne!(code, 0);
    assert!(
        err.contains("exists\nhint: to replace it, pass --force"),
        "{err}"
    );
    ok(&mut scan(&["--force", "--group", "section"]));
    let text = std::fs::read_to_string(&catalog).unwrap();
    assert_eq!(text.matches("[[product]]").count(), 3, "{text}");

    let key = keygen(tmp.path(), "site");
    let vols = pack_with(&catalog, &key, &tmp.path().join("out"), &[]);
    assert_eq!(vols.len(), 1);
    let (code, report) = verify(&public(&key), &vols, false);
    assert_eq!(code, 0, "{report}");

    // To standard output, paths relative to the current directory.
    let out =
        ok(ferry()
            .current_dir(&repos)
            .args(["catalog", "scan", ".", "--organization", "acme"]));
    assert!(out.contains("path = \"baseos\""), "{out}");
    assert!(
        out.contains("# Paths are relative to the directory ferry ran in"),
        "{out}"
    );
}

#[test]
fn from_repofile_expands_variables_and_leaves_out_disabled_sections_and_passwords() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for f in ["RPM-GPG-KEY-acme", "ca.pem", "client.pem", "client.key"] {
        std::fs::write(d.join(f), "x").unwrap();
    }
    let dir = d.display();
    let repofile = d.join("acme.repo");
    std::fs::write(
        &repofile,
        format!(
            "[acme-baseos]
name=ACME $releasever BaseOS ($basearch)
baseurl=https://cdn.example.com/acme/$releasever/$basearch/baseos/os
enabled=1
gpgcheck=1
gpgkey=file://{dir}/RPM-GPG-KEY-acme
sslcacert={dir}/ca.pem
sslclientcert={dir}/client.pem
sslclientkey={dir}/client.key
username=operator
password=Tr0ub4dor&3

[acme-appstream]
name=ACME $releasever AppStream
baseurl=https://cdn.example.com/acme/${{releasever}}/${{basearch}}/appstream/os
gpgkey=file://{dir}/RPM-GPG-KEY-acme
sslcacert={dir}/ca.pem
sslverify=0

[acme-debuginfo]
name=ACME $releasever debug
baseurl=https://cdn.example.com/acme/$releasever/$basearch/debug
enabled=0
"
        ),
    )
    .unwrap();
    let args = |c: &mut std::process::Command| {
        c.args(["catalog", "from-repofile"])
            .arg(&repofile)
            .args(["--organization", "acme"]);
    };
    let mut c = ferry();
    args(&mut c);
    let out = ok(c.args(["--basearch", "x86_64", "--releasever", "9"]));

    assert!(!out.contains("label = \"acme-debuginfo\""), "{out}");
    assert!(
        out.contains("#   [acme-debuginfo] (line 20): disabled (enabled=0)"),
        "{out}"
    );
    for line in [
        "label = \"acme\"",
        &format!("gpg_key = \"{dir}/RPM-GPG-KEY-acme\""),
        "name = \"ACME 9 BaseOS (x86_64)\"",
        "url = \"https://cdn.example.com/acme/9/x86_64/baseos/os\"",
        "url = \"https://cdn.example.com/acme/9/x86_64/appstream/os\"",
        &format!("sslcacert = \"{dir}/ca.pem\""),
        &format!("sslclientcert = \"{dir}/client.pem\""),
        &format!("sslclientkey = \"{dir}/client.key\""),
        "sslverify = false",
        "username = \"operator\"",
        "password_env = \"FERRY_PASSWORD_ACME_BASEOS\"",
    ] {
        assert!(out.contains(line), "{line} missing from:\n{out}");
    }
    assert!(!out.contains("Tr0ub4dor"), "{out}");
    assert!(!out.contains("$"), "{out}");

    let catalog = ferry::catalog::parse(&out, d).unwrap_or_else(|e| panic!("{e:#?}\n{out}"));
    let labels: Vec<&str> = catalog.products[0]
        .repositories
        .iter()
        .map(|r| r.label.as_str())
        .collect();
    assert_eq!(labels, ["acme-baseos", "acme-appstream"]);

    // Without --basearch, the error names the file, line, section and variable.
    let mut c = ferry();
    args(&mut c);
    let (code, _, err) = run(c.args(["--releasever", "9"]));
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{}:3: [acme-baseos] baseurl uses $basearch, which has no value\nhint: give --basearch ARCH",
            repofile.display()
        )),
        "{err}"
    );
}
