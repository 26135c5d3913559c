//! Opening files on a medium without trusting it: every file is reached from the volume
//! directory one component at a time, never through a symbolic link, and must be a regular
//! file (a FIFO would block a reader forever, a device could do anything when opened).
//! Sizes are checked before anything is read, and reads are capped.

use std::fs::File;
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, fstat, openat, statat};
use rustix::io::Errno;

/// Why a file on a medium cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Not there.
    #[error("is missing")]
    Missing,
    /// A symbolic link (or a path through one).
    #[error(
        "is a symbolic link: files on a volume are never links, and ferry does not follow them"
    )]
    Link,
    /// Something other than a regular file.
    #[error("is a {0}, not a regular file: ferry does not read it")]
    NotRegular(&'static str),
    /// Larger than a reader accepts.
    #[error("is {size} bytes, more than the {cap} bytes a reader accepts")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        cap: u64,
    },
    /// Reading failed.
    #[error("cannot be read: {0}")]
    Io(#[source] std::io::Error),
}

fn kind(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "FIFO (named pipe)",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "file of unknown type",
    }
}

fn errno(e: Errno) -> MediaError {
    match e {
        Errno::NOENT => MediaError::Missing,
        Errno::LOOP => MediaError::Link,
        Errno::NOTDIR => MediaError::NotRegular("path through something that is not a directory"),
        e => MediaError::Io(e.into()),
    }
}

/// A volume directory, held open: files are opened relative to it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// Open the directory an operator named (a link there is the operator's choice).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let fd = openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { fd })
    }

    /// Open `rel` (components separated by `/`, each a plain name) for reading, refusing
    /// links and anything but a regular file.
    pub fn open_file(&self, rel: &str) -> Result<File, MediaError> {
        let mut parts: Vec<&str> = rel.split('/').collect();
        let name = parts.pop().expect("split yields at least one part");
        let mut held: Option<OwnedFd> = None;
        for dir in parts {
            let at = held.as_ref().unwrap_or(&self.fd);
            let st = statat(at, dir, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {}
                FileType::Symlink => return Err(MediaError::Link),
                t => return Err(MediaError::NotRegular(kind(t))),
            }
            let fd = openat(
                at,
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno)?;
            held = Some(fd);
        }
        let at = held.as_ref().unwrap_or(&self.fd);
        // Look before opening: opening a device or FIFO can have effects of its own.
        let st = statat(at, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
        let t = FileType::from_raw_mode(st.st_mode);
        if t == FileType::Symlink {
            return Err(MediaError::Link);
        }
        if t != FileType::RegularFile {
            return Err(MediaError::NotRegular(kind(t)));
        }
        let fd = openat(
            at,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        // It may have been replaced in between: check what was opened.
        let st = fstat(&fd).map_err(errno)?;
        let t = FileType::from_raw_mode(st.st_mode);
        if t != FileType::RegularFile {
            return Err(MediaError::NotRegular(kind(t)));
        }
        Ok(File::from(fd))
    }
}

/// Read all of an open file of at most `cap` bytes (its size is checked first, and the
/// read stops past `cap` whatever the size said).
pub fn read_capped(mut file: File, cap: u64) -> Result<Vec<u8>, MediaError> {
    let size = file.metadata().map_err(MediaError::Io)?.len();
    if size > cap {
        return Err(MediaError::TooLarge { size, cap });
    }
    let mut buf = Vec::with_capacity(size as usize);
    (&mut file)
        .take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(MediaError::Io)?;
    if buf.len() as u64 > cap {
        return Err(MediaError::TooLarge {
            size: buf.len() as u64,
            cap,
        });
    }
    Ok(buf)
}

/// Stream an open file of at most `cap` bytes through SHA-256; returns the digest and the
/// number of bytes read.
pub fn hash_capped(file: File, cap: u64) -> Result<(crate::format::Sha256Digest, u64), MediaError> {
    use sha2::Digest as _;
    let size = file.metadata().map_err(MediaError::Io)?.len();
    if size > cap {
        return Err(MediaError::TooLarge { size, cap });
    }
    let mut h = sha2::Sha256::new();
    let mut r = file.take(cap + 1);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MediaError::Io(e)),
        }
    }
    if n > cap {
        return Err(MediaError::TooLarge { size: n, cap });
    }
    Ok((crate::format::Sha256Digest::from_hasher(h), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_directories_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir(p.join("packs")).unwrap();
        std::fs::write(p.join("packs/0001.ferrypack"), b"data").unwrap();
        std::fs::write(p.join("real"), b"x").unwrap();
        std::os::unix::fs::symlink(p.join("real"), p.join("link")).unwrap();
        std::os::unix::fs::symlink(p.join("packs"), p.join("dirlink")).unwrap();
        rustix::fs::mknodat(
            CWD,
            p.join("fifo"),
            FileType::Fifo,
            Mode::RUSR | Mode::WUSR,
            0,
        )
        .unwrap();
        let dir = Dir::open(p).unwrap();
        assert!(dir.open_file("packs/0001.ferrypack").is_ok());
        assert!(matches!(dir.open_file("link"), Err(MediaError::Link)));
        assert!(matches!(
            dir.open_file("dirlink/0001.ferrypack"),
            Err(MediaError::Link)
        ));
        assert!(
            matches!(dir.open_file("fifo"), Err(MediaError::NotRegular(k)) if k.contains("FIFO"))
        );
        assert!(matches!(
            dir.open_file("packs"),
            Err(MediaError::NotRegular("directory"))
        ));
        assert!(matches!(dir.open_file("nothing"), Err(MediaError::Missing)));
        assert!(matches!(
            dir.open_file("real/x"),
            Err(MediaError::NotRegular(_))
        ));
        let f = dir.open_file("packs/0001.ferrypack").unwrap();
        assert!(matches!(
            read_capped(f, 3),
            Err(MediaError::TooLarge { size: 4, cap: 3 })
        ));
        let f = dir.open_file("packs/0001.ferrypack").unwrap();
        assert_eq!(read_capped(f, 4).unwrap(), b"data");
    }
}
