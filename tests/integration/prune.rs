//! `ferry prune` and `ferry import --abandon`: old versions and the files only they held
//! go, what is published or held by an environment stays intact (dnf still installs from
//! it), a prune killed anywhere is finished by the next one, and a partly staged bundle can
//! be discarded.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::format::Sha256Digest;
use serde_json::Value;

use crate::common::*;

const LIBRARY: &str = "acme/library/os/base";
const VIEW: &str = "acme/views/web/os/base";
const DEV: &str = "acme/env/Dev/web/os/base";
const KEY_FILE: &str = "RPM-GPG-KEY-ferry-test";

fn rotation(v: &str) -> PathBuf {
    testdata().join("library/rotation").join(v)
}

/// A store that went through three rotations of one repository (v1, v2, v3), each with a
/// content-view version (1.0, 2.0, 3.0) snapshotting it, and an environment Dev holding
/// 1.0.
struct Rotated {
    tmp: tempfile::TempDir,
    store: PathBuf,
}

fn rotated() -> Rotated {
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "site");
    std::fs::copy(
        testdata().join("library").join(KEY_FILE),
        tmp.path().join(KEY_FILE),
    )
    .unwrap();
    let store = tmp.path().join("store");
    let repo = tmp.path().join("repo");
    let catalog = tmp.path().join("catalog.toml");
    for (i, v) in ["v1", "v2", "v3"].iter().enumerate() {
        let _ = std::fs::remove_dir_all(&repo);
        copy_dir(&rotation(v), &repo);
        std::fs::write(
            &catalog,
            format!(
                "organization = \"acme\"\n\n[[product]]\nlabel = \"os\"\nname = \"ACME OS\"\ngpg_key = \"{KEY_FILE}\"\n\n\
                 [[product.repository]]\nlabel = \"base\"\nname = \"Base\"\npath = \"repo\"\n\n\
                 [[content_view]]\nlabel = \"web\"\nname = \"Web\"\nversion = \"{}.0\"\nrepositories = [\"os/base\"]\n\
                 snapshots = {{ \"os/base\" = \"{}\" }}\n",
                i + 1,
                rotation(v).display()
            ),
        )
        .unwrap();
        let extra: &[&str] = if i == 0 { &[] } else { &["--incremental"] };
        let vols = pack_with(
            &catalog,
            &key,
            &tmp.path().join(format!("trip{}", i + 1)),
            extra,
        );
        must_import(&store, &key, &vols);
    }
    ok(ferry()
        .args(["env", "create", "--store"])
        .arg(&store)
        .arg("Dev"));
    ok(ferry()
        .args(["promote", "--store"])
        .arg(&store)
        .args(["--to", "Dev", "web", "1.0"]));
    Rotated { tmp, store }
}

/// `cp -a`: hard links and symbolic links kept.
fn copy_store(from: &Path, to: &Path) {
    ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// Every path under the store with its kind, size, inode and link count (not times): what
/// a dry run must leave exactly as it was.
fn full_listing(store: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(store)
        .min_depth(1)
        .into_iter()
        .map(Result::unwrap)
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            let rel = e.path().strip_prefix(store).unwrap().display().to_string();
            let what = if m.is_dir() {
                "dir".to_string()
            } else if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
            } else {
                format!("file {} bytes {} links {}", m.ino(), m.len(), m.nlink())
            };
            format!("{rel}: {what}")
        })
        // The database's content is compared through status and history instead.
        .filter(|l| !l.starts_with("ferry.db") && !l.starts_with("lock"))
        .collect()
}

/// Names of the files and directories under the store's objects/, versions/, uploads/,
/// published/, tmp/ and staging/.
fn layout(store: &Path) -> BTreeSet<String> {
    store_names(
        store,
        &[
            "objects",
            "versions",
            "uploads",
            "published",
            "tmp",
            "staging",
        ],
    )
}

