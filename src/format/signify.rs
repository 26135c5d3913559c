//! signify's key and signature encodings (OpenBSD `signify(1)`), bytes in, bytes out.
//!
//! A signify file is two lines: `untrusted comment: …` and the base64 of a binary record
//! that starts with the algorithm tag `"Ed"` and an 8-byte key number. An *embedded*
//! signature is followed directly by the signed message. Ed25519 signs the whole
//! message, no prehash. Verification uses `verify_strict` (no small-order keys or R).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha512};

use super::constants::{
    SIGNIFY_COMMENT_MAX, SIGNIFY_COMMENT_PREFIX, SIGNIFY_KDFALG, SIGNIFY_PKALG,
};
use super::id::KeyId;

/// What can be wrong with a signify file or signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignifyError {
    /// The first line is not `untrusted comment: …`.
    #[error("the first line must start with {SIGNIFY_COMMENT_PREFIX:?}")]
    BadComment,
    /// The comment line is too long for signify.
    #[error("comment is longer than {SIGNIFY_COMMENT_MAX} bytes")]
    CommentTooLong,
    /// The second line is missing or not terminated.
    #[error("the second line (base64) is missing or has no newline")]
    MissingBase64,
    /// The base64 does not decode, or decodes to the wrong length for this kind of file.
    #[error("the base64 line is not a valid {what} ({len} bytes expected)")]
    BadBase64 {
        /// Which record was expected.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The algorithm tag is not `Ed`.
    #[error("unsupported signify algorithm (only Ed25519, \"Ed\", exists)")]
    BadAlgorithm,
    /// A secret key encrypted with a passphrase.
    #[error(
        "this secret key is protected by a passphrase (bcrypt_pbkdf, {rounds} rounds); ferry reads only unencrypted keys (signify -G -n, or ferry keygen)"
    )]
    EncryptedSecretKey {
        /// KDF rounds in the key file.
        rounds: u32,
    },
    /// A secret key whose checksum or embedded public half does not match.
    #[error("the secret key is damaged (its checksum does not match)")]
    SecretKeyChecksum,
    /// The public key is not a valid Ed25519 point, or a weak one.
    #[error("the public key is not a valid Ed25519 key")]
    BadPublicKey,
    /// The signature was made by another key.
    #[error("signed by key {found}, not by key {expected}")]
    WrongKey {
        /// Key number in the signature.
        found: KeyId,
        /// Key number of the key used to check.
        expected: KeyId,
    },
    /// The signature does not verify.
    #[error(
        "the signature does not verify: the signed text was altered or the signature is damaged"
    )]
    BadSignature,
}

const PUBKEY_LEN: usize = 2 + 8 + 32;
const SIG_LEN: usize = 2 + 8 + 64;
const SECKEY_LEN: usize = 2 + 2 + 4 + 16 + 8 + 8 + 64;

/// An Ed25519 public key with its signify key number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// The key number, shown as the key id.
    pub id: KeyId,
    /// The Ed25519 key.
    pub key: VerifyingKey,
}

/// An Ed25519 signing key with its signify key number.
#[derive(Clone)]
pub struct SecretKey {
    /// The key number, shared with the public key.
    pub id: KeyId,
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

/// A signify signature record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Key number of the signing key.
    pub key_id: KeyId,
    /// The 64-byte Ed25519 signature.
    pub bytes: [u8; 64],
}

/// A parsed signify file: comment, binary record, and whatever follows the two lines.
struct Parsed<'a> {
    comment: &'a str,
    record: Vec<u8>,
    rest: &'a [u8],
}

fn parse_file<'a>(
    data: &'a [u8],
    what: &'static str,
    len: usize,
) -> Result<Parsed<'a>, SignifyError> {
    let nl = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(SignifyError::BadComment)?;
    let first = std::str::from_utf8(&data[..nl]).map_err(|_| SignifyError::BadComment)?;
    let comment = first
        .strip_prefix(SIGNIFY_COMMENT_PREFIX)
        .ok_or(SignifyError::BadComment)?;
    if comment.is_empty() {
        return Err(SignifyError::BadComment);
    }
    if first.len() > SIGNIFY_COMMENT_MAX {
        return Err(SignifyError::CommentTooLong);
    }
    let after = &data[nl + 1..];
    let nl2 = after
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(SignifyError::MissingBase64)?;
    let record = B64
        .decode(&after[..nl2])
        .map_err(|_| SignifyError::BadBase64 { what, len })?;
    if record.len() != len {
        return Err(SignifyError::BadBase64 { what, len });
    }
    if &record[..2] != SIGNIFY_PKALG {
        return Err(SignifyError::BadAlgorithm);
    }
    Ok(Parsed {
        comment,
        record,
        rest: &after[nl2 + 1..],
    })
}

