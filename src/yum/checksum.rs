//! Checksum kinds as written in yum metadata, validated hex digests and a streaming hasher.

use std::fmt;
use std::io;

use sha2::Digest;

use super::YumError;

/// A digest algorithm accepted in repository metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    /// SHA-1 (written `sha1` or, by older tools, `sha`).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256, the createrepo_c default.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumKind {
    /// Accepts the `type` attribute values seen in repos: "sha" and "sha1" (both SHA-1), "sha224",
    /// "sha256", "sha384", "sha512" (case-insensitive). "md5" and anything else ->
    /// [`YumError::UnsupportedChecksum`] naming the value.
    pub fn from_repo_type(s: &str) -> Result<Self, YumError> {
        const KINDS: [(&str, ChecksumKind); 6] = [
            ("sha", ChecksumKind::Sha1),
            ("sha1", ChecksumKind::Sha1),
            ("sha224", ChecksumKind::Sha224),
            ("sha256", ChecksumKind::Sha256),
            ("sha384", ChecksumKind::Sha384),
            ("sha512", ChecksumKind::Sha512),
        ];
        KINDS
            .iter()
            .find(|(name, _)| s.eq_ignore_ascii_case(name))
            .map(|&(_, kind)| kind)
            .ok_or_else(|| YumError::UnsupportedChecksum(s.to_owned()))
    }

    /// Canonical lowercase name: "sha1", "sha224", "sha256", "sha384" or "sha512".
    pub fn name(self) -> &'static str {
        match self {
            ChecksumKind::Sha1 => "sha1",
            ChecksumKind::Sha224 => "sha224",
            ChecksumKind::Sha256 => "sha256",
            ChecksumKind::Sha384 => "sha384",
            ChecksumKind::Sha512 => "sha512",
        }
    }

    /// Length of the digest in hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            ChecksumKind::Sha1 => 40,
            ChecksumKind::Sha224 => 56,
            ChecksumKind::Sha256 => 64,
            ChecksumKind::Sha384 => 96,
            ChecksumKind::Sha512 => 128,
        }
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A digest of a known kind; `hex` is always lowercase and of the right length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The digest algorithm.
    pub kind: ChecksumKind,
    /// The digest, lowercase hex, exactly [`ChecksumKind::hex_len`] characters.
    pub hex: String,
}

impl Checksum {
    /// Validates `hex` (length for `kind`, hex digits only; upper case is accepted and lowered).
    /// No whitespace is stripped.
    pub fn new(kind: ChecksumKind, hex: &str) -> Result<Self, YumError> {
        let bad = |reason: String| YumError::BadChecksum {
            kind: kind.name(),
            hex: hex.to_owned(),
            reason,
        };
        if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(bad(format!("{c:?} is not a hex digit")));
        }
        if hex.len() != kind.hex_len() {
            return Err(bad(format!(
                "{} hex digits, expected {}",
                hex.len(),
                kind.hex_len()
            )));
        }
        Ok(Checksum {
            kind,
            hex: hex.to_ascii_lowercase(),
        })
    }
}

impl fmt::Display for Checksum {
    /// `kind:hex`, e.g. `sha256:e3b0c442...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.hex)
    }
}

/// Streaming hasher for one [`ChecksumKind`]. Also implements [`io::Write`] for use with
/// [`io::copy`].
#[derive(Clone)]
pub struct Hasher {
    inner: HasherInner,
}

#[derive(Clone)]
enum HasherInner {
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher for `kind`.
    pub fn new(kind: ChecksumKind) -> Self {
        let inner = match kind {
            ChecksumKind::Sha1 => HasherInner::Sha1(sha1::Sha1::new()),
            ChecksumKind::Sha224 => HasherInner::Sha224(sha2::Sha224::new()),
            ChecksumKind::Sha256 => HasherInner::Sha256(sha2::Sha256::new()),
            ChecksumKind::Sha384 => HasherInner::Sha384(sha2::Sha384::new()),
            ChecksumKind::Sha512 => HasherInner::Sha512(sha2::Sha512::new()),
        };
        Hasher { inner }
    }

