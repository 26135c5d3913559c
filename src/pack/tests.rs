//! The export state's day-2 operations against real packs of `testdata/`: the dry run
//! against the pack it foretells, the bundles made, forgetting them, and a bundle written
//! again.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::state::ExportState;
use super::*;
use crate::format::KeyId;
use crate::progress::Silent;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn key() -> SecretKey {
    SecretKey::from_seed([7; 32], KeyId([1, 2, 3, 4, 5, 6, 7, 8]))
}

/// The test library's catalog, or (`small`) only its BaseOS, without views.
fn catalog(dir: &Path, small: bool) -> Catalog {
    let lib = testdata().join("library");
    let mut text = format!(
        "organization = \"acme\"\n\n[[product]]\nlabel = \"acme-os\"\nname = \"ACME OS 9\"\ngpg_key = \"{}\"\n\n[[product.repository]]\nlabel = \"baseos\"\nname = \"BaseOS\"\npath = \"{}\"\n",
        lib.join("RPM-GPG-KEY-ferry-test").display(),
        lib.join("repos/baseos").display()
    );
    if !small {
        text.push_str(&format!(
            "\n[[product.repository]]\nlabel = \"appstream\"\nname = \"AppStream\"\npath = \"{}\"\n\n[[product]]\nlabel = \"legacy\"\nname = \"Legacy\"\n\n[[product.repository]]\nlabel = \"tools\"\nname = \"Tools\"\npath = \"{}\"\n\n[[content_view]]\nlabel = \"web\"\nname = \"Web\"\nversion = \"1.0\"\nrepositories = [\"acme-os/baseos\", \"acme-os/appstream\"]\nsnapshots = {{ \"acme-os/baseos\" = \"{}\" }}\n",
            lib.join("repos/appstream").display(),
            lib.join("repos/legacy").display(),
            lib.join("cv/web/1.0/baseos").display()
        ));
    }
    let path = dir.join(if small { "small.toml" } else { "full.toml" });
    std::fs::write(&path, text).unwrap();
    crate::catalog::load(&path).unwrap()
}

fn options(root: &Path, out: &str, media: Option<u64>, incremental: bool) -> PackOptions {
    let mut o = PackOptions::new(
        root.join(out),
        "2026-12-05T08:00:00Z".into(),
        root.join("site.state"),
    );
    o.set_media_size(media);
    if incremental {
        o.since = Some(Since::Newest);
    }
    o
}

/// Bytes of each volume directory's files.
fn volume_bytes(vols: &[PathBuf]) -> Vec<u64> {
    vols.iter()
        .map(|v| {
            walkdir::WalkDir::new(v)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.metadata().unwrap().len())
                .sum()
        })
        .collect()
}

/// Every file under `dir` with the digest of its bytes (empty when `dir` does not exist).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (
                e.path().to_path_buf(),
                crate::format::Sha256Digest::of(&bytes).short(),
            )
        })
        .collect()
}

fn manifest_of(vol: &Path) -> Manifest {
    Manifest::parse(&std::fs::read(vol.join("manifest.toml")).unwrap()).unwrap()
}

