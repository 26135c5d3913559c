//! The site's lifecycle: environments hold the content-view versions promoted to them,
//! versions never change, retired content leaves the Library but stays where an environment
//! holds it, and every change is in the history.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::common::*;

/// A connected side (key, export state, a copy of testdata to write catalogs into) and a
/// store on the disconnected side.
struct Site {
    tmp: tempfile::TempDir,
    key: PathBuf,
    src: PathBuf,
    store: PathBuf,
    trips: usize,
}

const PRODUCT: &str = "organization = \"acme\"\n\n\
[[product]]\nlabel = \"acme-os\"\nname = \"ACME OS 9\"\ngpg_key = \"library/RPM-GPG-KEY-ferry-test\"\n\n\
[[product.repository]]\nlabel = \"baseos\"\nname = \"BaseOS\"\npath = \"library/repos/baseos\"\n";

const LEGACY: &str = "\n[[product]]\nlabel = \"legacy\"\nname = \"Legacy Tools\"\ngpg_key = \"library/RPM-GPG-KEY-ferry-test\"\n\n\
[[product.repository]]\nlabel = \"tools\"\nname = \"Legacy tools\"\npath = \"library/repos/legacy\"\n";

/// Version 1.0 of view `web`: the older BaseOS snapshot (ferry-tools 1.9), and the legacy tools.
const WEB_1: &str = "\n[[content_view]]\nlabel = \"web\"\nname = \"Web servers\"\nversion = \"1.0\"\n\
repositories = [\"acme-os/baseos\", \"legacy/tools\"]\n\
snapshots = { \"acme-os/baseos\" = \"library/cv/web/1.0/baseos\" }\n";

/// Version 2.0: the Library's BaseOS (ferry-tools 2.0).
const WEB_2: &str = "\n[[content_view]]\nlabel = \"web\"\nname = \"Web servers\"\nversion = \"2.0\"\n\
repositories = [\"acme-os/baseos\"]\n";

impl Site {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let key = keygen(tmp.path(), "site");
        let src = tmp.path().join("src");
        testdata_copy(&src);
        let store = tmp.path().join("store");
        Site {
            tmp,
            key,
            src,
            store,
            trips: 0,
        }
    }

    /// Pack a catalog made of `parts` (incremental after the first trip); the volumes.
    fn pack(&mut self, parts: &[&str]) -> Vec<PathBuf> {
        self.trips += 1;
        let catalog = self.src.join(format!("catalog-{}.toml", self.trips));
        std::fs::write(&catalog, parts.concat()).unwrap();
        let out = self.tmp.path().join(format!("trip-{}", self.trips));
        let extra: &[&str] = if self.trips == 1 {
            &[]
        } else {
            &["--incremental"]
        };
        pack_with(&catalog, &self.key, &out, extra)
    }

    /// Pack and import; the import's JSON summary.
    fn trip(&mut self, parts: &[&str]) -> Value {
        let vols = self.pack(parts);
        let out = ok(ferry()
            .args(["import", "--init"])
            .arg("--json")
            .arg("--store")
            .arg(&self.store)
            .arg("--trust")
            .arg(public(&self.key))
            .args(&vols));
        serde_json::from_str(&out).unwrap()
    }

    fn ferry(&self, args: &[&str]) -> String {
        ok(ferry().args(args).arg("--store").arg(&self.store))
    }

    fn published(&self, rel: &str) -> PathBuf {
        self.store.join("published").join(rel)
    }

    /// dnf with one repository: the published tree at `rel`, packages checked with the key
    /// published in it.
    fn dnf(&self, rel: &str) -> Dnf {
        let tree = std::fs::canonicalize(self.store.join("published"))
            .unwrap()
            .join(rel);
        Dnf::new(&format!(
            "[t]\nname=t\nbaseurl=file://{}\ngpgcheck=1\ngpgkey=file://{}/RPM-GPG-KEY-ferry-test\n",
            tree.display(),
            tree.display()
        ))
    }
}

