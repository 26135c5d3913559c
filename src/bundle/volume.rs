//! One volume, checked signature first (`spec/FORMAT.md` §6.4): the key number must be a
//! trusted key's, the Ed25519 signature must verify strictly over the file list, and only
//! then is anything else on the volume read; `volume.toml`, `manifest.toml` and
//! `README.txt` are compared with the list before they are used. Once the manifest is
//! known, [`account`] checks that the list names exactly the files the manifest places on
//! the volume (step 8).

use std::path::{Path, PathBuf};

use super::findings::{Finding, ProblemKind};
use super::media::{self, Dir, MediaError};
use crate::format::checklist::{self, Entry};
use crate::format::constants::{
    MANIFEST_FILE, MAX_MANIFEST_FILE, MAX_README_FILE, MAX_SIGNATURE_FILE, MAX_VOLUME_FILE,
    PACK_EXTENSION, PACKS_DIR, README_FILE, SIGNATURE_FILE, VOLUME_FILE,
};
use crate::format::manifest::Manifest;
use crate::format::signify::{PublicKey, decode_embedded};
use crate::format::volume_info::VolumeInfo;
use crate::format::{KeyId, Sha256Digest};

/// A volume whose signature verified and whose identity files match its signed list.
#[derive(Debug)]
pub struct Volume {
    /// The directory as given.
    pub dir: PathBuf,
    /// The directory, held open: every file is opened relative to it.
    pub root: Dir,
    /// What `volume.toml` says.
    pub info: VolumeInfo,
    /// Key that signed it.
    pub signer: KeyId,
    /// The signed list of files.
    pub list: Vec<Entry>,
}

/// The path of pack `name` on its volume.
pub fn pack_file(name: &str) -> String {
    format!("{PACKS_DIR}/{name}.{PACK_EXTENSION}")
}

impl Volume {
    /// The signed SHA-256 of a file on this volume, if listed.
    pub fn listed(&self, path: &str) -> Option<Sha256Digest> {
        self.list.iter().find(|e| e.path == path).map(|e| e.sha256)
    }

    /// A finding about `file` on this volume.
    pub fn finding(
        &self,
        file: Option<&str>,
        kind: ProblemKind,
        detail: impl Into<String>,
    ) -> Finding {
        Finding::new(&self.dir, Some(self.info.volume), file, kind, detail)
    }

    /// Read this volume's manifest (≤ the format's limit) and check it against the bundle
    /// id, which the signed list gives as its SHA-256.
    pub fn read_manifest(&self) -> Result<Vec<u8>, Finding> {
        let f = |e: MediaError| self.finding(Some(MANIFEST_FILE), media_kind(&e), e.to_string());
        let bytes = media::read_capped(
            self.root.open_file(MANIFEST_FILE).map_err(f)?,
            MAX_MANIFEST_FILE,
        )
        .map_err(f)?;
        if Sha256Digest::of(&bytes) != self.info.bundle {
            return Err(self.finding(
                Some(MANIFEST_FILE),
                ProblemKind::Corrupt,
                "does not match its signed SHA-256",
            ));
        }
        Ok(bytes)
    }
}

/// The kind of finding for a file that cannot be read.
pub fn media_kind(e: &MediaError) -> ProblemKind {
    match e {
        MediaError::Missing => ProblemKind::Missing,
        MediaError::TooLarge { .. } => ProblemKind::Malformed,
        _ => ProblemKind::Unreadable,
    }
}

/// §6.4 steps 1–5 on the bytes of a `SHA256.sig`: signed by a trusted key, verified
/// strictly, and its message a well-formed list. Returns the signer and the list, or the
/// kind of problem and what to tell the operator. The server runs this on an uploaded
/// signature before it accepts any other file of the volume.
pub fn signed_list(
    sig_bytes: &[u8],
    trusted: &[PublicKey],
) -> Result<(KeyId, Vec<Entry>), (ProblemKind, String)> {
    let (sig, message) = decode_embedded(sig_bytes).map_err(|e| {
        (
            ProblemKind::Malformed,
            format!("is not a signify signature: {e}"),
        )
    })?;
    let Some(key) = trusted.iter().find(|k| k.id == sig.key_id) else {
        let known: Vec<String> = trusted.iter().map(|k| k.id.to_string()).collect();
        return Err((
            ProblemKind::UntrustedKey,
            format!(
                "is signed by key {}, which is not trusted (trusted: {})",
                sig.key_id,
                known.join(", ")
            ),
        ));
    };
    key.verify(message, &sig).map_err(|e| {
        (
            ProblemKind::BadSignature,
            format!("does not verify with key {}: {e}", key.id),
        )
    })?;
    let list = checklist::decode(message)
        .map_err(|e| (ProblemKind::Malformed, format!("signed list: {e}")))?;
    Ok((sig.key_id, list))
}

