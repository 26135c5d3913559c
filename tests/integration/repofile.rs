//! `ferry repofile`'s filters, on a store that imported the test catalog (Library
//! repositories and content view `web`). Environments other than Library are covered by the
//! unit tests in `src/repofile.rs`.

use std::path::Path;

use crate::common::*;

fn repofile(store: &Path, args: &[&str]) -> (i32, String, String) {
    run(ferry().arg("repofile").arg("--store").arg(store).args(args))
}

/// The section ids, in order.
fn ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .map(str::to_string)
        .collect()
}

#[test]
fn repofile_filters_select_what_a_host_should_see() {
    let p = pack(&testdata().join("catalog.toml"), &[]);
    let store = p.tmp.path().join("store");
    must_import(&store, &p.key, &p.volumes);
    let selected = |args: &[&str]| {
        let (code, out, err) = repofile(&store, args);
        assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
        ids(&out)
    };
    let library = [
        "acme_acme-os_appstream",
        "acme_acme-os_baseos",
        "acme_dnf-fixture_modules",
        "acme_legacy_tools",
    ];
    let web = ["acme_web_acme-os_appstream", "acme_web_acme-os_baseos"];
    assert_eq!(selected(&[]), [&library[..], &web[..]].concat());
    assert_eq!(selected(&["--library"]), library);
    assert_eq!(selected(&["--org", "acme", "--library"]), library);
    assert_eq!(selected(&["--env", "library"]), web);
    assert_eq!(selected(&["--view", "web"]), web);
    assert_eq!(
        selected(&[
            "--env",
            "Library",
            "--view",
            "web",
            "--repo",
            "acme-os/baseos"
        ]),
        ["acme_web_acme-os_baseos"]
    );
    assert_eq!(
        selected(&["--repo", "acme-os/baseos", "--repo", "legacy/tools"]),
        [
            "acme_acme-os_baseos",
            "acme_legacy_tools",
            "acme_web_acme-os_baseos"
        ]
    );
    let (_, text, _) = repofile(&store, &["--library", "--repo", "dnf-fixture/modules"]);
    assert!(
        text.contains(
            "\n# gpgcheck=0: product dnf test-suite modular repository has no GPG key in the bundle, so dnf cannot check its packages\ngpgcheck=0\n"
        ),
        "{text}"
    );

    // Filters that match nothing: exit 1, naming what there is.
    for (args, says) in [
        (
            &["--env", "QA"][..],
            "no environment named QA in this store; environments: Library",
        ),
        (
            &["--view", "db"],
            "environment Library holds no content view db; it holds: web",
        ),
        (
            &["--org", "globex"],
            "no organization named globex publishes anything in this store; organizations: acme",
        ),
        (
            &["--view", "web", "--repo", "legacy/tools"],
            "no repository legacy/tools among those selected (--view web); they are: acme-os/appstream, acme-os/baseos",
        ),
    ] {
        let (code, out, err) = repofile(&store, args);
        assert_eq!(code, 1, "{args:?}\n{out}\n{err}");
        assert!(out.is_empty() && err.contains(says), "{args:?}\n{err}");
    }
    // Usage errors: exit 2.
    for args in [
        &["--library", "--env", "Dev"][..],
        &["--library", "--view", "web"],
        &["--repo", "baseos"],
    ] {
        let (code, _, err) = repofile(&store, args);
        assert_eq!(code, 2, "{args:?}\n{err}");
    }

    // dnf reads what a filtered file holds.
    let dnf = Dnf::new(&repofile(&store, &["--env", "Library", "--repo", "acme-os/baseos"]).1);
    let (code, o, e) = dnf.run(&[
        "--repo=acme_web_acme-os_baseos",
        "repoquery",
        "--qf",
        "%{name}-%{version}",
        "ferry-tools",
    ]);
    assert_eq!(code, 0, "{o}\n{e}");
    assert!(o.contains("ferry-tools-"), "{o}");
}
