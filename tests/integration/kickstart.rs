//! Kickstart trees: a `.treeinfo` (written by productmd) and every file it names travel with
//! the tree's repositories, are checked like packages, and are published at their paths.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// productmd, which writes and reads `.treeinfo` (Python; scripts/test.sh installs it).
fn productmd(script: &str, dir: &Path) -> String {
    let (code, out, err) = run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir));
    assert_eq!(
        code, 0,
        "python3 with productmd (scripts/test.sh installs it):\n{out}\n{err}"
    );
    out
}

/// A variant tree: BaseOS and AppStream repositories under one `.treeinfo`, with boot images.
fn kickstart_tree(dir: &Path) {
    copy_dir(
        &testdata().join("library/repos/baseos"),
        &dir.join("BaseOS"),
    );
    copy_dir(
        &testdata().join("library/repos/appstream"),
        &dir.join("AppStream"),
    );
    let mut rng = Rng(0x5eed);
    for (p, n) in [
        ("images/pxeboot/vmlinuz", 3000),
        ("images/pxeboot/initrd.img", 50_000),
        ("images/install.img", 70_000),
        ("EFI/BOOT/BOOTX64.EFI", 1000),
    ] {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        std::fs::write(f, bytes).unwrap();
    }
    productmd(
        r#"
import productmd.treeinfo as T
ti = T.TreeInfo()
ti.release.name = "ACME OS"; ti.release.short = "ACME"; ti.release.version = "9"; ti.release.type = "ga"
ti.tree.arch = "x86_64"; ti.tree.build_timestamp = 1700000000; ti.tree.platforms.add("x86_64")
for name in ["BaseOS", "AppStream"]:
    v = T.Variant(ti); v.id = name; v.uid = name; v.name = name; v.type = "variant"
    v.paths.repository = name; v.paths.packages = name + "/Packages"
    ti.variants.add(v)
ti.images.images["x86_64"] = {"kernel": "images/pxeboot/vmlinuz", "initrd": "images/pxeboot/initrd.img", "efi": "EFI/BOOT/BOOTX64.EFI"}
ti.stage2.mainimage = "images/install.img"
for p in ["images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "images/install.img", "EFI/BOOT/BOOTX64.EFI"]:
    ti.checksums.add(p, "sha256", root_dir=".")
ti.dump(".treeinfo")
"#,
        dir,
    );
}

fn catalog(dir: &Path) -> std::path::PathBuf {
    let c = dir.join("catalog.toml");
    std::fs::write(
        &c,
        format!(
            "organization = \"acme\"\n[[product]]\nlabel = \"acme-os\"\nname = \"ACME OS 9\"\n\
             gpg_key = \"{}\"\n[[product.repository]]\nlabel = \"kickstart\"\n\
             name = \"ACME OS 9 (Kickstart)\"\npath = \"tree\"\n",
            testdata().join("library/RPM-GPG-KEY-ferry-test").display()
        ),
    )
    .unwrap();
    c
}

#[test]
fn a_kickstart_tree_is_carried_whole_and_productmd_reads_it_at_the_site() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    kickstart_tree(&tree);
    // A file no metadata names: not carried, and said so.
    std::fs::write(tree.join("EULA"), "terms\n").unwrap();
    let signer = keygen(tmp.path(), "site");
    let out = tmp.path().join("out");
    let (code, _, err) = run(&mut pack_cmd(&catalog(tmp.path()), &signer, &out));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: library/acme-os/kickstart: 1 file") && err.contains("EULA"),
        "{err}"
    );
    let store = tmp.path().join("store");
    must_import(&store, &signer, &volumes(&out));
    let published =
        std::fs::canonicalize(store.join("published/acme/library/acme-os/kickstart")).unwrap();
    let mut expected = tree_bytes(&tree);
    expected.remove("EULA");
    let mut got = tree_bytes(&published);
    got.retain(|k, _| !k.starts_with("RPM-GPG-KEY"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(
        got == expected,
        "the published tree differs from the source"
    );

    // productmd reads the published .treeinfo, and every file it lists has its checksum.
    let checked = productmd(
        r#"
import hashlib, productmd.treeinfo as T
ti = T.TreeInfo(); ti.load(".treeinfo")
n = 0
for path, (kind, digest) in ti.checksums.checksums.items():
    assert hashlib.new(kind, open(path, "rb").read()).hexdigest() == digest, path
    n += 1
assert sorted(v.paths.repository for v in ti.variants.variants.values()) == ["AppStream", "BaseOS"]
print(n)
"#,
        &published,
    );
    assert_eq!(checked.trim(), "4");

    // The repo file names each variant's repository, and dnf installs from it.
    let repofile = ok(ferry().args(["repofile", "--store"]).arg(&store));
    assert!(
        repofile.contains("[acme_acme-os_kickstart_BaseOS]"),
        "{repofile}"
    );
    assert!(
        repofile.contains("[acme_acme-os_kickstart_AppStream]"),
        "{repofile}"
    );
    let dnf = Dnf::new(&repofile);
    let (code, o, e) = dnf.run(&["install", "ferry-hello"]);
    assert_eq!(code, 0, "{o}\n{e}");
}

#[test]
fn a_treeinfo_naming_a_missing_or_damaged_file_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    kickstart_tree(&tree);
    let signer = keygen(tmp.path(), "site");
    let cat = catalog(tmp.path());

    std::fs::remove_file(tree.join("images/install.img")).unwrap();
    let (code, _, err) = run(&mut pack_cmd(&cat, &signer, &tmp.path().join("a")));
    assert_ne!(code, 0);
    assert!(
        err.contains("images/install.img: missing (.treeinfo names it)"),
        "{err}"
    );
    assert!(volumes(&tmp.path().join("a")).is_empty());

    std::fs::write(tree.join("images/install.img"), vec![0u8; 70_000]).unwrap();
    let (code, _, err) = run(&mut pack_cmd(&cat, &signer, &tmp.path().join("b")));
    assert_ne!(code, 0);
    assert!(
        err.contains("library/acme-os/kickstart: images/install.img"),
        "{err}"
    );
    assert!(volumes(&tmp.path().join("b")).is_empty());
}

#[test]
fn a_kickstart_tree_from_a_url_is_fetched_whole_like_one_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    kickstart_tree(&tree);
    let server = crate::fetch::Source::start(tmp.path(), tmp.path(), &[]);
    let signer = keygen(tmp.path(), "site");
    let from_disk = tmp.path().join("disk");
    ok(&mut pack_cmd(&catalog(tmp.path()), &signer, &from_disk));
    let url_catalog = tmp.path().join("url.toml");
    let text = std::fs::read_to_string(catalog(tmp.path()))
        .unwrap()
        .replace(
            "path = \"tree\"",
            &format!("url = \"http://127.0.0.1:{}/tree/\"", server.port),
        );
    std::fs::write(&url_catalog, text).unwrap();
    let from_url = tmp.path().join("url");
    ok(&mut pack_cmd(&url_catalog, &signer, &from_url));
    // Every file of the tree was asked for (no listing: the .treeinfo and repomd.xml name them).
    let asked: std::collections::BTreeSet<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.1 == 200)
        .map(|r| r.0.trim_start_matches("/tree/").to_string())
        .collect();
    let all: std::collections::BTreeSet<String> = tree_bytes(&tree).into_keys().collect();
    assert_eq!(asked, all);

    let a = tmp.path().join("store-disk");
    let b = tmp.path().join("store-url");
    must_import(&a, &signer, &volumes(&from_disk));
    must_import(&b, &signer, &volumes(&from_url));
    assert!(published_bytes(&a) == published_bytes(&b));
}
