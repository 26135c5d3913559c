//! Golden files for the command line: every subcommand's `--help`, the errors an operator
//! meets first, and every `--json` document, compared with the files under tests/golden/.
//! What varies from run to run (ids, times, temporary paths, the user) is replaced by
//! placeholders first. `FERRY_BLESS=1` rewrites the files; review the diff, since a change
//! there is a change to what scripts and people see (spec/JSON.md).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compare `actual` with the golden file `name` (or write it, when blessing). Differences
/// are collected, so that one run shows all of them.
fn check(name: &str, actual: &str, diffs: &mut Vec<String>) {
    let path = golden_dir().join(name);
    if std::env::var_os("FERRY_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if want == actual => {}
        Ok(want) => diffs.push(format!(
            "{name} differs:\n--- want\n{want}\n--- got\n{actual}"
        )),
        Err(_) => diffs.push(format!("{name} is missing; got:\n{actual}")),
    }
}

/// The subcommands a `--help` text lists.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_subcommand_has_a_help_text_and_man_page_that_match_the_golden_files() {
    let mut diffs = Vec::new();
    let mut pending = vec![Vec::<String>::new()];
    let mut pages = vec!["ferry.1".to_string()];
    while let Some(path) = pending.pop() {
        let help = ok(ferry().args(&path).arg("--help"));
        let name = std::iter::once("ferry".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        check(&format!("help/{name}.txt"), &help, &mut diffs);
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub.clone());
            pages.push(format!("{name}-{sub}.1"));
            pending.push(p);
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
    assert!(pages.len() > 20, "{pages:?}");

    // `ferry man` writes one page for each of them, and man(1) reads them.
    let tmp = tempfile::tempdir().unwrap();
    ok(ferry().args(["man", "--out"]).arg(tmp.path()));
    let mut written: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    pages.sort();
    assert_eq!(written, pages);
    let page = std::fs::read_to_string(tmp.path().join("ferry-pack.1")).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "not roff: {page}");
    assert!(page.contains("\\-\\-media\\-size"), "{page}");
}

#[test]
fn completions_are_written_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _ferry"),
        ("zsh", "#compdef ferry"),
        ("fish", "complete -c ferry"),
        ("elvish", "edit:completion:arg-completer[ferry]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = ok(ferry().args(["completions", shell]));
        assert!(out.contains(marker), "{shell}: {out}");
        assert!(out.contains("media-size"), "{shell}: no --media-size");
    }
    // bash reads the script without error.
    let script = ok(ferry().args(["completions", "bash"]));
    let (code, _, err) = run(std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{script}\ncomplete -p ferry")));
    assert_eq!(code, 0, "{err}");
}

