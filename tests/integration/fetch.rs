//! Repositories given by URL: `pack` fetches them (over HTTPS, with a client certificate
//! when the server wants one), checks every file against its metadata as it arrives, keeps
//! a cache so that the next pack fetches only what changed, retries what a server fails
//! and refuses what it damages, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// `testdata/source-server.py` serving a directory; killed when dropped.
pub struct Source {
    child: Child,
    pub port: u16,
    log: PathBuf,
    faults: PathBuf,
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Source {
    pub fn start(root: &Path, work: &Path, extra: &[&std::ffi::OsStr]) -> Source {
        require("python3");
        let log = work.join(format!("requests-{}.log", std::process::id()));
        let faults = work.join("faults.json");
        let mut child = Command::new("python3")
            .arg(testdata().join("source-server.py"))
            .arg("--root")
            .arg(root)
            .arg("--log")
            .arg(&log)
            .arg("--faults")
            .arg(&faults)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 testdata/source-server.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the source server said {line:?}"));
        Source {
            child,
            port,
            log,
            faults,
        }
    }

    /// Requests so far: (path, status, bytes sent).
    pub fn requests(&self) -> Vec<(String, u16, u64)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                Some((f[1].to_string(), f[2].parse().ok()?, f[3].parse().ok()?))
            })
            .collect()
    }

    fn forget_requests(&self) {
        let _ = std::fs::remove_file(&self.log);
    }

    fn set_faults(&self, faults: serde_json::Value) {
        let tmp = self.faults.with_extension("tmp");
        std::fs::write(&tmp, faults.to_string()).unwrap();
        std::fs::rename(tmp, &self.faults).unwrap();
    }
}

/// The server's arguments for TLS with a client certificate required.
fn tls_args<'a>(ca: &'a Path, cert: &'a Path, key: &'a Path) -> [&'a std::ffi::OsStr; 6] {
    [
        "--cert".as_ref(),
        cert.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--client-ca".as_ref(),
        ca.as_os_str(),
    ]
}

