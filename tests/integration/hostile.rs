//! Hostile media: content signed by a trusted key (a leaked key, a compromised packer)
//! that tries to escape the store, to break the reader or to exhaust it; and media whose
//! files are not files at all. Each is refused by verify and by import with a message that
//! says what is wrong, and nothing is written anywhere but the store's own work area.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry::format::Sha256Digest;
use ferry::format::manifest::{Encoding, Object};

use crate::common::*;
use crate::forge::{Forge, fix_checksum, resign, vector_key};

fn good() -> Vec<PathBuf> {
    let c = testdata().join("vectors/cases/good");
    vec![c.join("vol-01"), c.join("vol-02")]
}

fn trust() -> PathBuf {
    testdata().join("vectors/keys/vector.pub")
}

/// Every file under `dir`, relative.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            e.unwrap()
                .path()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

/// Verify (decoding) and import `vols` into a fresh store inside a sandbox directory:
/// both must refuse, and their messages must contain `says`. Afterwards the sandbox holds
/// only the store, and the store no object, version or published tree.
fn refused(what: &str, vols: &[PathBuf], says: &str) {
    let (code, out, _) = run(ferry()
        .arg("verify")
        .arg("--deep")
        .arg("--trust")
        .arg(trust())
        .args(vols));
    assert_eq!(code, 1, "{what}: verify accepted it: {out}");
    assert!(
        out.contains(says),
        "{what}: verify does not say {says:?}: {out}"
    );
    let sandbox = tempfile::tempdir().unwrap();
    let store = sandbox.path().join("store");
    let (code, out, err) = run(ferry()
        .current_dir(sandbox.path())
        .args(["import", "--init"])
        .arg("--store")
        .arg(&store)
        .arg("--trust")
        .arg(trust())
        .args(vols));
    assert_ne!(code, 0, "{what}: import accepted it: {out}");
    assert!(
        err.contains(says),
        "{what}: import does not say {says:?}: {err}"
    );
    assert!(
        err.contains("refused") || err.contains("nothing"),
        "{what}: {err}"
    );
    let all = listing(sandbox.path());
    assert!(
        all.iter().all(|p| p.starts_with("store")),
        "{what}: written outside the store: {all:?}"
    );
    for sub in ["objects", "versions", "published", "staging", "tmp"] {
        let d = store.join(sub);
        assert!(
            !d.exists() || listing(&d).is_empty(),
            "{what}: {sub} holds {:?}",
            listing(&d)
        );
    }
}

/// Write a forged bundle into a new directory and check it is refused.
fn forged(what: &str, f: &Forge, says: &str) {
    let out = tempfile::tempdir().unwrap();
    let vols = f.write(out.path(), &vector_key());
    refused(what, &vols, says);
}

/// As [`forged`], with the manifest's text edited after it is encoded.
fn forged_text(what: &str, edit: impl Fn(String) -> String, says: &str) {
    let f = Forge::read(&good());
    let text = edit(String::from_utf8(f.manifest.encode()).unwrap());
    let out = tempfile::tempdir().unwrap();
    let vols = f.write_text(out.path(), &vector_key(), text.as_bytes());
    refused(what, &vols, says);
}

#[test]
fn hostile_tree_paths_are_refused() {
    let base = Forge::read(&good());
    let id = base.manifest.trees[0].files["repodata/repomd.xml"];
    let long = vec!["p".repeat(250); 5].join("/");
    for (path, says) in [
        ("../../../etc/cron.d/ferry", "'..'"),
        ("Packages/../../x.rpm", "'..'"),
        ("/etc/passwd", "absolute path"),
        ("Packages//x.rpm", "is empty"),
        ("Packages/./x.rpm", "is '.'"),
        ("Packages\\..\\x.rpm", "backslash"),
        ("Packages/x.rpm/", "ends with '/'"),
        (&"n".repeat(256), "256 bytes long"),
        (&long, "the limit is 1024"),
        (
            "REPODATA/repomd.xml",
            "collides with another path when case is ignored",
        ),
        ("repodata/repomd.xml/evil", "both a file and a directory"),
        ("Repodata/repomd.xml/evil", "both a file and a directory"),
    ] {
        let mut f = base.clone();
        f.manifest.trees[0].files.insert(path.to_string(), id);
        forged(&format!("path {path:?}"), &f, says);
    }
    // Control characters and NUL cannot even be written without escapes, which the
    // canonical form does not have.
    for (path, says) in [
        ("a\u{0}b", "escapes"),
        ("a\nb", "escapes"),
        ("a\u{1b}[31mb", "escapes"),
    ] {
        let mut f = base.clone();
        f.manifest.trees[0].files.insert(path.to_string(), id);
        forged(&format!("path {path:?}"), &f, says);
    }
    // The same path twice.
    forged_text(
        "a duplicate path",
        |t| {
            t.replacen(
                "\"repodata/repomd.xml\" = ",
                &format!("\"repodata/repomd.xml\" = \"{id}\"\n\"repodata/repomd.xml\" = "),
                1,
            )
        },
        "duplicate or out of order",
    );
}