/// Placeholders for what varies: the temporary directory, then ids and times.
fn normalize_text(s: &str, tmp: &Path) -> String {
    let s = s
        .replace(&tmp.display().to_string(), "$TMP")
        .replace(env!("CARGO_MANIFEST_DIR"), "$REPO");
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(&placeholder(word));
        word.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == ':' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// One word: hex ids of 64 or 16 digits (or a 16-digit prefix) and RFC 3339 times.
fn placeholder(w: &str) -> String {
    let hex = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if w.len() == 64 && hex(w) {
        "<id64>".into()
    } else if w.len() == 16 && hex(w) && w.bytes().any(|b| b.is_ascii_alphabetic()) {
        "<id16>".into()
    } else if w.len() == 20 && w.ends_with('Z') && w.as_bytes()[10] == b'T' {
        "<time>".into()
    } else {
        w.to_string()
    }
}

fn normalize_json(v: &mut Value, tmp: &Path) {
    match v {
        Value::String(s) => *s = normalize_text(s, tmp),
        Value::Array(a) => a.iter_mut().for_each(|x| normalize_json(x, tmp)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                if k == "actor" {
                    *x = Value::String("<user>".into());
                } else if k == "public_key" {
                    *x = Value::String("<public key file>".into());
                } else if k == "id" && x.is_string() {
                    // A server's job id: random.
                    *x = Value::String("<job>".into());
                } else {
                    normalize_json(x, tmp);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_json_document_and_first_error_matches_the_golden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let k = keygen(t, "site");
    let store = t.join("store");
    let mut diffs = Vec::new();
    let json = |name: &str, args: &[&str], diffs: &mut Vec<String>| -> Value {
        let out = ok(ferry()
            .args(args)
            .arg("--json")
            .env("SOURCE_DATE_EPOCH", "1800000000"));
        let mut v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {out}"));
        assert_eq!(v["schema"], format!("ferry.{name}/1"), "{name}");
        let raw = v.clone();
        normalize_json(&mut v, t);
        check(
            &format!("json/{name}.json"),
            &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
            diffs,
        );
        raw
    };
    let s = |p: &Path| p.display().to_string();
    let catalog = s(&testdata().join("catalog.toml"));
    let out = t.join("b");
    let k_key = s(&key(&k));
    json(
        "pack-plan",
        &[
            "pack",
            "--catalog",
            &catalog,
            "--key",
            &k_key,
            "--out",
            &s(&out),
            "--media-size",
            "1M",
            "--dry-run",
        ],
        &mut diffs,
    );
    let packed = json(
        "pack",
        &[
            "pack",
            "--catalog",
            &catalog,
            "--key",
            &s(&key(&k)),
            "--out",
            &s(&out),
            "--media-size",
            "1M",
        ],
        &mut diffs,
    );
    let vols: Vec<String> = packed["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    json("bundles", &["bundles", "--key", &k_key], &mut diffs);
    let mut args = vec!["verify", "--trust"];
    let pubkey = s(&public(&k));
    args.push(&pubkey);
    args.extend(vols.iter().map(String::as_str));
    json("verify", &args, &mut diffs);
    let st = s(&store);
    let mut args = vec!["import", "--init", "--store", &st, "--trust", &pubkey];
    args.extend(vols.iter().map(String::as_str));
    json("import", &args, &mut diffs);
    json("status", &["status", "--store", &st], &mut diffs);
    ok(ferry().args(["env", "create", "--store", &st, "Dev"]));
    json("environments", &["env", "list", "--store", &st], &mut diffs);
    json(
        "promote",
        &["promote", "--store", &st, "--to", "Dev", "web", "1.0"],
        &mut diffs,
    );
    json("prune", &["prune", "--store", &st, "--dry-run"], &mut diffs);
    ok(ferry().args(["trust", "add", "--store", &st, &pubkey]));
    json("trust", &["trust", "list", "--store", &st], &mut diffs);
    json("history", &["history", "--store", &st], &mut diffs);
    // push: the same bundle into a site served by `ferry serve`.
    let site = t.join("site");
    ok(ferry().args(["trust", "add", "--store", &s(&site), &pubkey]));
    let server = crate::serve::Server::start(&site, &[]);
    let token = t.join("token");
    std::fs::write(&token, &server.token).unwrap();
    let mut args = vec!["push", "--server", &server.url, "--token-file"];
    let token_s = s(&token);
    args.push(&token_s);
    args.extend(vols.iter().map(String::as_str));
    let pushed = json("push", &args, &mut diffs);
    assert_eq!(pushed["result"], "imported", "{pushed:#}");
    drop(server);
    json(
        "bundles-forget",
        &["bundles", "forget", "--key", &k_key, "1"],
        &mut diffs,
    );

    // The errors an operator meets first: each said once, naming the file, with what to do.
    let errors: &[(&str, &[&str], i32)] = &[
        (
            "no-store",
            &["import", "--store", "$TMP/typo", "$TMP/b/vol-01"],
            1,
        ),
        ("no-store-status", &["status", "--store", "$TMP/typo"], 1),
        (
            "bad-size",
            &[
                "pack",
                "--catalog",
                "c.toml",
                "--key",
                "k",
                "--out",
                "o",
                "--media-size",
                "1.5X",
            ],
            2,
        ),
        (
            "missing-catalog",
            &[
                "pack",
                "--catalog",
                "$TMP/none.toml",
                "--key",
                "$TMP/site.key",
                "--out",
                "$TMP/o",
            ],
            1,
        ),
        (
            "missing-key",
            &["verify", "--trust", "$TMP/none.pub", "$TMP/b/vol-01"],
            1,
        ),
        (
            "not-a-volume",
            &["verify", "--trust", "$TMP/site.pub", "$TMP/none"],
            1,
        ),
        (
            "trust-remove-unknown",
            &[
                "trust",
                "remove",
                "--store",
                "$TMP/store",
                "0123456789abcdef",
            ],
            1,
        ),
        (
            "trust-remove-neither",
            &["trust", "remove", "--store", "$TMP/store", "nonsense"],
            1,
        ),
        ("keygen-exists", &["keygen", "--out", "$TMP/site"], 1),
        (
            "env-create-no-store",
            &["env", "create", "--store", "$TMP/typo", "Dev"],
            1,
        ),
        (
            "env-remove-library",
            &["env", "remove", "--store", "$TMP/store", "Library"],
            1,
        ),
        (
            "promote-unknown-env",
            &[
                "promote",
                "--store",
                "$TMP/store",
                "--to",
                "Qa",
                "web",
                "1.0",
            ],
            1,
        ),
        (
            "promote-unknown-version",
            &[
                "promote",
                "--store",
                "$TMP/store",
                "--to",
                "Dev",
                "web",
                "9.9",
            ],
            1,
        ),
        ("history-no-store", &["history", "--store", "$TMP/typo"], 1),
        (
            "prune-keep-zero",
            &["prune", "--store", "$TMP/store", "--keep", "0"],
            2,
        ),
        (
            "repofile-no-store",
            &["repofile", "--store", "$TMP/typo"],
            1,
        ),
        ("serve-no-site", &["serve"], 2),
        (
            "push-no-token",
            &[
                "push",
                "--server",
                "http://127.0.0.1:9",
                "--token-file",
                "$TMP/none",
                "$TMP/b/vol-01",
            ],
            1,
        ),
        (
            "pull-no-key",
            &[
                "pull",
                "--server",
                "http://127.0.0.1:9",
                "--bundle",
                "ab",
                "--out",
                "$TMP/p",
                "--trust",
                "$TMP/none.pub",
            ],
            1,
        ),
        (
            "catalog-missing-repofile",
            &[
                "catalog",
                "from-repofile",
                "$TMP/none.repo",
                "--organization",
                "acme",
                "--out",
                "$TMP/c.toml",
            ],
            1,
        ),
        ("completions-unknown-shell", &["completions", "tcsh"], 2),
        ("man-out-is-a-file", &["man", "--out", "$TMP/site.pub"], 1),
        (
            "import-abandon-unknown",
            &[
                "import",
                "--store",
                "$TMP/store",
                "--abandon",
                "0123456789abcdef",
            ],
            1,
        ),
        (
            "media-too-small",
            &[
                "pack",
                "--catalog",
                "$REPO/testdata/catalog.toml",
                "--key",
                "$TMP/site.key",
                "--out",
                "$TMP/small",
                "--media-size",
                "20K",
                "--dry-run",
            ],
            1,
        ),
    ];
    for (name, args, status) in errors {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("$TMP", &s(t))
                    .replace("$REPO", env!("CARGO_MANIFEST_DIR"))
            })
            .collect();
        let (code, stdout, stderr) = run(ferry().args(&args));
        let text = format!(
            "$ ferry {}\nstatus: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}",
            args.join(" ")
        );
        assert_eq!(code, *status, "{name}: {text}");
        check(
            &format!("errors/{name}.txt"),
            &normalize_text(&text, t),
            &mut diffs,
        );
    }
    assert!(!t.join("typo").exists(), "a mistyped store was created");

    // Media too small: the size suggested works.
    let small = s(&t.join("small"));
    let pack_at = |size: &str| {
        let mut c = ferry();
        c.args([
            "pack",
            "--catalog",
            &catalog,
            "--key",
            &k_key,
            "--out",
            &small,
        ])
        .args(["--media-size", size, "--dry-run"]);
        c
    };
    let (_, _, err) = run(&mut pack_at("20K"));
    let suggested = err
        .split("pass --media-size ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no size suggested: {err}"));
    ok(&mut pack_at(suggested));

    // --quiet: nothing on either stream when all is well; the error alone when not.
    let mut verify = vec![
        "--quiet".to_string(),
        "verify".into(),
        "--trust".into(),
        pubkey.clone(),
    ];
    verify.extend(vols.iter().cloned());
    let mut import = vec![
        "-q".to_string(),
        "import".into(),
        "--store".into(),
        st.clone(),
    ];
    import.extend(vols.iter().cloned());
    for args in [
        verify,
        import,
        vec!["status".into(), "--store".into(), st.clone(), "-q".into()],
        vec!["-q".into(), "prune".into(), "--store".into(), st.clone()],
    ] {
        let (code, out, err) = run(ferry().args(&args));
        assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""), "{args:?}");
    }
    let (code, out, err) = run(ferry().args(["-q", "verify", "--trust", &pubkey, &vols[0]]));
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(diffs.is_empty(), "{}", diffs.join("\n\n"));
}
