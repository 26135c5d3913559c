//! `volume.toml`: which bundle a medium belongs to and which volume of it it is.
//!
//! Four lines, always in canonical form: a reader accepts exactly the bytes the writer
//! would write for the values it reads.

use super::constants::{MAX_VOLUMES, VOLUME_FORMAT};
use super::id::BundleId;

/// The identity of one volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Id of the bundle (SHA-256 of its manifest).
    pub bundle: BundleId,
    /// This volume's number, 1-based.
    pub volume: u32,
    /// How many volumes the bundle has.
    pub volumes: u32,
}

/// What is wrong with a `volume.toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeInfoError {
    /// Another format or version.
    #[error("volume.toml is format {found:?}; this ferry reads only {VOLUME_FORMAT:?}")]
    UnknownFormat {
        /// The first line, shortened.
        found: String,
    },
    /// Not the four canonical lines.
    #[error(
        "volume.toml is not the four lines format, bundle, volume and volumes in canonical form"
    )]
    Parse,
    /// Numbers out of range.
    #[error("volume.toml says volume {volume} of {volumes}")]
    OutOfRange {
        /// Volume number.
        volume: u32,
        /// Volume count.
        volumes: u32,
    },
}

impl VolumeInfo {
    /// Canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "format = \"{VOLUME_FORMAT}\"\nbundle = \"{}\"\nvolume = {}\nvolumes = {}\n",
            self.bundle.to_hex(),
            self.volume,
            self.volumes
        )
        .into_bytes()
    }

    /// Parse strictly: the first line names the format, the rest must be canonical.
    pub fn parse(bytes: &[u8]) -> Result<Self, VolumeInfoError> {
        let text = std::str::from_utf8(bytes).map_err(|_| VolumeInfoError::Parse)?;
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or("");
        if first != format!("format = \"{VOLUME_FORMAT}\"") {
            return Err(VolumeInfoError::UnknownFormat {
                found: first.chars().take(100).collect(),
            });
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(" = "))
                .ok_or(VolumeInfoError::Parse)
        };
        let bundle = field("bundle")?
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .and_then(|s| s.parse().ok())
            .ok_or(VolumeInfoError::Parse)?;
        let volume = field("volume")?
            .parse()
            .map_err(|_| VolumeInfoError::Parse)?;
        let volumes = field("volumes")?
            .parse()
            .map_err(|_| VolumeInfoError::Parse)?;
        let i = VolumeInfo {
            bundle,
            volume,
            volumes,
        };
        if i.encode() != bytes {
            return Err(VolumeInfoError::Parse);
        }
        if i.volume == 0 || i.volume > i.volumes || i.volumes > MAX_VOLUMES {
            return Err(VolumeInfoError::OutOfRange {
                volume: i.volume,
                volumes: i.volumes,
            });
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::id::Sha256Digest;

    #[test]
    fn round_trip_and_checks() {
        let v = VolumeInfo {
            bundle: Sha256Digest::of(b"m"),
            volume: 2,
            volumes: 3,
        };
        assert_eq!(VolumeInfo::parse(&v.encode()).unwrap(), v);
        let bad = VolumeInfo { volume: 4, ..v };
        assert!(matches!(
            VolumeInfo::parse(&bad.encode()),
            Err(VolumeInfoError::OutOfRange { .. })
        ));
        let text = String::from_utf8(v.encode()).unwrap();
        for variant in [
            format!("{text}x = 1\n"),
            text.replace('\n', "\r\n"),
            text.replace("volume = 2", "volume = 02"),
            text.replace("volume = 2", "volume = +2"),
            text.replace("volume = 2", "volume=2"),
            text.trim_end().to_string(),
            text.replace("bundle = \"", "bundle = \"\\u0030"),
        ] {
            assert!(
                matches!(
                    VolumeInfo::parse(variant.as_bytes()),
                    Err(VolumeInfoError::Parse | VolumeInfoError::UnknownFormat { .. })
                ),
                "{variant:?}"
            );
        }
    }
}
