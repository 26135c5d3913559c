//! `ferry keygen`, keys protected by a passphrase, and key rotation (issue 11).
//!
//! The tests marked "CLI" drive `ferry keygen --passphrase-file`, `pack --passphrase-file`,
//! `keygen --rotate-from` and `import --keep-old-key`; the others drive the library
//! (`ferry::keys`, `ferry::pack`, `ferry::import`) and real signify.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use ferry::format::manifest::Manifest;
use ferry::keys::{self, Passphrase, RotateOptions};

use crate::common::*;

#[test]
fn keygen_writes_signify_keys_and_never_overwrites_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("site");
    let out = ok(ferry().arg("keygen").arg("--out").arg(&prefix));
    let secret = key(&prefix);
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let pubtext = std::fs::read_to_string(public(&prefix)).unwrap();
    let mut lines = pubtext.lines();
    assert!(lines.next().unwrap().starts_with("untrusted comment: "));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(lines.next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 2 + 8 + 32);
    assert_eq!(&raw[..2], b"Ed");
    assert!(
        out.contains(&hex::encode(&raw[2..10])),
        "the key id is shown: {out}"
    );

    let before = std::fs::read(&secret).unwrap();
    let (code, _, err) = run(ferry().arg("keygen").arg("--out").arg(&prefix));
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&secret).unwrap(), before);

    ok(ferry()
        .arg("keygen")
        .arg("--out")
        .arg(&prefix)
        .arg("--force"));
    assert_ne!(std::fs::read(&secret).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn pack_refuses_a_secret_key_that_other_users_can_read() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = keygen(tmp.path(), "site");
    let secret = key(&prefix);
    let catalog = testdata().join("vectors/catalog.toml");
    let out = tmp.path().join("out");
    let pack = || {
        let mut c = pack_cmd(&catalog, &prefix, &out);
        c.arg("--state").arg(tmp.path().join("state"));
        c
    };

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(&mut pack());
    assert_ne!(code, 0, "a 0644 secret key was used: {err}");
    assert!(
        err.contains(&format!("{} can be read by other users", secret.display())),
        "{err}"
    );
    assert!(err.contains("mode 0644"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", secret.display())),
        "{err}"
    );
    assert!(
        volumes(&out).is_empty(),
        "volumes written with a refused key"
    );

    // The same key, made private, packs.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&mut pack());
    assert!(!volumes(&out).is_empty());
}

/// Run `cmd` (a shell command line) under `script`, so that it has a terminal, and type
/// `lines` into it one second apart (signify reads passphrases only from a terminal).
fn on_a_terminal(cmd: &str, lines: &[&str]) -> (i32, String) {
    require("script");
    let mut input = String::from("sleep 1; ");
    for l in lines {
        input.push_str(&format!("printf '%s\\n' '{l}'; sleep 1; "));
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("({input}) | script -qec \"{cmd}\" /dev/null"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn signify_signs_with_a_key_that_ferry_protected() {
    require("signify-openbsd");
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("site");
    let sk = keys::generate_with(&prefix, false, Some(b"tr0ub4dor and 3")).unwrap();
    // signify signs only with a file named *.sec.
    let sec = tmp.path().join("site.sec");
    std::fs::copy(key(&prefix), &sec).unwrap();
    let msg = tmp.path().join("msg");
    std::fs::write(&msg, "signed by signify with ferry's protected key\n").unwrap();
    let sig = tmp.path().join("msg.sig");
    let (code, out) = on_a_terminal(
        &format!(
            "signify-openbsd -S -s {} -m {} -x {}",
            sec.display(),
            msg.display(),
            sig.display()
        ),
        &["tr0ub4dor and 3"],
    );
    assert_eq!(code, 0, "{out}");
    ok(Command::new("signify-openbsd")
        .arg("-V")
        .arg("-p")
        .arg(public(&prefix))
        .arg("-m")
        .arg(&msg)
        .arg("-x")
        .arg(&sig));
    // Ed25519 is deterministic: signify's signature is ferry's.
    let (s, _) = ferry::format::signify::decode_embedded(&std::fs::read(&sig).unwrap()).unwrap();
    assert_eq!(sk.sign(&std::fs::read(&msg).unwrap()), s);

    // A wrong passphrase: signify refuses too.
    let (code, out) = on_a_terminal(
        &format!(
            "signify-openbsd -S -s {} -m {} -x {}.2",
            sec.display(),
            msg.display(),
            sig.display()
        ),
        &["tr0ub4dor and 4"],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("incorrect passphrase"), "{out}");
}

/// CLI: `keygen --passphrase-file`, then `pack --passphrase-file`; without the file and
/// without a terminal, pack fails clearly and writes nothing.
#[test]
fn a_protected_key_packs_with_its_passphrase_file_and_fails_clearly_without() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("site");
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "horse battery staple\n").unwrap();
    ok(ferry()
        .arg("keygen")
        .arg("--out")
        .arg(&prefix)
        .arg("--passphrase-file")
        .arg(&pass));
    assert!(keys::is_protected(&key(&prefix)).unwrap());
    assert_eq!(
        std::fs::metadata(key(&prefix))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(key(&prefix)).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.lines().nth(1).unwrap())
        .unwrap();
    assert_eq!(&raw[..4], b"EdBK");
    assert_eq!(&raw[4..8], &42u32.to_be_bytes(), "signify -G's work factor");

    let catalog = testdata().join("vectors/catalog.toml");
    let state = tmp.path().join("state");
    let pack = |out: &str| {
        let mut c = pack_cmd(&catalog, &prefix, &tmp.path().join(out));
        c.arg("--state").arg(&state);
        // No terminal: ferry cannot ask.
        c.stdin(std::process::Stdio::null());
        c
    };
    // Without the file and without a terminal (setsid: no controlling terminal).
    let mut no_tty = Command::new("setsid");
    let c = pack("out1");
    no_tty.arg(c.get_program()).args(c.get_args());
    no_tty.env_remove("SOURCE_DATE_EPOCH");
    let (code, _, err) = run(&mut no_tty);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "{} is protected by a passphrase, and there is no terminal",
            key(&prefix).display()
        )),
        "{err}"
    );
    assert!(
        err.contains("--passphrase-file"),
        "the CLI names the flag: {err}"
    );
    assert!(volumes(&tmp.path().join("out1")).is_empty());

    // A wrong passphrase names the key; nothing is written.
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "horse battery stapler\n").unwrap();
    let (code, _, err) = run(pack("out2").arg("--passphrase-file").arg(&wrong));
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("wrong passphrase for {}", key(&prefix).display())),
        "{err}"
    );
    assert!(volumes(&tmp.path().join("out2")).is_empty());

    // The right one packs, and the volumes verify with the public key (ferry and signify).
    ok(pack("out3").arg("--passphrase-file").arg(&pass));
    let vols = volumes(&tmp.path().join("out3"));
    assert!(!vols.is_empty());
    let (code, report) = verify(&public(&prefix), &vols, false);
    assert_eq!(code, 0, "{report}");

    // An unprotected key ignores --passphrase-file (even one that does not exist).
    let plain = keygen(tmp.path(), "plain");
    ok(pack_cmd(&catalog, &plain, &tmp.path().join("out4"))
        .arg("--state")
        .arg(tmp.path().join("state4"))
        .arg("--passphrase-file")
        .arg(tmp.path().join("no-such-file")));
}

