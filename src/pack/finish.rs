//! Finishing a bundle: the manifest, and on every volume `volume.toml`, `README.txt` and
//! last the signature `SHA256.sig`; then the volume directories move into place.
//!
//! Write order (spec/FORMAT.md, "Writing"): packs (flushed as they close), then on each
//! volume the manifest, `volume.toml`, `README.txt`, and `SHA256.sig` last, flushed, and
//! the directory renamed to its final name. A volume without `SHA256.sig` is unfinished.

use std::path::{Path, PathBuf};

use super::PackError;
use super::writer::staging_volume_dir;
use crate::format::checklist::{self, Entry};
use crate::format::constants::{
    MANIFEST_FILE, PACK_EXTENSION, PACKS_DIR, README_FILE, SIGNATURE_FILE, VOLUME_DIR_PREFIX,
    VOLUME_FILE,
};
use crate::format::manifest::Manifest;
use crate::format::readme::{self, ReadmeFacts};
use crate::format::signify::{SecretKey, encode_embedded};
use crate::format::volume_info::VolumeInfo;
use crate::format::{BundleId, Sha256Digest};
use crate::fsutil::{sync_dir, write_new_synced};

/// Name of volume `n`'s directory in a bundle of `count` volumes: `vol-01`, … with enough
/// digits that the names sort in order.
pub fn volume_dir_name(n: u32, count: u32) -> String {
    let width = count.to_string().len().max(2);
    format!("{VOLUME_DIR_PREFIX}{n:0width$}")
}

/// The small per-volume files, exactly as written (used for the room bound too).
pub struct VolumeFiles {
    /// `volume.toml`.
    pub volume: Vec<u8>,
    /// `README.txt`.
    pub readme: Vec<u8>,
    /// `SHA256.sig`.
    pub signature: Vec<u8>,
}

/// Build the per-volume files for volume `n`.
pub fn volume_files(
    manifest: &Manifest,
    manifest_bytes: &[u8],
    bundle: BundleId,
    n: u32,
    key: &SecretKey,
) -> VolumeFiles {
    let info = VolumeInfo {
        bundle,
        volume: n,
        volumes: manifest.volumes,
    };
    let volume = info.encode();
    let readme = readme::encode(&ReadmeFacts {
        organization: &manifest.organization,
        bundle,
        sequence: manifest.sequence,
        created: &manifest.created,
        signer: manifest.signer,
        volume: n,
        volumes: manifest.volumes,
    });
    let mut entries = vec![
        Entry {
            path: VOLUME_FILE.into(),
            sha256: Sha256Digest::of(&volume),
        },
        Entry {
            path: MANIFEST_FILE.into(),
            sha256: Sha256Digest::of(manifest_bytes),
        },
        Entry {
            path: README_FILE.into(),
            sha256: Sha256Digest::of(&readme),
        },
    ];
    for (name, p) in &manifest.packs {
        if p.volume == n {
            entries.push(Entry {
                path: format!("{PACKS_DIR}/{name}.{PACK_EXTENSION}"),
                sha256: p.sha256,
            });
        }
    }
    let message = checklist::encode(&entries);
    let sig = key.sign(message.as_bytes());
    let signature = encode_embedded(
        &sig,
        &format!("verify with ferry key {}", key.id),
        message.as_bytes(),
    );
    VolumeFiles {
        volume,
        readme,
        signature,
    }
}

/// Bytes of all the files of a bundle's volumes: its packs, and on every volume the
/// manifest, `volume.toml`, `README.txt` and `SHA256.sig`. Exact without the secret key:
/// a signature's size depends only on the key number.
pub fn media_bytes(manifest: &Manifest, manifest_bytes: &[u8]) -> u64 {
    volume_bytes(manifest, manifest_bytes).iter().sum()
}

/// [`media_bytes`] volume by volume.
pub fn volume_bytes(manifest: &Manifest, manifest_bytes: &[u8]) -> Vec<u64> {
    let bundle = Manifest::id_of(manifest_bytes);
    let key = SecretKey::from_seed([0; 32], manifest.signer);
    (1..=manifest.volumes)
        .map(|n| {
            let f = volume_files(manifest, manifest_bytes, bundle, n, &key);
            let packs: u64 = manifest
                .packs
                .values()
                .filter(|p| p.volume == n)
                .map(|p| p.size)
                .sum();
            packs
                + (manifest_bytes.len() + f.volume.len() + f.readme.len() + f.signature.len())
                    as u64
        })
        .collect()
}

/// Check the finished manifest, then sign and write every staged volume into
/// `opts.out`: the manifest's bytes (the bundle's id is their SHA-256) and the volume
/// directories.
pub fn seal(
    staging: &Path,
    manifest: &Manifest,
    key: &SecretKey,
    opts: &super::PackOptions,
    progress: &dyn crate::progress::Progress,
) -> Result<(Vec<u8>, Vec<PathBuf>), PackError> {
    manifest
        .check()
        .map_err(|e| PackError::Internal(format!("the manifest written does not check: {e}")))?;
    progress.begin("signing volumes", None);
    let manifest_bytes = manifest.encode();
    let volumes = write_volumes(
        staging,
        &opts.out,
        manifest,
        &manifest_bytes,
        key,
        opts.media_size,
        opts.max_file_size,
    )?;
    progress.end();
    Ok((manifest_bytes, volumes))
}

/// Write the small files on every staged volume, then move the volumes to `out`.
pub fn write_volumes(
    staging: &Path,
    out: &Path,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    key: &SecretKey,
    media_size: Option<u64>,
    max_file_size: u64,
) -> Result<Vec<PathBuf>, PackError> {
    if manifest_bytes.len() as u64 > max_file_size {
        return Err(PackError::BadLimit(format!(
            "the manifest is {} bytes, more than the largest file allowed ({max_file_size} bytes)",
            manifest_bytes.len()
        )));
    }
    let bundle = Manifest::id_of(manifest_bytes);
    let mut finals = Vec::new();
    for n in 1..=manifest.volumes {
        let dir = staging_volume_dir(staging, n);
        let files = volume_files(manifest, manifest_bytes, bundle, n, key);
        let pack_bytes: u64 = manifest
            .packs
            .values()
            .filter(|p| p.volume == n)
            .map(|p| p.size)
            .sum();
        let total = pack_bytes
            + (manifest_bytes.len()
                + files.volume.len()
                + files.readme.len()
                + files.signature.len()) as u64;
        if let Some(m) = media_size
            && total > m
        {
            return Err(PackError::Internal(format!(
                "volume {n} would hold {total} bytes, more than the media size {m}"
            )));
        }
        let w = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            write_new_synced(&p, bytes).map_err(|source| PackError::Io { path: p, source })
        };
        w(MANIFEST_FILE, manifest_bytes)?;
        w(VOLUME_FILE, &files.volume)?;
        w(README_FILE, &files.readme)?;
        w(SIGNATURE_FILE, &files.signature)?;
        sync_dir(&dir).map_err(PackError::output)?;
        finals.push((dir, out.join(volume_dir_name(n, manifest.volumes))));
    }
    for (from, to) in &finals {
        std::fs::rename(from, to).map_err(|source| PackError::Io {
            path: to.clone(),
            source,
        })?;
    }
    sync_dir(out).map_err(PackError::output)?;
    Ok(finals.into_iter().map(|(_, to)| to).collect())
}
