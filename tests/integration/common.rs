//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository's `testdata/`.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// The ferry binary under test.
pub fn ferry() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// Run and return output; stdout/stderr as text.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let o: Output = cmd.output().expect("run command");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Run, insisting on success.
pub fn ok(cmd: &mut Command) -> String {
    let (code, out, err) = run(cmd);
    assert_eq!(
        code, 0,
        "command failed: {cmd:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

/// A tool the test needs: fail (never skip) when it is missing.
pub fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: run scripts/test.sh, which installs the test dependencies"
    );
}

/// A fresh key pair under `dir`; returns the prefix.
pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let prefix = dir.join(name);
    ok(ferry().arg("keygen").arg("--out").arg(&prefix));
    prefix
}

/// `PREFIX.key` / `PREFIX.pub`.
pub fn key(prefix: &Path) -> PathBuf {
    prefix.with_extension("key")
}
/// `PREFIX.pub`.
pub fn public(prefix: &Path) -> PathBuf {
    prefix.with_extension("pub")
}

/// Volume directories of a bundle, sorted.
pub fn volumes(out: &Path) -> Vec<PathBuf> {
    if !out.exists() {
        return Vec::new();
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("vol-"))
        .collect();
    v.sort();
    v
}

/// A packed bundle in a temporary directory.
pub struct Packed {
    pub tmp: tempfile::TempDir,
    pub key: PathBuf,
    pub out: PathBuf,
    pub volumes: Vec<PathBuf>,
    pub summary: Value,
}

/// Pack `catalog` with a new key and extra arguments.
pub fn pack(catalog: &Path, extra: &[&str]) -> Packed {
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "site");
    let out = tmp.path().join("out");
    let stdout = ok(ferry()
        .arg("pack")
        .arg("--catalog")
        .arg(catalog)
        .arg("--key")
        .arg(self::key(&key))
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .args(extra));
    let summary: Value = serde_json::from_str(&stdout).expect("pack --json prints JSON");
    let volumes = volumes(&out);
    Packed {
        tmp,
        key,
        out,
        volumes,
        summary,
    }
}

/// `ferry verify --json`: exit code and report.
pub fn verify(trust: &Path, vols: &[PathBuf], deep: bool) -> (i32, Value) {
    let mut c = ferry();
    c.arg("verify").arg("--json").arg("--trust").arg(trust);
    if deep {
        c.arg("--deep");
    }
    c.args(vols);
    let (code, out, err) = run(&mut c);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {out}\n{err}"));
    (code, v)
}