/// CLI: a key that signify protected with a passphrase signs ferry bundles.
#[test]
fn a_key_that_signify_protected_packs() {
    let tmp = tempfile::tempdir().unwrap();
    let vector = testdata().join("keys/signify-protected");
    let prefix = tmp.path().join("protected");
    std::fs::copy(vector.join("protected.sec"), key(&prefix)).unwrap();
    std::fs::set_permissions(key(&prefix), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::copy(vector.join("protected.pub"), public(&prefix)).unwrap();
    let out = tmp.path().join("out");
    ok(
        pack_cmd(&testdata().join("vectors/catalog.toml"), &prefix, &out)
            .arg("--state")
            .arg(tmp.path().join("state"))
            .arg("--passphrase-file")
            .arg(vector.join("passphrase")),
    );
    let (code, report) = verify(&public(&prefix), &volumes(&out), false);
    assert_eq!(code, 0, "{report}");
}

/// A site: a catalog of one repository (`repo/`, from `testdata/library/rotation/`),
/// keys and export states under one directory, and a store.
struct Site {
    tmp: tempfile::TempDir,
    catalog: PathBuf,
}

impl Site {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
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
        let s = Site { tmp, catalog };
        s.content("v1");
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// The repository becomes `testdata/library/rotation/VERSION`.
    fn content(&self, version: &str) {
        let repo = self.path("repo");
        let _ = std::fs::remove_dir_all(&repo);
        copy_dir(&testdata().join("library/rotation").join(version), &repo);
    }

    /// Pack with the library: key file, state directory, incremental or full.
    fn pack(
        &self,
        key_file: &Path,
        state: &Path,
        out: &str,
        incremental: bool,
    ) -> Result<Vec<PathBuf>, ferry::pack::PackError> {
        let cat = ferry::catalog::load(&self.catalog).unwrap();
        let sk = keys::load_secret_with(key_file, &Passphrase::Prompt).unwrap();
        let mut opts = ferry::pack::PackOptions::new(
            self.path(out),
            "2026-12-05T08:00:00Z".into(),
            state.to_path_buf(),
        );
        if incremental {
            opts.since = Some(ferry::pack::Since::Newest);
        }
        ferry::pack::pack(&cat, &sk, &opts, &ferry::progress::Silent)?;
        Ok(volumes(&self.path(out)))
    }

    /// Import with the library into `store` (created if needed).
    fn import(
        &self,
        store: &Path,
        vols: &[PathBuf],
        keep_old_key: bool,
    ) -> Result<ferry::import::ImportSummary, ferry::import::ImportError> {
        let opts = ferry::import::ImportOptions {
            store: store.to_path_buf(),
            init: true,
            volumes: vols.to_vec(),
            trust: Vec::new(),
            wait: true,
            allow_rollback: false,
            promote: None,
            keep_old_key,
        };
        match ferry::import::import(&opts, &ferry::progress::Silent)? {
            ferry::import::Outcome::Imported(s) => Ok(s),
            other => panic!("not imported: {other:?}"),
        }
    }
}

fn trust_add(store: &Path, pub_file: &Path) {
    ok(ferry()
        .args(["trust", "add", "--store"])
        .arg(store)
        .arg(pub_file));
}

/// The key ids a store trusts, sorted.
fn trusted(store: &Path) -> Vec<String> {
    let s = ferry::store::Store::open(store, ferry::store::Access::Read, &|_| {}).unwrap();
    let mut ids: Vec<String> =
        s.db.trusted_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.key_id)
            .collect();
    ids.sort();
    ids
}

