//! `verify --partial`: one stick at a time at a kiosk. Each volume given is checked
//! completely (signature, signed list, packs, and with `--deep` every object that lies
//! wholly on it); the volumes not given are named, and are no finding (issue 11).

use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;

fn bundle() -> Packed {
    let p = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    assert_eq!(p.volumes.len(), 3);
    p
}

/// `ferry verify --partial [--deep] --json`: exit status and report.
fn partial(p: &Packed, vols: &[PathBuf], deep: bool) -> (i32, Value) {
    let mut c = ferry();
    c.arg("verify")
        .arg("--partial")
        .arg("--json")
        .arg("--trust")
        .arg(public(&p.key));
    if deep {
        c.arg("--deep");
    }
    c.args(vols);
    let (code, out, err) = run(&mut c);
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {out}\n{err}"));
    (code, v)
}

/// The words `verify --partial` prints.
fn partial_text(p: &Packed, vols: &[PathBuf], deep: bool) -> (i32, String) {
    let mut c = ferry();
    c.arg("verify")
        .arg("--partial")
        .arg("--trust")
        .arg(public(&p.key));
    if deep {
        c.arg("--deep");
    }
    let (code, out, _) = run(c.args(vols));
    (code, out)
}

#[test]
fn each_stick_alone_is_intact_and_names_the_others() {
    let p = bundle();
    for (i, v) in p.volumes.iter().enumerate() {
        let n = i as u64 + 1;
        let others: Vec<u64> = (1..=3).filter(|&k| k != n).collect();
        let (code, r) = partial(&p, std::slice::from_ref(v), false);
        assert_eq!(code, 0, "{r:#}");
        assert_eq!(r["ok"], true);
        assert_eq!(r["partial"], true);
        assert_eq!(r["checked"], serde_json::json!([n]));
        assert_eq!(r["intact"], serde_json::json!([n]));
        assert_eq!(r["not_given"], serde_json::json!(others));
        assert_eq!(r["missing"], serde_json::json!([]));
        assert_eq!(r["findings"], serde_json::json!([]));
        assert!(r["packs_checked"].as_u64().unwrap() >= 1, "{r:#}");

        let (code, out) = partial_text(&p, std::slice::from_ref(v), false);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(&format!(
                "PARTIAL: checked volume {n} of 3; not given: volumes {}, {}",
                others[0], others[1]
            )),
            "{out}"
        );
        assert!(!out.contains("MISSING"), "{out}");
        assert!(out.contains(&format!("OK: volume {n} is intact")), "{out}");
    }
}

#[test]
fn a_deep_partial_check_decodes_what_lies_on_the_stick_and_names_what_continues() {
    let p = bundle();
    let (code, full) = verify(&public(&p.key), &p.volumes, true);
    assert_eq!(code, 0, "{full:#}");
    let total = full["objects_checked"].as_u64().unwrap();
    let mut decoded = 0;
    let mut continuing = std::collections::BTreeSet::new();
    for (i, v) in p.volumes.iter().enumerate() {
        let n = i as u64 + 1;
        let (code, r) = partial(&p, std::slice::from_ref(v), true);
        assert_eq!(code, 0, "{r:#}");
        decoded += r["objects_checked"].as_u64().unwrap();
        let unchecked = r["unchecked"].as_array().unwrap();
        assert_eq!(
            r["objects_unchecked"].as_u64().unwrap(),
            unchecked.len() as u64
        );
        for u in unchecked {
            let on = u["continues_on"].as_array().unwrap();
            assert!(!on.is_empty() && !on.contains(&n.into()), "{u}");
            assert!(!u["files"].as_array().unwrap().is_empty(), "{u}");
            continuing.insert(u["object"].as_str().unwrap().to_string());
        }
    }
    // 1 MiB media split at least one package; every object is decoded on the stick that
    // holds all of it, or named as continuing on another.
    assert!(!continuing.is_empty());
    assert_eq!(decoded + continuing.len() as u64, total);

    let (code, out) = partial_text(&p, &p.volumes[..1], true);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not checked: continues on volume 2"), "{out}");
}

#[test]
fn a_damaged_pack_on_stick_2_checked_alone_is_named() {
    let p = bundle();
    let packs = p.volumes[1].join("packs");
    let pack = std::fs::read_dir(&packs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rel = format!("packs/{}", pack.file_name().unwrap().to_string_lossy());
    let mut b = std::fs::read(&pack).unwrap();
    b[2000] ^= 0x40;
    std::fs::write(&pack, b).unwrap();
    for deep in [false, true] {
        let (code, r) = partial(&p, &p.volumes[1..2], deep);
        assert_eq!(code, 1, "{r:#}");
        assert_eq!(r["ok"], false);
        assert!(
            findings(&r).contains(&(Some(2), Some(rel.clone()), "corrupt".into())),
            "{r:#}"
        );
        assert_eq!(r["intact"], serde_json::json!([]));
        assert_eq!(r["not_given"], serde_json::json!([1, 3]));
        let (code, out) = partial_text(&p, &p.volumes[1..2], deep);
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!("(volume 2): {rel} is corrupt")),
            "{out}"
        );
        assert!(out.contains("NOT OK"), "{out}");
    }
    // The other sticks are still good on their own.
    let (code, r) = partial(&p, &[p.volumes[0].clone(), p.volumes[2].clone()], true);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["not_given"], serde_json::json!([2]));
}

#[test]
fn without_partial_one_stick_is_still_missing_the_others() {
    let p = bundle();
    let (code, r) = verify(&public(&p.key), &p.volumes[..1], false);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["partial"], false);
    assert_eq!(r["missing"], serde_json::json!([2, 3]));
    let (code, out, _) = run(ferry()
        .arg("verify")
        .arg("--trust")
        .arg(public(&p.key))
        .arg(&p.volumes[0]));
    assert_eq!(code, 1);
    assert!(out.contains("MISSING volumes 2, 3 of 3"), "{out}");
    assert!(!out.contains("PARTIAL"), "{out}");
}

#[test]
fn partial_does_not_excuse_a_duplicate_or_a_stranger() {
    let p = bundle();
    let (code, r) = partial(&p, &[p.volumes[0].clone(), p.volumes[0].clone()], false);
    assert_eq!(code, 1, "{r:#}");
    assert!(findings(&r).iter().any(|f| f.2 == "duplicate"), "{r:#}");
    let other = keygen(p.tmp.path(), "other");
    let (code, out, _) = run(ferry()
        .arg("verify")
        .arg("--partial")
        .arg("--trust")
        .arg(public(&other))
        .arg(&p.volumes[0]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not trusted"), "{out}");
}