/// The testdata catalog with every repository (and the view's snapshot) given as a URL
/// under `base`, each with `options` (TOML lines).
fn url_catalog(dir: &Path, base: &str, options: &str) -> PathBuf {
    let text = std::fs::read_to_string(testdata().join("catalog.toml")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("path = \"") {
            let p = p.trim_end_matches('"');
            out.push_str(&format!("url = \"{base}/{p}/\"\n{options}"));
        } else if line.starts_with("snapshots = ") {
            out.push_str(&line.replace("= \"library/", &format!("= \"{base}/library/")));
            out.push('\n');
        } else if let Some(k) = line.strip_prefix("gpg_key = \"") {
            let k = k.trim_end_matches('"');
            out.push_str(&format!("gpg_key = \"{}\"\n", testdata().join(k).display()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let f = dir.join("catalog-url.toml");
    std::fs::write(&f, out).unwrap();
    f
}

fn import_published(
    tmp: &Path,
    name: &str,
    key: &Path,
    vols: &[PathBuf],
) -> BTreeMap<String, Vec<u8>> {
    let store = tmp.join(name);
    must_import(&store, key, vols);
    published_bytes(&store)
}

#[test]
fn a_pack_from_https_urls_with_a_client_certificate_publishes_what_a_pack_from_disk_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(tmp.path());
    let (client_cert, client_key) = test_client_cert(tmp.path());
    let server = Source::start(&testdata(), tmp.path(), &tls_args(&ca, &cert, &key));
    let base = format!("https://127.0.0.1:{}", server.port);
    let tls = format!(
        "sslcacert = \"{}\"\nsslclientcert = \"{}\"\nsslclientkey = \"{}\"\n",
        ca.display(),
        client_cert.display(),
        client_key.display()
    );
    let catalog = url_catalog(tmp.path(), &base, &tls);
    let signer = keygen(tmp.path(), "site");
    let from_url = pack_with(
        &catalog,
        &signer,
        &tmp.path().join("url"),
        &["--cache", tmp.path().join("cache").to_str().unwrap()],
    );
    let from_disk = pack_with(
        &testdata().join("catalog.toml"),
        &signer,
        &tmp.path().join("disk"),
        &["--state", tmp.path().join("state-disk").to_str().unwrap()],
    );
    let a = import_published(tmp.path(), "store-url", &signer, &from_url);
    let b = import_published(tmp.path(), "store-disk", &signer, &from_disk);
    assert!(!a.is_empty());
    assert!(
        a == b,
        "the trees published from URLs differ from those packed from disk"
    );

    // Without the client certificate, the server refuses the handshake: pack says so,
    // naming the repository and the URL, and writes nothing.
    let no_cert = url_catalog(
        tmp.path(),
        &base,
        &format!("sslcacert = \"{}\"\n", ca.display()),
    );
    let (code, _, err) = run(pack_cmd(&no_cert, &signer, &tmp.path().join("nocert"))
        .args(["--cache", tmp.path().join("cache2").to_str().unwrap()]));
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "library/acme-os/baseos: {base}/library/repos/baseos/"
        )),
        "{err}"
    );
    assert!(err.contains("CertificateRequired"), "{err}");
    assert!(volumes(&tmp.path().join("nocert")).is_empty());
    // A client certificate from another CA: the server refuses it.
    let other = tmp.path().join("other-ca");
    std::fs::create_dir(&other).unwrap();
    test_ca(&other);
    let (stranger_cert, stranger_key) = test_client_cert(&other);
    let stranger = url_catalog(
        tmp.path(),
        &base,
        &format!(
            "sslcacert = \"{}\"\nsslclientcert = \"{}\"\nsslclientkey = \"{}\"\n",
            ca.display(),
            stranger_cert.display(),
            stranger_key.display()
        ),
    );
    let (code, _, err) = run(pack_cmd(&stranger, &signer, &tmp.path().join("stranger"))
        .args(["--cache", tmp.path().join("cache4").to_str().unwrap()]));
    assert_ne!(code, 0);
    assert!(
        err.contains("library/acme-os/baseos") && err.contains("TLS"),
        "{err}"
    );
    // Without the CA, the server's certificate is not trusted.
    let (code, _, err) = run(pack_cmd(
        &url_catalog(tmp.path(), &base, ""),
        &signer,
        &tmp.path().join("noca"),
    )
    .args(["--cache", tmp.path().join("cache3").to_str().unwrap()]));
    assert_ne!(code, 0);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // sslverify = false: the server's certificate is not checked (a test server's).
    let unverified = url_catalog(
        tmp.path(),
        &base,
        &format!(
            "sslverify = false\nsslclientcert = \"{}\"\nsslclientkey = \"{}\"\n",
            client_cert.display(),
            client_key.display()
        ),
    );
    ok(
        pack_cmd(&unverified, &signer, &tmp.path().join("unverified"))
            .args(["--cache", tmp.path().join("cache5").to_str().unwrap()]),
    );
}

/// A catalog of one repository, os/base, at `url`, with `options` (TOML lines).
fn one_repo_catalog(dir: &Path, url: &str, options: &str) -> PathBuf {
    let f = dir.join("catalog.toml");
    std::fs::write(
        &f,
        format!(
            "organization = \"acme\"\n[[product]]\nlabel = \"os\"\nname = \"OS\"\n\
             [[product.repository]]\nlabel = \"base\"\nname = \"Base\"\nurl = \"{url}\"\n{options}"
        ),
    )
    .unwrap();
    f
}