/// Which versions the database marks pruned.
fn pruned_marks(store: &Path) -> BTreeSet<String> {
    let c = rusqlite::Connection::open_with_flags(
        store.join("ferry.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut out = BTreeSet::new();
    let mut st = c
        .prepare("SELECT organization || '/' || label || ' ' || version, pruned IS NOT NULL FROM view_versions")
        .unwrap();
    for r in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
        .unwrap()
    {
        let (v, p) = r.unwrap();
        out.insert(format!("view {v} pruned={p}"));
    }
    let mut st = c
        .prepare("SELECT organization || '/' || product || '/' || label || ' ' || version, pruned IS NOT NULL FROM repository_versions")
        .unwrap();
    for r in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
        .unwrap()
    {
        let (v, p) = r.unwrap();
        out.insert(format!("repository {v} pruned={p}"));
    }
    out
}

/// (dev, ino) of every regular file in the store's version directories.
fn version_inodes(store: &Path) -> HashSet<(u64, u64)> {
    walkdir::WalkDir::new(store.join("versions"))
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            (m.dev(), m.ino())
        })
        .collect()
}

/// The object files: (dev, ino) → bytes on disk.
fn object_files(store: &Path) -> BTreeMap<(u64, u64), u64> {
    walkdir::WalkDir::new(store.join("objects"))
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            ((m.dev(), m.ino()), m.blocks() * 512)
        })
        .collect()
}

fn sha256_file(p: &Path) -> String {
    Sha256Digest::of(&std::fs::read(p).unwrap()).to_hex()
}

/// The text between `start` and the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

/// The published tree at `rel` resolves, every file its repomd.xml names is there with the
/// SHA-256 it gives, and so is every package its primary metadata lists. Returns the
/// number of packages.
fn check_published(store: &Path, rel: &str) -> usize {
    let dir = std::fs::canonicalize(store.join("published").join(rel))
        .unwrap_or_else(|e| panic!("{rel} does not resolve: {e}"));
    let repomd = std::fs::read_to_string(dir.join("repodata/repomd.xml")).unwrap();
    let mut records = 0;
    for data in repomd.split("<data ").skip(1) {
        let href = between(data, "<location href=\"", "\"").expect("location");
        let checksum = between(data, "<checksum type=\"sha256\">", "</checksum>")
            .unwrap_or_else(|| panic!("{rel}: no sha256 checksum for {href}"));
        let file = dir.join(href);
        assert!(file.is_file(), "{rel}: {href} is missing");
        assert_eq!(sha256_file(&file), checksum.trim(), "{rel}: {href}");
        records += 1;
    }
    assert!(records >= 3, "{rel}: {repomd}");
    use ferry::yum;
    let md = yum::repomd::parse_repomd(repomd.as_bytes()).unwrap();
    let bytes = std::fs::read(dir.join(&md.primary().unwrap().location)).unwrap();
    let packages =
        yum::primary::parse_primary(yum::decompress::decompressed(&bytes[..]).unwrap()).unwrap();
    for p in &packages {
        let file = dir.join(&p.location);
        assert!(file.is_file(), "{rel}: {} is missing", p.location);
        assert_eq!(sha256_file(&file), p.checksum.hex, "{rel}: {}", p.location);
    }
    assert!(dir.join(KEY_FILE).is_file(), "{rel}: no GPG key");
    packages.len()
}

fn prune_cmd(store: &Path, extra: &[&str]) -> Command {
    let mut c = ferry();
    c.arg("prune").arg("--store").arg(store).args(extra);
    c
}

