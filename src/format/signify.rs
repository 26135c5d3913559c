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

use zeroize::Zeroizing;

use super::constants::{
    SIGNIFY_COMMENT_MAX, SIGNIFY_COMMENT_PREFIX, SIGNIFY_KDF_MAX_ROUNDS, SIGNIFY_KDFALG,
    SIGNIFY_PKALG,
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
    /// A secret key encrypted with a passphrase, read without one.
    #[error(
        "this secret key is protected by a passphrase (bcrypt_pbkdf, {rounds} rounds): the passphrase is needed to use it"
    )]
    EncryptedSecretKey {
        /// KDF rounds in the key file.
        rounds: u32,
    },
    /// A secret key whose checksum or embedded public half does not match.
    #[error("the secret key is damaged (its checksum does not match)")]
    SecretKeyChecksum,
    /// A protected secret key whose checksum does not match once decrypted: the
    /// passphrase is not the one it was written with (or the file is damaged).
    #[error("wrong passphrase (the decrypted key does not match its checksum)")]
    WrongPassphrase,
    /// An empty passphrase: signify refuses one, and bcrypt_pbkdf cannot use it.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// A protected secret key whose KDF work factor is beyond what ferry computes.
    #[error(
        "the secret key asks for {rounds} bcrypt_pbkdf rounds; ferry computes at most {SIGNIFY_KDF_MAX_ROUNDS} (signify -G uses 42)"
    )]
    TooManyRounds {
        /// KDF rounds in the key file.
        rounds: u32,
    },
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