    /// The kind this hasher computes.
    pub fn kind(&self) -> ChecksumKind {
        match self.inner {
            HasherInner::Sha1(_) => ChecksumKind::Sha1,
            HasherInner::Sha224(_) => ChecksumKind::Sha224,
            HasherInner::Sha256(_) => ChecksumKind::Sha256,
            HasherInner::Sha384(_) => ChecksumKind::Sha384,
            HasherInner::Sha512(_) => ChecksumKind::Sha512,
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.inner {
            HasherInner::Sha1(h) => h.update(data),
            HasherInner::Sha224(h) => h.update(data),
            HasherInner::Sha256(h) => h.update(data),
            HasherInner::Sha384(h) => h.update(data),
            HasherInner::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Checksum {
        let kind = self.kind();
        let hex = match self.inner {
            HasherInner::Sha1(h) => hex::encode(h.finalize()),
            HasherInner::Sha224(h) => hex::encode(h.finalize()),
            HasherInner::Sha256(h) => hex::encode(h.finalize()),
            HasherInner::Sha384(h) => hex::encode(h.finalize()),
            HasherInner::Sha512(h) => hex::encode(h.finalize()),
        };
        Checksum { kind, hex }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_type_names() {
        use ChecksumKind::*;
        for (s, k) in [
            ("sha", Sha1),
            ("sha1", Sha1),
            ("SHA1", Sha1),
            ("Sha", Sha1),
            ("sha224", Sha224),
            ("sha256", Sha256),
            ("SHA256", Sha256),
            ("sha384", Sha384),
            ("sha512", Sha512),
        ] {
            assert_eq!(ChecksumKind::from_repo_type(s).unwrap(), k, "{s}");
        }
        for s in [
            "md5", "MD5", "", "sha2", "sha-256", " sha256", "sha256 ", "crc32",
        ] {
            match ChecksumKind::from_repo_type(s) {
                Err(YumError::UnsupportedChecksum(v)) => assert_eq!(v, s),
                other => panic!("{s:?}: {other:?}"),
            }
        }
        let msg = ChecksumKind::from_repo_type("md5").unwrap_err().to_string();
        assert!(msg.contains("\"md5\""), "{msg}");
    }

    #[test]
    fn names_and_lengths_match_hasher_output() {
        use ChecksumKind::*;
        for k in [Sha1, Sha224, Sha256, Sha384, Sha512] {
            assert_eq!(ChecksumKind::from_repo_type(k.name()).unwrap(), k);
            let c = Hasher::new(k).finish();
            assert_eq!(c.kind, k);
            assert_eq!(c.hex.len(), k.hex_len());
            assert_eq!(Checksum::new(k, &c.hex).unwrap(), c);
        }
    }

    #[test]
    fn known_digests() {
        // Well-known digests of "abc".
        let cases = [
            (
                ChecksumKind::Sha1,
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                ChecksumKind::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                ChecksumKind::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                ChecksumKind::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                ChecksumKind::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (kind, want) in cases {
            let mut h = Hasher::new(kind);
            h.update(b"a");
            h.update(b"");
            h.update(b"bc");
            assert_eq!(h.finish(), Checksum::new(kind, want).unwrap());
        }
        let mut h = Hasher::new(ChecksumKind::Sha256);
        io::copy(&mut &b"abc"[..], &mut h).unwrap();
        assert_eq!(
            h.finish().to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn checksum_validation() {
        let k = ChecksumKind::Sha1;
        let upper = "A9993E364706816ABA3E25717850C26C9CD0D89D";
        assert_eq!(
            Checksum::new(k, upper).unwrap().hex,
            upper.to_ascii_lowercase()
        );
        for bad in [
            "",
            "a9993e364706816aba3e25717850c26c9cd0d89", // 39
            "a9993e364706816aba3e25717850c26c9cd0d89d0", // 41
            "g9993e364706816aba3e25717850c26c9cd0d89d",
            " a9993e364706816aba3e25717850c26c9cd0d89d",
            "a9993e364706816aba3e25717850c26c9cd0d89\u{e9}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", // sha256
        ] {
            match Checksum::new(k, bad) {
                Err(YumError::BadChecksum { kind, hex, .. }) => {
                    assert_eq!(kind, "sha1");
                    assert_eq!(hex, bad);
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