fn history(store: &Path, event: &str) -> Vec<String> {
    let s = ferry::store::Store::open(store, ferry::store::Access::Read, &|_| {}).unwrap();
    ferry::store::history::list(&s.db, None)
        .unwrap()
        .into_iter()
        .filter(|e| e.event == event)
        .map(|e| e.detail)
        .collect()
}

fn manifest_of(vol: &Path) -> Manifest {
    Manifest::parse(&std::fs::read(vol.join("manifest.toml")).unwrap()).unwrap()
}

fn rotate_opts(old: &Path, new_prefix: &Path) -> RotateOptions {
    RotateOptions {
        old_key: old.to_path_buf(),
        old_passphrase: Passphrase::Prompt,
        new_prefix: new_prefix.to_path_buf(),
        new_passphrase: None,
        state: None,
        force: false,
        created: "2026-12-05T08:30:00Z".into(),
    }
}

/// The whole rotation through the library: the new key continues the old one's stream
/// (incremental, next sequence), a site that trusts the old key imports it and from then
/// on trusts only the new one, the history says so, and the old key is refused after.
#[test]
fn a_rotated_key_continues_the_stream_and_the_site_follows() {
    let site = Site::new();
    let old = site.path("old");
    keys::generate(&old, false).unwrap();
    let old_state = ferry::pack::state::default_dir(&key(&old));
    let b1 = site.pack(&key(&old), &old_state, "trip1", false).unwrap();
    // What an attacker holding the old key (or a forgotten copy of its state) could do
    // after the rotation: keep packing the old stream.
    copy_dir(&old_state, &site.path("stolen.state"));

    let store = site.path("store");
    let store2 = site.path("store2");
    for s in [&store, &store2] {
        trust_add(s, &public(&old));
        site.import(s, &b1, false).unwrap();
    }

    let new = site.path("new");
    let r = keys::rotate(&rotate_opts(&key(&old), &new)).unwrap();
    assert_eq!(r.streams, vec![("acme".to_string(), 2)]);
    let new_state = ferry::pack::state::default_dir(&key(&new));
    assert_eq!(r.state, new_state);

    // The old key no longer packs from the state (through the link left at its place).
    site.content("v2");
    let e = site
        .pack(&key(&old), &old_state, "refused", true)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("was rotated to key {}", r.new.id)),
        "{e}"
    );
    assert!(volumes(&site.path("refused")).is_empty());

    // The new key continues: incremental on the old key's bundle, sequence 2, and the
    // manifest carries the statement (format 3).
    let b2 = site.pack(&key(&new), &new_state, "trip2", true).unwrap();
    let m2 = manifest_of(&b2[0]);
    assert_eq!((m2.sequence, m2.signer), (2, r.new.id));
    assert_eq!(m2.base.as_ref().unwrap().sequence, 1);
    assert_eq!(m2.rotations.len(), 1);
    assert_eq!((m2.rotations[0].old, m2.rotations[0].since), (r.old.id, 2));
    m2.rotations[0].verify("acme", &r.old).unwrap();
    assert!(
        std::fs::read_to_string(b2[0].join("manifest.toml"))
            .unwrap()
            .starts_with("format = \"ferry-bundle/3\"\n")
    );
    // Checkable with the new public key alone (signify too).
    let (code, report) = verify(&public(&new), &b2, true);
    assert_eq!(code, 0, "{report}");

    // The site that trusts only the old key imports it, then trusts the new key only.
    let s = site.import(&store, &b2, false).unwrap();
    assert_eq!(s.sequence, 2);
    assert_eq!(s.key_rotations.len(), 1, "{s:?}");
    assert_eq!(trusted(&store), vec![r.new.id.to_string()]);
    let events = history(&store, "key-rotation");
    assert_eq!(events.len(), 1);
    assert!(
        events[0].contains(&format!("key {} rotated to key {}", r.old.id, r.new.id)),
        "{events:?}"
    );
    assert!(events[0].contains("no longer"), "{events:?}");

    // --keep-old-key keeps both.
    site.import(&store2, &b2, true).unwrap();
    let mut both = vec![r.old.id.to_string(), r.new.id.to_string()];
    both.sort();
    assert_eq!(trusted(&store2), both);

    // The old key's stream after the rotation is refused, saying why, at both sites.
    let b_old = site
        .pack(&key(&old), &site.path("stolen.state"), "stolen", true)
        .unwrap();
    assert_eq!(manifest_of(&b_old[0]).sequence, 2);
    for s in [&store, &store2] {
        let e = site.import(s, &b_old, false).unwrap_err();
        assert!(
            matches!(e, ferry::import::ImportError::KeyRotated(_)),
            "{e:?}"
        );
        let m = e.to_string();
        assert!(
            m.contains(&format!(
                "is signed by key {}, which was rotated to key {} on 2026-12-05T08:30:00Z by bundle {}",
                r.old.id,
                r.new.id,
                &ferry::format::Sha256Digest::of(&std::fs::read(b2[0].join("manifest.toml")).unwrap()).to_hex()[..16]
            )),
            "{m}"
        );
    }

    // The stream goes on with the new key: the next bundle still carries the statement
    // (for sites that missed the first), and imports without a second rotation.
    site.content("v3");
    let b3 = site.pack(&key(&new), &new_state, "trip3", true).unwrap();
    let m3 = manifest_of(&b3[0]);
    assert_eq!((m3.sequence, m3.rotations.len()), (3, 1));
    site.import(&store, &b3, false).unwrap();
    assert_eq!(history(&store, "key-rotation").len(), 1);

    // A site that trusts the old key and skipped the rotation's bundle follows from the
    // full bundle of the new key.
    let store3 = site.path("store3");
    trust_add(&store3, &public(&old));
    let full = site.pack(&key(&new), &new_state, "full", false).unwrap();
    let mf = manifest_of(&full[0]);
    assert_eq!(
        (mf.sequence, mf.rotations.len(), mf.base.is_none()),
        (4, 1, true)
    );
    site.import(&store3, &full, false).unwrap();
    assert_eq!(trusted(&store3), vec![r.new.id.to_string()]);

    // A site that trusts neither key refuses the new key's bundles as untrusted.
    let store4 = site.path("store4");
    let stranger = site.path("stranger");
    keys::generate(&stranger, false).unwrap();
    trust_add(&store4, &public(&stranger));
    let e = site.import(&store4, &full, false).unwrap_err();
    assert!(e.to_string().contains("which is not trusted"), "{e}");
}