/// Rotation v1 served under `/repo` from `dir/www` (with `extra` server arguments): the
/// server, the served root and the repository's URL.
fn serve_rotation_v1(dir: &Path, extra: &[&std::ffi::OsStr]) -> (Source, PathBuf, String) {
    let root = dir.join("www");
    sync_tree(&testdata().join("library/rotation/v1"), &root.join("repo"));
    let server = Source::start(&root, dir, extra);
    let url = format!("http://127.0.0.1:{}/repo", server.port);
    (server, root, url)
}

/// `src` synced onto `dst`: files not in `src` removed, the rest copied.
fn sync_tree(src: &Path, dst: &Path) {
    let _ = std::fs::remove_dir_all(dst);
    copy_dir(src, dst);
}

#[test]
fn an_incremental_pack_from_a_url_fetches_only_what_changed_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("www");
    let repo = root.join("repo");
    let rotation = testdata().join("library/rotation");
    sync_tree(&rotation.join("v1"), &repo);
    let server = Source::start(&root, tmp.path(), &[]);
    let catalog = one_repo_catalog(
        tmp.path(),
        &format!("http://127.0.0.1:{}/repo", server.port),
        "",
    );
    let signer = keygen(tmp.path(), "site");
    let first = pack_with(&catalog, &signer, &tmp.path().join("trip1"), &[]);
    let fetched: BTreeSet<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.1 == 200)
        .map(|r| r.0)
        .collect();
    assert_eq!(fetched.len(), tree_bytes(&repo).len(), "{fetched:#?}");

    // Upstream moves to v2: the next pack fetches repomd.xml and what differs, nothing else.
    sync_tree(&rotation.join("v2"), &repo);
    server.forget_requests();
    let second = pack_with(
        &catalog,
        &signer,
        &tmp.path().join("trip2"),
        &["--incremental"],
    );
    let (v1, v2) = (
        tree_bytes(&rotation.join("v1")),
        tree_bytes(&rotation.join("v2")),
    );
    let mut expected: BTreeSet<String> = v2
        .iter()
        .filter(|(p, b)| v1.get(*p) != Some(b))
        .map(|(p, _)| format!("/repo/{p}"))
        .collect();
    expected.insert("/repo/repodata/repomd.xml".into());
    let fetched: BTreeSet<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.1 == 200)
        .map(|r| r.0)
        .collect();
    assert_eq!(fetched, expected);
    assert!(
        expected.len() < v2.len(),
        "some files are the same in v1 and v2"
    );

    // Both bundles import, and the site has v2.
    let store = tmp.path().join("store");
    must_import(&store, &signer, &first);
    must_import(&store, &signer, &second);
    let published = std::fs::canonicalize(store.join("published/acme/library/os/base")).unwrap();
    let mut got = tree_bytes(&published);
    got.retain(|k, _| !k.starts_with("RPM-GPG-KEY"));
    assert!(got == v2, "the site does not have v2");

    // A cached file damaged on disk is found by its checksum and fetched again.
    let cached = walkdir::WalkDir::new(tmp.path().join("site.state/cache"))
        .into_iter()
        .map(Result::unwrap)
        .find(|e| e.file_name() == "ferry-tools-2.0-1.noarch.rpm")
        .expect("the package is in the cache")
        .into_path();
    let mut b = std::fs::read(&cached).unwrap();
    b[100] ^= 1;
    std::fs::write(&cached, b).unwrap();
    server.forget_requests();
    pack_with(&catalog, &signer, &tmp.path().join("trip3"), &[]);
    let fetched: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.1 == 200)
        .map(|r| r.0)
        .collect();
    assert_eq!(
        fetched,
        [
            "/repo/repodata/repomd.xml",
            "/repo/Packages/f/ferry-tools-2.0-1.noarch.rpm"
        ]
    );
}