#[test]
fn labels_and_names_that_try_to_steer_published_paths_are_refused() {
    let base = Forge::read(&good());
    let check = |what: &str, edit: &dyn Fn(&mut Forge), says: &str| {
        let mut f = base.clone();
        edit(&mut f);
        forged(what, &f, says);
    };
    check(
        "organization ../x",
        &|f| f.manifest.organization = "../x".into(),
        "organization \"../x\" must be",
    );
    check(
        "organization .",
        &|f| f.manifest.organization = ".".into(),
        "organization \".\" must be",
    );
    check(
        "product a/b",
        &|f| {
            f.manifest.products[0].label = "a/b".into();
            f.manifest.repositories[0].product = "a/b".into();
        },
        "product label \"a/b\" must be",
    );
    check(
        "repository ..",
        &|f| f.manifest.repositories[0].label = "..".into(),
        "repository label \"..\" must be",
    );
    check(
        "arch x/../y",
        &|f| f.manifest.repositories[0].arch = Some("x/../y".into()),
        "arch \"x/../y\" must be",
    );
    check(
        "tree ../../x",
        &|f| {
            f.manifest.trees[0].name = "../../x".into();
            f.manifest.repositories[0].tree = "../../x".into();
        },
        "tree name",
    );
    check(
        "gpg key ../../etc/passwd",
        &|f| {
            f.manifest.products[0].gpg_key = Some(ferry::format::manifest::GpgKey {
                name: "../../etc/passwd".into(),
                content: "key".into(),
            });
        },
        "not a plain file name",
    );
    check(
        "a name with a newline",
        &|f| f.manifest.products[0].name = "Tiny\n[evil]\nbaseurl=http://x".into(),
        "escapes",
    );
    check(
        "two products equal ignoring case",
        &|f| {
            let mut p = f.manifest.products[0].clone();
            p.label = "TINY".into();
            f.manifest.products.push(p);
        },
        "listed twice",
    );
}

#[test]
fn tar_entries_that_are_not_regular_files_are_refused() {
    let base = Forge::read(&good());
    for (typeflag, what) in [
        (b'1', "a hard link"),
        (b'2', "a symbolic link"),
        (b'3', "a character device"),
        (b'4', "a block device"),
        (b'5', "a directory"),
        (b'6', "a FIFO"),
        (b'x', "a pax extension header"),
    ] {
        let mut f = base.clone();
        // The first entry of a pack has its data at 512.
        let h = f.header_mut("0001", 512);
        h[156] = typeflag;
        if typeflag == b'1' || typeflag == b'2' {
            h[157..169].copy_from_slice(b"/etc/shadow\0");
        }
        fix_checksum(h);
        f.refresh();
        forged(what, &f, "not a regular file");
    }
}

#[test]
fn sizes_that_disagree_are_refused() {
    let base = Forge::read(&good());
    let zstd = *base
        .manifest
        .objects
        .iter()
        .find(|(_, o)| o.encoding == Encoding::Zstd)
        .unwrap()
        .0;
    let raw = *base
        .manifest
        .objects
        .iter()
        .find(|(_, o)| o.encoding == Encoding::Raw && o.pieces.len() == 1)
        .unwrap()
        .0;
    // The tar header says another size than the manifest (checksum valid).
    let mut f = base.clone();
    let p = f.manifest.objects[&raw].pieces[0].clone();
    let h = &mut f.packs.get_mut(&p.pack).unwrap()[(p.offset - 512) as usize..p.offset as usize];
    h[124..136].copy_from_slice(format!("{:011o}\0", p.length + 1).as_bytes());
    fix_checksum(h);
    f.refresh();
    forged("tar size", &f, "tar header says");
    // A raw object whose pieces hold fewer bytes than its size.
    let mut f = base.clone();
    f.manifest.objects.get_mut(&raw).unwrap().size += 1;
    forged("raw size", &f, "pieces hold");
    // A zstd object declared larger than it decodes.
    let mut f = base.clone();
    f.manifest.objects.get_mut(&zstd).unwrap().size += 10;
    forged("zstd size", &f, "decodes to");
    // A pack larger than signed, and one smaller.
    let out = tempfile::tempdir().unwrap();
    let vols = base.write(out.path(), &vector_key());
    let pack = vols[0].join("packs/0001.ferrypack");
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes.extend_from_slice(&[0; 512]);
    std::fs::write(&pack, &bytes).unwrap();
    refused("a longer pack", &vols, "more than signed");
    std::fs::write(&pack, &bytes[..bytes.len() - 2048]).unwrap();
    refused("a shorter pack", &vols, "truncated");
}

