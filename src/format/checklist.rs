//! The signed checksum list of a volume: one `SHA256 (path) = hex` line per file, the
//! form `sha256sum --tag` writes and `signify -C` checks.

use super::constants::{SIGNED_PREFIX, VOLUME_FILE};
use super::id::Sha256Digest;
use super::relpath;

/// What is wrong with a checksum list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChecklistError {
    /// Not UTF-8, or not newline-terminated.
    #[error("the checksum list is not UTF-8 text ending in a newline")]
    NotText,
    /// A line that is not `SHA256 (path) = 64 hex digits`.
    #[error("line {line}: not a `SHA256 (path) = hex` line")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// A path that is not a safe relative path.
    #[error("line {line}: {source}")]
    BadPath {
        /// 1-based line number.
        line: usize,
        /// Why.
        source: relpath::BadPath,
    },
    /// A path listed twice.
    #[error("line {line}: {path} is listed twice")]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// The path.
        path: String,
    },
    /// The first line does not name `volume.toml` (the domain-separation prefix).
    #[error(
        "the signed list does not begin with {SIGNED_PREFIX:?}: this is not a ferry volume signature"
    )]
    NotAVolumeList,
}

/// One line of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the volume directory.
    pub path: String,
    /// SHA-256 of the file.
    pub sha256: Sha256Digest,
}

/// Format the list. `entries` must start with `volume.toml`; the order is kept.
pub fn encode(entries: &[Entry]) -> String {
    debug_assert!(entries.first().map(|e| e.path.as_str()) == Some(VOLUME_FILE));
    let mut s = String::with_capacity(entries.len() * 100);
    for e in entries {
        s.push_str("SHA256 (");
        s.push_str(&e.path);
        s.push_str(") = ");
        s.push_str(&e.sha256.to_hex());
        s.push('\n');
    }
    s
}

/// Parse a signed list strictly: every line well formed, paths safe and unique, the
/// first line naming `volume.toml`.
pub fn decode(message: &[u8]) -> Result<Vec<Entry>, ChecklistError> {
    let text = std::str::from_utf8(message).map_err(|_| ChecklistError::NotText)?;
    if !text.starts_with(SIGNED_PREFIX) {
        return Err(ChecklistError::NotAVolumeList);
    }
    let body = text.strip_suffix('\n').ok_or(ChecklistError::NotText)?;
    let mut out: Vec<Entry> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in body.split('\n').enumerate() {
        let n = i + 1;
        let rest = line
            .strip_prefix("SHA256 (")
            .ok_or(ChecklistError::BadLine { line: n })?;
        let (path, hex) = rest
            .rsplit_once(") = ")
            .ok_or(ChecklistError::BadLine { line: n })?;
        if path.contains(')') {
            // signify reads the path up to the first ')'.
            return Err(ChecklistError::BadLine { line: n });
        }
        relpath::check(path).map_err(|source| ChecklistError::BadPath { line: n, source })?;
        let sha256 = hex
            .parse()
            .map_err(|_| ChecklistError::BadLine { line: n })?;
        if !seen.insert(path) {
            return Err(ChecklistError::Duplicate {
                line: n,
                path: path.to_string(),
            });
        }
        out.push(Entry {
            path: path.to_string(),
            sha256,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(p: &str, b: &[u8]) -> Entry {
        Entry {
            path: p.into(),
            sha256: Sha256Digest::of(b),
        }
    }

    #[test]
    fn round_trip() {
        let list = vec![
            e("volume.toml", b"v"),
            e("manifest.toml", b"m"),
            e("packs/0001.ferrypack", b"p"),
        ];
        let text = encode(&list);
        assert!(text.starts_with(SIGNED_PREFIX));
        assert_eq!(decode(text.as_bytes()).unwrap(), list);
    }

    #[test]
    fn strict() {
        let v = encode(&[e("volume.toml", b"v")]);
        assert_eq!(
            decode(v.trim_end().as_bytes()),
            Err(ChecklistError::NotText)
        );
        let dup = format!("{v}{}", v);
        assert!(matches!(
            decode(dup.as_bytes()),
            Err(ChecklistError::Duplicate { line: 2, .. })
        ));
        let up = format!("{v}SHA256 (../x) = {}\n", Sha256Digest::of(b"").to_hex());
        assert!(matches!(
            decode(up.as_bytes()),
            Err(ChecklistError::BadPath { line: 2, .. })
        ));
        let other = format!(
            "SHA256 (manifest.toml) = {}\n",
            Sha256Digest::of(b"m").to_hex()
        );
        assert_eq!(
            decode(other.as_bytes()),
            Err(ChecklistError::NotAVolumeList)
        );
        let upper = v
            .to_uppercase()
            .replace("SHA256 (VOLUME.TOML)", "SHA256 (volume.toml)");
        assert!(matches!(
            decode(upper.as_bytes()),
            Err(ChecklistError::BadLine { line: 1 })
        ));
    }
}
