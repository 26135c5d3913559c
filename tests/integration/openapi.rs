//! The OpenAPI document, exercised by schemathesis (PyPI): a bounded number of generated
//! requests per operation; no 5xx, and no response that the document does not describe.

use std::process::Command;

use super::common::*;
use super::serve::Server;

#[test]
fn schemathesis_finds_no_server_error_and_no_response_outside_the_document() {
    require("schemathesis");
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let store = p.tmp.path().join("store");
    must_import(&store, &p.key, &p.volumes);
    ok(ferry()
        .args(["trust", "add", "--store"])
        .arg(&store)
        .arg(public(&p.key)));
    let s = Server::start(&store, &[]);
    // Every check but positive_data_acceptance: no generator can make a valid signature or
    // public key, so a "schema-valid" random one is rightly refused.
    let (code, out, err) = run(Command::new("schemathesis")
        .arg("run")
        .arg(s.api("/openapi.json"))
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", s.token))
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            "25",
            "--seed",
            "20261128",
            "--workers",
            "2",
        ])
        .env("NO_COLOR", "1")
        // Its cache (`.schemathesis/`) goes with the test's files, not into the checkout.
        .current_dir(p.tmp.path()));
    assert_eq!(code, 0, "schemathesis found problems:\n{out}\n{err}");
    assert!(out.contains("passed"), "{out}");
    drop(s);
    // It changed nothing it should not have: the repositories are still published.
    assert!(!published_bytes(&store).is_empty());
}
