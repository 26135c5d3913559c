//! Opening the volumes of a bundle: signature first, then the files it covers.
//!
//! A volume is trusted only through its `SHA256.sig`: the key number must be a trusted
//! key's, the Ed25519 signature must verify (strictly) over the checksum list, and only
//! then is anything else on the volume read — `volume.toml` and `manifest.toml` are
//! compared with the list before they are parsed, and every size is capped before reading.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::format::checklist::{self, Entry};
use crate::format::constants::{
    MANIFEST_FILE, MAX_MANIFEST_FILE, MAX_SIGNATURE_FILE, MAX_VOLUME_FILE, SIGNATURE_FILE,
    VOLUME_FILE,
};
use crate::format::signify::{PublicKey, decode_embedded};
use crate::format::volume_info::VolumeInfo;
use crate::format::{KeyId, Sha256Digest};

/// A volume whose signature verified and whose identity files match it.
#[derive(Debug, Clone)]
pub struct Volume {
    /// The directory as given.
    pub dir: PathBuf,
    /// What `volume.toml` says.
    pub info: VolumeInfo,
    /// Key that signed it.
    pub signer: KeyId,
    /// The signed list of files.
    pub list: Vec<Entry>,
}

impl Volume {
    /// The signed SHA-256 of a file on this volume, if listed.
    pub fn listed(&self, path: &str) -> Option<Sha256Digest> {
        self.list.iter().find(|e| e.path == path).map(|e| e.sha256)
    }
}

/// Why a volume could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenProblem {
    /// The file at fault.
    pub file: String,
    /// Kind of problem.
    pub kind: ProblemKind,
    /// What to tell the operator.
    pub detail: String,
}

/// Kinds of problem a check can find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A file that should be there is not.
    Missing,
    /// A file shorter than it should be.
    Truncated,
    /// A file whose bytes are wrong.
    Corrupt,
    /// Signed by a key that is not trusted.
    UntrustedKey,
    /// The signature does not verify.
    BadSignature,
    /// A file that does not parse.
    Malformed,
    /// A volume of another bundle.
    WrongBundle,
    /// The same volume number given twice.
    Duplicate,
    /// An object that does not decode to its id.
    DamagedObject,
    /// A file that cannot be read.
    Unreadable,
}

fn problem(file: &str, kind: ProblemKind, detail: impl Into<String>) -> OpenProblem {
    OpenProblem {
        file: file.into(),
        kind,
        detail: detail.into(),
    }
}

/// Read a whole file of at most `cap` bytes.
fn read_capped(path: &Path, cap: u64, name: &str) -> Result<Vec<u8>, OpenProblem> {
    crate::fsutil::read_capped(path, cap).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(name, ProblemKind::Missing, "is missing"),
        _ if e
            .get_ref()
            .is_some_and(|x| x.is::<crate::fsutil::TooLarge>()) =>
        {
            problem(name, ProblemKind::Malformed, e.to_string())
        }
        _ => problem(
            name,
            ProblemKind::Unreadable,
            format!("cannot be read: {e}"),
        ),
    })
}

