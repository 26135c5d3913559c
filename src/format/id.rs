//! Typed identifiers: content hashes and key numbers.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 digest, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Hash a byte slice.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }
    /// Finish a running hasher.
    pub fn from_hasher(h: Sha256) -> Self {
        Self(h.finalize().into())
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// The first 16 hex digits, for messages meant for people.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..8])
    }
}

/// Error for a malformed hex identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {len} lowercase hex digits, got {got:?}")]
pub struct BadId {
    /// What was being parsed.
    pub what: &'static str,
    /// Expected number of hex digits.
    pub len: usize,
    /// The offending text (shortened).
    pub got: String,
}

fn parse_lower_hex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], BadId> {
    let bad = || BadId {
        what,
        len: N * 2,
        got: s.chars().take(80).collect(),
    };
    if s.len() != N * 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
    Ok(out)
}

impl FromStr for Sha256Digest {
    type Err = BadId;
    fn from_str(s: &str) -> Result<Self, BadId> {
        parse_lower_hex::<32>(s, "a SHA-256 digest").map(Self)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.short())
    }
}

/// An object's identity: the SHA-256 of its bytes.
pub type ObjectId = Sha256Digest;
/// A bundle's identity: the SHA-256 of its `manifest.toml` as stored.
pub type BundleId = Sha256Digest;

/// A signify key number: 8 random bytes chosen at key generation, shown as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

impl FromStr for KeyId {
    type Err = BadId;
    fn from_str(s: &str) -> Result<Self, BadId> {
        parse_lower_hex::<8>(s, "a key id").map(Self)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_and_rejects_uppercase() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_hex().parse::<Sha256Digest>().unwrap(), d);
        assert!(d.to_hex().to_uppercase().parse::<Sha256Digest>().is_err());
        assert!("abc".parse::<Sha256Digest>().is_err());
        assert!("0011223344556677".parse::<KeyId>().is_ok());
        assert!("00112233445566".parse::<KeyId>().is_err());
    }
}