#[test]
fn the_dry_run_foretells_the_pack_exactly_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let full = catalog(d.path(), false);
    let key = key();
    // No state yet: it stays absent. Then each media size, full and incremental.
    let dry = plan_only(&full, &key.public(), &options(d.path(), "o", None, false)).unwrap();
    assert!(!d.path().join("site.state").exists());
    assert!(!d.path().join("o").exists());
    assert_eq!((dry.sequence, dry.base.as_ref()), (1, None));

    for (i, media) in [None, Some(1 << 20), Some(300 << 10)]
        .into_iter()
        .enumerate()
    {
        let o = options(d.path(), &format!("full-{i}"), media, false);
        let before = snapshot(&o.state);
        let dry = plan_only(&full, &key.public(), &o).unwrap();
        assert_eq!(snapshot(&o.state), before, "the dry run changed the state");
        assert!(!o.out.exists());
        let made = pack(&full, &key, &o, &Silent).unwrap();
        let m = manifest_of(&made.volumes[0]);
        assert_eq!(dry.sequence, made.sequence);
        assert_eq!(dry.volumes as usize, made.volumes.len(), "media {media:?}");
        assert_eq!(
            dry.volume_bytes,
            volume_bytes(&made.volumes),
            "media {media:?}"
        );
        assert_eq!(dry.bytes, volume_bytes(&made.volumes).iter().sum::<u64>());
        assert_eq!(dry.pack_bytes, made.pack_bytes);
        assert_eq!(dry.objects_new, m.objects.len());
        assert_eq!(dry.objects_reused, 0);
        assert_eq!(dry.files, made.files);
        assert_eq!(dry.repositories.len(), 3);
        assert_eq!(dry.content_views.len(), 1);
        if i == 0 {
            // The uncompressed comps.xml goes through zstd: compressed to learn its size.
            assert!(dry.read.files_compressed > 0, "{:?}", dry.read);
        }
        if media == Some(300 << 10) {
            assert!(dry.volumes >= 3, "{dry}");
        }
    }

    // An incremental bundle on the newest: nothing changed, nothing carried, and no
    // package byte read (metadata and the file cache give every SHA-256).
    let o = options(d.path(), "incr", Some(1 << 20), true);
    let dry = plan_only(&full, &key.public(), &o).unwrap();
    let made = pack(&full, &key, &o, &Silent).unwrap();
    assert_eq!(dry.base, made.base.map(|b| b.to_hex()));
    assert_eq!(dry.sequence, made.sequence);
    assert_eq!(dry.objects_new, 0);
    assert!(dry.objects_reused > 0);
    assert_eq!(dry.volumes as usize, made.volumes.len());
    assert_eq!(dry.volume_bytes, volume_bytes(&made.volumes));
    assert_eq!(
        (
            dry.read.files_hashed,
            dry.read.files_sampled,
            dry.read.files_compressed
        ),
        (0, 0, 0),
        "{:?}",
        dry.read
    );
    let json = serde_json::to_value(&dry).unwrap();
    for field in [
        "sequence",
        "base",
        "volumes",
        "objects_new",
        "objects_reused",
        "bytes",
        "repositories",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    assert!(
        dry.to_string().contains("incremental bundle of sequence"),
        "{dry}"
    );
}

#[test]
fn a_dry_run_fetches_nothing() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("url.toml");
    std::fs::write(
        &path,
        "organization = \"acme\"\n\n[[product]]\nlabel = \"p\"\nname = \"P\"\n\n[[product.repository]]\nlabel = \"r\"\nname = \"R\"\nurl = \"https://mirror.example.invalid/r/\"\n",
    )
    .unwrap();
    let cat = crate::catalog::load(&path).unwrap();
    let e = plan_only(&cat, &key().public(), &options(d.path(), "o", None, false)).unwrap_err();
    assert!(matches!(e, PackError::NotLocal { .. }), "{e}");
    assert!(e.to_string().contains("p/r"), "{e}");
    assert!(!d.path().join("site.state").exists());
}