fn write_file(comment: &str, record: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(comment.len() + 128 + rest.len());
    out.extend_from_slice(SIGNIFY_COMMENT_PREFIX.as_bytes());
    out.extend_from_slice(clean_comment(comment).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(B64.encode(record).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(rest);
    out
}

/// A comment is one line of at most [`SIGNIFY_COMMENT_MAX`] bytes in all.
fn clean_comment(comment: &str) -> String {
    let max = SIGNIFY_COMMENT_MAX - SIGNIFY_COMMENT_PREFIX.len();
    let mut s: String = comment
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    while s.len() > max {
        s.pop();
    }
    if s.is_empty() { "ferry".into() } else { s }
}

fn key_id(bytes: &[u8]) -> KeyId {
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    KeyId(id)
}

impl PublicKey {
    /// Parse a signify public key file (`untrusted comment:` line + base64 line).
    pub fn parse(data: &[u8]) -> Result<Self, SignifyError> {
        let p = parse_file(data, "signify public key", PUBKEY_LEN)?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&p.record[10..42]);
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| SignifyError::BadPublicKey)?;
        // Strict: no small-order key, and only the canonical encoding of the point (a
        // y at or above the field's prime, or a "negative" zero x, is another encoding of
        // some point that a lenient decoder would accept).
        if key.is_weak() || key.to_edwards().compress().to_bytes() != bytes {
            return Err(SignifyError::BadPublicKey);
        }
        Ok(Self {
            id: key_id(&p.record[2..10]),
            key,
        })
    }

    /// Encode as a signify public key file.
    pub fn encode(&self, comment: &str) -> Vec<u8> {
        let mut rec = Vec::with_capacity(PUBKEY_LEN);
        rec.extend_from_slice(SIGNIFY_PKALG);
        rec.extend_from_slice(&self.id.0);
        rec.extend_from_slice(self.key.as_bytes());
        write_file(comment, &rec, b"")
    }

    /// Check `sig` over `message`: the key number first, then the Ed25519 signature (strict).
    pub fn verify(&self, message: &[u8], sig: &Signature) -> Result<(), SignifyError> {
        if sig.key_id != self.id {
            return Err(SignifyError::WrongKey {
                found: sig.key_id,
                expected: self.id,
            });
        }
        let s = ed25519_dalek::Signature::from_bytes(&sig.bytes);
        self.key
            .verify_strict(message, &s)
            .map_err(|_| SignifyError::BadSignature)
    }
}

impl SecretKey {
    /// A key from a 32-byte Ed25519 seed and a key number.
    pub fn from_seed(seed: [u8; 32], id: KeyId) -> Self {
        Self {
            id,
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Its public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Parse an unencrypted signify secret key file (`signify -G -n`).
    pub fn parse(data: &[u8]) -> Result<Self, SignifyError> {
        let p = parse_file(data, "signify secret key", SECKEY_LEN)?;
        let r = &p.record;
        if &r[2..4] != SIGNIFY_KDFALG {
            return Err(SignifyError::BadBase64 {
                what: "signify secret key",
                len: SECKEY_LEN,
            });
        }
        let rounds = u32::from_be_bytes([r[4], r[5], r[6], r[7]]);
        if rounds != 0 {
            return Err(SignifyError::EncryptedSecretKey { rounds });
        }
        let checksum = &r[24..32];
        let id = key_id(&r[32..40]);
        let seckey = &r[40..104];
        if &Sha512::digest(seckey)[..8] != checksum {
            return Err(SignifyError::SecretKeyChecksum);
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&seckey[..32]);
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes() != &seckey[32..] {
            return Err(SignifyError::SecretKeyChecksum);
        }
        let _ = p.comment;
        Ok(Self { id, key })
    }

    /// Encode as an unencrypted signify secret key file; `salt` fills signify's salt field
    /// (unused when the key is not encrypted, but signify writes random bytes there).
    pub fn encode(&self, comment: &str, salt: [u8; 16]) -> Vec<u8> {
        let mut seckey = [0u8; 64];
        seckey[..32].copy_from_slice(self.key.as_bytes());
        seckey[32..].copy_from_slice(self.key.verifying_key().as_bytes());
        let mut rec = Vec::with_capacity(SECKEY_LEN);
        rec.extend_from_slice(SIGNIFY_PKALG);
        rec.extend_from_slice(SIGNIFY_KDFALG);
        rec.extend_from_slice(&0u32.to_be_bytes());
        rec.extend_from_slice(&salt);
        rec.extend_from_slice(&Sha512::digest(seckey)[..8]);
        rec.extend_from_slice(&self.id.0);
        rec.extend_from_slice(&seckey);
        write_file(comment, &rec, b"")
    }

    /// Sign `message` (Ed25519 is deterministic: the same key and message give the same bytes).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature {
            key_id: self.id,
            bytes: self.key.sign(message).to_bytes(),
        }
    }
}

