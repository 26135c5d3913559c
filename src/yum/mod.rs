//! Parsing of yum (rpm-md) repository metadata: `repodata/repomd.xml` and `primary.xml[.gz|.bz2|.xz|.zst]`.
//!
//! Everything here is pure: bytes or readers in, typed values out, no filesystem access.
//! Hrefs found in metadata are validated with [`validate_relative_path`] and `<location xml:base=..>`
//! (files living on another server) is refused, so a caller can safely join them onto the
//! repository root it is packing.

pub mod checksum;
pub mod decompress;
mod error;
pub mod primary;
pub mod repomd;
mod xml;

pub use error::YumError;

/// Maximum length of a repository-relative path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;
/// Maximum length of one component of a repository-relative path, in bytes.
pub const MAX_COMPONENT_LEN: usize = 255;

/// A repository-relative path as used by location href: non-empty, '/'-separated, every component
/// "normal" (not empty, not "." or "..", no NUL, no backslash, no control chars), not absolute,
/// no leading "./" tricks, max 4096 bytes, each component max 255 bytes. Returns
/// [`YumError::BadPath`] naming the path and why.
pub fn validate_relative_path(p: &str) -> Result<(), YumError> {
    let bad = |reason: String| YumError::BadPath {
        path: p.to_owned(),
        reason,
    };
    if p.is_empty() {
        return Err(bad("empty path".into()));
    }
    if p.len() > MAX_PATH_LEN {
        return Err(bad(format!(
            "{} bytes long, the limit is {MAX_PATH_LEN}",
            p.len()
        )));
    }
    if p.starts_with('/') {
        return Err(bad("absolute path".into()));
    }
    if let Some(c) = p.chars().find(|&c| c == '\\' || c.is_control()) {
        let what = match c {
            '\\' => "a backslash".to_owned(),
            '\0' => "a NUL byte".to_owned(),
            c => format!("control character {c:?}"),
        };
        return Err(bad(format!("contains {what}")));
    }
    if p.ends_with('/') {
        return Err(bad("ends with '/' (names a directory)".into()));
    }
    for (i, comp) in p.split('/').enumerate() {
        let n = i + 1;
        match comp {
            "" => return Err(bad(format!("component {n} is empty ('//')"))),
            "." => return Err(bad(format!("component {n} is '.'"))),
            ".." => return Err(bad(format!("component {n} is '..'"))),
            c if c.len() > MAX_COMPONENT_LEN => {
                return Err(bad(format!(
                    "component {n} is {} bytes long, the limit is {MAX_COMPONENT_LEN}",
                    c.len()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