/// Open one volume: verify its signature with one of `trusted`, then check `volume.toml`
/// and `manifest.toml` against the signed list. Returns the volume and its manifest bytes.
pub fn open(dir: &Path, trusted: &[PublicKey]) -> Result<(Volume, Vec<u8>), OpenProblem> {
    let sig_bytes = read_capped(
        &dir.join(SIGNATURE_FILE),
        MAX_SIGNATURE_FILE,
        SIGNATURE_FILE,
    )
    .map_err(|mut p| {
        if p.kind == ProblemKind::Missing {
            p.detail = "is missing: nothing on this volume can be trusted".into();
        }
        p
    })?;
    let (sig, message) = decode_embedded(&sig_bytes).map_err(|e| {
        problem(
            SIGNATURE_FILE,
            ProblemKind::Malformed,
            format!("is not a signify signature: {e}"),
        )
    })?;
    let Some(key) = trusted.iter().find(|k| k.id == sig.key_id) else {
        let known: Vec<String> = trusted.iter().map(|k| k.id.to_string()).collect();
        return Err(problem(
            SIGNATURE_FILE,
            ProblemKind::UntrustedKey,
            format!(
                "is signed by key {}, which is not trusted (trusted: {}); if that key is genuine, pass its public key with --trust (or register it: ferry trust add --store STORE KEY.pub)",
                sig.key_id,
                known.join(", ")
            ),
        ));
    };
    key.verify(message, &sig).map_err(|e| {
        problem(
            SIGNATURE_FILE,
            ProblemKind::BadSignature,
            format!("does not verify with key {}: {e}", key.id),
        )
    })?;
    let list = checklist::decode(message).map_err(|e| {
        problem(
            SIGNATURE_FILE,
            ProblemKind::Malformed,
            format!("signed list: {e}"),
        )
    })?;
    let listed = |p: &str| list.iter().find(|e| e.path == p).map(|e| e.sha256);

    let vol_bytes = read_capped(&dir.join(VOLUME_FILE), MAX_VOLUME_FILE, VOLUME_FILE)?;
    check_hash(VOLUME_FILE, &vol_bytes, listed(VOLUME_FILE))?;
    let info = VolumeInfo::parse(&vol_bytes)
        .map_err(|e| problem(VOLUME_FILE, ProblemKind::Malformed, e.to_string()))?;

    let Some(manifest_hash) = listed(MANIFEST_FILE) else {
        return Err(problem(
            SIGNATURE_FILE,
            ProblemKind::Malformed,
            "the signed list does not cover manifest.toml",
        ));
    };
    if manifest_hash != info.bundle {
        return Err(problem(
            VOLUME_FILE,
            ProblemKind::Malformed,
            format!(
                "names bundle {} but the signed manifest is {}",
                info.bundle.short(),
                manifest_hash.short()
            ),
        ));
    }
    let manifest = read_capped(&dir.join(MANIFEST_FILE), MAX_MANIFEST_FILE, MANIFEST_FILE)?;
    check_hash(MANIFEST_FILE, &manifest, Some(manifest_hash))?;
    Ok((
        Volume {
            dir: dir.to_path_buf(),
            info,
            signer: sig.key_id,
            list,
        },
        manifest,
    ))
}

fn check_hash(name: &str, bytes: &[u8], want: Option<Sha256Digest>) -> Result<(), OpenProblem> {
    let Some(want) = want else {
        return Err(problem(
            name,
            ProblemKind::Malformed,
            "is not covered by the signed list",
        ));
    };
    if Sha256Digest::of(bytes) != want {
        return Err(problem(
            name,
            ProblemKind::Corrupt,
            "does not match its signed SHA-256",
        ));
    }
    Ok(())
}

/// Result of checking one listed file.
pub enum FileCheck {
    /// Intact.
    Ok,
    /// Not there.
    Missing,
    /// Shorter than expected.
    Truncated {
        /// Bytes present.
        found: u64,
    },
    /// Longer than expected.
    TooLong {
        /// Bytes present.
        found: u64,
    },
    /// Right size, wrong bytes.
    Corrupt,
    /// I/O error.
    Unreadable(std::io::Error),
}

/// Stream a file through SHA-256 (size first, when the expected size is known), reporting
/// read progress through `advance`.
pub fn check_file(
    path: &Path,
    want: Sha256Digest,
    size: Option<u64>,
    advance: &dyn Fn(u64),
) -> FileCheck {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileCheck::Missing,
        Err(e) => return FileCheck::Unreadable(e),
    };
    if let (Some(size), Ok(m)) = (size, f.metadata()) {
        if m.len() < size {
            return FileCheck::Truncated { found: m.len() };
        }
        if m.len() > size {
            return FileCheck::TooLong { found: m.len() };
        }
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                advance(n as u64);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return FileCheck::Unreadable(e),
        }
    }
    if Sha256Digest::from_hasher(h) == want {
        FileCheck::Ok
    } else {
        FileCheck::Corrupt
    }
}
