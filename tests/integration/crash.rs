//! Imports killed with SIGKILL at many points, and imports whose disk fills up: every
//! repository stays wholly old or wholly new, the next run completes the job, and nothing
//! is left behind.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

const REPOS: [&str; 3] = [
    "acme/library/acme-os/baseos",
    "acme/library/acme-os/appstream",
    "acme/views/web/acme-os/baseos",
];

fn pick(m: &BTreeMap<String, Vec<u8>>, repo: &str) -> BTreeMap<String, Vec<u8>> {
    m.iter()
        .filter(|(k, _)| k.starts_with(repo))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Import times differ between runs; everything else in `status` must not.
fn strip(mut s: Value) -> Value {
    for b in s["bundles"].as_array_mut().unwrap() {
        b["imported"] = Value::Null;
    }
    for v in s["content_views"].as_array_mut().unwrap() {
        v["imported"] = Value::Null;
    }
    s
}

/// Every file and directory under the store's objects/, versions/, bundles/ and
/// published/ (names only), and what tmp/ and staging/ hold.
fn layout(store: &Path) -> BTreeSet<String> {
    store_names(
        store,
        &[
            "objects",
            "versions",
            "bundles",
            "published",
            "tmp",
            "staging",
        ],
    )
}

/// `cp -a`: hard links and symbolic links kept.
fn copy_store(from: &Path, to: &Path) {
    ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// What an uninterrupted import of A, then B, publishes and leaves in a store.
struct Reference {
    after_a: BTreeMap<String, Vec<u8>>,
    after_b: BTreeMap<String, Vec<u8>>,
    status: Value,
    layout: BTreeSet<String>,
}

fn reference(t: &Two) -> Reference {
    let store = t.tmp.path().join("reference");
    must_import(&store, &t.key, &t.a);
    let after_a = published_bytes(&store);
    must_import(&store, &t.key, &t.b);
    Reference {
        after_a,
        after_b: published_bytes(&store),
        status: strip(status(&store)),
        layout: layout(&store),
    }
}

fn import_b(store: &Path, t: &Two, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = ferry();
    c.args(["import", "--init"])
        .arg("--store")
        .arg(store)
        .arg("--trust")
        .arg(public(&t.key))
        .args(&t.b);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn an_import_killed_at_any_of_24_seeded_points_is_completed_by_the_next_run() {
    let t = two_bundles();
    let Reference {
        after_a,
        after_b,
        status: want_status,
        layout: want_layout,
    } = reference(&t);

    // A store holding A, to copy for every run.
    let template = t.tmp.path().join("template");
    must_import(&template, &t.key, &t.a);

    // Every crash point an import of B passes, in order.
    let traced = t.tmp.path().join("traced");
    copy_store(&template, &traced);
    let trace = t.tmp.path().join("trace");
    let out = import_b(
        &traced,
        &t,
        &[("FERRY_CRASH_TRACE", trace.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let points = crash_trace(&trace);
    let names: BTreeSet<&str> = points.iter().map(String::as_str).collect();
    for must in [
        "space-checked",
        "object-decoded",
        "objects-checked",
        "object-stored",
        "after-objects",
        "version-file",
        "version-built",
        "after-versions",
        "manifest-kept",
        "before-commit",
        "after-commit",
        "publish",
        "after-publish",
    ] {
        assert!(names.contains(must), "no crash point {must}: {names:?}");
    }
    // The first and last point of each name, then seeded others, 24 or more in all.
    let chosen = crash_points(&points, 24.max(names.len() * 2), 0x5eed_f3a7);
    assert!(chosen.len() >= 24, "{}", chosen.len());
    eprintln!(
        "killing the import at {} of its {} crash points ({} kinds): {chosen:?}",
        chosen.len(),
        points.len(),
        names.len()
    );

    let commit = points.iter().position(|p| p == "after-commit").unwrap() + 1;
    for &n in &chosen {
        let what = format!("point {n} ({})", points[n - 1]);
        let store = t.tmp.path().join(format!("store-{n}"));
        copy_store(&template, &store);
        let out = import_b(&store, &t, &[("FERRY_CRASH_AT", &format!("#{n}"))]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(9), "{what}: not killed: {err}");
        assert!(err.contains(&format!("crash point {n} ")), "{what}: {err}");
        // Whatever is published is a complete version: every repository shows either
        // A's tree or B's, never a mix; before the commit, A's.
        let now = published_bytes(&store);
        for repo in REPOS {
            let cur = pick(&now, repo);
            assert!(
                cur == pick(&after_a, repo) || cur == pick(&after_b, repo),
                "{what}: {repo} is a mix"
            );
        }
        if n < commit {
            assert_eq!(now, after_a, "{what}: published before the commit");
        }
        // The next run finishes the job and leaves exactly what an uninterrupted import
        // leaves: no temporary file, no staging, no stray object or version.
        must_import(&store, &t.key, &t.b);
        assert_eq!(published_bytes(&store), after_b, "{what}");
        assert_eq!(strip(status(&store)), want_status, "{what}");
        assert_eq!(layout(&store), want_layout, "{what}: leftovers");
        std::fs::remove_dir_all(&store).unwrap();
    }
}

/// Run a shell script as root in a private mount namespace (so it may mount a small
/// file system), with `$FERRY` the binary under test.
fn in_namespace(script: &str, dir: &Path) -> (i32, String, String) {
    require("unshare");
    run(Command::new("unshare")
        .args(["-m", "sh", "-euc", script])
        .env("FERRY", env!("CARGO_BIN_EXE_ferry"))
        .env("DIR", dir)
        .env_remove("SOURCE_DATE_EPOCH"))
}

#[test]
fn a_disk_that_fills_up_during_an_import_fails_cleanly_and_the_next_import_completes() {
    let t = two_bundles();
    let Reference {
        after_a,
        after_b,
        layout: want_layout,
        ..
    } = reference(&t);
    let out = t.tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let vol = |v: &[PathBuf]| {
        v.iter()
            .map(|p| format!("'{}'", p.display()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // The disk fills while the import is stopped at a point: after the free-space check
    // (so the objects do not fit), and after the objects (so the versions and the
    // database do not). Each time: a clean refusal naming the full disk, status and
    // repofile still work, nothing published changes; with room again, the same import
    // completes and leaves what an uninterrupted one leaves.
    for (i, point) in ["space-checked", "after-objects"].iter().enumerate() {
        let script = format!(
            r#"
M=$DIR/mnt-{i}; S=$M/store; O=$DIR/out/{i}; mkdir -p $M $O
mount -t tmpfs -o size=48M tmpfs $M
$FERRY import --init --store $S --trust '{key}' {a} > /dev/null 2>&1
FERRY_PAUSE_AT={point} $FERRY import --store $S --trust '{key}' {b} > $O/full.out 2> $O/full.err &
pid=$!
while [ "$(cut -d' ' -f3 /proc/$pid/stat)" != T ]; do sleep 0.02; done
dd if=/dev/zero of=$M/filler bs=64k 2> /dev/null || true
kill -CONT $pid
set +e; wait $pid; echo $? > $O/full.code; set -e
$FERRY status --store $S --json > $O/status.json 2> $O/status.err; echo $? > $O/status.code
$FERRY repofile --store $S > $O/repofile 2> $O/repofile.err; echo $? > $O/repofile.code
cp -rL $S/published $O/published-full
find $S/tmp $S/staging -mindepth 1 2> /dev/null | sort > $O/leftovers-full
rm $M/filler
$FERRY import --store $S --trust '{key}' {b} > $O/again.out 2> $O/again.err; echo $? > $O/again.code
cp -rL $S/published $O/published-again
(cd $S && find objects versions bundles published tmp staging -mindepth 1 2> /dev/null | sort) > $O/layout
umount $M
"#,
            key = public(&t.key).display(),
            a = vol(&t.a),
            b = vol(&t.b),
        );
        let (code, so, se) = in_namespace(&script, t.tmp.path());
        assert_eq!(code, 0, "{point}: the script failed:\n{so}\n{se}");
        let o = out.join(i.to_string());
        let read = |f: &str| std::fs::read_to_string(o.join(f)).unwrap();
        let err = read("full.err");
        assert_eq!(read("full.code").trim(), "1", "{point}: {err}");
        assert!(
            err.contains("no space left on the file system of the store")
                && err.contains(&format!("mnt-{i}/store"))
                && err.contains("nothing published was changed"),
            "{point}: {err}"
        );
        assert!(
            !err.contains("decode"),
            "{point}: a full disk is not a decoding error: {err}"
        );
        assert_eq!(
            read("status.code").trim(),
            "0",
            "{point}: {}",
            read("status.err")
        );
        assert!(read("status.json").contains("\"bundles\""));
        assert_eq!(
            read("repofile.code").trim(),
            "0",
            "{point}: {}",
            read("repofile.err")
        );
        assert!(read("repofile").contains("baseurl="));
        assert_eq!(tree_bytes(&o.join("published-full")), after_a, "{point}");
        assert_eq!(
            read("leftovers-full"),
            "",
            "{point}: left in tmp/ or staging/"
        );
        assert_eq!(
            read("again.code").trim(),
            "0",
            "{point}: {}",
            read("again.err")
        );
        assert_eq!(tree_bytes(&o.join("published-again")), after_b, "{point}");
        let got: BTreeSet<String> = read("layout").lines().map(str::to_string).collect();
        assert_eq!(got, want_layout, "{point}: orphans or missing files");
    }
}
