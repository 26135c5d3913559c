//! `ferry catalog scan`: a catalog for every yum repository under a directory.

use std::path::{Component, Path, PathBuf};

use super::{Doc, GenError, Labels, Product, Repo, ScanGroup, Value};

/// A repository found.
#[derive(Debug)]
struct Found {
    /// Its directory (canonical).
    dir: PathBuf,
    /// The nearest key file, if any.
    key: Option<PathBuf>,
    /// Other key files beside that one.
    other_keys: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GenError + '_ {
    move |error| GenError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Every repository (or kickstart tree) under `dir` (sorted by name, depth first), and the
/// symbolic links to directories not followed.
fn walk(dir: &Path, found: &mut Vec<PathBuf>, links: &mut Vec<PathBuf>) -> Result<(), GenError> {
    let mut it = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(e) = it.next() {
        let e = e.map_err(|err| GenError::Io {
            path: err.path().unwrap_or(dir).to_path_buf(),
            error: err.into(),
        })?;
        let path = e.path();
        if e.file_type().is_dir() {
            if path.join("repodata/repomd.xml").is_file() || path.join(".treeinfo").is_file() {
                found.push(e.into_path());
                it.skip_current_dir();
            }
        } else if e.path_is_symlink() && path.is_dir() {
            links.push(e.into_path());
        }
    }
    Ok(())
}

/// The `RPM-GPG-KEY*` files in `dir`, sorted.
fn keys_in(dir: &Path) -> Result<Vec<PathBuf>, GenError> {
    let mut keys: Vec<PathBuf> = std::fs::read_dir(dir)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(io(dir))?
        .into_iter()
        .filter(|e| e.file_name().to_string_lossy().starts_with("RPM-GPG-KEY"))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    keys.sort();
    Ok(keys)
}

/// `target` relative to `base` (both absolute and canonical).
fn relative(base: &Path, target: &Path) -> PathBuf {
    let b: Vec<Component> = base.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut p = PathBuf::new();
    for _ in common..b.len() {
        p.push("..");
    }
    for c in &t[common..] {
        p.push(c);
    }
    if p.as_os_str().is_empty() {
        p.push(".");
    }
    p
}

/// The last part of a path as text.
fn last(p: &Path) -> String {
    p.file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned())
}