#[test]
fn zstd_bombs_stop_at_the_declared_size() {
    let base = Forge::read(&good());
    let zstd = *base
        .manifest
        .objects
        .iter()
        .find(|(_, o)| o.encoding == Encoding::Zstd)
        .unwrap()
        .0;
    // 1 GiB of zeros in about 40 KiB, declared as the object's small size.
    let mut f = base.clone();
    let mut c = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        std::io::Write::write_all(&mut c, &block).unwrap();
    }
    let bomb = c.finish().unwrap();
    assert!(bomb.len() < 100_000);
    f.restore(&BTreeMap::from([(zstd, bomb)]));
    let start = Instant::now();
    forged("a zstd bomb", &f, "decodes to more than");
    // Not a timed test of speed: a reader that decoded the whole gigabyte twice (verify and
    // import) would take many seconds more than one that stops at the declared size.
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn huge_manifests_and_absurd_numbers_are_refused() {
    // More volumes than a bundle may have; integers past 2^63 - 1; sizes whose sum wraps;
    // a piece longer than a tar entry holds; an object with no pieces that is not empty.
    forged_text(
        "10000 volumes",
        |t| t.replacen("volumes = 2\n", "volumes = 10000\n", 1),
        "out of range",
    );
    forged_text(
        "sequence 2^64",
        |t| t.replacen("sequence = 1\n", "sequence = 18446744073709551616\n", 1),
        "larger than 2^63",
    );
    let base = Forge::read(&good());
    let mut f = base.clone();
    for o in f
        .manifest
        .objects
        .values_mut()
        .filter(|o| o.encoding == Encoding::Zstd)
    {
        o.size = i64::MAX as u64;
    }
    let (id, o) = f
        .manifest
        .objects
        .iter_mut()
        .find(|(_, o)| o.encoding == Encoding::Raw)
        .unwrap();
    let _ = id;
    o.encoding = Encoding::Zstd;
    o.size = i64::MAX as u64;
    forged("sizes that add up past 2^63", &f, "add up");
    let mut f = base.clone();
    f.manifest.objects.values_mut().next().unwrap().pieces[0].length = 1 << 40;
    forged("a 1 TiB piece", &f, "1 to 8 GiB - 1 bytes");
    let mut f = base.clone();
    f.manifest.objects.insert(
        Sha256Digest::of(b"x"),
        Object {
            size: 0,
            encoding: Encoding::Raw,
            pieces: vec![],
        },
    );
    forged("a piece-less object", &f, "only the empty object");

    // A manifest over the 256 MiB limit: refused from its size, before it is read.
    let out = tempfile::tempdir().unwrap();
    let vols = base.write(out.path(), &vector_key());
    let huge = 300u64 << 20;
    let mut h = sha2::Sha256::new();
    use sha2::Digest as _;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        h.update(&zeros);
    }
    let id = Sha256Digest(h.finalize().into());
    for v in &vols {
        let m = std::fs::OpenOptions::new()
            .write(true)
            .open(v.join("manifest.toml"))
            .unwrap();
        m.set_len(0).unwrap();
        m.set_len(huge).unwrap();
        let info = std::fs::read_to_string(v.join("volume.toml")).unwrap();
        let line = info
            .lines()
            .find(|l| l.starts_with("bundle = "))
            .unwrap()
            .to_string();
        std::fs::write(
            v.join("volume.toml"),
            info.replace(&line, &format!("bundle = \"{id}\"")),
        )
        .unwrap();
        resign(v, &vector_key(), |_| {});
    }
    refused("a 300 MiB manifest", &vols, "more than the 268435456 bytes");
}