/// Open one volume (§6.4 steps 1–7). On success, also returns findings that do not stop
/// the volume from being used (a damaged `README.txt`).
pub fn open(dir: &Path, trusted: &[PublicKey]) -> Result<(Volume, Vec<Finding>), Finding> {
    let at = |file: &str, kind, detail: String| Finding::new(dir, None, Some(file), kind, detail);
    let media = |file: &'static str| move |e: MediaError| at(file, media_kind(&e), e.to_string());
    let root = Dir::open(dir).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ProblemKind::Missing
        } else {
            ProblemKind::Unreadable
        };
        Finding::new(
            dir,
            None,
            None,
            kind,
            format!("is not a volume directory that can be read: {e}"),
        )
    })?;

    // 1–4: the signature, by a trusted key, strictly.
    let sig_bytes = root
        .open_file(SIGNATURE_FILE)
        .and_then(|f| media::read_capped(f, MAX_SIGNATURE_FILE))
        .map_err(|e| match e {
            MediaError::Missing => at(
                SIGNATURE_FILE,
                ProblemKind::Missing,
                "is missing: nothing on this volume can be trusted".into(),
            ),
            e => media(SIGNATURE_FILE)(e),
        })?;
    let (signer, list) = signed_list(&sig_bytes, trusted)
        .map_err(|(kind, detail)| at(SIGNATURE_FILE, kind, detail))?;
    let listed = |p: &str| list.iter().find(|e| e.path == p).map(|e| e.sha256);

    // 6: volume.toml.
    let vol_bytes = root
        .open_file(VOLUME_FILE)
        .and_then(|f| media::read_capped(f, MAX_VOLUME_FILE))
        .map_err(media(VOLUME_FILE))?;
    if Some(Sha256Digest::of(&vol_bytes)) != listed(VOLUME_FILE) {
        return Err(at(
            VOLUME_FILE,
            ProblemKind::Corrupt,
            "does not match its signed SHA-256".into(),
        ));
    }
    let info = VolumeInfo::parse(&vol_bytes)
        .map_err(|e| at(VOLUME_FILE, ProblemKind::Malformed, e.to_string()))?;

    // From here on, the volume's number is known.
    let numbered = |file: &str, kind, detail: String| {
        Finding::new(dir, Some(info.volume), Some(file), kind, detail)
    };
    // 7: manifest.toml is the bundle named by volume.toml (read in full later, once).
    let Some(manifest_hash) = listed(MANIFEST_FILE) else {
        return Err(numbered(
            SIGNATURE_FILE,
            ProblemKind::Malformed,
            "the signed list does not cover manifest.toml".into(),
        ));
    };
    if manifest_hash != info.bundle {
        return Err(numbered(
            VOLUME_FILE,
            ProblemKind::Malformed,
            format!(
                "names bundle {} but the signed manifest is {}",
                info.bundle.short(),
                manifest_hash.short()
            ),
        ));
    }
    let (found, _) = root
        .open_file(MANIFEST_FILE)
        .and_then(|f| media::hash_capped(f, MAX_MANIFEST_FILE))
        .map_err(|e| numbered(MANIFEST_FILE, media_kind(&e), e.to_string()))?;
    if found != manifest_hash {
        return Err(numbered(
            MANIFEST_FILE,
            ProblemKind::Corrupt,
            "does not match its signed SHA-256".into(),
        ));
    }

    let volume = Volume {
        dir: dir.to_path_buf(),
        root,
        info,
        signer,
        list,
    };
    let mut findings = Vec::new();
    if let Some(want) = volume.listed(README_FILE) {
        let f = |e: MediaError| volume.finding(Some(README_FILE), media_kind(&e), e.to_string());
        match volume
            .root
            .open_file(README_FILE)
            .and_then(|f| media::hash_capped(f, MAX_README_FILE))
        {
            Ok((found, _)) if found == want => {}
            Ok(_) => findings.push(volume.finding(
                Some(README_FILE),
                ProblemKind::Corrupt,
                "does not match its signed SHA-256",
            )),
            Err(e) => findings.push(f(e)),
        }
    }
    Ok((volume, findings))
}

/// Step 8: the signed list must be exactly `volume.toml`, `manifest.toml`, `README.txt`,
/// then `packs/NAME.ferrypack` for every pack the manifest places on this volume, in name
/// order, each with the manifest's SHA-256. Every difference is a finding.
pub fn account(v: &Volume, m: &Manifest) -> Vec<Finding> {
    let mut out = Vec::new();
    let n = v.info.volume;
    let mut expected: Vec<(String, Option<Sha256Digest>)> = vec![
        (VOLUME_FILE.into(), None),
        (MANIFEST_FILE.into(), None),
        (README_FILE.into(), None),
    ];
    for (name, p) in m.packs.iter().filter(|(_, p)| p.volume == n) {
        expected.push((pack_file(name), Some(p.sha256)));
    }
    for (path, want) in &expected {
        match (v.listed(path), want) {
            (None, None) => out.push(v.finding(
                Some(path),
                ProblemKind::Malformed,
                "is not covered by the signed list",
            )),
            (None, Some(_)) => out.push(v.finding(
                Some(path),
                ProblemKind::BadSignature,
                "is in the manifest but not in the signed list",
            )),
            (Some(got), Some(want)) if got != *want => out.push(v.finding(
                Some(path),
                ProblemKind::BadSignature,
                "has one SHA-256 in the manifest and another in the signed list",
            )),
            _ => {}
        }
    }
    for e in &v.list {
        if !expected.iter().any(|(p, _)| *p == e.path) {
            out.push(v.finding(
                Some(&e.path),
                ProblemKind::Malformed,
                "is in the signed list, but the manifest does not account for it",
            ));
        }
    }
    if out.is_empty()
        && !v
            .list
            .iter()
            .map(|e| &e.path)
            .eq(expected.iter().map(|(p, _)| p))
    {
        out.push(v.finding(
            Some(SIGNATURE_FILE),
            ProblemKind::Malformed,
            "lists the files of the volume out of order (volume.toml, manifest.toml, README.txt, then the packs by name)",
        ));
    }
    out
}