/// Around a rotation: a trip made before it is written again with the key that signed it
/// (the new key is told so), and a site that missed it takes the copy, then the rotation;
/// `bundles forget` goes back to the rotation's first sequence and no further, and the
/// bundle made again for that sequence carries the statement again.
#[test]
fn trips_around_a_rotation_are_made_again_and_forgotten_as_far_as_the_statement_allows() {
    let site = Site::new();
    let old = site.path("old");
    keys::generate(&old, false).unwrap();
    let old_state = ferry::pack::state::default_dir(&key(&old));
    let b1 = site.pack(&key(&old), &old_state, "trip1", false).unwrap();
    site.content("v2");
    let b2 = site.pack(&key(&old), &old_state, "trip2", true).unwrap();
    let new = site.path("new");
    let r = keys::rotate(&rotate_opts(&key(&old), &new)).unwrap();
    let new_state = ferry::pack::state::default_dir(&key(&new));
    site.content("v3");
    let b3 = site.pack(&key(&new), &new_state, "trip3", true).unwrap();
    assert_eq!(manifest_of(&b3[0]).sequence, 3);

    // Trip 2 again (from its sources): the new key did not sign it and says whose it is.
    site.content("v2");
    let again = |k: &Path, out: &str| {
        run(ferry()
            .args(["pack", "--again", "2", "--catalog"])
            .arg(&site.catalog)
            .arg("--key")
            .arg(key(k))
            .arg("--state")
            .arg(&new_state)
            .arg("--out")
            .arg(site.path(out)))
    };
    let (code, _, err) = again(&new, "again-new");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "was signed by key {}, not by this key {}",
            r.old.id, r.new.id
        )),
        "{err}"
    );
    assert!(volumes(&site.path("again-new")).is_empty());
    // With the old key it is written again, signed by the old key.
    let (code, _, err) = again(&old, "again-old");
    assert_eq!(code, 0, "{err}");
    let copy = volumes(&site.path("again-old"));
    let mc = manifest_of(&copy[0]);
    assert_eq!((mc.sequence, mc.signer), (2, r.old.id));
    assert_eq!(mc.logical_id(), manifest_of(&b2[0]).logical_id());
    // A site that trusts the old key and lost trip 2 takes the copy, then the rotation.
    let store = site.path("store");
    trust_add(&store, &public(&old));
    site.import(&store, &b1, false).unwrap();
    site.import(&store, &copy, false).unwrap();
    site.import(&store, &b3, false).unwrap();
    assert_eq!(trusted(&store), vec![r.new.id.to_string()]);

    // Forgetting below the rotation's first sequence is refused, naming it; nothing goes.
    let forget = |seq: &str| {
        run(ferry()
            .args(["bundles", "forget", "--key"])
            .arg(key(&new))
            .arg(seq))
    };
    let (code, _, err) = forget("2");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "sequence 2 of acme was made before key {} was rotated to key {}, which signs from sequence 3 on",
            r.old.id, r.new.id
        )) && err.contains("nothing was forgotten"),
        "{err}"
    );
    let st = ferry::pack::state::ExportState::open_read_only(&new_state).unwrap();
    assert_eq!(st.list(Some("acme")).unwrap().len(), 3);
    drop(st);
    // Forgetting the rotation's own trip is allowed: made again, it carries the statement.
    let (code, _, err) = forget("3");
    assert_eq!(code, 0, "{err}");
    site.content("v3");
    let b3b = site.pack(&key(&new), &new_state, "trip3b", true).unwrap();
    let m = manifest_of(&b3b[0]);
    assert_eq!((m.sequence, m.rotations.len()), (3, 1));
    let store2 = site.path("store2");
    trust_add(&store2, &public(&old));
    site.import(&store2, &b1, false).unwrap();
    site.import(&store2, &b2, false).unwrap();
    site.import(&store2, &b3b, false).unwrap();
    assert_eq!(trusted(&store2), vec![r.new.id.to_string()]);
}

