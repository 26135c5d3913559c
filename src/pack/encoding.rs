//! Whether an object is worth compressing, decided from its first bytes.
//!
//! RPMs and files that are already compressed are stored raw: zstd would only scan them.
//! For anything else a trial compression of the first block decides.

use crate::format::manifest::Encoding;

/// Bytes of the first block that the trial compresses.
const SAMPLE: usize = 128 * 1024;
/// zstd level for objects that are compressed.
pub const ZSTD_LEVEL: i32 = 3;

const MAGICS: &[&[u8]] = &[
    &[0xed, 0xab, 0xee, 0xdb],             // RPM lead
    &[0x1f, 0x8b],                         // gzip
    b"BZh",                                // bzip2
    &[0xfd, b'7', b'z', b'X', b'Z', 0x00], // xz
    &[0x28, 0xb5, 0x2f, 0xfd],             // zstd
    b"\0ZCK1",                             // zchunk
    b"PK\x03\x04",                         // zip
    &[0x89, b'P', b'N', b'G'],             // png
    &[0xff, 0xd8, 0xff],                   // jpeg
];

/// Choose how to store an object from its first block (`first` is at most its whole size).
pub fn choose(first: &[u8]) -> Encoding {
    if first.len() < 256 || MAGICS.iter().any(|m| first.starts_with(m)) {
        return Encoding::Raw;
    }
    let sample = &first[..first.len().min(SAMPLE)];
    match zstd::bulk::compress(sample, 1) {
        // Worth it only below 90 % of the original.
        Ok(c) if c.len() * 10 < sample.len() * 9 => Encoding::Zstd,
        _ => Encoding::Raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_compresses_rpms_and_noise_do_not() {
        let xml = "<package type=\"rpm\"><name>ferry</name></package>\n".repeat(1000);
        assert_eq!(choose(xml.as_bytes()), Encoding::Zstd);
        let mut rpm = vec![0xed, 0xab, 0xee, 0xdb];
        rpm.extend(xml.as_bytes());
        assert_eq!(choose(&rpm), Encoding::Raw);
        let mut x: u64 = 1;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(choose(&noise), Encoding::Raw);
        assert_eq!(choose(b"tiny"), Encoding::Raw);
    }
}
