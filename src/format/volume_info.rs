//! `volume.toml`: which bundle a medium belongs to and which volume of it it is.

use serde::Deserialize;

use super::constants::VOLUME_FORMAT;
use super::id::BundleId;
use super::toml_out::string;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[allow(dead_code)]
    format: String,
    bundle: BundleId,
    volume: u32,
    volumes: u32,
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
    /// Not the schema.
    #[error("volume.toml does not parse: {0}")]
    Parse(String),
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
            "format = {}\nbundle = {}\nvolume = {}\nvolumes = {}\n",
            string(VOLUME_FORMAT),
            string(&self.bundle.to_hex()),
            self.volume,
            self.volumes
        )
        .into_bytes()
    }

    /// Parse strictly.
    pub fn parse(bytes: &[u8]) -> Result<Self, VolumeInfoError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| VolumeInfoError::Parse("not UTF-8".into()))?;
        let first = text.lines().next().unwrap_or("");
        if first != format!("format = {}", string(VOLUME_FORMAT)) {
            return Err(VolumeInfoError::UnknownFormat {
                found: first.chars().take(100).collect(),
            });
        }
        let raw: Raw = toml::from_str(text).map_err(|e| VolumeInfoError::Parse(e.to_string()))?;
        let i = VolumeInfo {
            bundle: raw.bundle,
            volume: raw.volume,
            volumes: raw.volumes,
        };
        if i.volume == 0 || i.volume > i.volumes || i.volumes > super::constants::MAX_VOLUMES {
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
        let extra = format!("{}x = 1\n", String::from_utf8(v.encode()).unwrap());
        assert!(matches!(
            VolumeInfo::parse(extra.as_bytes()),
            Err(VolumeInfoError::Parse(_))
        ));
    }
}
