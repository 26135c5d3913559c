//! Pack entries: a pack is a POSIX ustar archive whose every entry is a regular file
//! holding one piece of one object. Readers find data by the manifest's offsets; the
//! headers exist so that `tar -tf` lists a pack and scanners see a known format.

use super::constants::{TAR_BLOCK, TAR_MAX_ENTRY, TAR_MTIME};

/// The 512-byte ustar header for an entry of `len` bytes named `name`.
pub fn header(name: &str, len: u64) -> [u8; 512] {
    debug_assert!(len <= TAR_MAX_ENTRY && name.len() < 100 && name.is_ascii());
    let mut h = tar::Header::new_ustar();
    h.set_path(name).expect("entry names are short ASCII");
    h.set_size(len);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(TAR_MTIME);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    *h.as_bytes()
}

/// Zero bytes that follow `len` bytes of data to reach the next block boundary.
pub fn padding(len: u64) -> u64 {
    (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK
}

/// Bytes an entry of `len` data bytes occupies in a pack, header and padding included.
pub fn entry_span(len: u64) -> u64 {
    TAR_BLOCK + len + padding(len)
}

/// What a header that precedes a piece's data must say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Checksum field wrong.
    #[error("tar header checksum is wrong")]
    Checksum,
    /// Not a regular file.
    #[error("tar entry is not a regular file")]
    NotRegular,
    /// Size field disagrees with the manifest.
    #[error("tar header says {found} bytes, the manifest {expected}")]
    Size {
        /// From the header.
        found: u64,
        /// From the manifest.
        expected: u64,
    },
}

/// Check the header before a piece: valid checksum, regular file, size equal to the piece's length.
pub fn check_header(bytes: &[u8; 512], expected_len: u64) -> Result<(), EntryError> {
    let h = tar::Header::from_byte_slice(bytes);
    let stored = h.cksum().map_err(|_| EntryError::Checksum)?;
    let computed: u32 = bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    if stored != computed {
        return Err(EntryError::Checksum);
    }
    if h.entry_type() != tar::EntryType::Regular {
        return Err(EntryError::NotRegular);
    }
    let found = h.entry_size().map_err(|_| EntryError::Checksum)?;
    if found != expected_len {
        return Err(EntryError::Size {
            found,
            expected: expected_len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_readable_by_tar() {
        let data = b"hello";
        let mut archive = header("abc", 5).to_vec();
        archive.extend_from_slice(data);
        archive.resize(archive.len() + padding(5) as usize, 0);
        archive.resize(archive.len() + 1024, 0);
        assert_eq!(archive.len() as u64, entry_span(5) + 1024);
        let mut a = tar::Archive::new(&archive[..]);
        let mut entries = a.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("abc"));
        let mut s = String::new();
        std::io::Read::read_to_string(&mut e, &mut s).unwrap();
        assert_eq!(s, "hello");
        let h: [u8; 512] = archive[..512].try_into().unwrap();
        check_header(&h, 5).unwrap();
        assert!(matches!(check_header(&h, 6), Err(EntryError::Size { .. })));
        let mut bad = h;
        bad[0] ^= 1;
        assert_eq!(check_header(&bad, 5), Err(EntryError::Checksum));
    }
}