/// A statement that the old key did not sign (a key of the attacker's, given the old
/// key's number) gives the attacker's key no trust.
#[test]
fn a_forged_rotation_statement_is_refused() {
    let site = Site::new();
    let old = site.path("old");
    keys::generate(&old, false).unwrap();
    let old_state = ferry::pack::state::default_dir(&key(&old));
    let b1 = site.pack(&key(&old), &old_state, "trip1", false).unwrap();
    let store = site.path("store");
    trust_add(&store, &public(&old));
    site.import(&store, &b1, false).unwrap();
    let old_pk = keys::load_public(&public(&old)).unwrap();

    // The attacker: a key of its own, and one that claims the old key's number.
    let attacker = site.path("attacker");
    let evil = keys::generate_with(&attacker, false, None).unwrap();
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).unwrap();
    let impostor = ferry::format::signify::SecretKey::from_seed(seed, old_pk.id);
    let statement = ferry::format::manifest::Rotation::sign(
        &impostor,
        "acme",
        &evil.public(),
        2,
        "2026-12-05T08:30:00Z",
    );
    let state = site.path("attacker.state");
    copy_dir(&old_state, &state);
    ferry::pack::rotation::save(
        &state,
        &[ferry::pack::rotation::StateRotation {
            organization: "acme".into(),
            old_key: impostor.public(),
            statement,
        }],
    )
    .unwrap();
    site.content("v2");
    let b2 = site.pack(&key(&attacker), &state, "trip2", true).unwrap();
    assert_eq!(manifest_of(&b2[0]).rotations.len(), 1);
    let e = site.import(&store, &b2, false).unwrap_err();
    assert!(
        matches!(e, ferry::import::ImportError::Refused { .. }),
        "{e:?}"
    );
    assert_eq!(trusted(&store), vec![old_pk.id.to_string()]);
    assert!(history(&store, "key-rotation").is_empty());
}