fn prune_json(store: &Path, extra: &[&str]) -> Value {
    let out = ok(&mut prune_cmd(store, &[&["--json"], extra].concat()));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn full_status(store: &Path) -> Value {
    serde_json::from_str(&ok(ferry()
        .args(["status", "--json", "--store"])
        .arg(store)))
    .unwrap()
}

/// A directory under uploads/ that looks like a volume being received, last written
/// `age` ago (`touch -d` syntax, or None for now).
fn fake_upload(store: &Path, key: &str, volume_toml: Option<&Path>, age: Option<&str>) -> PathBuf {
    let dir = store.join("uploads").join(key);
    std::fs::create_dir_all(dir.join("packs")).unwrap();
    if let Some(v) = volume_toml {
        std::fs::copy(v, dir.join("volume.toml")).unwrap();
    }
    std::fs::write(dir.join("packs/p-0001.ferrypack.part"), vec![7u8; 20_000]).unwrap();
    if let Some(age) = age {
        ok(Command::new("sh")
            .arg("-c")
            .arg(format!("find \"$0\" -exec touch -h -d '{age}' {{}} +"))
            .arg(&dir));
    }
    dir
}

#[test]
fn prune_removes_old_versions_and_only_the_files_no_kept_version_links() {
    let r = rotated();
    let store = &r.store;
    for rel in [LIBRARY, VIEW, DEV] {
        check_published(store, rel);
    }
    let published_before = published_bytes(store);
    let objects_before = object_files(store);

    // status tells what a prune would free, and what each published tree alone holds.
    let s = full_status(store);
    let disk = &s["disk"];
    assert!(disk["store_bytes"].as_u64().unwrap() > 0, "{disk:#}");
    let prunable = disk["prunable_bytes"].as_u64().unwrap();
    assert!(prunable > 0, "{disk:#}");
    let trees = disk["published"].as_array().unwrap();
    let tree = |p: &str| trees.iter().find(|t| t["path"] == p).unwrap().clone();
    assert!(tree(DEV)["bytes"].as_u64().unwrap() > 0, "{disk:#}");
    assert!(tree(LIBRARY)["bytes"].as_u64().unwrap() > 0, "{disk:#}");
    assert_eq!(tree(LIBRARY)["kind"], "library");
    assert_eq!(tree(DEV)["kind"], "environment");
    // The Library's newest view version is the same tree as the Library repository:
    // counted once, under the first path.
    assert_eq!(tree(VIEW)["same_tree_as"], LIBRARY, "{disk:#}");
    assert_eq!(tree(VIEW)["bytes"], 0);
    let human = ok(ferry().args(["status", "--store"]).arg(store));
    assert!(
        human.contains("disk usage: ") && human.contains("ferry prune would free"),
        "{human}"
    );
    assert!(human.contains(DEV), "{human}");

    // A dry run says what would happen and changes nothing.
    let listing = full_listing(store);
    let history = ok(ferry().args(["history", "--json", "--store"]).arg(store));
    let dry = prune_json(store, &["--keep", "1", "--dry-run"]);
    assert_eq!(
        full_listing(store),
        listing,
        "the dry run changed the store"
    );
    assert_eq!(
        ok(ferry().args(["history", "--json", "--store"]).arg(store)),
        history,
        "the dry run recorded an event"
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["bytes_freed"].as_u64(), Some(prunable), "{dry:#}");
    let human = ok(&mut prune_cmd(store, &["--dry-run"]));
    assert!(
        human.contains("dry run: nothing was changed")
            && human.contains("would prune content view acme/web version 2.0"),
        "{human}"
    );

    let report = prune_json(store, &["--keep", "1"]);
    eprintln!("{report:#}");
    assert_eq!(report["dry_run"], false);
    for k in [
        "view_versions",
        "repository_versions",
        "version_dirs_removed",
        "objects_removed",
        "object_bytes_freed",
        "version_bytes_freed",
        "bytes_freed",
        "uploads_removed",
    ] {
        assert_eq!(report[k], dry[k], "{k}: the dry run said otherwise");
    }
    // 1.0 is held by Dev and 3.0 is the newest: only 2.0 goes; of the repository, 1 and 2.
    assert_eq!(
        report["view_versions"],
        serde_json::json!([{"organization": "acme", "view": "web", "version": "2.0"}])
    );
    let repos: Vec<i64> = report["repository_versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(repos, [1, 2]);
    assert_eq!(
        report["version_dirs_removed"], 1,
        "v2's tree only: v1 is Dev's"
    );
    assert!(report["objects_removed"].as_u64().unwrap() > 0);

    // objects/ holds exactly the inodes the kept version directories link.
    let objects_after = object_files(store);
    let kept: HashSet<(u64, u64)> = version_inodes(store);
    let after: HashSet<(u64, u64)> = objects_after.keys().copied().collect();
    let linked: HashSet<(u64, u64)> = objects_before
        .keys()
        .copied()
        .filter(|i| kept.contains(i))
        .collect();
    assert_eq!(
        after, linked,
        "objects/ is not exactly what kept versions link"
    );
    // The bytes freed are what objects/ lost.
    let freed = report["object_bytes_freed"].as_u64().unwrap();
    let lost = objects_before.values().sum::<u64>() - objects_after.values().sum::<u64>();
    assert!(freed > 0);
    assert_eq!(freed, lost);
    assert_eq!(
        report["bytes_freed"].as_u64().unwrap(),
        freed + report["version_bytes_freed"].as_u64().unwrap()
    );

    // Everything published is intact, byte for byte.
    assert_eq!(published_bytes(store), published_before);
    for rel in [LIBRARY, VIEW, DEV] {
        check_published(store, rel);
    }
    assert_eq!(
        std::fs::read_dir(store.join("tmp")).unwrap().count(),
        0,
        "left in tmp/"
    );

    // The database keeps the records, marked.
    let marks = pruned_marks(store);
    for m in [
        "view acme/web 1.0 pruned=false",
        "view acme/web 2.0 pruned=true",
        "view acme/web 3.0 pruned=false",
        "repository acme/os/base 1 pruned=true",
        "repository acme/os/base 2 pruned=true",
        "repository acme/os/base 3 pruned=false",
    ] {
        assert!(marks.contains(m), "{m}: {marks:?}");
    }
    let events: Value = serde_json::from_str(&ok(ferry()
        .args(["history", "--json", "--store"])
        .arg(store)))
    .unwrap();
    let last = events["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "prune", "{last:#}");
    assert!(
        last["detail"].as_str().unwrap().contains("acme/web 2.0"),
        "{last:#}"
    );
    let s = full_status(store);
    let v2 = s["content_views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == "2.0")
        .unwrap();
    assert!(v2["pruned"].is_string(), "{v2:#}");
    assert_eq!(s["disk"]["prunable_bytes"], 0, "{:#}", s["disk"]);
    // A pruned version cannot be promoted any more.
    let (code, _, err) = run(ferry()
        .args(["promote", "--store"])
        .arg(store)
        .args(["--to", "Dev", "web", "2.0"]));
    assert_ne!(code, 0);
    assert!(err.contains("no version 2.0"), "{err}");

    // Nothing more to do; a keep of 0 is refused.
    let again = prune_json(store, &[]);
    assert_eq!(again["objects_removed"], 0, "{again:#}");
    assert_eq!(again["version_dirs_removed"], 0, "{again:#}");
    assert!(
        ok(&mut prune_cmd(store, &[])).contains("nothing to prune"),
        "a second prune found work"
    );
    let (code, _, err) = run(&mut prune_cmd(store, &["--keep", "0"]));
    assert_ne!(code, 0);
    assert!(err.contains("--keep"), "{err}");

    // Dev moves on to 3.0: 1.0 is no longer held, and goes with the files only it had.
    ok(ferry()
        .args(["promote", "--store"])
        .arg(store)
        .args(["--to", "Dev", "web", "3.0"]));
    let report = prune_json(store, &[]);
    assert_eq!(
        report["view_versions"],
        serde_json::json!([{"organization": "acme", "view": "web", "version": "1.0"}])
    );
    assert_eq!(report["version_dirs_removed"], 1);
    assert_eq!(
        std::fs::read_dir(store.join("versions")).unwrap().count(),
        1,
        "one tree is left: v3"
    );
    for rel in [LIBRARY, VIEW, DEV] {
        assert_eq!(check_published(store, rel), 5);
    }
    let after: HashSet<(u64, u64)> = object_files(store).keys().copied().collect();
    assert_eq!(
        after,
        version_inodes(store)
            .intersection(&after)
            .copied()
            .collect()
    );

    // What an import killed while writing objects leaves (`objects/ab/.cdef….tmp`, in a
    // fan-out directory of its own or beside kept objects) goes at the next prune; kept
    // objects and what is published stay.
    let fanout = std::fs::read_dir(store.join("objects"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let beside = fanout.join(format!(".{}.tmp", "ab".repeat(31)));
    let unused = (0..=255u8)
        .map(|b| store.join("objects").join(format!("{b:02x}")))
        .find(|d| !d.exists())
        .unwrap();
    let alone = unused.join(format!(".{}.tmp", "cd".repeat(31)));
    let kept = object_files(store);
    std::fs::create_dir_all(&unused).unwrap();
    std::fs::write(&beside, vec![1u8; 10_000]).unwrap();
    std::fs::write(&alone, vec![2u8; 10_000]).unwrap();
    let dry = prune_json(store, &["--dry-run"]);
    assert_eq!(dry["objects_removed"], 2, "{dry:#}");
    assert!(
        dry["object_bytes_freed"].as_u64().unwrap() >= 20_000,
        "{dry:#}"
    );
    assert!(beside.exists() && alone.exists());
    let report = prune_json(store, &[]);
    assert_eq!(report["objects_removed"], 2, "{report:#}");
    assert!(!beside.exists() && !unused.exists());
    assert_eq!(object_files(store), kept);
    for rel in [LIBRARY, VIEW, DEV] {
        assert_eq!(check_published(store, rel), 5);
    }
    drop(r.tmp);
}

#[test]
fn dnf_installs_from_every_environment_after_a_prune() {
    let r = rotated();
    let store = &r.store;
    let report = prune_json(store, &["--keep", "1"]);
    assert!(
        report["objects_removed"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    let root = std::fs::canonicalize(store).unwrap();
    // (repository, path, packages to install, what must then be installed)
    let cases = [
        (
            "library",
            LIBRARY,
            vec!["ferry-tools", "ferry-cli"],
            vec!["ferry-tools-2.0-1.noarch", "ferry-cli-1.0-1.noarch"],
        ),
        (
            "library-view",
            VIEW,
            vec!["ferry-tools"],
            vec!["ferry-tools-2.0-1.noarch", "ferry-hello-1.1-1.noarch"],
        ),
        (
            "dev",
            DEV,
            vec!["ferry-tools", "ferry-docs"],
            vec![
                "ferry-tools-1.9-1.noarch",
                "ferry-docs-1.0-1.noarch",
                "ferry-hello-1.0-1.noarch",
            ],
        ),
    ];
    for (id, path, install, want) in cases {
        let dir = root.join("published").join(path);
        let repo = format!(
            "[{id}]\nname={id}\nbaseurl=file://{}\nenabled=1\ngpgcheck=1\ngpgkey=file://{}/{KEY_FILE}\n",
            dir.display(),
            dir.display()
        );
        let dnf = Dnf::new(&repo);
        let (code, o, e) = dnf.run(&[&["install"], &install[..]].concat());
        assert_eq!(code, 0, "{id}: {o}\n{e}");
        let installed = dnf.installed();
        for p in want {
            assert!(installed.contains(&p.to_string()), "{id}: {installed:?}");
        }
        assert!(
            installed.iter().any(|p| p.starts_with("gpg-pubkey-")),
            "{id}: the key was not imported: {installed:?}"
        );
    }
    drop(r.tmp);
}

#[test]
fn a_prune_killed_at_any_of_its_seeded_points_is_finished_by_the_next_one() {
    let r = rotated();
    let template = &r.store;
    // An abandoned upload, so that every kind of step has work.
    fake_upload(template, "old-upload", None, Some("10 days ago"));
    let published = published_bytes(template);

    // An uninterrupted prune, for reference.
    let reference = r.tmp.path().join("reference");
    copy_store(template, &reference);
    let want_report = prune_json(&reference, &[]);
    let want = (layout(&reference), pruned_marks(&reference));
    assert_eq!(published_bytes(&reference), published);

    // Every crash point a prune passes, in order.
    let traced = r.tmp.path().join("traced");
    copy_store(template, &traced);
    let trace = r.tmp.path().join("trace");
    let traced_report: Value = serde_json::from_str(&ok(
        prune_cmd(&traced, &["--json"]).env("FERRY_CRASH_TRACE", &trace)
    ))
    .unwrap();
    assert_eq!(traced_report, want_report);
    let points = crash_trace(&trace);
    let names: BTreeSet<&str> = points.iter().map(String::as_str).collect();
    for must in [
        "prune-marked",
        "prune-version-moved",
        "prune-versions-moved",
        "prune-version-removed",
        "prune-object-removed",
        "prune-objects-removed",
        "prune-upload-removed",
        "prune-synced",
    ] {
        assert!(names.contains(must), "no crash point {must}: {names:?}");
    }
    // The first and last point of each kind, then seeded others: 12 or more in all (every
    // point if there are fewer).
    let chosen = crash_points(&points, 12.min(points.len()), 0x9e11_0b5e);
    assert!(chosen.len() >= 6, "{chosen:?}");
    eprintln!(
        "killing the prune at {} of its {} crash points ({} kinds): {chosen:?}",
        chosen.len(),
        points.len(),
        names.len()
    );
    for &n in &chosen {
        let what = format!("point {n} ({})", points[n - 1]);
        let store = r.tmp.path().join(format!("store-{n}"));
        copy_store(template, &store);
        let out = prune_cmd(&store, &[])
            .env("FERRY_CRASH_AT", format!("#{n}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(9), "{what}: not killed: {err}");
        assert!(err.contains(&format!("crash point {n} ")), "{what}: {err}");
        // Killed anywhere, what is published is whole.
        assert_eq!(published_bytes(&store), published, "{what}");
        for rel in [LIBRARY, VIEW, DEV] {
            check_published(&store, rel);
        }
        // The next prune reaches the end state of an uninterrupted one.
        ok(&mut prune_cmd(&store, &[]));
        assert_eq!(layout(&store), want.0, "{what}: files differ");
        assert_eq!(pruned_marks(&store), want.1, "{what}: marks differ");
        assert_eq!(published_bytes(&store), published, "{what}");
        std::fs::remove_dir_all(&store).unwrap();
    }
}

#[test]
fn prune_refuses_with_no_wait_or_waits_while_another_ferry_holds_the_store() {
    let r = rotated();
    let store = &r.store;
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(store.join("lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let before = layout(store);
    let (code, _, err) = run(&mut prune_cmd(store, &["--no-wait"]));
    assert_ne!(code, 0);
    assert!(err.contains("is changing this store"), "{err}");
    assert_eq!(layout(store), before);
    // A dry run takes no lock.
    let dry = prune_json(store, &["--dry-run", "--no-wait"]);
    assert!(dry["objects_removed"].as_u64().unwrap() > 0);
    // Without --no-wait it says so and waits.
    let mut waiting = prune_cmd(store, &["--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(waiting.try_wait().unwrap().is_none(), "it did not wait");
    assert_eq!(layout(store), before, "it changed the store while waiting");
    lock.unlock().unwrap();
    let out = waiting.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("waiting"), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["objects_removed"], dry["objects_removed"]);
}

#[test]
fn an_abandoned_partly_staged_bundle_is_discarded_and_prune_frees_its_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let vols = pack_with(
        &testdata().join("catalog.toml"),
        &k,
        &tmp.path().join("b"),
        &["--media-size", "1M"],
    );
    assert!(vols.len() >= 2, "{vols:?}");
    let store = tmp.path().join("store");
    let out = must_import(&store, &k, &[vols[0].clone()]);
    assert!(out.contains("verified and staged"), "{out}");
    let s = full_status(&store);
    let bundle = s["staged"][0]["bundle"].as_str().unwrap().to_string();
    let staging = store.join("staging").join(&bundle);
    assert!(
        staging.join("manifest.toml").is_file(),
        "the staged bundle's manifest is not kept"
    );
    let stored = object_files(&store);
    assert!(!stored.is_empty());

    // While it waits for its other volumes, prune keeps what it stored.
    let dry = prune_json(&store, &["--dry-run"]);
    assert_eq!(dry["objects_removed"], 0, "{dry:#}");

    // Uploads: one of this bundle's volumes, one fresh of nothing known, one old.
    let of_bundle = fake_upload(
        &store,
        "of-bundle",
        Some(&vols[1].join("volume.toml")),
        None,
    );
    let fresh = fake_upload(&store, "fresh", None, None);
    let old = fake_upload(&store, "old", None, Some("8 days ago"));

    // Too short, unknown: refused.
    let abandon = |b: &str| {
        run(ferry()
            .args(["import", "--store"])
            .arg(&store)
            .args(["--abandon", b]))
    };
    let (code, _, err) = abandon(&bundle[..7]);
    assert_ne!(code, 0);
    assert!(err.contains("at least 8 hex digits"), "{err}");
    let (code, _, err) = abandon("0123456789abcdef");
    assert_ne!(code, 0);
    assert!(err.contains("is partly staged in this store"), "{err}");
    // --abandon takes no volumes.
    let (code, _, _) = run(ferry()
        .args(["import", "--store"])
        .arg(&store)
        .args(["--abandon", &bundle[..12]])
        .arg(&vols[1]));
    assert_ne!(code, 0);

    let (code, out, err) = abandon(&bundle[..12]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("abandoned bundle"), "{out}");
    assert!(!staging.exists(), "staging area left");
    assert!(!of_bundle.exists(), "its upload was left");
    assert!(fresh.exists() && old.exists());
    let s = full_status(&store);
    assert_eq!(s["staged"], serde_json::json!([]), "{s:#}");
    let human = ok(ferry().args(["status", "--store"]).arg(&store));
    assert!(!human.contains("partly staged"), "{human}");
    let c = rusqlite::Connection::open(store.join("ferry.db")).unwrap();
    let rows: i64 = c
        .query_row(
            "SELECT (SELECT COUNT(*) FROM staged_volumes WHERE bundle = ?1)
                  + (SELECT COUNT(*) FROM staged_bundles WHERE bundle = ?1)",
            [&bundle],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
    drop(c);
    let events: Value = serde_json::from_str(&ok(ferry()
        .args(["history", "--json", "--store"])
        .arg(&store)))
    .unwrap();
    let last = events["events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["event"], "abandon");
    assert_eq!(last["bundle"], bundle.as_str());
    // Again: nothing is staged any more.
    let (code, _, err) = abandon(&bundle);
    assert_ne!(code, 0);
    assert!(err.contains("no bundle"), "{err}");

    // Prune frees what it had stored, and the old upload.
    let report = prune_json(&store, &[]);
    assert_eq!(
        report["objects_removed"].as_u64(),
        Some(stored.len() as u64),
        "{report:#}"
    );
    assert_eq!(
        report["object_bytes_freed"].as_u64(),
        Some(stored.values().sum::<u64>())
    );
    assert_eq!(report["uploads_removed"][0]["key"], "old", "{report:#}");
    assert_eq!(report["uploads_removed"].as_array().unwrap().len(), 1);
    assert!(object_files(&store).is_empty());
    assert!(!old.exists() && fresh.exists());

    // The whole bundle still imports, as into a fresh store.
    let out = must_import(&store, &k, &vols);
    assert!(out.contains("imported bundle"), "{out}");
    let reference = tmp.path().join("reference");
    must_import(&reference, &k, &vols);
    assert_eq!(published_bytes(&store), published_bytes(&reference));
    // An imported bundle is not abandoned.
    let (code, _, err) = abandon(&bundle[..16]);
    assert_ne!(code, 0);
    assert!(err.contains("was imported"), "{err}");
}