/// An embedded signature file: `untrusted comment`, signature line, then the message.
pub fn encode_embedded(sig: &Signature, comment: &str, message: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(SIG_LEN);
    rec.extend_from_slice(SIGNIFY_PKALG);
    rec.extend_from_slice(&sig.key_id.0);
    rec.extend_from_slice(&sig.bytes);
    write_file(comment, &rec, message)
}

/// Split an embedded signature file into its signature and message. Nothing is verified here.
pub fn decode_embedded(data: &[u8]) -> Result<(Signature, &[u8]), SignifyError> {
    let p = parse_file(data, "signify signature", SIG_LEN)?;
    let mut bytes = [0u8; 64];
    bytes.copy_from_slice(&p.record[10..74]);
    Ok((
        Signature {
            key_id: key_id(&p.record[2..10]),
            bytes,
        },
        p.rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_seed([7u8; 32], KeyId([1, 2, 3, 4, 5, 6, 7, 8]))
    }

    #[test]
    fn keys_round_trip() {
        let sk = key();
        let enc = sk.encode("test secret key", [9u8; 16]);
        let back = SecretKey::parse(&enc).unwrap();
        assert_eq!(back.id, sk.id);
        assert_eq!(back.public(), sk.public());
        let pk = sk.public();
        assert_eq!(PublicKey::parse(&pk.encode("test public key")).unwrap(), pk);
    }

    #[test]
    fn embedded_signature_round_trips_and_detects_changes() {
        let sk = key();
        let msg = b"SHA256 (volume.toml) = 00\n";
        let file = encode_embedded(&sk.sign(msg), "verify with test.pub", msg);
        let (sig, body) = decode_embedded(&file).unwrap();
        assert_eq!(body, msg);
        sk.public().verify(body, &sig).unwrap();
        assert_eq!(
            sk.public().verify(b"SHA256 (volume.toml) = 01\n", &sig),
            Err(SignifyError::BadSignature)
        );
        let other = SecretKey::from_seed([8u8; 32], KeyId([9; 8])).public();
        assert!(matches!(
            other.verify(body, &sig),
            Err(SignifyError::WrongKey { .. })
        ));
    }

    #[test]
    fn refuses_encrypted_and_damaged_keys() {
        let sk = key();
        let enc = sk.encode("k", [0u8; 16]);
        let text = String::from_utf8(enc).unwrap();
        let line = text.lines().nth(1).unwrap();
        let mut rec = B64.decode(line).unwrap();
        rec[7] = 42; // rounds
        let enc2 = write_file("k", &rec, b"");
        assert_eq!(
            SecretKey::parse(&enc2).unwrap_err(),
            SignifyError::EncryptedSecretKey { rounds: 42 }
        );
        rec[7] = 0;
        rec[60] ^= 1; // seed byte
        assert_eq!(
            SecretKey::parse(&write_file("k", &rec, b"")).unwrap_err(),
            SignifyError::SecretKeyChecksum
        );
        assert_eq!(
            PublicKey::parse(b"hello\n").unwrap_err(),
            SignifyError::BadComment
        );
    }
}
