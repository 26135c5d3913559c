//! Key rotation statements (`spec/FORMAT.md` §5.9): the key that signed a stream names the
//! key that continues it, and signs that, as a root of The Update Framework signs its
//! successor. Bytes in, bytes out: no filesystem.
//!
//! The statement is signed by the **old** key over a canonical message of its own, which
//! begins with [`ROTATION_MESSAGE_FIRST_LINE`]; the manifest that carries it is signed by
//! the new key, like every manifest, through the volumes' signatures.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::constants::ROTATION_MESSAGE_FIRST_LINE;
use super::id::KeyId;
use super::signify::{PublicKey, SecretKey, Signature, SignifyError};
use super::toml_out::write_string;

/// One key rotation: from the bundle of sequence `since` on, the stream of `old` (for
/// the organization of the manifest or state that holds the statement) is signed by `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Key number of the key that signed the stream until now, and signs this statement.
    pub old: KeyId,
    /// The key that signs the stream from `since` on.
    pub new: PublicKey,
    /// The first sequence of the stream that the new key signs.
    pub since: u64,
    /// When the statement was made (`YYYY-MM-DDTHH:MM:SSZ`).
    pub created: String,
    /// The old key's Ed25519 signature over [`Rotation::message`].
    pub signature: [u8; 64],
}

impl Rotation {
    /// The statement `old` makes for `organization`.
    pub fn sign(
        old: &SecretKey,
        organization: &str,
        new: &PublicKey,
        since: u64,
        created: &str,
    ) -> Self {
        let mut r = Self {
            old: old.id,
            new: new.clone(),
            since,
            created: created.to_string(),
            signature: [0; 64],
        };
        r.signature = old.sign(r.message(organization).as_bytes()).bytes;
        r
    }

    /// The signed message: six lines, each ending with `\n`:
    ///
    /// ```text
    /// ferry-key-rotation/1
    /// organization = S(organization)
    /// old = S(old key id)
    /// new = S(base64("Ed" ‖ keynum ‖ public key))
    /// since = I(since)
    /// created = S(created)
    /// ```
    pub fn message(&self, organization: &str) -> String {
        let mut m = String::with_capacity(200);
        m.push_str(ROTATION_MESSAGE_FIRST_LINE);
        m.push('\n');
        let mut kv = |name: &str, value: &str| {
            m.push_str(name);
            m.push_str(" = ");
            // Writing into a String cannot fail.
            let _ = write_string(&mut m, value);
            m.push('\n');
        };
        kv("organization", organization);
        kv("old", &self.old.to_string());
        kv("new", &self.new.record_base64());
        let _ = writeln!(m, "since = {}", self.since);
        let _ = write!(m, "created = ");
        let _ = write_string(&mut m, &self.created);
        m.push('\n');
        m
    }

    /// Check the statement against the old key: its key number, then the signature
    /// (strict, as for volumes).
    pub fn verify(&self, organization: &str, old: &PublicKey) -> Result<(), SignifyError> {
        old.verify(
            self.message(organization).as_bytes(),
            &Signature {
                key_id: self.old,
                bytes: self.signature,
            },
        )
    }

    /// The signature as written in a manifest: base64 of the 64 bytes.
    pub fn signature_base64(&self) -> String {
        B64.encode(self.signature)
    }

    /// Decode a signature written by [`Rotation::signature_base64`] (canonical base64 only).
    pub fn parse_signature(text: &str) -> Result<[u8; 64], SignifyError> {
        let bad = || SignifyError::BadBase64 {
            what: "rotation signature",
            len: 64,
        };
        let bytes = B64.decode(text).map_err(|_| bad())?;
        let sig: [u8; 64] = bytes.try_into().map_err(|_| bad())?;
        if B64.encode(sig) != text {
            return Err(bad());
        }
        Ok(sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_seed([seed; 32], KeyId([seed; 8]))
    }

    #[test]
    fn the_message_is_fixed_and_signed_by_the_old_key() {
        let (old, new) = (key(1), key(2));
        let r = Rotation::sign(&old, "acme", &new.public(), 5, "2026-12-05T08:00:00Z");
        assert_eq!(
            r.message("acme"),
            format!(
                "ferry-key-rotation/1\norganization = \"acme\"\nold = \"0101010101010101\"\nnew = \"{}\"\nsince = 5\ncreated = \"2026-12-05T08:00:00Z\"\n",
                new.public().record_base64()
            )
        );
        r.verify("acme", &old.public()).unwrap();
        // Another organization, another key, any changed field: refused.
        assert_eq!(
            r.verify("other", &old.public()),
            Err(SignifyError::BadSignature)
        );
        assert!(matches!(
            r.verify("acme", &new.public()),
            Err(SignifyError::WrongKey { .. })
        ));
        let mut later = r.clone();
        later.since = 6;
        assert_eq!(
            later.verify("acme", &old.public()),
            Err(SignifyError::BadSignature)
        );
        let mut other = r.clone();
        other.new = key(3).public();
        assert_eq!(
            other.verify("acme", &old.public()),
            Err(SignifyError::BadSignature)
        );
        // Never a volume's signed message (spec §6.2, domain separation).
        assert!(!r.message("acme").starts_with("SHA256 ("));
    }

    #[test]
    fn signatures_round_trip_in_canonical_base64_only() {
        let r = Rotation::sign(&key(1), "acme", &key(2).public(), 1, "2026-12-05T08:00:00Z");
        let text = r.signature_base64();
        assert_eq!(Rotation::parse_signature(&text).unwrap(), r.signature);
        assert!(Rotation::parse_signature(&text[..text.len() - 4]).is_err());
        assert!(Rotation::parse_signature(text.trim_end_matches('=')).is_err());
        // The last character before the padding carries 4 unused bits: with one set, the
        // text is not canonical.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bent = text.clone().into_bytes();
        let i = bent.len() - 3;
        let v = ALPHABET.iter().position(|&c| c == bent[i]).unwrap();
        assert_eq!(v & 0xf, 0);
        bent[i] = ALPHABET[v | 1];
        assert!(Rotation::parse_signature(&String::from_utf8(bent).unwrap()).is_err());
    }
}