#[test]
fn a_failing_server_is_retried_and_a_damaging_one_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (server, root, url) = serve_rotation_v1(tmp.path(), &[]);
    let catalog = one_repo_catalog(tmp.path(), &url, "");
    let signer = keygen(tmp.path(), "site");
    let tools = "/repo/Packages/f/ferry-tools-1.9-1.noarch.rpm";
    let docs = "/repo/Packages/f/ferry-docs-1.0-1.noarch.rpm";
    let size = std::fs::metadata(root.join(&tools[1..])).unwrap().len();
    let pack_in = |name: &str| {
        let out = tmp.path().join(name);
        let r = run(pack_cmd(&catalog, &signer, &out).args([
            "--cache",
            tmp.path().join(format!("cache-{name}")).to_str().unwrap(),
        ]));
        (r, volumes(&out))
    };

    // 503 twice, and a connection dropped halfway: retried, resumed, packed.
    server.set_faults(serde_json::json!({
        tools: { "status": [503, 503] },
        docs: { "drop_after": 2000 },
    }));
    let ((code, _, err), vols) = pack_in("flaky");
    assert_eq!(code, 0, "{err}");
    assert_eq!(vols.len(), 1);
    let reqs = server.requests();
    let of = |p: &str| {
        reqs.iter()
            .filter(|r| r.0 == p)
            .map(|r| (r.1, r.2))
            .collect::<Vec<_>>()
    };
    assert_eq!(of(tools), [(503, 0), (503, 0), (200, size)]);
    let docs_size = std::fs::metadata(root.join(&docs[1..])).unwrap().len();
    // The second request asks only for the rest (a range: 206).
    assert_eq!(of(docs), [(200, 2000), (206, docs_size - 2000)]);

    // A byte damaged on the way (every time): refused, naming the file; nothing written.
    server.set_faults(serde_json::json!({ tools: { "corrupt_at": 100 } }));
    let ((code, _, err), vols) = pack_in("corrupt");
    assert_ne!(code, 0);
    assert!(vols.is_empty());
    assert!(
        err.contains(&format!(
            "library/os/base: {url}/Packages/f/ferry-tools-1.9-1.noarch.rpm: checksum mismatch"
        )),
        "{err}"
    );

    // Gone upstream: 404, naming the file, not retried.
    server.set_faults(serde_json::json!({ tools: { "status_always": 404 } }));
    server.forget_requests();
    let ((code, _, err), vols) = pack_in("gone");
    assert_ne!(code, 0);
    assert!(vols.is_empty());
    assert!(
        err.contains(&format!(
            "{url}/Packages/f/ferry-tools-1.9-1.noarch.rpm: HTTP 404"
        )),
        "{err}"
    );
    assert_eq!(server.requests().iter().filter(|r| r.0 == tools).count(), 1);

    // Metadata naming a file outside the repository is refused before anything is fetched.
    server.set_faults(serde_json::json!({}));
    let repomd = root.join("repo/repodata/repomd.xml");
    let text = std::fs::read_to_string(&repomd).unwrap();
    let bad = text.replacen("href=\"repodata/", "href=\"../../etc/", 1);
    std::fs::write(&repomd, bad).unwrap();
    let ((code, _, err), _) = pack_in("outside");
    assert_ne!(code, 0);
    assert!(err.contains("library/os/base"), "{err}");
    assert!(!tmp.path().join("etc").exists());
}