/// A parsed signify file: its binary record, and whatever follows the two lines (the
/// comment is checked, never used: it is not signed).
struct Parsed<'a> {
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
        write_file(comment, &self.record(), b"")
    }

    fn record(&self) -> Vec<u8> {
        let mut rec = Vec::with_capacity(PUBKEY_LEN);
        rec.extend_from_slice(SIGNIFY_PKALG);
        rec.extend_from_slice(&self.id.0);
        rec.extend_from_slice(self.key.as_bytes());
        rec
    }

    /// The second line of its public key file, without the newline:
    /// base64(`"Ed"` ‖ keynum ‖ public key).
    pub fn record_base64(&self) -> String {
        B64.encode(self.record())
    }

    /// A key from [`PublicKey::record_base64`]'s text, checked as [`PublicKey::parse`]
    /// checks a file (canonical base64, the tag, a strict Ed25519 point).
    pub fn from_record_base64(text: &str) -> Result<Self, SignifyError> {
        let mut file = Vec::with_capacity(text.len() + 32);
        file.extend_from_slice(SIGNIFY_COMMENT_PREFIX.as_bytes());
        file.extend_from_slice(b"k\n");
        file.extend_from_slice(text.as_bytes());
        file.push(b'\n');
        let key = Self::parse(&file)?;
        if key.record_base64() != text {
            return Err(SignifyError::BadBase64 {
                what: "signify public key",
                len: PUBKEY_LEN,
            });
        }
        Ok(key)
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

    /// Parse an unencrypted signify secret key file (`signify -G -n`, or `ferry keygen`
    /// without a passphrase); a protected one is [`SignifyError::EncryptedSecretKey`]
    /// (read it with [`SecretKeyFile`]).
    pub fn parse(data: &[u8]) -> Result<Self, SignifyError> {
        SecretKeyFile::parse(data)?.unprotected()
    }

    /// The 64 bytes signify stores: seed, then public key.
    fn seckey(&self) -> Zeroizing<[u8; 64]> {
        let mut seckey = Zeroizing::new([0u8; 64]);
        seckey[..32].copy_from_slice(self.key.as_bytes());
        seckey[32..].copy_from_slice(self.key.verifying_key().as_bytes());
        seckey
    }

    /// Encode as an unencrypted signify secret key file; `salt` fills signify's salt field
    /// (unused when the key is not encrypted, but signify writes random bytes there).
    pub fn encode(&self, comment: &str, salt: [u8; 16]) -> Vec<u8> {
        let seckey = self.seckey();
        self.encode_record(comment, 0, salt, &seckey[..], &seckey)
    }

    /// Encode as a signify secret key file protected by `passphrase`, as `signify -G`
    /// writes it: the 64 key bytes XORed with `bcrypt_pbkdf(passphrase, salt, rounds)`.
    pub fn encode_protected(
        &self,
        comment: &str,
        salt: [u8; 16],
        rounds: u32,
        passphrase: &[u8],
    ) -> Result<Vec<u8>, SignifyError> {
        let seckey = self.seckey();
        let mask = kdf(passphrase, &salt, rounds)?;
        let mut hidden = Zeroizing::new([0u8; 64]);
        for (i, b) in hidden.iter_mut().enumerate() {
            *b = seckey[i] ^ mask[i];
        }
        Ok(self.encode_record(comment, rounds, salt, &hidden[..], &seckey))
    }

    fn encode_record(
        &self,
        comment: &str,
        rounds: u32,
        salt: [u8; 16],
        stored: &[u8],
        plain: &[u8; 64],
    ) -> Vec<u8> {
        let mut rec = Zeroizing::new(Vec::with_capacity(SECKEY_LEN));
        rec.extend_from_slice(SIGNIFY_PKALG);
        rec.extend_from_slice(SIGNIFY_KDFALG);
        rec.extend_from_slice(&rounds.to_be_bytes());
        rec.extend_from_slice(&salt);
        rec.extend_from_slice(&Sha512::digest(plain)[..8]);
        rec.extend_from_slice(&self.id.0);
        rec.extend_from_slice(stored);
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

/// bcrypt_pbkdf of `passphrase` and `salt`, 64 bytes (signify's `kdf`).
fn kdf(
    passphrase: &[u8],
    salt: &[u8; 16],
    rounds: u32,
) -> Result<Zeroizing<[u8; 64]>, SignifyError> {
    if passphrase.is_empty() {
        return Err(SignifyError::EmptyPassphrase);
    }
    if rounds > SIGNIFY_KDF_MAX_ROUNDS {
        return Err(SignifyError::TooManyRounds { rounds });
    }
    let mut mask = Zeroizing::new([0u8; 64]);
    // Fails only for an empty passphrase or salt, zero rounds or a bad output length, all
    // ruled out above (rounds = 0 never reaches here).
    bcrypt_pbkdf::bcrypt_pbkdf(passphrase, salt, rounds, &mut mask[..])
        .map_err(|_| SignifyError::EmptyPassphrase)?;
    Ok(mask)
}

/// A signify secret key file as read: the key when it is not protected, or what unlocks
/// it with the passphrase when it is (`signify -G` without `-n`).
pub struct SecretKeyFile {
    rounds: u32,
    salt: [u8; 16],
    checksum: [u8; 8],
    id: KeyId,
    stored: Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for SecretKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKeyFile({}, {} rounds)", self.id, self.rounds)
    }
}

impl SecretKeyFile {
    /// Parse a signify secret key file, protected or not. Nothing is decrypted yet.
    pub fn parse(data: &[u8]) -> Result<Self, SignifyError> {
        let p = parse_file(data, "signify secret key", SECKEY_LEN)?;
        let r = Zeroizing::new(p.record);
        if &r[2..4] != SIGNIFY_KDFALG {
            return Err(SignifyError::BadBase64 {
                what: "signify secret key",
                len: SECKEY_LEN,
            });
        }
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&r[8..24]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&r[24..32]);
        let mut stored = Zeroizing::new([0u8; 64]);
        stored.copy_from_slice(&r[40..104]);
        Ok(Self {
            rounds: u32::from_be_bytes([r[4], r[5], r[6], r[7]]),
            salt,
            checksum,
            id: key_id(&r[32..40]),
            stored,
        })
    }

    /// Its key number.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// bcrypt_pbkdf rounds; 0 when the key is not protected.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// Whether a passphrase is needed.
    pub fn is_protected(&self) -> bool {
        self.rounds != 0
    }

    /// The key of an unprotected file.
    pub fn unprotected(&self) -> Result<SecretKey, SignifyError> {
        if self.is_protected() {
            return Err(SignifyError::EncryptedSecretKey {
                rounds: self.rounds,
            });
        }
        self.key_of(&self.stored, SignifyError::SecretKeyChecksum)
    }

    /// The key, decrypted with `passphrase` when the file is protected (an unprotected
    /// file ignores it). A checksum that does not match after decryption is
    /// [`SignifyError::WrongPassphrase`].
    pub fn unlock(&self, passphrase: &[u8]) -> Result<SecretKey, SignifyError> {
        if !self.is_protected() {
            return self.unprotected();
        }
        let mask = kdf(passphrase, &self.salt, self.rounds)?;
        let mut plain = Zeroizing::new([0u8; 64]);
        for (i, b) in plain.iter_mut().enumerate() {
            *b = self.stored[i] ^ mask[i];
        }
        self.key_of(&plain, SignifyError::WrongPassphrase)
    }

    fn key_of(&self, seckey: &[u8; 64], mismatch: SignifyError) -> Result<SecretKey, SignifyError> {
        if Sha512::digest(seckey)[..8] != self.checksum {
            return Err(mismatch);
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&seckey[..32]);
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes() != &seckey[32..] {
            return Err(SignifyError::SecretKeyChecksum);
        }
        Ok(SecretKey { id: self.id, key })
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

    #[test]
    fn protected_keys_round_trip_and_refuse_a_wrong_passphrase() {
        let sk = key();
        let enc = sk
            .encode_protected("k", [5u8; 16], 42, b"correct horse")
            .unwrap();
        let file = SecretKeyFile::parse(&enc).unwrap();
        assert!(file.is_protected());
        assert_eq!((file.rounds(), file.id()), (42, sk.id));
        assert_eq!(file.unlock(b"correct horse").unwrap().public(), sk.public());
        assert_eq!(
            file.unlock(b"correct horsf").unwrap_err(),
            SignifyError::WrongPassphrase
        );
        assert_eq!(file.unlock(b"").unwrap_err(), SignifyError::EmptyPassphrase);
        assert_eq!(
            SecretKey::parse(&enc).unwrap_err(),
            SignifyError::EncryptedSecretKey { rounds: 42 }
        );
        // The stored bytes are not the key's: the unprotected encoding differs in them.
        let plain = sk.encode("k", [5u8; 16]);
        assert_ne!(plain, enc);
        // An unprotected file ignores a passphrase.
        let file = SecretKeyFile::parse(&plain).unwrap();
        assert!(!file.is_protected());
        assert_eq!(file.unlock(b"anything").unwrap().public(), sk.public());
        assert_eq!(
            sk.encode_protected("k", [5u8; 16], 42, b"").unwrap_err(),
            SignifyError::EmptyPassphrase
        );
        // A work factor no one would wait for is refused, not computed.
        let text = String::from_utf8(enc).unwrap();
        let mut rec = B64.decode(text.lines().nth(1).unwrap()).unwrap();
        rec[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let heavy = SecretKeyFile::parse(&write_file("k", &rec, b"")).unwrap();
        assert_eq!(
            heavy.unlock(b"correct horse").unwrap_err(),
            SignifyError::TooManyRounds { rounds: u32::MAX }
        );
    }

    /// `testdata/keys/signify-protected/`: made by the real `signify-openbsd -G` with a
    /// passphrase (`make.sh` there).
    #[test]
    fn reads_a_key_that_signify_protected() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/keys/signify-protected");
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let passphrase = read("passphrase");
        let passphrase = passphrase.strip_suffix(b"\n").unwrap();
        let file = SecretKeyFile::parse(&read("protected.sec")).unwrap();
        assert_eq!(file.rounds(), 42);
        let pk = PublicKey::parse(&read("protected.pub")).unwrap();
        assert_eq!(file.id(), pk.id);
        let sk = file.unlock(passphrase).unwrap();
        assert_eq!(sk.public(), pk);
        assert_eq!(
            file.unlock(b"correct horse battery stapler").unwrap_err(),
            SignifyError::WrongPassphrase
        );
        // Ed25519 is deterministic: ferry's signature is signify's, byte for byte.
        let message = read("message");
        let (sig, _) = decode_embedded(&read("message.sig")).unwrap();
        assert_eq!(sk.sign(&message), sig);
        pk.verify(&message, &sig).unwrap();
        // And what ferry writes with the same passphrase reads back the same way.
        let again = sk
            .encode_protected("again", [1u8; 16], 42, passphrase)
            .unwrap();
        assert_eq!(
            SecretKeyFile::parse(&again)
                .unwrap()
                .unlock(passphrase)
                .unwrap()
                .public(),
            pk
        );
    }

    #[test]
    fn public_key_records_round_trip_canonically() {
        let pk = key().public();
        let text = pk.record_base64();
        assert_eq!(PublicKey::from_record_base64(&text).unwrap(), pk);
        assert!(PublicKey::from_record_base64(&text[..text.len() - 4]).is_err());
        assert!(PublicKey::from_record_base64(&format!("{text}AAAA")).is_err());
        assert!(PublicKey::from_record_base64(&format!("{text}\n")).is_err());
        assert!(PublicKey::from_record_base64("").is_err());
    }
}
