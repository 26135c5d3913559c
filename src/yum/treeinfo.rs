//! `.treeinfo` (productmd format, and the older form it keeps in `[general]`): the files of
//! a kickstart tree. Pure: text in, the files it names out.
//!
//! Named are: every path of `[checksums]` (with its checksum), the images of every
//! `[images-ARCH]` section (kernel, initrd, efi, boot.iso, …), `[stage2]`'s `mainimage` and
//! `instimage`, and the repository directory of every `[variant-*]` (or `[general]`'s
//! `repository` in a tree without variants). Every path is checked to stay inside the tree.

use std::collections::BTreeMap;

use super::YumError;
use super::checksum::{Checksum, ChecksumKind};

/// What a `.treeinfo` names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TreeInfo {
    /// Files, each with its checksum when `[checksums]` gives one.
    pub files: BTreeMap<String, Option<Checksum>>,
    /// Directories holding a yum repository (`repodata/`): `""` for the tree's root.
    pub repositories: Vec<String>,
}

fn bad(path: &str, reason: String) -> YumError {
    YumError::BadPath {
        path: path.to_string(),
        reason,
    }
}

/// Parse `.treeinfo` text.
pub fn parse_treeinfo(text: &str) -> Result<TreeInfo, YumError> {
    // INI: [section], key = value, ; and # comments.
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with(';') || l.starts_with('#') {
            continue;
        }
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            sections.push((name.trim().to_string(), Vec::new()));
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            return Err(bad(".treeinfo", format!("not a key = value line: {l:?}")));
        };
        let Some(s) = sections.last_mut() else {
            return Err(bad(
                ".treeinfo",
                format!("a value before any section: {l:?}"),
            ));
        };
        s.1.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut out = TreeInfo::default();
    let path = |p: &str| -> Result<String, YumError> {
        super::validate_relative_path(p)?;
        Ok(p.to_string())
    };
    for (name, values) in &sections {
        if name == "checksums" {
            for (p, c) in values {
                let (kind, hex) = c
                    .split_once(':')
                    .ok_or_else(|| bad(p, format!("checksum {c:?} is not kind:hex")))?;
                let c = Checksum::new(ChecksumKind::from_repo_type(kind)?, hex)?;
                out.files.insert(path(p)?, Some(c));
            }
        }
    }
    let mut variants = false;
    for (name, values) in &sections {
        let get = |k: &str| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if name.starts_with("images-") {
            for (_, p) in values {
                out.files.entry(path(p)?).or_insert(None);
            }
        } else if name == "stage2" {
            for k in ["mainimage", "instimage"] {
                if let Some(p) = get(k) {
                    out.files.entry(path(p)?).or_insert(None);
                }
            }
        } else if name.starts_with("variant-") {
            variants = true;
            if let Some(r) = get("repository") {
                push_repo(&mut out.repositories, r)?;
            }
        }
    }
    if !variants
        && let Some((_, general)) = sections.iter().find(|(n, _)| n == "general")
        && let Some((_, r)) = general.iter().find(|(k, _)| k == "repository")
    {
        push_repo(&mut out.repositories, r)?;
    }
    Ok(out)
}

fn push_repo(repos: &mut Vec<String>, r: &str) -> Result<(), YumError> {
    let r = r.trim_end_matches('/');
    let r = if r == "." || r.is_empty() {
        String::new()
    } else {
        super::validate_relative_path(r)?;
        r.to_string()
    };
    if !repos.contains(&r) {
        repos.push(r);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_checksums_and_variant_repositories() {
        let t = parse_treeinfo(
            "[checksums]\nimages/install.img = sha256:4b1889fc227fdcabdbc5c966bcadc0db44e5e7fafe3d85eeaf7335297e3fe1da\n\
             [images-x86_64]\nkernel = images/pxeboot/vmlinuz\nefi = EFI/BOOT/BOOTX64.EFI\n\
             [stage2]\nmainimage = images/install.img\n\
             [variant-BaseOS]\nrepository = BaseOS\n[variant-AppStream]\nrepository = AppStream\n\
             [general]\n; old form\nrepository = BaseOS\n",
        )
        .unwrap();
        assert_eq!(
            t.files.keys().collect::<Vec<_>>(),
            [
                "EFI/BOOT/BOOTX64.EFI",
                "images/install.img",
                "images/pxeboot/vmlinuz"
            ]
        );
        assert!(t.files["images/install.img"].is_some());
        assert_eq!(t.repositories, ["BaseOS", "AppStream"]);
        let root = parse_treeinfo("[general]\nrepository = .\n").unwrap();
        assert_eq!(root.repositories, [""]);
    }

    #[test]
    fn paths_outside_the_tree_are_refused() {
        for bad in [
            "[checksums]\n../etc/passwd = sha256:4b1889fc227fdcabdbc5c966bcadc0db44e5e7fafe3d85eeaf7335297e3fe1da\n",
            "[images-x86_64]\nkernel = /boot/vmlinuz\n",
            "[variant-X]\nrepository = ../../x\n",
            "[stage2]\nmainimage = a/../../b\n",
        ] {
            assert!(parse_treeinfo(bad).is_err(), "{bad}");
        }
    }
}