/// The findings of a report as `(volume number, file, kind)`.
pub fn findings(report: &Value) -> Vec<(Option<u64>, Option<String>, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["number"].as_u64(),
                f["file"].as_str().map(str::to_string),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Copy a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A copy of testdata's catalog and everything it refers to, to damage freely.
pub fn testdata_copy(dir: &Path) -> PathBuf {
    for sub in ["library", "fixtures"] {
        copy_dir(&testdata().join(sub), &dir.join(sub));
    }
    std::fs::copy(testdata().join("catalog.toml"), dir.join("catalog.toml")).unwrap();
    dir.join("catalog.toml")
}

/// All files under a directory, relative path → bytes.
pub fn tree_bytes(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// All files under a directory, following the published symbolic links.
pub fn published_bytes(store: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let dir = store.join("published");
    if !dir.exists() {
        return Default::default();
    }
    walkdir::WalkDir::new(&dir)
        .follow_links(true)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// `ferry import --json`: exit code, stdout, stderr.
pub fn import(store: &Path, trust: Option<&Path>, vols: &[PathBuf]) -> (i32, String, String) {
    let mut c = ferry();
    c.args(["import", "--init"]).arg("--store").arg(store);
    if let Some(t) = trust {
        c.arg("--trust").arg(t);
    }
    c.args(vols);
    run(&mut c)
}

/// A throwaway dnf installroot using the repo file of a store.
pub struct Dnf {
    pub dir: tempfile::TempDir,
}

impl Dnf {
    /// dnf set up with `repofile` as its only repositories.
    pub fn new(repofile: &str) -> Self {
        require("dnf");
        require("rpm");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dnf.conf"), "").unwrap();
        std::fs::create_dir(dir.path().join("repos")).unwrap();
        std::fs::write(dir.path().join("repos/ferry.repo"), repofile).unwrap();
        Dnf { dir }
    }

    /// Run dnf with these arguments (as on Debian, in an installroot).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let d = self.dir.path();
        run(Command::new("dnf")
            .arg("-y")
            .arg(format!("--config={}", d.join("dnf.conf").display()))
            .arg("--noplugins")
            .arg(format!("--installroot={}", d.join("root").display()))
            .arg("--releasever=9")
            .arg("--setopt=module_platform_id=platform:el9")
            .arg(format!("--setopt=reposdir={}", d.join("repos").display()))
            .args(args))
    }

    /// Packages installed in the root, as `name-version-release.arch`.
    pub fn installed(&self) -> Vec<String> {
        let out = ok(Command::new("rpm")
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .args(["-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"]));
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v
    }
}

/// `ferry pack --catalog CATALOG --key PREFIX.key --out OUT`, to add to and run.
pub fn pack_cmd(catalog: &Path, key_prefix: &Path, out: &Path) -> Command {
    let mut c = ferry();
    c.arg("pack")
        .arg("--catalog")
        .arg(catalog)
        .arg("--key")
        .arg(key(key_prefix))
        .arg("--out")
        .arg(out);
    c
}

/// Pack `catalog` with an existing key into `out`; returns the volumes.
pub fn pack_with(catalog: &Path, key_prefix: &Path, out: &Path, extra: &[&str]) -> Vec<PathBuf> {
    ok(pack_cmd(catalog, key_prefix, out).args(extra));
    volumes(out)
}

/// Import with `--trust PREFIX.pub`, insisting on success; returns standard output.
pub fn must_import(store: &Path, key_prefix: &Path, vols: &[PathBuf]) -> String {
    let (code, out, err) = import(store, Some(&public(key_prefix)), vols);
    assert_eq!(code, 0, "import failed:\n{out}\n{err}");
    out
}

/// Two bundles from one signer: `a` has an older BaseOS (the content view's snapshot),
/// `b` the current library.
pub struct Two {
    pub tmp: tempfile::TempDir,
    pub key: PathBuf,
    pub a: Vec<PathBuf>,
    pub b: Vec<PathBuf>,
}

pub fn two_bundles() -> Two {
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "site");
    // A first (sequence 1), then B (sequence 2), from the same export state.
    let src = tmp.path().join("src");
    let catalog = testdata_copy(&src);
    let text = std::fs::read_to_string(&catalog).unwrap();
    let older = text.replace(
        "path = \"library/repos/baseos\"",
        "path = \"library/cv/web/1.0/baseos\"",
    );
    assert_ne!(older, text);
    std::fs::write(&catalog, older).unwrap();
    let a = pack_with(
        &catalog,
        &key,
        &tmp.path().join("a"),
        &["--media-size", "1M"],
    );
    let b = pack_with(
        &testdata().join("catalog.toml"),
        &key,
        &tmp.path().join("b"),
        &["--media-size", "1M"],
    );
    assert_eq!(b.len(), 3);
    Two { tmp, key, a, b }
}

/// The catalog part of `status --json` (not the staging area or the history).
pub fn status(store: &Path) -> Value {
    let out = ok(ferry()
        .arg("status")
        .arg("--store")
        .arg(store)
        .arg("--json"));
    let mut v: Value = serde_json::from_str(&out).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("staged");
    o.remove("history");
    // The disk usage changes with what is staged or left in tmp/.
    o.remove("disk");
    v
}

/// A tiny deterministic generator (xorshift64), so that "random" trials are the same on
/// every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A test CA and a certificate it issued for 127.0.0.1: (ca.pem, cert.pem, key.pem).
pub fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    require("openssl");
    openssl(
        dir,
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
         -out ca.pem -subj /CN=ferry-test-CA -days 2",
    );
    let (cert, key) = issue(
        dir,
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    (dir.join("ca.pem"), cert, key)
}

/// A client certificate issued by the CA that [`test_ca`] made in `dir`: (cert.pem, key.pem).
pub fn test_client_cert(dir: &Path) -> (PathBuf, PathBuf) {
    issue(
        dir,
        "client",
        "/CN=ferry-test-client",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
}

/// openssl with these (space-separated) arguments, in `dir`.
fn openssl(dir: &Path, args: &str) {
    ok(Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir));
}

/// A P-256 key NAME.key and a certificate NAME.pem for `subject` with extensions `ext`,
/// issued by the CA in `dir`.
fn issue(dir: &Path, name: &str, subject: &str, ext: &str) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join(format!("{name}.cnf")), ext).unwrap();
    openssl(
        dir,
        &format!(
            "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {name}.key \
             -out {name}.csr -subj {subject}"
        ),
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out {name}.pem -days 2 -extfile {name}.cnf"
        ),
    );
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// Every file and directory under the store's subdirectories `subs` (those that exist),
/// as paths relative to the store.
pub fn store_names(store: &Path, subs: &[&str]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for sub in subs {
        let d = store.join(sub);
        if !d.exists() {
            continue;
        }
        for e in walkdir::WalkDir::new(&d).min_depth(1) {
            let e = e.unwrap();
            out.insert(e.path().strip_prefix(store).unwrap().display().to_string());
        }
    }
    out
}

/// Which of a run's crash points (`points`, in the order it reached them, numbered from 1)
/// to kill it at: the first and last of each name, then points drawn from `seed` until there
/// are `at_least`.
pub fn crash_points(
    points: &[String],
    at_least: usize,
    seed: u64,
) -> std::collections::BTreeSet<usize> {
    let mut chosen = std::collections::BTreeSet::new();
    for name in points {
        chosen.insert(points.iter().position(|p| p == name).unwrap() + 1);
        chosen.insert(points.iter().rposition(|p| p == name).unwrap() + 1);
    }
    let mut rng = Rng(seed);
    while chosen.len() < at_least {
        chosen.insert(rng.below(points.len()) + 1);
    }
    chosen
}

/// The crash points a run traced (`FERRY_CRASH_TRACE=FILE`), in the order it reached them.
pub fn crash_trace(trace: &Path) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Files under the store's upload area (any pack bytes the server kept).
pub fn upload_files(store: &Path) -> Vec<String> {
    let d = store.join("uploads");
    if !d.exists() {
        return Vec::new();
    }
    walkdir::WalkDir::new(&d)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(&d).unwrap().display().to_string())
        .collect()
}