#[test]
fn a_catalog_written_from_a_repo_file_packs_over_https_with_a_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(tmp.path());
    let (client_cert, client_key) = test_client_cert(tmp.path());
    let www = tmp.path().join("www");
    for r in ["baseos", "appstream"] {
        copy_dir(
            &testdata().join("library/repos").join(r),
            &www.join("acme/9/noarch").join(r),
        );
    }
    let server = Source::start(&www, tmp.path(), &tls_args(&ca, &cert, &key));
    // As subscription-manager writes redhat.repo: variables, certificates, a disabled section.
    let gpgkey = testdata().join("library/RPM-GPG-KEY-ferry-test");
    let section = |id: &str, repo: &str, enabled: u8| {
        format!(
            "[{id}]\nname = ACME $releasever {repo} ($basearch)\n\
             baseurl = https://127.0.0.1:{}/acme/$releasever/$basearch/{repo}\n\
             enabled = {enabled}\ngpgcheck = 1\ngpgkey = file://{}\n\
             sslverify = 1\nsslcacert = {}\nsslclientcert = {}\nsslclientkey = {}\n\n",
            server.port,
            gpgkey.display(),
            ca.display(),
            client_cert.display(),
            client_key.display()
        )
    };
    let repofile = tmp.path().join("redhat.repo");
    std::fs::write(
        &repofile,
        section("acme-9-baseos-rpms", "baseos", 1)
            + &section("acme-9-appstream-rpms", "appstream", 1)
            + &section("acme-9-debug-rpms", "debug", 0),
    )
    .unwrap();
    let catalog = tmp.path().join("catalog.toml");
    ok(ferry()
        .args(["catalog", "from-repofile"])
        .arg(&repofile)
        .args([
            "--organization",
            "acme",
            "--basearch",
            "noarch",
            "--releasever",
            "9",
            "--out",
        ])
        .arg(&catalog));
    let signer = keygen(tmp.path(), "site");
    let vols = pack_with(&catalog, &signer, &tmp.path().join("out"), &[]);
    let store = tmp.path().join("store");
    must_import(&store, &signer, &vols);
    let st = status(&store);
    let repos: Vec<String> = st["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(repos.len(), 2, "{st}");
    assert!(repos.iter().any(|r| r == "acme-9-baseos-rpms"), "{repos:?}");
    assert!(
        repos.iter().any(|r| r == "acme-9-appstream-rpms"),
        "{repos:?}"
    );
}

#[test]
fn credentials_come_from_the_environment_and_are_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = "s3cret-pass-phrase";
    let (_server, _, url) = serve_rotation_v1(
        tmp.path(),
        &["--basic".as_ref(), format!("reader:{secret}").as_ref()],
    );
    let catalog = |auth: &str| one_repo_catalog(tmp.path(), &url, auth);
    let signer = keygen(tmp.path(), "site");

    // Without credentials: 401, said plainly, nothing written.
    let (code, _, err) = run(&mut pack_cmd(&catalog(""), &signer, &tmp.path().join("a")));
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("{url}/.treeinfo: HTTP 401")) && err.contains("credentials"),
        "{err}"
    );
    // The variable the catalog names is not set: said before anything is fetched.
    let auth = "username = \"reader\"\npassword_env = \"FERRY_TEST_PASSWORD\"\n";
    let (code, _, err) =
        run(pack_cmd(&catalog(auth), &signer, &tmp.path().join("b"))
            .env_remove("FERRY_TEST_PASSWORD"));
    assert_ne!(code, 0);
    assert!(
        err.contains("FERRY_TEST_PASSWORD, which is not set"),
        "{err}"
    );
    // A wrong password: 401 again, and the password is not in what pack prints.
    let (code, out, err) = run(pack_cmd(&catalog(auth), &signer, &tmp.path().join("c"))
        .env("FERRY_TEST_PASSWORD", "wrong-guess"));
    assert_ne!(code, 0);
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(
        !err.contains("wrong-guess") && !out.contains("wrong-guess"),
        "{err}"
    );
    // The right one, from the environment or from a file: packed.
    let (code, out, err) =
        run(pack_cmd(&catalog(auth), &signer, &tmp.path().join("d"))
            .env("FERRY_TEST_PASSWORD", secret));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(secret) && !out.contains(secret));
    let pw = tmp.path().join("password");
    std::fs::write(&pw, format!("{secret}\n")).unwrap();
    let auth = format!(
        "username = \"reader\"\npassword_file = \"{}\"\n",
        pw.display()
    );
    let (code, _, err) = run(&mut pack_cmd(
        &catalog(&auth),
        &signer,
        &tmp.path().join("e"),
    ));
    assert_eq!(code, 0, "{err}");
}