#[test]
fn a_dry_run_over_what_a_forgotten_bundle_shipped_carries_it_again() {
    let d = tempfile::tempdir().unwrap();
    let (small, full) = (catalog(d.path(), true), catalog(d.path(), false));
    let key = key();
    let one = pack(&small, &key, &options(d.path(), "1", None, false), &Silent).unwrap();
    let two = pack(&full, &key, &options(d.path(), "2", None, true), &Silent).unwrap();
    let three = pack(&full, &key, &options(d.path(), "3", None, true), &Silent).unwrap();
    assert_eq!((two.sequence, three.sequence), (2, 3));
    assert_eq!(three.objects, 0);

    let state_dir = d.path().join("site.state");
    let state = ExportState::open(&state_dir).unwrap();
    let list = state.list(None).unwrap();
    assert_eq!(
        list.iter().map(|b| b.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(list[0].bundle, one.bundle.to_hex());
    assert_eq!(list[1].base.as_deref(), Some(one.bundle.to_hex().as_str()));
    for (b, made) in list.iter().zip([&one, &two, &three]) {
        assert_eq!(b.volumes, Some(made.volumes.len() as u32));
        assert_eq!(b.bytes, Some(volume_bytes(&made.volumes).iter().sum()));
    }
    assert!(state.shipped_view("acme", "web", "1.0").unwrap().is_some());

    // Only sequences it made; forgetting 2 forgets 3 too.
    let e = state.forget(None, 7).unwrap_err();
    assert!(
        e.to_string().contains("made no bundle of sequence 7"),
        "{e}"
    );
    let f = state.forget(None, 2).unwrap();
    assert_eq!(
        f.forgotten.iter().map(|b| b.sequence).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(f.next_sequence, 2);
    assert_eq!(f.next_base.as_ref().map(|b| b.sequence), Some(1));
    assert!(f.to_string().contains("gets sequence 2"), "{f}");
    assert_eq!(state.list(None).unwrap().len(), 1);
    assert!(state.manifest(&two.bundle).unwrap().is_none());
    assert!(state.shipped_view("acme", "web", "1.0").unwrap().is_none());
    drop(state);

    // The next incremental takes sequence 2 again, on bundle 1, carrying what 2 carried.
    let o = options(d.path(), "2-again", None, true);
    let dry = plan_only(&full, &key.public(), &o).unwrap();
    assert_eq!(dry.sequence, 2);
    assert_eq!(dry.base, Some(one.bundle.to_hex()));
    assert_eq!(dry.objects_new, two.objects);
    let again = pack(&full, &key, &o, &Silent).unwrap();
    assert_eq!((again.sequence, again.base), (2, Some(one.bundle)));
    assert_eq!(again.objects, two.objects);
}

#[test]
fn an_older_state_is_upgraded_in_place_and_read_as_it_is() {
    let d = tempfile::tempdir().unwrap();
    let small = catalog(d.path(), true);
    let made = pack(
        &small,
        &key(),
        &options(d.path(), "1", Some(300 << 10), false),
        &Silent,
    )
    .unwrap();
    let state_dir = d.path().join("site.state");
    {
        // What an older ferry wrote: no volumes or bytes columns.
        let c = rusqlite::Connection::open(state_dir.join("state.db")).unwrap();
        c.execute_batch(
            "ALTER TABLE bundles DROP COLUMN volumes; ALTER TABLE bundles DROP COLUMN bytes;",
        )
        .unwrap();
    }
    let want = (
        Some(made.volumes.len() as u32),
        Some(volume_bytes(&made.volumes).iter().sum::<u64>()),
    );
    let before = snapshot(&state_dir);
    let ro = ExportState::open_read_only(&state_dir).unwrap();
    let b = &ro.list(None).unwrap()[0];
    assert_eq!((b.volumes, b.bytes), want);
    assert!(
        ro.forget(None, 1).is_err(),
        "a read-only state changes nothing"
    );
    drop(ro);
    assert_eq!(snapshot(&state_dir), before);

    let rw = ExportState::open(&state_dir).unwrap();
    let b = &rw.list(Some("acme")).unwrap()[0];
    assert_eq!((b.volumes, b.bytes), want);
    drop(rw);
    let c = rusqlite::Connection::open(state_dir.join("state.db")).unwrap();
    let stored: (i64, i64) = c
        .query_row("SELECT volumes, bytes FROM bundles", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (Some(stored.0 as u32), Some(stored.1 as u64)),
        want,
        "backfilled"
    );
}

#[test]
fn a_bundle_written_again_is_the_same_logical_bundle_on_other_media() {
    let d = tempfile::tempdir().unwrap();
    let full = catalog(d.path(), false);
    let key = key();
    let first = pack(
        &full,
        &key,
        &options(d.path(), "first", None, false),
        &Silent,
    )
    .unwrap();
    let state_dir = d.path().join("site.state");
    let before = snapshot(&state_dir);
    let copy = again(
        &full,
        &key,
        1,
        &options(d.path(), "copy", Some(300 << 10), false),
        &Silent,
    )
    .unwrap();
    assert_eq!(snapshot(&state_dir), before, "--again records nothing");
    assert_eq!(first.volumes.len(), 1);
    assert!(copy.volumes.len() >= 3, "{:?}", copy.volumes);
    assert_ne!(copy.bundle, first.bundle);
    let (a, b) = (
        manifest_of(&first.volumes[0]),
        manifest_of(&copy.volumes[0]),
    );
    assert_eq!(a.logical_id(), b.logical_id());
    assert_eq!(
        (b.sequence, &b.created, &b.base),
        (a.sequence, &a.created, &a.base)
    );
    assert_eq!(b.trees, a.trees);
    assert_eq!(
        b.objects.keys().collect::<Vec<_>>(),
        a.objects.keys().collect::<Vec<_>>()
    );
    for v in &copy.volumes {
        assert!(volume_bytes(std::slice::from_ref(v))[0] <= 300 << 10);
    }
    // The copy checks like any bundle: signatures, packs and every object.
    let set = crate::bundle::set::open(&copy.volumes, &[key.public()]);
    assert!(set.findings.is_empty(), "{:?}", set.findings);
    let bundle = set.bundle.as_ref().unwrap();
    let p = crate::bundle::pass::run(
        bundle,
        &set.volumes,
        crate::bundle::pass::Depth::Objects,
        &mut crate::bundle::pass::Discard,
        &Silent,
    )
    .unwrap();
    assert!(p.findings.is_empty(), "{:?}", p.findings);

    // A sequence it did not make, another key.
    assert!(matches!(
        again(
            &full,
            &key,
            9,
            &options(d.path(), "x", None, false),
            &Silent
        ),
        Err(PackError::State(state::StateError::NoSuchSequence { .. }))
    ));
    let other = SecretKey::from_seed([8; 32], KeyId([9; 8]));
    assert!(matches!(
        again(
            &full,
            &other,
            1,
            &options(d.path(), "y", None, false),
            &Silent
        ),
        Err(PackError::WrongSigner { .. })
    ));
}

#[test]
fn a_bundle_is_not_written_again_from_sources_that_changed() {
    let d = tempfile::tempdir().unwrap();
    let (src, cat) = own_baseos(d.path());
    let key = key();
    pack(
        &cat,
        &key,
        &options(d.path(), "first", None, false),
        &Silent,
    )
    .unwrap();

    let rpms: Vec<PathBuf> = walkdir::WalkDir::new(src.join("Packages"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rpm"))
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(rpms.len() >= 2);
    // Same size, one byte changed: found while it is read, named, nothing written.
    let mut bytes = std::fs::read(&rpms[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&rpms[0], &bytes).unwrap();
    let o = options(d.path(), "copy", None, false);
    let e = again(&cat, &key, 1, &o, &Silent).unwrap_err();
    assert!(matches!(e, PackError::Changed(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&rpms[0].display().to_string()) && msg.contains("changed since bundle"),
        "{msg}"
    );
    assert!(!o.out.join("vol-01").exists());
    // Gone: every such file named before anything is read.
    std::fs::remove_file(&rpms[0]).unwrap();
    std::fs::remove_file(&rpms[1]).unwrap();
    let e = again(
        &cat,
        &key,
        1,
        &options(d.path(), "copy2", None, false),
        &Silent,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("2 problems")
            && msg.contains(&rpms[1].display().to_string())
            && msg.contains("vanished since the bundle of sequence 1"),
        "{msg}"
    );
}

/// A copy of BaseOS under `dir` that the test may change, and a catalog of it alone.
fn own_baseos(dir: &Path) -> (PathBuf, Catalog) {
    let src = dir.join("baseos");
    copy_dir(&testdata().join("library/repos/baseos"), &src);
    let text = format!(
        "organization = \"acme\"\n\n[[product]]\nlabel = \"acme-os\"\nname = \"ACME OS 9\"\n\n[[product.repository]]\nlabel = \"baseos\"\nname = \"BaseOS\"\npath = \"{}\"\n",
        src.display()
    );
    std::fs::write(dir.join("c.toml"), text).unwrap();
    (src, crate::catalog::load(&dir.join("c.toml")).unwrap())
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_map(Result::ok)
    {
        let rel = e.path().strip_prefix(from).unwrap();
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn an_incremental_pack_reads_the_kept_known_set_and_leaves_known_files_unread() {
    let d = tempfile::tempdir().unwrap();
    let (src, cat) = own_baseos(d.path());
    let key = key();
    let first = pack(
        &cat,
        &key,
        &options(d.path(), "first", None, false),
        &Silent,
    )
    .unwrap();
    // The set of what the site holds after bundle 1 is kept beside its manifest.
    let state = ExportState::open(&d.path().join("site.state")).unwrap();
    let kept = d
        .path()
        .join("site.state/bundles")
        .join(format!("{}.known", first.bundle.to_hex()));
    assert!(kept.is_file());
    let m1 = manifest_of(&first.volumes[0]);
    let from_kept = state.known_objects(&first.bundle, &m1).unwrap();
    let mut expected: HashSet<ObjectId> = m1.objects.keys().copied().collect();
    for t in &m1.trees {
        expected.extend(t.files.values().copied());
    }
    assert_eq!(from_kept, expected);
    drop(state);

    // A package the site has: not looked at by the next pack, even once it is gone from
    // the source; the tree still names it by its object, and nothing is carried for it.
    let rpm = walkdir::WalkDir::new(src.join("Packages"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "rpm"))
        .unwrap()
        .into_path();
    let rel = rpm
        .strip_prefix(&src)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let want = m1.trees[0].files[&rel];
    std::fs::remove_file(&rpm).unwrap();
    let second = pack(
        &cat,
        &key,
        &options(d.path(), "second", None, true),
        &Silent,
    )
    .unwrap();
    let m2 = manifest_of(&second.volumes[0]);
    assert_eq!(m2.trees[0].files[&rel], want);
    assert!(m2.objects.is_empty(), "nothing changed: nothing carried");
    // Only repomd.xml and the primary metadata (the package list) are read.
    assert_eq!(second.files_read, 2, "{second:?}");

    // Forgetting bundle 2 forgets its kept set too.
    let kept2 = d
        .path()
        .join("site.state/bundles")
        .join(format!("{}.known", second.bundle.to_hex()));
    assert!(kept2.is_file());
    let state = ExportState::open(&d.path().join("site.state")).unwrap();
    state.forget(Some("acme"), 2).unwrap();
    assert!(!kept2.exists());
    assert!(kept.exists());
}