/// Write the catalog for the repositories under `dir`; paths relative to `out`'s directory
/// when given, else to the current directory.
pub fn generate(
    dir: &Path,
    organization: &str,
    group: ScanGroup,
    out: Option<&Path>,
) -> Result<String, GenError> {
    super::check_organization(organization)?;
    let root = dir.canonicalize().map_err(io(dir))?;
    if !root.is_dir() {
        return Err(GenError::Empty {
            path: dir.to_path_buf(),
            message: "not a directory".into(),
        });
    }
    let base_dir = match out.map(|o| o.parent().unwrap_or(Path::new(""))) {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let base = base_dir.canonicalize().map_err(io(base_dir))?;

    let mut dirs = Vec::new();
    let mut links = Vec::new();
    walk(&root, &mut dirs, &mut links)?;
    if dirs.is_empty() {
        return Err(GenError::Empty {
            path: dir.to_path_buf(),
            message: "no yum repository (a directory holding repodata/repomd.xml) under it".into(),
        });
    }
    let mut found = Vec::new();
    for d in dirs {
        let mut key = None;
        let mut other_keys = Vec::new();
        for up in d.ancestors() {
            let mut keys = keys_in(up)?.into_iter();
            if let Some(k) = keys.next() {
                key = Some(k);
                other_keys = keys.collect();
                break;
            }
            if up == root {
                break;
            }
        }
        found.push(Found {
            dir: d,
            key,
            other_keys,
        });
    }

    // Names are paths from DIR's parent: "repos/baseos" for DIR "…/repos".
    let top = root.parent().unwrap_or(&root);
    let shown = |p: &Path| p.strip_prefix(top).unwrap_or(p).display().to_string();
    let mut repo_labels = Labels::default();
    let mut groups: Vec<(PathBuf, Vec<(Repo, &Found)>)> = Vec::new();
    for f in &found {
        let under: Vec<String> = f
            .dir
            .strip_prefix(&root)
            .unwrap_or(&f.dir)
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        let label = if under.is_empty() {
            last(&root)
        } else {
            under.join("-")
        };
        let mut notes = Vec::new();
        if let Some(k) = &f.key
            && !f.other_keys.is_empty()
        {
            let others: Vec<String> = f.other_keys.iter().map(|p| last(p)).collect();
            notes.push(format!(
                "several key files in {}: {} is taken, not {}",
                shown(k.parent().unwrap_or(k)),
                last(k),
                others.join(", ")
            ));
        }
        let repo = Repo {
            notes,
            label: repo_labels.unique(&super::to_label(&label, "repo")),
            name: super::to_name(&shown(&f.dir), "repository"),
            fields: vec![(
                "path",
                Value::Str(super::path_str(&relative(&base, &f.dir))?),
            )],
        };
        let key = match group {
            ScanGroup::Parent => f.dir.parent().unwrap_or(&f.dir).to_path_buf(),
            ScanGroup::Section => f.dir.clone(),
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push((repo, f)),
            None => groups.push((key, vec![(repo, f)])),
        }
    }

    let mut product_labels = Labels::default();
    let mut products = Vec::new();
    // Parents of the same name (…/BaseOS/x86_64, …/AppStream/x86_64) are told apart by
    // their whole path.
    let same_name = |d: &Path| groups.iter().filter(|(g, _)| last(g) == last(d)).count() > 1;
    let parent_labels: Vec<String> = groups
        .iter()
        .map(|(g, _)| {
            if same_name(g) {
                shown(g).replace('/', "-")
            } else {
                last(g)
            }
        })
        .collect();
    for ((gdir, members), parent_label) in groups.into_iter().zip(parent_labels) {
        let (label, name) = match group {
            ScanGroup::Parent => (
                super::to_label(&parent_label, "repositories"),
                super::to_name(&shown(&gdir), "repositories"),
            ),
            ScanGroup::Section => (members[0].0.label.clone(), members[0].0.name.clone()),
        };
        let mut keys: Vec<Option<&PathBuf>> = Vec::new();
        for (_, f) in &members {
            if !keys.contains(&f.key.as_ref()) {
                keys.push(f.key.as_ref());
            }
        }
        let mut notes = Vec::new();
        let mut gpg_key = None;
        match keys.as_slice() {
            [Some(k)] => gpg_key = Some(super::path_str(&relative(&base, k))?),
            [None] => notes.push(
                "no RPM-GPG-KEY* file found for it: set gpg_key if the packages are signed"
                    .to_string(),
            ),
            _ => {
                let all: Vec<String> = keys
                    .iter()
                    .map(|k| k.map_or("none".to_string(), |k| shown(k)))
                    .collect();
                notes.push(format!(
                    "its repositories have different GPG key files ({}): set gpg_key to the key that signs them all, or use --group section",
                    all.join(", ")
                ));
            }
        }
        products.push(Product {
            notes,
            label: product_labels.unique(&label),
            name,
            gpg_key,
            repositories: members.into_iter().map(|(r, _)| r).collect(),
        });
    }

    let mut header = vec![
        format!("Written by `ferry catalog scan` from {}.", root.display()),
        match out {
            Some(_) => format!(
                "Paths are relative to this file's directory ({}).",
                base.display()
            ),
            None => format!(
                "Paths are relative to the directory ferry ran in ({}): save this file there, \
                 or give --out FILE to have them relative to FILE's directory.",
                base.display()
            ),
        },
        match group {
            ScanGroup::Parent => "Products (--group parent): repositories in the same parent \
                                  directory form one product, labelled after that directory's name."
                .to_string(),
            ScanGroup::Section => {
                "Products (--group section): one product per repository.".to_string()
            }
        },
        "Other rules: --group parent or section (ferry catalog scan --help).".into(),
        format!(
            "GPG keys: the nearest RPM-GPG-KEY* file in a repository's directory or above it, up to {}.",
            root.display()
        ),
        "Review before ferry pack: labels and names, each product's gpg_key, and the notes.".into(),
    ];
    if !links.is_empty() {
        header.push("Symbolic links to directories, not followed:".into());
        header.extend(links.iter().map(|l| format!("  {}", l.display())));
    }
    Ok(Doc {
        header,
        organization: organization.to_string(),
        products,
    }
    .render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(dir: &Path) {
        std::fs::create_dir_all(dir.join("repodata")).unwrap();
        std::fs::write(dir.join("repodata/repomd.xml"), "<repomd/>").unwrap();
    }

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("mirror");
        repo(&t.join("el9/BaseOS/x86_64/os"));
        repo(&t.join("el9/AppStream/x86_64/os"));
        repo(&t.join("el9/extras"));
        // Inside a repository: not a repository of its own.
        repo(&t.join("el9/extras/nested"));
        repo(&t.join("tools"));
        std::fs::write(t.join("RPM-GPG-KEY-el9"), "key").unwrap();
        std::fs::write(t.join("tools/RPM-GPG-KEY-tools"), "key").unwrap();
        std::fs::write(t.join("tools/RPM-GPG-KEY-tools-old"), "key").unwrap();
        repo(&d.path().join("elsewhere"));
        std::os::unix::fs::symlink(d.path().join("elsewhere"), t.join("link")).unwrap();
        d
    }

    #[test]
    fn finds_repositories_and_groups_them_by_parent() {
        let d = tree();
        let out = d.path().join("catalog.toml");
        let text = generate(
            &d.path().join("mirror"),
            "acme",
            ScanGroup::Parent,
            Some(&out),
        )
        .unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let p = doc["product"].as_array().unwrap();
        let mut summary = Vec::new();
        for p in p {
            let s = |t: &toml::Value, k: &str| {
                t.get(k).map_or("-", |v| v.as_str().unwrap()).to_string()
            };
            summary.push(format!("{} {}", s(p, "label"), s(p, "gpg_key")));
            for r in p["repository"].as_array().unwrap() {
                summary.push(format!(
                    "  {} {} {}",
                    s(r, "label"),
                    s(r, "name"),
                    s(r, "path")
                ));
            }
        }
        assert_eq!(
            summary,
            [
                "mirror-el9-AppStream-x86_64 mirror/RPM-GPG-KEY-el9",
                "  el9-AppStream-x86_64-os mirror/el9/AppStream/x86_64/os mirror/el9/AppStream/x86_64/os",
                "mirror-el9-BaseOS-x86_64 mirror/RPM-GPG-KEY-el9",
                "  el9-BaseOS-x86_64-os mirror/el9/BaseOS/x86_64/os mirror/el9/BaseOS/x86_64/os",
                "el9 mirror/RPM-GPG-KEY-el9",
                "  el9-extras mirror/el9/extras mirror/el9/extras",
                "mirror mirror/tools/RPM-GPG-KEY-tools",
                "  tools mirror/tools mirror/tools",
            ],
            "{text}"
        );
        assert!(
            text.contains("# Symbolic links to directories, not followed:"),
            "{text}"
        );
        assert!(text.contains("mirror/link"), "{text}");
        assert!(
            text.contains(
                "# several key files in mirror/tools: RPM-GPG-KEY-tools is taken, not RPM-GPG-KEY-tools-old"
            ),
            "{text}"
        );
        assert!(!text.contains("nested"), "{text}");
        crate::catalog::parse(&text, d.path()).unwrap();
    }

    #[test]
    fn a_product_with_different_keys_gets_none_and_a_note() {
        let d = tempfile::tempdir().unwrap();
        repo(&d.path().join("r/a"));
        repo(&d.path().join("r/b"));
        std::fs::write(d.path().join("r/a/RPM-GPG-KEY-a"), "k").unwrap();
        let out = d.path().join("c.toml");
        let text = generate(&d.path().join("r"), "acme", ScanGroup::Parent, Some(&out)).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let p = doc["product"].as_array().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["label"].as_str(), Some("r"));
        assert!(p[0].get("gpg_key").is_none());
        assert!(
            text.contains("different GPG key files (r/a/RPM-GPG-KEY-a, none)"),
            "{text}"
        );

        let text = generate(&d.path().join("r"), "acme", ScanGroup::Section, Some(&out)).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let p = doc["product"].as_array().unwrap();
        let labels: Vec<&str> = p.iter().map(|p| p["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["a", "b"]);
        assert_eq!(p[0]["gpg_key"].as_str(), Some("r/a/RPM-GPG-KEY-a"));
        assert!(p[1].get("gpg_key").is_none());
    }

    #[test]
    fn paths_are_relative_to_the_output_file() {
        let d = tree();
        std::fs::create_dir(d.path().join("out")).unwrap();
        let out = d.path().join("out/c.toml");
        let text = generate(
            &d.path().join("mirror/tools"),
            "acme",
            ScanGroup::Parent,
            Some(&out),
        )
        .unwrap();
        assert!(text.contains("path = \"../mirror/tools\""), "{text}");
        assert!(text.contains("label = \"tools\""), "{text}");
        assert!(
            text.contains("gpg_key = \"../mirror/tools/RPM-GPG-KEY-tools\""),
            "{text}"
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b")),
            Path::new(".")
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/c")),
            Path::new("../../c")
        );
    }

    #[test]
    fn no_repository_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = generate(d.path(), "acme", ScanGroup::Parent, None).unwrap_err();
        assert!(e.to_string().contains("no yum repository"), "{e}");
        let e = generate(d.path(), "no/org", ScanGroup::Parent, None).unwrap_err();
        assert!(matches!(e, GenError::Organization(_)), "{e}");
    }
}
