//! Relative paths that are safe to join under a directory we own.
//!
//! Every path that comes from a bundle (or from repository metadata) passes through
//! [`check`] before it is used: only normal components, so a path can never climb out of
//! the directory it is joined to.

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsafe or malformed path {path:?}: {why}")]
pub struct BadPath {
    /// The path (shortened to 200 characters).
    pub path: String,
    /// What is wrong with it.
    pub why: String,
}

/// Longest path accepted, in bytes. Published paths are `STORE/versions/<id>/PATH` or
/// `STORE/published/ORG/views/VIEW/PRODUCT/REPO/PATH`, and Linux takes at most 4096 bytes
/// in one path: 1024 leaves room for the store's own location and is four times the
/// longest path seen in real repositories.
pub const MAX_PATH: usize = 1024;
/// Longest path component accepted, in bytes.
pub const MAX_COMPONENT: usize = 255;

/// A path as shown in messages: at most 200 characters, then an ellipsis.
pub fn shorten(p: &str) -> String {
    if p.chars().count() <= 200 {
        p.to_string()
    } else {
        let mut s: String = p.chars().take(200).collect();
        s.push('…');
        s
    }
}

/// Accept `p` only if it is a relative path made of normal components separated by `/`:
/// not empty, not absolute, no empty, `.` or `..` component, no backslash, no control
/// character, at most [`MAX_PATH`] bytes and [`MAX_COMPONENT`] bytes per component.
pub fn check(p: &str) -> Result<(), BadPath> {
    let bad = |why: String| {
        Err(BadPath {
            path: shorten(p),
            why,
        })
    };
    if p.is_empty() {
        return bad("empty path".into());
    }
    if p.len() > MAX_PATH {
        return bad(format!("{} bytes long, the limit is {MAX_PATH}", p.len()));
    }
    if p.starts_with('/') {
        return bad("absolute path".into());
    }
    if let Some(c) = p.chars().find(|&c| c == '\\' || c.is_control()) {
        return bad(match c {
            '\\' => "contains a backslash".into(),
            '\0' => "contains a NUL byte".into(),
            c => format!("contains control character {c:?}"),
        });
    }
    if p.ends_with('/') {
        return bad("ends with '/' (names a directory)".into());
    }
    for (i, c) in p.split('/').enumerate() {
        let n = i + 1;
        match c {
            "" => return bad(format!("component {n} is empty ('//')")),
            "." => return bad(format!("component {n} is '.'")),
            ".." => return bad(format!("component {n} is '..'")),
            c if c.len() > MAX_COMPONENT => {
                return bad(format!(
                    "component {n} is {} bytes long, the limit is {MAX_COMPONENT}",
                    c.len()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_normal_and_refuses_hostile_paths() {
        for ok in [
            "a",
            "Packages/f/ferry-tilde-1.0~rc1+git5-1.noarch.rpm",
            "repodata/repomd.xml",
            ".hidden/x",
        ] {
            check(ok).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\nb",
            "a\0b",
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check(&"a/".repeat(600)).is_err());
        check(&format!("{}bc", "a/".repeat(511))).unwrap();
        assert!(check(&format!("{}b", "a/".repeat(512))).is_err());
        assert!(check(&"x".repeat(256)).is_err());
    }
}
