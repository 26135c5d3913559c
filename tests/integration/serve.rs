//! `ferry serve` over real HTTP: uploads checked as they arrive, resumed after an
//! interruption, imported as `ferry import` would; refusals; the security rules; dnf
//! installing from the server.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

use super::common::*;

/// A `ferry serve` started for one test on an ephemeral port, stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub token: String,
    pub client: Client,
}

impl Server {
    /// Serve `store` (created if missing) with extra flags.
    pub fn start(store: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<std::ffi::OsString> = vec!["--store".into(), store.into()];
        args.extend(extra.iter().map(|a| a.into()));
        Self::start_with(&args, &store.join("admin-token"))
    }

    /// `ferry serve ARGS`, whose admin token is in `token_file`.
    pub fn start_with(args: &[std::ffi::OsString], token_file: &Path) -> Self {
        // The HTTP clients of these tests use rustls with ring, as ferry does.
        ferry::serve::listen::tls_provider();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ferry serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("ferry serve ended before it listened")
                .unwrap();
            if let Some(u) = line.strip_prefix("listening on ") {
                break u.to_string();
            }
        };
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let token = std::fs::read_to_string(token_file)
            .unwrap()
            .trim()
            .to_string();
        Server {
            child,
            url,
            token,
            client: Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .unwrap(),
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// GET an API path with the token; status and JSON.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.api(path))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// A new import job.
    pub fn job(&self) -> String {
        let r = self
            .client
            .post(self.api("/imports"))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Post a volume's signature to a job.
    pub fn post_sig(&self, job: &str, vol: &Path) -> (u16, Value) {
        let r = self
            .client
            .post(self.api(&format!("/imports/{job}/volumes")))
            .bearer_auth(&self.token)
            .body(std::fs::read(vol.join("SHA256.sig")).unwrap())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// PATCH bytes of a file at an offset, declaring its whole length.
    pub fn patch(
        &self,
        key: &str,
        path: &str,
        offset: u64,
        length: u64,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let r = self
            .client
            .patch(self.api(&format!("/uploads/{key}/{path}")))
            .bearer_auth(&self.token)
            .header("Upload-Offset", offset)
            .header("Upload-Length", length)
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// Send a volume's head files (`volume.toml`, `manifest.toml`, `README.txt`); the last
    /// answer.
    pub fn send_head(&self, key: &str, vol: &Path) -> (u16, Value) {
        let mut last = (0, Value::Null);
        for head in ["volume.toml", "manifest.toml", "README.txt"] {
            let b = std::fs::read(vol.join(head)).unwrap();
            last = self.patch(key, head, 0, b.len() as u64, b);
            if last.0 != 200 {
                break;
            }
        }
        last
    }

    /// Send every file of a volume the server still wants, in the listed order; the last
    /// answer.
    pub fn upload_volume(&self, job: &str, vol: &Path) -> (u16, Value) {
        let (code, mut view) = self.post_sig(job, vol);
        if code != 200 {
            return (code, view);
        }
        for f in view["files"].as_array().unwrap().clone() {
            if f["complete"] == true {
                continue;
            }
            if !matches!(view["state"].as_str(), Some("head" | "receiving")) {
                break;
            }
            let path = f["path"].as_str().unwrap();
            let bytes = std::fs::read(vol.join(path)).unwrap();
            let from = f["received"].as_u64().unwrap();
            let (code, v) = self.patch(
                view["key"].as_str().unwrap(),
                path,
                from,
                bytes.len() as u64,
                bytes[from as usize..].to_vec(),
            );
            if code != 200 {
                return (code, v);
            }
            view = v;
        }
        (200, view)
    }

    /// Wait until the job's imports are done; its final view.
    pub fn wait(&self, job: &str) -> Value {
        for _ in 0..3000 {
            let (code, j) = self.get(&format!("/imports/{job}"));
            assert_eq!(code, 200, "{j}");
            if j["state"] == "done" {
                return j;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the import job did not finish");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ferry push --server URL --token-file TOKEN [EXTRA] VOLDIR...`.
fn push(
    s: &Server,
    token_file: &Path,
    extra: &[&std::ffi::OsStr],
    vols: &[PathBuf],
) -> (i32, String, String) {
    run(ferry()
        .args(["push", "--server", &s.url, "--token-file"])
        .arg(token_file)
        .args(extra)
        .args(vols))
}

/// The test library packed on 1 MiB media (three volumes), and a store that trusts its key.
fn three_volumes() -> (Packed, PathBuf) {
    let p = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    assert_eq!(p.volumes.len(), 3);
    let store = trusting_store(p.tmp.path(), &p.key);
    (p, store)
}

/// The server's admin token in a file under `dir`, as `push --token-file` reads it.
fn token_file(s: &Server, dir: &Path) -> PathBuf {
    let f = dir.join("token");
    std::fs::write(&f, &s.token).unwrap();
    f
}

/// A store that trusts `key`.
fn trusting_store(dir: &Path, key: &Path) -> PathBuf {
    let store = dir.join("store");
    ok(ferry()
        .args(["trust", "add", "--store"])
        .arg(&store)
        .arg(public(key)));
    store
}

fn object_count(store: &Path) -> usize {
    walkdir::WalkDir::new(store.join("objects"))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count()
}

/// Send a PATCH that announces `length` bytes but breaks off after `sent`, as a lost
/// connection does.
pub(super) fn interrupted_patch(
    s: &Server,
    key: &str,
    path: &str,
    offset: u64,
    total: u64,
    body: &[u8],
    sent: usize,
) {
    let addr = s.url.strip_prefix("http://").unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(
        c,
        "PATCH /api/v1/uploads/{key}/{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nUpload-Offset: {offset}\r\nUpload-Length: {total}\r\nContent-Length: {}\r\n\r\n",
        s.token,
        body.len()
    )
    .unwrap();
    c.write_all(&body[..sent]).unwrap();
    c.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c.shutdown(std::net::Shutdown::Both).unwrap();
}

/// The largest pack the volume `view` lists (as a path in the volume `vol`).
pub(super) fn biggest_pack(view: &Value, vol: &Path) -> String {
    view["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .filter(|p| p.starts_with("packs/"))
        .max_by_key(|p| std::fs::metadata(vol.join(p)).unwrap().len())
        .unwrap()
        .to_string()
}

/// Wait (up to 20 s) for something the server does after answering or after a client left.
pub(super) fn eventually(cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(super) fn received(s: &Server, key: &str, path: &str) -> u64 {
    let (_, v) = s.get(&format!("/uploads/{key}"));
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap()["received"]
        .as_u64()
        .unwrap()
}

#[test]
fn volumes_uploaded_in_any_order_with_an_interruption_import_like_the_command_line() {
    let (p, store) = three_volumes();
    let reference = p.tmp.path().join("reference");
    must_import(&reference, &p.key, &p.volumes);

    let s = Server::start(&store, &[]);
    // The order is the test's secret: a new one every run, printed to reproduce a failure.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let mut order = p.volumes.clone();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let job = s.job();
    for (n, vol) in order.iter().enumerate() {
        if n == 0 {
            // The first volume's biggest pack is cut off halfway, then resumed.
            let (code, view) = s.post_sig(&job, vol);
            assert_eq!(code, 200, "seed {seed}: {view}");
            let key = view["key"].as_str().unwrap().to_string();
            // Packs are refused before the head is in.
            let pack = biggest_pack(&view, vol);
            let bytes = std::fs::read(vol.join(&pack)).unwrap();
            let (code, v) = s.patch(&key, &pack, 0, bytes.len() as u64, bytes.clone());
            assert_eq!(code, 409, "seed {seed}: a pack before the head: {v}");
            let (code, v) = s.send_head(&key, vol);
            assert_eq!(code, 200, "seed {seed}: {v}");
            let half = bytes.len() / 2;
            interrupted_patch(&s, &key, &pack, 0, bytes.len() as u64, &bytes, half);
            // The server finishes with the broken request in its own time.
            eventually(|| received(&s, &key, &pack) > 0);
            let kept = received(&s, &key, &pack);
            assert!(
                kept > 0 && kept <= half as u64,
                "seed {seed}: kept {kept} of the {half} bytes sent"
            );
            // Resume: a wrong offset is told where to continue.
            let (code, v) = s.patch(&key, &pack, 0, bytes.len() as u64, bytes.clone());
            assert_eq!(code, 409, "{v}");
            assert_eq!(v["offset"].as_u64(), Some(kept), "{v}");
        }
        // Whatever remains of the volume, from where the server stands.
        let (code, view) = s.upload_volume(&job, vol);
        assert_eq!(code, 200, "seed {seed}: {}: {view}", vol.display());
    }
    let j = s.wait(&job);
    assert_eq!(j["result"], "imported", "seed {seed}: {j}");
    assert_eq!(j["exit_code"], 0);
    let (_, st) = s.get("/status");
    assert_eq!(st["bundles"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(st["bundles"][0]["bundle"], j["bundle"]);
    drop(s);
    assert_eq!(
        published_bytes(&store),
        published_bytes(&reference),
        "seed {seed}: the upload published something else than ferry import"
    );
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );
}

#[test]
fn push_uploads_resumes_and_reports_like_import() {
    let (p, store) = three_volumes();
    let s = Server::start(&store, &[]);
    let token_file = token_file(&s, p.tmp.path());

    // A wrong token is refused before any byte is sent.
    let bad = p.tmp.path().join("bad-token");
    std::fs::write(&bad, "0123456789abcdef0123456789abcdef").unwrap();
    let (code, _, err) = push(&s, &bad, &[], &p.volumes);
    assert_eq!(code, 1);
    assert!(err.contains("refused the token"), "{err}");
    assert!(upload_files(&store).is_empty());

    // Two volumes: staged, the third still needed (as `ferry import` says).
    let (code, out, err) = push(&s, &token_file, &[], &p.volumes[..2]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("still needed: 3"), "{out}");
    assert!(
        published_bytes(&store).is_empty(),
        "published before the last volume"
    );
    let (_, st) = s.get("/status");
    assert_eq!(
        st["staged"][0]["volumes"],
        serde_json::json!([1, 2]),
        "{st}"
    );
    assert_eq!(st["staged"][0]["remaining"], serde_json::json!([3]), "{st}");

    // Half of volume 3's pack was sent by an earlier, interrupted push.
    let vol = &p.volumes[2];
    let job = s.job();
    let (_, view) = s.post_sig(&job, vol);
    let key = view["key"].as_str().unwrap().to_string();
    assert_eq!(s.send_head(&key, vol).0, 200);
    let pack = "packs/0003.ferrypack";
    let bytes = std::fs::read(vol.join(pack)).unwrap();
    let half = bytes.len() as u64 / 2;
    let (code, v) = s.patch(
        &key,
        pack,
        0,
        bytes.len() as u64,
        bytes[..half as usize].to_vec(),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(received(&s, &key, pack), half);

    // push finishes it, sending only the rest, and prints what import prints.
    let (code, out, err) = push(&s, &token_file, &[], std::slice::from_ref(vol));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("imported bundle"), "{out}");
    assert!(
        out.contains("published acme/library/acme-os/baseos"),
        "{out}"
    );
    let progress_total: Vec<&str> = err.lines().filter(|l| l.contains("to go")).collect();
    assert!(!progress_total.is_empty(), "{err}");

    // The same media again: nothing to do.
    let (code, out, err) = push(&s, &token_file, &[], &p.volumes);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("already imported"),
        "{out}\n{err}"
    );
}

#[test]
fn every_refusal_of_import_is_made_on_upload_before_a_refused_pack_is_kept() {
    let two = two_bundles();
    let store = trusting_store(two.tmp.path(), &two.key);
    let s = Server::start(&store, &[]);

    // Wrong key: taken provisionally (a key rotation may vouch for it), refused once its
    // manifest, the one file it may send, showed that none does; nothing kept
    // (serve_rotation.rs has the rest).
    let other = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    let job = s.job();
    let (code, v) = s.upload_volume(&job, &other.volumes[0]);
    assert_eq!(code, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not trusted"), "{v}");
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );

    // A corrupt pack: refused the moment its last byte arrives, discarded; nothing stored.
    let bad = two.tmp.path().join("bad");
    copy_dir(&two.a[0], &bad);
    let pack = bad.join("packs/0001.ferrypack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&pack, &bytes).unwrap();
    let objects = object_count(&store);
    let job = s.job();
    let (code, v) = s.upload_volume(&job, &bad);
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("does not match its signed SHA-256"),
        "{v}"
    );
    assert_eq!(object_count(&store), objects);
    assert!(
        !upload_files(&store).iter().any(|f| f.contains("packs/")),
        "{:?}",
        upload_files(&store)
    );

    // A missing volume: staged, nothing published, the numbers still needed named.
    assert_eq!(two.a.len(), 2);
    let job = s.job();
    assert_eq!(s.upload_volume(&job, &two.a[0]).0, 200);
    let j = s.wait(&job);
    assert_eq!(j["result"], "staged", "{j}");
    assert_eq!(j["remaining"], serde_json::json!([2]), "{j}");
    assert!(published_bytes(&store).is_empty());

    // A foreign volume: one job, volumes of two bundles.
    let job = s.job();
    assert_eq!(s.upload_volume(&job, &two.b[0]).0, 200);
    let (code, v) = s.upload_volume(&job, &two.a[1]);
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("belongs to bundle"),
        "{v}"
    );
    for vol in &two.b[1..] {
        assert_eq!(s.upload_volume(&job, vol).0, 200);
    }
    let j = s.wait(&job);
    assert_eq!(j["result"], "refused", "{j}");
    assert_eq!(j["exit_code"], 1, "{j}");
    // b (sequence 2) was imported all the same, volume by volume.
    let (_, st) = s.get("/status");
    assert_eq!(st["bundles"][0]["sequence"], 2, "{st}");
    let published = published_bytes(&store);
    assert!(!published.is_empty());

    // Stale: a's volume 2 (sequence 1) after sequence 2: refused at its head, before any
    // pack byte; a pack is then not taken.
    let job = s.job();
    let vol = &two.a[1];
    let (code, view) = s.post_sig(&job, vol);
    assert_eq!(code, 200, "{view}");
    let key = view["key"].as_str().unwrap().to_string();
    let last = s.send_head(&key, vol);
    assert_eq!(last.0, 422, "{}", last.1);
    assert!(
        last.1["error"]
            .as_str()
            .unwrap()
            .contains("old or replayed media"),
        "{}",
        last.1
    );
    let pack = view["files"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f["path"].as_str().filter(|p| p.starts_with("packs/")))
        .unwrap()
        .to_string();
    let b = std::fs::read(vol.join(&pack)).unwrap();
    let (code, v) = s.patch(&key, &pack, 0, b.len() as u64, b);
    assert_eq!(code, 409, "{v}");
    assert!(
        upload_files(&store).is_empty(),
        "{:?}",
        upload_files(&store)
    );
    assert_eq!(published_bytes(&store), published);
}

#[test]
fn without_the_token_nothing_changes_and_paths_stay_inside_the_published_trees() {
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let store = trusting_store(p.tmp.path(), &p.key);
    must_import(&store, &p.key, &p.volumes);
    let s = Server::start(&store, &[]);
    let c = &s.client;

    // No token, a wrong one: refused, and nothing was made.
    let r = c.post(s.api("/imports")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .post(s.api("/imports"))
        .bearer_auth("nope")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = c
        .post(s.api("/keys"))
        .body(std::fs::read_to_string(public(&p.key)).unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = c.get(s.api("/status")).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (_, jobs) = s.get("/imports");
    assert_eq!(jobs, serde_json::json!([]));
    let r = c.get(format!("{}/", s.url)).send().unwrap();
    assert!(
        r.url().path().ends_with("/login"),
        "the status page needs a login"
    );

    // The repositories are open to dnf clients.
    let repomd = "acme/library/acme-os/baseos/repodata/repomd.xml";
    let r = c.get(format!("{}/repos/{repomd}", s.url)).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/xml"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let body = r.bytes().unwrap();
    assert_eq!(
        body.as_ref(),
        std::fs::read(store.join("published").join(repomd)).unwrap()
    );
    let r = c
        .get(format!("{}/repos/{repomd}", s.url))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    let r = c
        .get(format!("{}/repos/{repomd}", s.url))
        .header("Range", "bytes=5-14")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.bytes().unwrap().as_ref(), &body[5..15]);

    // Nothing outside the published trees: `..` plain and encoded, absolute paths,
    // directories, links planted in a tree.
    let version = std::fs::read_link(store.join("published/acme/library/acme-os/baseos")).unwrap();
    let vdir = store.join("published/acme/library/acme-os").join(&version);
    std::os::unix::fs::symlink("/etc/passwd", vdir.join("passwd")).unwrap();
    std::os::unix::fs::symlink("../../ferry.db", vdir.join("db")).unwrap();
    std::os::unix::fs::symlink("/etc", store.join("published/acme/library/etc")).unwrap();
    std::os::unix::fs::symlink("../../../ferry.db", store.join("published/acme/library/db"))
        .unwrap();
    let addr = s.url.strip_prefix("http://").unwrap();
    for path in [
        "/repos/../ferry.db",
        "/repos/%2e%2e/ferry.db",
        "/repos/acme/..%2f..%2fferry.db",
        "/repos/acme/library/acme-os/baseos/../../../../ferry.db",
        "/repos//etc/passwd",
        "/repos/%2fetc%2fpasswd",
        "/repos/acme/library/acme-os/baseos/passwd",
        "/repos/acme/library/acme-os/baseos/db",
        "/repos/acme/library/etc/passwd",
        "/repos/acme/library/db",
        "/repos/acme/library/acme-os/baseos",
        "/repos/acme/library/acme-os/baseos/repodata/",
        "/repos/acme",
        "/ferry.db",
        "/admin-token",
    ] {
        // Raw requests: no client normalizes the path first.
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert!(
            status == "400" || status == "404",
            "{path}: {}",
            answer.lines().next().unwrap_or("")
        );
        assert!(!answer.contains("root:"), "{path} leaked /etc/passwd");
        assert!(
            !answer.contains("SQLite format"),
            "{path} leaked the database"
        );
    }

    // A browser session: a change without the CSRF token is refused.
    let browser = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser
        .post(format!("{}/login", s.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("token=wrong")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = browser
        .post(format!("{}/login", s.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={}", s.token))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let r = browser
        .get(format!("{}/", s.url))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().unwrap();
    assert!(
        page.contains("acme-os") && page.contains("Bundles imported"),
        "{page}"
    );
    let r = browser
        .post(s.api("/imports"))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "a change without its CSRF token");
    let r = browser
        .post(format!("{}/logout", s.url))
        .header("Cookie", &cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("csrf=forged")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (_, jobs) = s.get("/imports");
    assert_eq!(jobs, serde_json::json!([]));

    // Trusting a key through the API needs the token, shows its key id, and is in the history.
    let other = keygen(p.tmp.path(), "other");
    let text = std::fs::read_to_string(public(&other)).unwrap();
    let r = s
        .client
        .post(s.api("/keys"))
        .bearer_auth(&s.token)
        .body(text)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let added: Value = r.json().unwrap();
    let id = added["key_id"].as_str().unwrap().to_string();
    assert!(
        std::fs::read_to_string(public(&other))
            .unwrap()
            .contains(&id)
    );
    let (_, st) = s.get("/status");
    assert!(
        st["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["event"] == "trust-add" && h["detail"].as_str().unwrap().contains(&id)),
        "{st}"
    );
    let r = s
        .client
        .delete(s.api(&format!("/keys/{id}")))
        .bearer_auth("0123456789abcdef0123456789abcdef")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (_, keys) = s.get("/keys");
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");

    // With --protect-repos, dnf must send the token too.
    drop(s);
    let s = Server::start(&store, &["--protect-repos"]);
    let r = s
        .client
        .get(format!("{}/repos/{repomd}", s.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = s
        .client
        .get(format!("{}/repos/{repomd}", s.url))
        .basic_auth("dnf", Some(&s.token))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// One response read off a raw connection: status, headers (lower-case names), body.
fn read_response(
    r: &mut BufReader<std::net::TcpStream>,
    head_only: bool,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap_or("0").parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; if head_only || status == 304 { 0 } else { len }];
    r.read_exact(&mut body).unwrap();
    (status, headers, body)
}

#[test]
fn one_connection_takes_many_downloads_then_any_other_request() {
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let store = trusting_store(p.tmp.path(), &p.key);
    must_import(&store, &p.key, &p.volumes);
    let s = Server::start(&store, &[]);
    let published = store.join("published");
    let big = walkdir::WalkDir::new(&published)
        .follow_links(true)
        .into_iter()
        .map(Result::unwrap)
        .find(|e| e.file_name() == "ferry-big-1.0-1.noarch.rpm")
        .unwrap()
        .into_path();
    let big_rel = big
        .strip_prefix(&published)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let big_bytes = std::fs::read(&big).unwrap();
    // Over a mebibyte: sent from a thread of its own; repomd.xml from the async worker.
    assert!(big_bytes.len() > 1 << 20);
    let repomd = "acme/library/acme-os/baseos/repodata/repomd.xml";
    let repomd_bytes = std::fs::read(published.join(repomd)).unwrap();

    let addr = s.url.strip_prefix("http://").unwrap().to_string();
    let conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    let get = |w: &mut std::net::TcpStream, method: &str, path: &str, extra: &str| {
        write!(w, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n").unwrap();
    };

    get(&mut w, "GET", &format!("/repos/{big_rel}"), "");
    let (status, headers, body) = read_response(&mut r, false);
    assert_eq!(status, 200);
    assert!(body == big_bytes, "the package, byte for byte");
    let header = |hs: &[(String, String)], k: &str| {
        hs.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header(&headers, "content-type"), "application/x-rpm");
    let etag = header(&headers, "etag");

    // Two requests written at once (pipelined), then a range, a conditional request, HEAD.
    get(&mut w, "GET", &format!("/repos/{repomd}"), "");
    get(
        &mut w,
        "GET",
        &format!("/repos/{big_rel}"),
        "Range: bytes=1048570-1048585\r\n",
    );
    let (status, _, body) = read_response(&mut r, false);
    assert_eq!((status, body), (200, repomd_bytes.clone()));
    let (status, headers, body) = read_response(&mut r, false);
    assert_eq!(status, 206);
    assert_eq!(body, big_bytes[1048570..1048586]);
    assert_eq!(
        header(&headers, "content-range"),
        format!("bytes 1048570-1048585/{}", big_bytes.len())
    );
    get(
        &mut w,
        "GET",
        &format!("/repos/{big_rel}"),
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(read_response(&mut r, false).0, 304);
    get(
        &mut w,
        "GET",
        &format!("/repos/{big_rel}"),
        &format!("Range: bytes={}-\r\n", big_bytes.len()),
    );
    assert_eq!(read_response(&mut r, false).0, 416);
    get(&mut w, "HEAD", &format!("/repos/{repomd}"), "");
    let (status, headers, _) = read_response(&mut r, true);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-length"),
        repomd_bytes.len().to_string()
    );

    // A missing file, then the API, on the same connection: answered as they always are.
    get(&mut w, "GET", "/repos/acme/nothing-here.rpm", "");
    assert_eq!(read_response(&mut r, false).0, 404);
    get(&mut w, "GET", "/api/v1/status", "");
    assert_eq!(read_response(&mut r, false).0, 401);
    get(
        &mut w,
        "GET",
        &format!("/repos/{repomd}"),
        "Connection: close\r\n",
    );
    let (status, _, body) = read_response(&mut r, false);
    assert_eq!((status, body), (200, repomd_bytes));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "closed after Connection: close");
}

#[test]
fn an_upload_larger_than_declared_is_cut_off() {
    let (p, store) = three_volumes();
    let s = Server::start(&store, &[]);
    let vol = &p.volumes[0];
    let job = s.job();
    let (_, view) = s.post_sig(&job, vol);
    let key = view["key"].as_str().unwrap().to_string();
    assert_eq!(s.send_head(&key, vol).0, 200);
    let pack = "packs/0001.ferrypack";
    let mut bytes = std::fs::read(vol.join(pack)).unwrap();
    let size = bytes.len() as u64;
    // Declaring another size than the manifest's is refused at once.
    let (code, v) = s.patch(&key, pack, 0, size + 10, bytes.clone());
    assert_eq!(code, 413, "{v}");
    // So is a body longer than the declared size, whether announced...
    bytes.extend_from_slice(&[0u8; 4096]);
    let (code, v) = s.patch(&key, pack, 0, size, bytes.clone());
    assert_eq!(code, 413, "{v}");
    // ... or streamed without a length: the server answers 413 and closes the connection,
    // which the client may see first, as an error while it still sends.
    let r = s
        .client
        .patch(s.api(&format!("/uploads/{key}/{pack}")))
        .bearer_auth(&s.token)
        .header("Upload-Offset", 0)
        .header("Upload-Length", size)
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(bytes)))
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    eventually(|| !upload_files(&store).iter().any(|f| f.contains("packs/")));
    assert_eq!(received(&s, &key, pack), 0, "the cut-off file was kept");
    assert!(
        !upload_files(&store).iter().any(|f| f.contains("packs/")),
        "{:?}",
        upload_files(&store)
    );
}

#[test]
fn dnf_installs_over_http_from_ferry_serve_with_gpgcheck() {
    let (p, store) = three_volumes();
    let s = Server::start(&store, &[]);
    let token_file = token_file(&s, p.tmp.path());
    let (code, out, err) = push(&s, &token_file, &[], &p.volumes);
    assert_eq!(code, 0, "{out}\n{err}");
    let r = s
        .client
        .get(s.api("/repofile"))
        .bearer_auth(&s.token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let repo = r.text().unwrap();
    assert!(
        repo.contains(&format!(
            "baseurl={}/repos/acme/library/acme-os/appstream",
            s.url
        )),
        "{repo}"
    );
    assert!(repo.contains("gpgcheck=1"), "{repo}");
    // The command line gives the same file for the same base URL.
    let cli = ok(ferry()
        .args(["repofile", "--store"])
        .arg(&store)
        .arg("--base-url")
        .arg(format!("{}/repos", s.url)));
    assert_eq!(cli, repo);
    // ferry-big spans volumes 1 and 2 of this bundle.
    let dnf = Dnf::new(&repo);
    let (code, o, e) = dnf.run(&[
        "--disablerepo=*",
        "--enablerepo=acme_acme-os_baseos",
        "--enablerepo=acme_acme-os_appstream",
        "install",
        "ferry-tools",
        "ferry-big",
    ]);
    assert_eq!(code, 0, "{o}\n{e}");
    let installed = dnf.installed();
    assert!(
        installed.iter().any(|p| p.starts_with("ferry-big-1.0-1")),
        "{installed:?}"
    );
    assert!(
        installed.iter().any(|p| p.starts_with("ferry-tools-2.0-1")),
        "{installed:?}"
    );
}

#[test]
fn over_tls_push_and_repositories_work_and_an_unknown_certificate_is_refused() {
    let (p, store) = three_volumes();
    let (ca, cert, key) = test_ca(p.tmp.path());
    let s = Server::start(
        &store,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let token_file = token_file(&s, p.tmp.path());

    // Without the site's CA, push refuses the server before sending anything.
    let (code, out, err) = push(&s, &token_file, &[], &p.volumes);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(!store.join("uploads").exists() || upload_files(&store).is_empty());

    let (code, out, err) = push(
        &s,
        &token_file,
        &["--cacert".as_ref(), ca.as_os_str()],
        &p.volumes,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("imported bundle"), "{out}");

    let client = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!(
            "{}/repos/acme/library/acme-os/baseos/repodata/repomd.xml",
            s.url
        ))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Plain HTTP on the TLS port gets no page.
    let plain = s.url.replace("https://", "http://");
    assert!(
        Client::new()
            .get(format!(
                "{plain}/repos/acme/library/acme-os/baseos/repodata/repomd.xml"
            ))
            .send()
            .is_err()
    );
}

#[test]
fn a_request_head_larger_than_the_limit_is_refused() {
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let store = trusting_store(p.tmp.path(), &p.key);
    let s = Server::start(&store, &[]);
    let addr = s.url.strip_prefix("http://").unwrap().to_string();
    // One huge header, and very many small ones.
    let huge = format!("X-Big: {}\r\n", "a".repeat(256 * 1024));
    let many: String = (0..300)
        .map(|i| format!("X-H{i}: {}\r\n", "b".repeat(990)))
        .collect();
    for headers in [huge, many] {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        let request = format!("GET /api/v1/status HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n");
        // The server may answer and close before the whole head is written.
        let _ = conn.write_all(request.as_bytes());
        let mut answer = vec![0u8; 64];
        let n = conn.read(&mut answer).unwrap_or(0);
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{} bytes of headers: {answer:?}",
            headers.len()
        );
    }
    // The server still serves.
    assert_eq!(s.get("/imports").0, 200);
}

#[test]
fn the_connected_side_makes_bundles_as_jobs_and_hands_out_their_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "site");
    let state = tmp.path().join("state");
    let s = Server::start_with(
        &[
            "--catalog".into(),
            testdata().join("catalog.toml").into(),
            "--key".into(),
            super::common::key(&key).into(),
            "--state".into(),
            state.clone().into(),
        ],
        &state.join("admin-token"),
    );
    // Making a bundle needs the token.
    let r = s
        .client
        .post(s.api("/bundles"))
        .json(&serde_json::json!({"media_size": "1M"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let make = |body: Value| -> Value {
        let r = s
            .client
            .post(s.api("/bundles"))
            .bearer_auth(&s.token)
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let id = r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        for _ in 0..600 {
            let (_, j) = s.get(&format!("/packs/{id}"));
            if j["state"] == "done" {
                return j;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the pack job did not finish");
    };
    let first = make(serde_json::json!({"media_size": "1M"}));
    assert_eq!(first["error"], Value::Null, "{first}");
    assert_eq!(first["sequence"], 1);
    assert_eq!(first["volumes"], 3);
    let second = make(serde_json::json!({"incremental": true}));
    assert_eq!(second["sequence"], 2, "{second}");
    assert_eq!(second["base"], first["bundle"]);
    let (_, list) = s.get("/bundles");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["bundle"], second["bundle"]);
    let id = first["bundle"].as_str().unwrap().to_string();

    // A pull with another key than the signer's writes nothing.
    let token_file = token_file(&s, tmp.path());
    let other = keygen(tmp.path(), "other");
    let out = tmp.path().join("pulled");
    let (code, _, err) = run(ferry()
        .args(["pull", "--server", &s.url, "--bundle", &id[..12], "--out"])
        .arg(&out)
        .arg("--trust")
        .arg(public(&other))
        .arg("--token-file")
        .arg(&token_file));
    assert_eq!(code, 1);
    assert!(err.contains("not one of the keys to trust"), "{err}");
    assert!(!out.exists());

    // An earlier pull stopped halfway through volume 1's pack: pull continues it, and
    // verifies what it wrote with the operator's key.
    let made = state.join("served").join(&id);
    let pack1 = "vol-01/packs/0001.ferrypack";
    let whole = std::fs::read(made.join(pack1)).unwrap();
    std::fs::create_dir_all(out.join("vol-01/packs")).unwrap();
    std::fs::write(out.join(pack1), &whole[..whole.len() / 2]).unwrap();
    let pull = |out: &Path| {
        run(ferry()
            .args(["pull", "--server", &s.url, "--bundle", &id[..12], "--out"])
            .arg(out)
            .arg("--trust")
            .arg(public(&key))
            .arg("--token-file")
            .arg(&token_file))
    };
    let (code, o, e) = pull(&out);
    assert_eq!(code, 0, "{o}\n{e}");
    assert!(o.contains("OK: every volume is intact"), "{o}");
    assert_eq!(tree_bytes(&out), tree_bytes(&made));

    // A damaged partial file is not trusted: verification names it.
    let out2 = tmp.path().join("pulled2");
    std::fs::create_dir_all(out2.join("vol-01/packs")).unwrap();
    let mut bad = whole[..whole.len() / 2].to_vec();
    bad[100] ^= 1;
    std::fs::write(out2.join(pack1), &bad).unwrap();
    let (code, o, _) = pull(&out2);
    assert_eq!(code, 1, "{o}");
    assert!(o.contains("0001.ferrypack"), "{o}");

    // The tar of a volume holds exactly its files, at the length announced.
    let r = s
        .client
        .get(s.api(&format!("/bundles/{id}/volumes/2/tar")))
        .bearer_auth(&s.token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let announced: u64 = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = r.bytes().unwrap();
    assert_eq!(bytes.len() as u64, announced);
    let mut files = std::collections::BTreeMap::new();
    for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            files.insert(name.strip_prefix("vol-02/").unwrap().to_string(), data);
        }
    }
    assert_eq!(files, tree_bytes(&made.join("vol-02")));

    // The pulled media import like any other.
    let store = tmp.path().join("store");
    must_import(&store, &key, &volumes(&out));
}