/// Run a command with a watchdog: a reader that blocks (on a FIFO, say) is a failure, not
/// a hung test run.
fn run_bounded(cmd: &mut Command) -> (i32, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (String::new(), String::new());
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{cmd:?} did not finish in 60 s: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn fifos_links_and_other_non_files_on_a_medium_are_refused_without_blocking() {
    for (file, says) in [
        ("SHA256.sig", "FIFO"),
        ("volume.toml", "FIFO"),
        ("manifest.toml", "FIFO"),
        ("README.txt", "FIFO"),
        ("packs/0002.ferrypack", "FIFO"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&testdata().join("vectors/cases/good"), tmp.path());
        let vols = vec![tmp.path().join("vol-01"), tmp.path().join("vol-02")];
        let target = vols[1].join(file);
        std::fs::remove_file(&target).unwrap();
        ok(Command::new("mkfifo").arg(&target));
        for deep in [false, true] {
            let mut c = ferry();
            c.arg("verify").arg("--trust").arg(trust());
            if deep {
                c.arg("--deep");
            }
            let (code, out, _) = run_bounded(c.args(&vols));
            assert_eq!(code, 1, "{file}: {out}");
            assert!(out.contains(file) && out.contains(says), "{file}: {out}");
        }
        let store = tmp.path().join("store");
        let (code, _, err) = run_bounded(
            ferry()
                .args(["import", "--init"])
                .arg("--store")
                .arg(&store)
                .arg("--trust")
                .arg(trust())
                .args(&vols),
        );
        assert_ne!(code, 0, "{file}");
        assert!(err.contains(file) && err.contains(says), "{file}: {err}");
        // The store's lock was given back: the next import does not wait.
        let (code, _, err) = run_bounded(
            ferry()
                .args(["import", "--init"])
                .arg("--no-wait")
                .arg("--store")
                .arg(&store)
                .arg("--trust")
                .arg(trust())
                .args(&vols),
        );
        assert!(code != 0 && !err.contains("another ferry"), "{err}");
    }
    // Links: a pack that is a link to an intact copy, and a packs directory that is one.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&testdata().join("vectors/cases/good"), tmp.path());
    let vols = vec![tmp.path().join("vol-01"), tmp.path().join("vol-02")];
    let packs = vols[1].join("packs");
    std::fs::rename(&packs, tmp.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("elsewhere"), &packs).unwrap();
    let (code, out, _) = run_bounded(
        ferry()
            .arg("verify")
            .arg("--trust")
            .arg(trust())
            .args(&vols),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("packs/0002.ferrypack") && out.contains("symbolic link"),
        "{out}"
    );
    refused("a linked packs directory", &vols, "symbolic link");
}

#[test]
fn long_paths_are_refused_before_anything_is_written_and_the_longest_valid_ones_publish() {
    // A tree path of 999 bytes is valid: it verifies, imports and publishes.
    let mut f = Forge::read(&good());
    let id = f.manifest.trees[0].files["repodata/repomd.xml"];
    let long = vec!["q".repeat(199); 5].join("/");
    assert_eq!(long.len(), 999);
    f.manifest.trees[0].files.insert(long.clone(), id);
    let out = tempfile::tempdir().unwrap();
    let vols = f.write(out.path(), &vector_key());
    let (code, r) = verify(&trust(), &vols, true);
    assert_eq!(code, 0, "the media are fine: {r:#}");
    let base = tempfile::tempdir().unwrap();
    let mut store = base.path().join("s");
    while store.as_os_str().len() + 41 <= 480 {
        store.push("d".repeat(40));
    }
    let (code, _, err) = import(&store, Some(&trust()), &vols);
    assert_eq!(code, 0, "{err}");
    assert!(
        store
            .join("published/vectors/library/tiny/repo")
            .join(&long)
            .is_file()
    );
    // A store deeper than its database can be opened at is refused up front, in a short
    // message (no ENAMETOOLONG halfway through, no path printed twice), creating nothing.
    let mut deep = base.path().join("t");
    while deep.as_os_str().len() < 600 {
        deep.push("e".repeat(100));
    }
    let (code, _, err) = import(&deep, Some(&trust()), &vols);
    assert_ne!(code, 0);
    assert!(
        err.contains("a store's path may be at most 480 bytes"),
        "{err}"
    );
    assert!(err.len() < 600, "{} bytes: {err}", err.len());
    assert!(!base.path().join("t").exists());
}
