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

/// [`choose`] for a file of `size` bytes on disk, reading as little of it as decides:
/// nothing below 256 bytes, the first bytes for a known magic number (an RPM, a compressed
/// file), else the trial's sample. Returns the bytes read too. The result is the one
/// [`choose`] gives for the file's first block.
pub fn choose_file(path: &std::path::Path, size: u64) -> std::io::Result<(Encoding, u64)> {
    use std::io::Read as _;
    if size < 256 {
        return Ok((Encoding::Raw, 0));
    }
    let mut f = std::fs::File::open(path)?;
    let mut first = vec![0u8; (size as usize).min(SAMPLE)];
    let magic = MAGICS.iter().map(|m| m.len()).max().unwrap_or(0);
    f.read_exact(&mut first[..magic])?;
    if MAGICS.iter().any(|m| first.starts_with(m)) {
        return Ok((Encoding::Raw, magic as u64));
    }
    f.read_exact(&mut first[magic..])?;
    Ok((choose(&first), first.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choosing_from_a_file_reads_little_and_agrees_with_the_first_block() {
        let d = tempfile::tempdir().unwrap();
        let xml = "<package type=\"rpm\"><name>ferry</name></package>\n".repeat(40_000);
        let mut rpm = vec![0xed, 0xab, 0xee, 0xdb];
        rpm.extend(xml.as_bytes());
        for (name, data) in [
            ("xml", xml.as_bytes().to_vec()),
            ("rpm", rpm),
            ("tiny", b"tiny".to_vec()),
        ] {
            let p = d.path().join(name);
            std::fs::write(&p, &data).unwrap();
            let (enc, read) = choose_file(&p, data.len() as u64).unwrap();
            let first = &data[..data.len().min(super::super::stream::CHUNK)];
            assert_eq!(enc, choose(first), "{name}");
            match name {
                "rpm" => assert_eq!(read, 6),
                "tiny" => assert_eq!(read, 0),
                _ => assert_eq!(read, SAMPLE as u64),
            }
        }
    }

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