/// CLI: `keygen --rotate-from`, then pack and import as an operator would, with
/// `--keep-old-key` at one site.
#[test]
fn keygen_rotate_from_then_pack_and_import() {
    let site = Site::new();
    let pass = site.path("pass");
    std::fs::write(&pass, "old and new\n").unwrap();
    let old = site.path("old");
    ok(ferry()
        .arg("keygen")
        .arg("--out")
        .arg(&old)
        .arg("--passphrase-file")
        .arg(&pass));
    let pack = |k: &Path, out: &str, extra: &[&str]| {
        ok(ferry()
            .arg("pack")
            .arg("--catalog")
            .arg(&site.catalog)
            .arg("--key")
            .arg(key(k))
            .arg("--passphrase-file")
            .arg(&pass)
            .arg("--out")
            .arg(site.path(out))
            .args(extra));
        volumes(&site.path(out))
    };
    let b1 = pack(&old, "trip1", &[]);
    let (store, store2) = (site.path("store"), site.path("store2"));
    for s in [&store, &store2] {
        trust_add(s, &public(&old));
        must_import_trusted(s, &b1, &[]);
    }

    // Rotating needs the old key's passphrase; the new key gets the same file's.
    let new = site.path("new");
    let out = ok(ferry()
        .arg("keygen")
        .arg("--out")
        .arg(&new)
        .arg("--rotate-from")
        .arg(key(&old))
        .arg("--passphrase-file")
        .arg(&pass));
    let new_pk = keys::load_public(&public(&new)).unwrap();
    let old_pk = keys::load_public(&public(&old)).unwrap();
    assert!(out.contains(&new_pk.id.to_string()), "{out}");
    assert!(keys::is_protected(&key(&new)).unwrap());
    assert!(site.path("new.state").join("rotations.toml").is_file());
    assert!(
        std::fs::symlink_metadata(site.path("old.state"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // The old key is refused by the state; the new one continues it.
    site.content("v2");
    let (code, _, err) = run(ferry()
        .arg("pack")
        .arg("--catalog")
        .arg(&site.catalog)
        .arg("--key")
        .arg(key(&old))
        .arg("--passphrase-file")
        .arg(&pass)
        .arg("--incremental")
        .arg("--out")
        .arg(site.path("refused")));
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("was rotated to key {}", new_pk.id)),
        "{err}"
    );
    let b2 = pack(&new, "trip2", &["--incremental"]);
    assert_eq!(manifest_of(&b2[0]).sequence, 2);

    must_import_trusted(&store, &b2, &[]);
    assert_eq!(trusted(&store), vec![new_pk.id.to_string()]);
    must_import_trusted(&store2, &b2, &["--keep-old-key"]);
    let mut both = vec![old_pk.id.to_string(), new_pk.id.to_string()];
    both.sort();
    assert_eq!(trusted(&store2), both);
}

/// `ferry import --store S VOLS... EXTRA`, with the keys the store trusts; must succeed.
fn must_import_trusted(store: &Path, vols: &[PathBuf], extra: &[&str]) -> String {
    ok(ferry()
        .args(["import", "--store"])
        .arg(store)
        .args(extra)
        .args(vols))
}
