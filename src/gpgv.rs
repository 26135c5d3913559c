//! Upstream OpenPGP signatures (`repodata/repomd.xml.asc`), checked with `gpgv`: the
//! verifier Debian ships in its base system for apt, so ferry carries no OpenPGP code of its
//! own. The key is the product's `gpg_key` (ASCII-armored, as rpm and dnf take it); `gpgv`
//! reads only binary keyrings, so the armor is taken off here.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `gpgv` is not installed.
    #[error(
        "gpgv is needed to check repomd.xml.asc and is not installed (Debian: apt install gpgv)"
    )]
    NoGpgv,
    /// The key file holds no OpenPGP public key.
    #[error("the GPG key is not an ASCII-armored or binary OpenPGP public key")]
    BadKey,
    /// gpgv refused the signature.
    #[error("the signature does not verify with the product's GPG key: {0}")]
    Bad(String),
    /// Temporary files.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The binary packets of every armored public key block in `key` (or `key` itself when it
/// is already binary).
pub fn dearmor(key: &[u8]) -> Option<Vec<u8>> {
    if key.first().is_some_and(|b| b & 0x80 != 0) {
        return Some(key.to_vec());
    }
    let text = std::str::from_utf8(key).ok()?;
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim_end);
    while let Some(l) = lines.next() {
        if l != "-----BEGIN PGP PUBLIC KEY BLOCK-----" {
            continue;
        }
        // Armor headers ("Version: …") end at the first empty line.
        let mut body = String::new();
        let mut in_headers = true;
        for l in lines.by_ref() {
            if l.starts_with("-----END PGP PUBLIC KEY BLOCK") {
                break;
            }
            if in_headers {
                if l.is_empty() {
                    in_headers = false;
                } else if !l.contains(": ") {
                    in_headers = false;
                    body.push_str(l);
                }
                continue;
            }
            if l.starts_with('=') {
                continue; // the CRC-24 line
            }
            body.push_str(l.trim());
        }
        out.extend(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .ok()?,
        );
    }
    (!out.is_empty()).then_some(out)
}

/// Check the detached signature `sig` of `data` with `key`; the signer's fingerprint.
pub fn verify(key: &[u8], data: &[u8], sig: &[u8]) -> Result<String, SignatureError> {
    let keyring = dearmor(key).ok_or(SignatureError::BadKey)?;
    let dir = tempfile::tempdir()?;
    let write = |name: &str, bytes: &[u8]| -> std::io::Result<std::path::PathBuf> {
        let p = dir.path().join(name);
        std::fs::File::create(&p)?.write_all(bytes)?;
        Ok(p)
    };
    let kr = write("keyring.gpg", &keyring)?;
    let d = write("data", data)?;
    let s = write("data.sig", sig)?;
    run(dir.path(), &kr, &s, &d)
}

fn run(home: &Path, keyring: &Path, sig: &Path, data: &Path) -> Result<String, SignatureError> {
    let out = Command::new("gpgv")
        .env("GNUPGHOME", home)
        .env("LC_ALL", "C")
        .arg("--status-fd")
        .arg("1")
        .arg("--keyring")
        .arg(keyring)
        .arg(sig)
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SignatureError::NoGpgv,
            _ => SignatureError::Io(e),
        })?;
    let status = String::from_utf8_lossy(&out.stdout);
    let valid = status
        .lines()
        .find_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
        .and_then(|rest| rest.split(' ').next());
    match valid {
        Some(fpr) if out.status.success() => Ok(fpr.to_string()),
        _ => {
            let why: Vec<String> = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains("Signature made") && !l.contains("using "))
                .map(|l| l.trim_start_matches("gpgv: ").to_string())
                .collect();
            Err(SignatureError::Bad(if why.is_empty() {
                "gpgv refused it".into()
            } else {
                why.join("; ")
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armor_comes_off_and_binary_stays() {
        let key = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/library/RPM-GPG-KEY-ferry-test"
        ))
        .unwrap();
        let bin = dearmor(&key).unwrap();
        // An OpenPGP public key packet first (old or new format tag 6).
        assert!(bin[0] == 0x99 || bin[0] == 0xc6, "{:#x}", bin[0]);
        assert_eq!(dearmor(&bin).unwrap(), bin);
        assert!(dearmor(b"not a key").is_none());
    }
}
