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
    /// Not a ustar header (magic `ustar\0`, version `00`).
    #[error("not a POSIX ustar header")]
    NotUstar,
    /// Not a regular file: a link, a device, a FIFO, a directory, or an extension header.
    #[error("tar entry is not a regular file (type {0:?}): a pack holds only regular files")]
    NotRegular(char),
    /// A size that is not plain octal (base-256 sizes are not used in packs).
    #[error("tar header size field is not an octal number")]
    BadSize,
    /// Size field disagrees with the manifest.
    #[error("tar header says {found} bytes, the manifest {expected}")]
    Size {
        /// From the header.
        found: u64,
        /// From the manifest.
        expected: u64,
    },
    /// A name that is not one plain component, or a link name or prefix that is set.
    #[error(
        "tar entry name is not one plain name (0-9 a-z . _ -), or it has a link name or prefix"
    )]
    BadName,
}

/// An octal field: digits, then NUL or space padding to the end of the field.
fn octal(field: &[u8]) -> Option<u64> {
    let digits = field.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || field[..digits].iter().any(|&b| b > b'7') {
        return None;
    }
    if field[digits..].iter().any(|&b| b != 0 && b != b' ') {
        return None;
    }
    field[..digits].iter().try_fold(0u64, |v, &d| {
        v.checked_mul(8)?.checked_add(u64::from(d - b'0'))
    })
}

/// Check the header before a piece (`spec/FORMAT.md` §7): a valid checksum, `ustar`
/// magic and version `00`, type `0` (regular file), an octal size equal to the piece's
/// length, a name of one plain component, and no link name or prefix.
pub fn check_header(bytes: &[u8; 512], expected_len: u64) -> Result<(), EntryError> {
    let stored = octal(&bytes[148..156]).ok_or(EntryError::Checksum)?;
    let computed: u64 = bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    if stored != computed {
        return Err(EntryError::Checksum);
    }
    if &bytes[257..263] != b"ustar\0" || &bytes[263..265] != b"00" {
        return Err(EntryError::NotUstar);
    }
    if bytes[156] != b'0' {
        return Err(EntryError::NotRegular(char::from(bytes[156])));
    }
    let found = octal(&bytes[124..136]).ok_or(EntryError::BadSize)?;
    if found != expected_len {
        return Err(EntryError::Size {
            found,
            expected: expected_len,
        });
    }
    let name = &bytes[..100];
    let len = name.iter().position(|&b| b == 0).unwrap_or(100);
    let plain = |b: &u8| b.is_ascii_digit() || b.is_ascii_lowercase() || b"._-".contains(b);
    if len == 0
        || len == 100
        || name[0] == b'.'
        || !name[..len].iter().all(plain)
        || name[len..].iter().any(|&b| b != 0)
        || bytes[157..257].iter().any(|&b| b != 0)
        || bytes[345..500].iter().any(|&b| b != 0)
    {
        return Err(EntryError::BadName);
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
        // Each kind of hostile header, with a valid checksum.
        let resum = |mut b: [u8; 512]| {
            b[148..156].copy_from_slice(b"        ");
            let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
            b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            b
        };
        for (edit, want) in [
            ((156, b'2'), EntryError::NotRegular('2')),
            ((156, b'1'), EntryError::NotRegular('1')),
            ((156, b'3'), EntryError::NotRegular('3')),
            ((156, b'6'), EntryError::NotRegular('6')),
            ((156, b'x'), EntryError::NotRegular('x')),
            ((0, b'/'), EntryError::BadName),
            ((0, b'.'), EntryError::BadName),
            ((157, b'a'), EntryError::BadName),
            ((345, b'a'), EntryError::BadName),
            ((262, b'x'), EntryError::NotUstar),
            ((124, 0x80), EntryError::BadSize),
        ] {
            let mut b = h;
            b[edit.0] = edit.1;
            assert_eq!(check_header(&resum(b), 5), Err(want), "{edit:?}");
        }
        assert_eq!(check_header(&resum(h), 5), Ok(()));
    }
}
