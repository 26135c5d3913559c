//! Key files on disk: generating a signing key pair and reading keys.
//!
//! Both files use signify's formats, so `signify-openbsd` can use them too: the secret key
//! is written unencrypted (like `signify -G -n`) with mode 0600, and a secret key file
//! that other users can access is refused, as ssh refuses such a private key.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::format::KeyId;
use crate::format::signify::{PublicKey, SecretKey, SignifyError};

/// Problems with key files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The target exists and `--force` was not given.
    #[error("{0} already exists; refusing to overwrite a key (use --force to replace it)")]
    Exists(PathBuf),
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a usable key.
    #[error("{path} is not a usable signify key: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        source: SignifyError,
    },
    /// A secret key file whose mode grants any permission to group or others.
    #[error(
        "{path} can be {how} by other users (mode {mode:04o}): a secret key must be private; run chmod 600 {path}"
    )]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// What others may do with it: "read", "changed", …
        how: &'static str,
    },
    /// The system random source failed.
    #[error("cannot read random bytes from the system: {0}")]
    Random(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The paths `PREFIX.key` and `PREFIX.pub`.
pub fn key_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".key");
    let mut p = prefix.as_os_str().to_owned();
    p.push(".pub");
    (PathBuf::from(s), PathBuf::from(p))
}

/// Generate a key pair and write `PREFIX.key` (mode 0600) and `PREFIX.pub`.
/// Existing files are kept unless `force`.
pub fn generate(prefix: &Path, force: bool) -> Result<PublicKey, KeyError> {
    let (sec_path, pub_path) = key_paths(prefix);
    if !force {
        for p in [&sec_path, &pub_path] {
            if p.symlink_metadata().is_ok() {
                return Err(KeyError::Exists(p.clone()));
            }
        }
    }
    let mut seed = [0u8; 32];
    let mut id = [0u8; 8];
    let mut salt = [0u8; 16];
    for buf in [&mut seed[..], &mut id[..], &mut salt[..]] {
        getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))?;
    }
    let sk = SecretKey::from_seed(seed, KeyId(id));
    let pk = sk.public();
    let name = prefix
        .file_name()
        .map_or("ferry".into(), |n| n.to_string_lossy().into_owned());
    write_new(
        &sec_path,
        &sk.encode(&format!("ferry secret key {name} ({})", pk.id), salt),
        0o600,
        force,
    )?;
    write_new(
        &pub_path,
        &pk.encode(&format!("ferry public key {name} ({})", pk.id)),
        0o644,
        force,
    )?;
    Ok(pk)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), KeyError> {
    let mut opts = OpenOptions::new();
    opts.write(true).mode(mode);
    if force {
        // Replace through a fresh file so that the mode is right even if the old one was looser.
        let _ = std::fs::remove_file(path);
    }
    opts.create_new(true);
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.to_path_buf())
        } else {
            io(path)(e)
        }
    })?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

/// Read a signify secret key file (at most 4 KiB). A file that group or others may read,
/// write or execute (`mode & 0o077 != 0`) is refused: the mode is checked on the opened
/// file, so it is the mode of the bytes read.
pub fn load_secret(path: &Path) -> Result<SecretKey, KeyError> {
    let f = File::open(path).map_err(io(path))?;
    let mode = f.metadata().map_err(io(path))?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        let how = match (mode & 0o044 != 0, mode & 0o022 != 0) {
            (true, true) => "read and changed",
            (true, false) => "read",
            (false, true) => "changed",
            (false, false) => "used",
        };
        return Err(KeyError::NotPrivate {
            path: path.to_path_buf(),
            mode,
            how,
        });
    }
    let mut bytes = Vec::new();
    f.take(SMALL + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > SMALL {
        return Err(io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            crate::fsutil::TooLarge(SMALL),
        )));
    }
    SecretKey::parse(&bytes).map_err(|source| KeyError::Format {
        path: path.to_path_buf(),
        source,
    })
}

/// Read a signify public key file (at most 4 KiB).
pub fn load_public(path: &Path) -> Result<PublicKey, KeyError> {
    let bytes = read_small(path)?;
    PublicKey::parse(&bytes).map_err(|source| KeyError::Format {
        path: path.to_path_buf(),
        source,
    })
}

/// The largest key file read.
const SMALL: u64 = 4096;

fn read_small(path: &Path) -> Result<Vec<u8>, KeyError> {
    crate::fsutil::read_capped(path, SMALL).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_writes_0600_and_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("k");
        let pk = generate(&prefix, false).unwrap();
        let (s, p) = key_paths(&prefix);
        assert_eq!(
            std::fs::metadata(&s).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_public(&p).unwrap(), pk);
        assert_eq!(load_secret(&s).unwrap().public(), pk);
        let before = std::fs::read(&s).unwrap();
        assert!(matches!(generate(&prefix, false), Err(KeyError::Exists(_))));
        assert_eq!(std::fs::read(&s).unwrap(), before);
        let pk2 = generate(&prefix, true).unwrap();
        assert_ne!(pk2, pk);
        assert_eq!(
            std::fs::metadata(&s).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_secret_key_that_others_can_access_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("site");
        let pk = generate(&prefix, false).unwrap();
        let (s, _) = key_paths(&prefix);
        let chmod = |mode: u32| {
            std::fs::set_permissions(&s, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        for (mode, how) in [
            (0o644, "read"),
            (0o666, "read and changed"),
            (0o640, "read"),
            (0o604, "read"),
            (0o620, "changed"),
            (0o601, "used"),
        ] {
            chmod(mode);
            let e = load_secret(&s).unwrap_err();
            assert!(
                matches!(e, KeyError::NotPrivate { mode: m, .. } if m == mode),
                "{mode:o}: {e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "{p} can be {how} by other users (mode 0{mode:o}): a secret key must be private; run chmod 600 {p}",
                    p = s.display()
                )
            );
        }
        for mode in [0o600, 0o400] {
            chmod(mode);
            assert_eq!(load_secret(&s).unwrap().public(), pk, "{mode:o}");
        }
    }
}
