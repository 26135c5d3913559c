//! The committed test vectors (testdata/vectors): each case's `expect` file says what a
//! reader must conclude; and the writer still produces the `good` case byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::*;

fn vectors() -> PathBuf {
    testdata().join("vectors")
}

struct Expect {
    deep: bool,
    ok: bool,
    findings: Vec<(Option<u64>, Option<String>, String)>,
    missing: Vec<u64>,
}

fn expect(case: &Path) -> Expect {
    let text = std::fs::read_to_string(case.join("expect")).unwrap();
    let mut e = Expect {
        deep: false,
        ok: false,
        findings: Vec::new(),
        missing: Vec::new(),
    };
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (k, v) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("bad expect line {line:?}"));
        match k {
            "deep" => e.deep = v == "true",
            "result" => e.ok = v == "ok",
            "missing" => e.missing.push(v.parse().unwrap()),
            "finding" => {
                let f: Vec<&str> = v.split(' ').collect();
                let opt = |s: &str| (s != "-").then(|| s.to_string());
                e.findings.push((
                    opt(f[0]).map(|n| n.parse().unwrap()),
                    opt(f[1]),
                    f[2].to_string(),
                ));
            }
            _ => panic!("unknown expect key {k}"),
        }
    }
    e
}

#[test]
fn every_vector_gives_its_expected_findings_in_verify_and_import_alike() {
    let mut cases = 0;
    let key = vectors().join("keys/vector.pub");
    for entry in std::fs::read_dir(vectors().join("cases")).unwrap() {
        let case = entry.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        let e = expect(&case);
        let mut vols: Vec<PathBuf> = std::fs::read_dir(&case)
            .unwrap()
            .map(|x| x.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        vols.sort();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        // Checking (unless the case needs decoding) and decoding reach the same findings.
        let depths: &[bool] = if e.deep { &[true] } else { &[false, true] };
        for &deep in depths {
            let (code, report) = verify(&key, &vols, deep);
            assert_eq!(code == 0, e.ok, "{name} (deep {deep}): {report:#}");
            let mut got = findings(&report);
            let mut want = e.findings.clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{name} (deep {deep}): {report:#}");
            let missing: Vec<u64> = report["missing"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_u64().unwrap())
                .collect();
            assert_eq!(missing, e.missing, "{name}");
        }
        // Import reaches the same verdict, naming the same files: it imports the good
        // bundle, refuses every bad one, and with only some volumes given (and nothing
        // else wrong) stages them without publishing anything.
        let store = tempfile::tempdir().unwrap();
        let (code, out, err) = import(store.path(), Some(&key), &vols);
        if e.ok {
            assert_eq!(code, 0, "{name}: import refused the good case: {err}");
            assert!(out.contains("imported bundle"), "{name}: {out}");
        } else if e.findings.is_empty() {
            assert_eq!(code, 0, "{name}: {err}");
            assert!(out.contains("still needed"), "{name}: {out}");
        } else {
            assert_ne!(
                code, 0,
                "{name}: import accepted what verify refuses: {out}"
            );
            assert!(err.contains("refused"), "{name}: {err}");
            for (_, file, _) in &e.findings {
                if let Some(f) = file {
                    assert!(
                        err.contains(f.as_str()),
                        "{name}: import does not name {f}: {err}"
                    );
                }
            }
            let published = store.path().join("published");
            assert!(
                !published.exists() || std::fs::read_dir(&published).unwrap().next().is_none(),
                "{name}: something was published"
            );
        }
        cases += 1;
    }
    assert!(cases >= 36, "{cases} cases");
}

#[test]
fn the_writer_still_produces_the_good_vector_byte_for_byte() {
    // Guards the format: a change to what pack writes must come with regenerated vectors
    // (testdata/vectors/make-vectors.sh) and, if it is incompatible, a new format version.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("good");
    // ferry refuses a secret key that others can read, and git checks the committed test
    // key out with mode 0644: pack with a private copy.
    use std::os::unix::fs::PermissionsExt as _;
    let key = tmp.path().join("vector.key");
    std::fs::copy(vectors().join("keys/vector.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(ferry()
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .arg("pack")
        .arg("--catalog")
        .arg(vectors().join("catalog.toml"))
        .arg("--key")
        .arg(&key)
        .arg("--state")
        .arg(tmp.path().join("state"))
        .arg("--out")
        .arg(&out)
        .args(["--media-size", "24K"]));
    let want: BTreeMap<String, Vec<u8>> = tree_bytes(&vectors().join("cases/good"))
        .into_iter()
        .filter(|(k, _)| k != "expect")
        .collect();
    let got = tree_bytes(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, v) in &want {
        assert!(&got[k] == v, "{k} differs from the committed vector");
    }
}

#[test]
fn a_reader_written_from_the_spec_alone_reaches_the_same_verdict_on_every_vector() {
    // testdata/vectors/reader/ was written by someone who read only spec/FORMAT.md and the
    // vectors (never ferry's code): it must agree with every case, which is what ferry's
    // own readers are held to above. It needs Debian's python3-nacl and python3-zstandard
    // (scripts/test.sh installs them).
    require("/usr/bin/python3");
    let (code, out, err) =
        run(std::process::Command::new("sh").arg(vectors().join("reader/check.sh")));
    let cases = std::fs::read_dir(vectors().join("cases"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("expect").is_file())
        .count();
    assert_eq!(code, 0, "the independent reader disagrees:\n{out}\n{err}");
    assert!(
        out.contains(&format!("{cases} of {cases} cases agree")),
        "{out}\n{err}"
    );
}