/// Every file repomd.xml names exists in the tree with the checksum it gives.
pub fn tree_is_complete(tree: &Path) -> Result<(), String> {
    use ferry::yum::checksum::{ChecksumKind, Hasher};
    let repomd = std::fs::read_to_string(tree.join("repodata/repomd.xml"))
        .map_err(|e| format!("{}: {e}", tree.display()))?;
    let data = repomd_data(&repomd);
    if data.is_empty() {
        return Err("repomd.xml names no file".into());
    }
    for (kind, sum, href) in data {
        let bytes = std::fs::read(tree.join(&href)).map_err(|e| format!("{href}: {e}"))?;
        let mut h = Hasher::new(ChecksumKind::from_repo_type(&kind).map_err(|e| e.to_string())?);
        h.update(&bytes);
        let got = h.finish().hex;
        if got != sum {
            return Err(format!("{href}: {kind} {got}, repomd.xml says {sum}"));
        }
    }
    Ok(())
}

/// `(checksum type, checksum, href)` of each `<data>` of a repomd.xml.
fn repomd_data(repomd: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for data in repomd.split("<data ").skip(1) {
        let sum = data.split("<checksum type=\"").nth(1).and_then(|s| {
            let (kind, rest) = s.split_once("\">")?;
            Some((kind.to_string(), rest.split('<').next()?.to_string()))
        });
        let href = data
            .split("<location href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next());
        if let (Some((k, s)), Some(h)) = (sum, href) {
            out.push((k, s, h.to_string()));
        }
    }
    out
}

fn link(p: &Path) -> PathBuf {
    std::fs::read_link(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn installed_tools(d: &Dnf) -> String {
    let (code, o, e) = d.run(&["install", "ferry-tools"]);
    assert_eq!(code, 0, "{o}\n{e}");
    d.installed()
        .into_iter()
        .find(|p| p.starts_with("ferry-tools-"))
        .expect("ferry-tools installed")
}

#[test]
fn environments_hold_what_was_promoted_and_dnf_installs_it() {
    let mut s = Site::new();
    s.trip(&[PRODUCT, LEGACY, WEB_1]);
    let second = s.trip(&[PRODUCT, LEGACY, WEB_1, WEB_2]);
    assert_eq!(second["result"], "imported");
    s.ferry(&["env", "create", "Prod"]);
    let out = s.ferry(&["env", "create", "Dev", "--after", "Library"]);
    assert!(out.contains("Library → Dev → Prod"), "{out}");

    // Promotion follows the path: Prod before Dev is refused.
    let (code, _, err) = run(ferry()
        .args(["promote", "--to", "Prod", "web", "1.0", "--store"])
        .arg(&s.store));
    assert_eq!(code, 1);
    assert!(err.contains("has not reached Dev"), "{err}");
    assert!(!s.published("acme/env/Prod").exists());

    s.ferry(&["promote", "--to", "Dev", "web", "1.0"]);
    s.ferry(&["promote", "--to", "Prod", "web", "1.0"]);
    s.ferry(&["promote", "--to", "dev", "web", "2.0"]);

    // Library publishes the newest version; Dev 2.0; Prod 1.0.
    let dev = "acme/env/Dev/web/acme-os/baseos";
    let prod = "acme/env/Prod/web/acme-os/baseos";
    assert_eq!(
        link(&s.published(dev)).file_name(),
        link(&s.published("acme/views/web/acme-os/baseos")).file_name()
    );
    assert_ne!(link(&s.published(dev)), link(&s.published(prod)));
    assert!(s.published("acme/env/Prod/web/legacy/tools").exists());
    assert!(
        !s.published("acme/env/Dev/web/legacy/tools").exists(),
        "2.0 has no legacy tools"
    );
    assert_eq!(installed_tools(&s.dnf(dev)), "ferry-tools-2.0-1.noarch");
    assert_eq!(installed_tools(&s.dnf(prod)), "ferry-tools-1.9-1.noarch");

    // Prod forward and back, under a reader that resolves the tree all the while: it always
    // finds a complete tree, the old or the new.
    let stop = Arc::new(AtomicBool::new(false));
    let tree = s.published(prod);
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) || reads < 20 {
                let target = std::fs::read_link(&tree).expect("the link is never missing");
                let resolved = tree.parent().unwrap().join(&target);
                tree_is_complete(&resolved).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
                seen.insert(target);
                reads += 1;
            }
            (seen, reads)
        })
    };
    for v in ["2.0", "1.0", "2.0", "1.0"] {
        let out = s.ferry(&["promote", "--to", "Prod", "web", v]);
        assert!(out.contains(&format!("version {v} to Prod")), "{out}");
    }
    stop.store(true, Ordering::Relaxed);
    let (seen, reads) = reader.join().expect("the reader saw only complete trees");
    assert!(reads >= 20);
    assert!(!seen.is_empty());
    assert_eq!(installed_tools(&s.dnf(prod)), "ferry-tools-1.9-1.noarch");

    // An import changes only the Library.
    let before: Vec<PathBuf> = [dev, prod].iter().map(|p| link(&s.published(p))).collect();
    s.trip(&[PRODUCT, LEGACY, WEB_1, WEB_2]);
    let after: Vec<PathBuf> = [dev, prod].iter().map(|p| link(&s.published(p))).collect();
    assert_eq!(before, after);

    // The history has each promotion, the back-outs marked, with who did it.
    let h: Value = serde_json::from_str(&s.ferry(&["history", "--json"])).unwrap();
    assert_eq!(h["schema"], "ferry.history/1");
    let events = h["events"].as_array().unwrap();
    let promotions: Vec<&Value> = events.iter().filter(|e| e["event"] == "promote").collect();
    assert_eq!(promotions.len(), 7, "{h:#}");
    assert_eq!(
        promotions
            .iter()
            .filter(|e| e["detail"].as_str().unwrap().contains("back-out"))
            .count(),
        2
    );
    let me = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(events.iter().all(|e| e["actor"] == me.trim()), "{h:#}");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "environment-create")
            .count(),
        2
    );
    assert_eq!(events.iter().filter(|e| e["event"] == "import").count(), 3);

    // status shows which version each environment holds.
    let st = status_json(&s.store);
    let envs = st["environments"].as_array().unwrap();
    let held = |name: &str| -> Vec<String> {
        envs.iter().find(|e| e["name"] == name).unwrap()["views"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                format!(
                    "{} {}",
                    v["view"].as_str().unwrap(),
                    v["version"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(held("Library"), ["web 2.0"]);
    assert_eq!(held("Dev"), ["web 2.0"]);
    assert_eq!(held("Prod"), ["web 1.0"]);

    // An environment in use is not removed by accident.
    let (code, _, err) = run(ferry()
        .args(["env", "remove", "Dev", "--store"])
        .arg(&s.store));
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    s.ferry(&["env", "remove", "Dev", "--force"]);
    assert!(!s.published("acme/env/Dev").exists());
    assert!(s.published(prod).exists());
}

fn status_json(store: &Path) -> Value {
    serde_json::from_str(&ok(ferry()
        .arg("status")
        .arg("--json")
        .arg("--store")
        .arg(store)))
    .unwrap()
}

#[test]
fn a_version_shipped_again_with_other_content_is_refused_and_changes_nothing() {
    let mut s = Site::new();
    s.trip(&[PRODUCT, LEGACY, WEB_1]);
    let other_1 = WEB_1.replace(
        "snapshots = { \"acme-os/baseos\" = \"library/cv/web/1.0/baseos\" }\n",
        "",
    );

    // The packer knows what it shipped under 1.0.
    let catalog = s.src.join("changed.toml");
    std::fs::write(&catalog, [PRODUCT, LEGACY, other_1.as_str()].concat()).unwrap();
    let (code, _, err) =
        run(pack_cmd(&catalog, &s.key, &s.tmp.path().join("refused")).arg("--incremental"));
    assert_eq!(code, 1);
    assert!(
        err.contains("content view web version 1.0 was shipped with other content")
            && err.contains("repository acme-os/baseos differs"),
        "{err}"
    );
    assert!(volumes_or_none(&s.tmp.path().join("refused")).is_empty());

    // A packer that does not know (another state directory) makes it; the site refuses it.
    let first = s.tmp.path().join("trip-1/vol-01");
    let vols = pack_with(
        &catalog,
        &s.key,
        &s.tmp.path().join("other"),
        &[
            "--state",
            s.tmp.path().join("other.state").to_str().unwrap(),
            "--since",
            first.to_str().unwrap(),
        ],
    );
    let before = published_bytes(&s.store);
    let history = s.ferry(&["history"]);
    let (code, _, err) = import(&s.store, Some(&public(&s.key)), &vols);
    assert_eq!(code, 1);
    assert!(
        err.contains("carries content view web version 1.0 with other content")
            && err.contains("repository acme-os/baseos differs"),
        "{err}"
    );
    assert_eq!(published_bytes(&s.store), before);
    assert_eq!(s.ferry(&["history"]), history);
}

fn volumes_or_none(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("SHA256.sig").exists())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_retired_repository_leaves_the_library_but_not_the_environment_that_holds_it() {
    let mut s = Site::new();
    s.trip(&[PRODUCT, LEGACY, WEB_1]);
    s.ferry(&["env", "create", "Prod"]);
    s.ferry(&["promote", "--to", "Prod", "web", "1.0"]);
    let held = s.published("acme/env/Prod/web/legacy/tools");
    assert!(tree_is_complete(&held).is_ok());

    // The catalog drops the legacy product (and the view version that used it).
    let third = s.trip(&[PRODUCT, WEB_2]);
    let manifest =
        std::fs::read_to_string(s.tmp.path().join("trip-2/vol-01/manifest.toml")).unwrap();
    assert!(
        manifest.starts_with("format = \"ferry-bundle/2\"\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains(
            "\n[[retired]]\nkind = \"repository\"\nlabel = \"legacy/tools\"\nsince = 2\n"
        ),
        "{manifest}"
    );
    let retired = third["retired"].as_array().unwrap();
    assert_eq!(retired.len(), 1, "{third:#}");
    assert!(
        retired[0].as_str().unwrap().contains("acme/legacy/tools"),
        "{third:#}"
    );
    assert!(!s.published("acme/library/legacy").exists());
    assert!(!s.published("acme/views/web/legacy").exists());
    assert!(s.published("acme/library/acme-os/baseos").exists());
    // Prod still holds 1.0 whole, and dnf installs from it.
    tree_is_complete(&held).unwrap();
    let (code, o, e) = s
        .dnf("acme/env/Prod/web/legacy/tools")
        .run(&["install", "ferry-compat"]);
    assert_eq!(code, 0, "{o}\n{e}");

    // The next bundle says it again (a site that skipped one still learns it); the store
    // records the retirement once.
    let fourth = s.trip(&[PRODUCT, WEB_2]);
    assert!(
        fourth["retired"].as_array().unwrap().is_empty(),
        "{fourth:#}"
    );
    let manifest =
        std::fs::read_to_string(s.tmp.path().join("trip-3/vol-01/manifest.toml")).unwrap();
    assert!(
        manifest.contains("label = \"legacy/tools\"\nsince = 2\n"),
        "{manifest}"
    );
    let h: Value = serde_json::from_str(&s.ferry(&["history", "--json"])).unwrap();
    assert_eq!(
        h["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "retire")
            .count(),
        1,
        "{h:#}"
    );

    // Prune keeps what Prod links to: the retired repository's files stay, whole (web 1.0
    // is held, so nothing of it is even a candidate).
    let pruned: Value =
        serde_json::from_str(&s.ferry(&["prune", "--keep", "1", "--json"])).unwrap();
    assert!(
        !pruned.to_string().contains("\"1.0\""),
        "a held version was pruned: {pruned:#}"
    );
    tree_is_complete(&held).unwrap();
    let (code, o, e) = s
        .dnf("acme/env/Prod/web/legacy/tools")
        .run(&["install", "ferry-compat"]);
    assert_eq!(code, 0, "after prune {pruned:#}:\n{o}\n{e}");

    // Shipped again, it is back in the Library.
    s.trip(&[PRODUCT, LEGACY, WEB_2]);
    assert!(tree_is_complete(&s.published("acme/library/legacy/tools")).is_ok());
    let h = s.ferry(&["history"]);
    assert!(h.contains("reinstate"), "{h}");
}
