//! Key files on disk: generating a signing key pair, reading keys (protected by a
//! passphrase or not), and rotating a key.
//!
//! Both files use signify's formats, so `signify-openbsd` can use them too: the secret key
//! is written unencrypted (like `signify -G -n`) or protected by a passphrase (like
//! `signify -G`: bcrypt_pbkdf, 42 rounds), with mode 0600, and a secret key file that
//! other users can access is refused, as ssh refuses such a private key.
//!
//! A passphrase is asked for only when the key is protected, from where [`Passphrase`]
//! says: a file, the terminal (`/dev/tty`, echo off), or bytes the caller holds.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::format::KeyId;
use crate::format::constants::SIGNIFY_KDF_ROUNDS;
use crate::format::manifest::Rotation;
use crate::format::signify::{PublicKey, SecretKey, SecretKeyFile, SignifyError};
use crate::pack::rotation::{self as state_rotation, RotationError, StateRotation};

/// Problems with key files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The target exists and `--force` was not given.
    #[error("{0} already exists; refusing to overwrite a key")]
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
    /// A protected key, and no terminal to ask for its passphrase on.
    #[error(
        "{path} is protected by a passphrase, and there is no terminal to ask for it: give the passphrase in a file"
    )]
    NoTerminal {
        /// The key file.
        path: PathBuf,
    },
    /// The passphrase does not decrypt the key.
    #[error("wrong passphrase for {path}")]
    WrongPassphrase {
        /// The key file.
        path: PathBuf,
    },
    /// An empty passphrase (signify refuses one too).
    #[error("{}", match from {
        Some(f) => format!("the passphrase file {} is empty: its first line is the passphrase", f.display()),
        None => "the passphrase is empty".to_string(),
    })]
    EmptyPassphrase {
        /// The passphrase file it was read from, if any.
        from: Option<PathBuf>,
    },
    /// The two passphrases typed for a new key differ.
    #[error("the passphrases typed differ; nothing was written")]
    PassphrasesDiffer,
    /// The terminal could not be used.
    #[error("cannot ask for the passphrase of {path} on the terminal: {source}")]
    Prompt {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Rotation: the export state holds no bundle, so there is no stream to continue.
    #[error(
        "the export state {state} records no bundle made with key {old}: there is no stream to continue, so nothing to rotate; give the sites the new public key instead"
    )]
    NoStream {
        /// The old key.
        old: KeyId,
        /// The state directory.
        state: PathBuf,
    },
    /// Rotation: the old key was rotated already.
    #[error("key {old} was already rotated to key {new} on {created}; rotate from {new} instead")]
    AlreadyRotated {
        /// The key given.
        old: KeyId,
        /// Its successor.
        new: KeyId,
        /// When.
        created: String,
    },
    /// Rotation: the new key's state directory exists already.
    #[error(
        "{} already exists: the export state of the new key would replace it; move it away first",
        path.display()
    )]
    StateExists {
        /// The directory.
        path: PathBuf,
    },
    /// Rotation: the new key's files would replace the old key's.
    #[error(
        "{} is the key to rotate from: the new key needs other file names",
        path.display()
    )]
    SameKey {
        /// The old key file.
        path: PathBuf,
    },
    /// Rotation: the export state's rotations.
    #[error(transparent)]
    Rotation(#[from] RotationError),
}

/// Where the passphrase of a protected secret key comes from. It is asked for only when
/// the key is protected.
#[derive(Clone)]
pub enum Passphrase {
    /// Ask on the terminal (`/dev/tty`, echo off); [`KeyError::NoTerminal`] without one.
    Prompt,
    /// The first line of this file, without its line ending ([`passphrase_from_file`]).
    File(PathBuf),
    /// These bytes.
    Given(Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Passphrase::Prompt => f.write_str("Passphrase::Prompt"),
            Passphrase::File(p) => write!(f, "Passphrase::File({})", p.display()),
            Passphrase::Given(_) => f.write_str("Passphrase::Given(..)"),
        }
    }
}

impl Passphrase {
    /// The passphrase for the key file `key` (named in the prompt and errors).
    pub fn get(&self, key: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        match self {
            Passphrase::Prompt => prompt_passphrase(key),
            Passphrase::File(f) => passphrase_from_file(f),
            Passphrase::Given(b) if b.is_empty() => Err(KeyError::EmptyPassphrase { from: None }),
            Passphrase::Given(b) => Ok(b.clone()),
        }
    }
}

/// The largest passphrase file read.
const PASSPHRASE_FILE_MAX: u64 = 64 * 1024;

/// A passphrase from a file: its first line, without the `\n` (or `\r\n`) that ends it.
/// An empty first line is [`KeyError::EmptyPassphrase`].
pub fn passphrase_from_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let bytes =
        Zeroizing::new(crate::fsutil::read_capped(path, PASSPHRASE_FILE_MAX).map_err(io(path))?);
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(KeyError::EmptyPassphrase {
            from: Some(path.to_path_buf()),
        });
    }
    Ok(Zeroizing::new(line.to_vec()))
}

/// The controlling terminal, or [`KeyError::NoTerminal`] naming `key`.
fn terminal(key: &Path) -> Result<(), KeyError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map(drop)
        .map_err(|_| KeyError::NoTerminal {
            path: key.to_path_buf(),
        })
}

fn prompt(key: &Path, text: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    terminal(key)?;
    let typed = rpassword::prompt_password(text).map_err(|source| KeyError::Prompt {
        path: key.to_path_buf(),
        source,
    })?;
    let typed = Zeroizing::new(typed.into_bytes());
    if typed.is_empty() {
        return Err(KeyError::EmptyPassphrase { from: None });
    }
    Ok(typed)
}

/// Ask for the passphrase of the key file `key` on the terminal (`/dev/tty`, echo off).
pub fn prompt_passphrase(key: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    prompt(key, &format!("passphrase for {}: ", key.display()))
}

/// Ask twice for the passphrase of a new key on the terminal; both must be the same.
pub fn prompt_new_passphrase(key: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let first = prompt(
        key,
        &format!("passphrase for the new key {}: ", key.display()),
    )?;
    let again = prompt(key, "the same passphrase again: ")?;
    if first != again {
        return Err(KeyError::PassphrasesDiffer);
    }
    Ok(first)
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

/// Generate a key pair and write `PREFIX.key` (mode 0600, unencrypted) and `PREFIX.pub`.
/// Existing files are kept unless `force`.
pub fn generate(prefix: &Path, force: bool) -> Result<PublicKey, KeyError> {
    generate_with(prefix, force, None).map(|sk| sk.public())
}

/// Generate a key pair and write `PREFIX.key` (mode 0600; protected by `passphrase` as
/// `signify -G` protects it, when given) and `PREFIX.pub`. Existing files are kept unless
/// `force`. Returns the new key.
pub fn generate_with(
    prefix: &Path,
    force: bool,
    passphrase: Option<&[u8]>,
) -> Result<SecretKey, KeyError> {
    let (sec_path, pub_path) = key_paths(prefix);
    if !force {
        for p in [&sec_path, &pub_path] {
            if p.symlink_metadata().is_ok() {
                return Err(KeyError::Exists(p.clone()));
            }
        }
    }
    if passphrase.is_some_and(<[u8]>::is_empty) {
        return Err(KeyError::EmptyPassphrase { from: None });
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    let mut id = [0u8; 8];
    let mut salt = [0u8; 16];
    for buf in [&mut seed[..], &mut id[..], &mut salt[..]] {
        getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))?;
    }
    let sk = SecretKey::from_seed(*seed, KeyId(id));
    let pk = sk.public();
    let name = prefix
        .file_name()
        .map_or("ferry".into(), |n| n.to_string_lossy().into_owned());
    let comment = format!("ferry secret key {name} ({})", pk.id);
    let secret = match passphrase {
        None => Zeroizing::new(sk.encode(&comment, salt)),
        Some(p) => Zeroizing::new(
            sk.encode_protected(&comment, salt, SIGNIFY_KDF_ROUNDS, p)
                .map_err(|source| KeyError::Format {
                    path: sec_path.clone(),
                    source,
                })?,
        ),
    };
    write_new(&sec_path, &secret, 0o600, force)?;
    write_new(
        &pub_path,
        &pk.encode(&format!("ferry public key {name} ({})", pk.id)),
        0o644,
        force,
    )?;
    Ok(sk)
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

/// Read a signify secret key file (at most 4 KiB), asking on the terminal for its
/// passphrase if it is protected ([`load_secret_with`] with [`Passphrase::Prompt`]).
pub fn load_secret(path: &Path) -> Result<SecretKey, KeyError> {
    load_secret_with(path, &Passphrase::Prompt)
}

/// Read a signify secret key file (at most 4 KiB); if it is protected, decrypt it with the
/// passphrase from `passphrase` (asked for only then). A file that group or others may
/// read, write or execute (`mode & 0o077 != 0`) is refused before anything is read: the
/// mode is checked on the opened file, so it is the mode of the bytes read.
pub fn load_secret_with(path: &Path, passphrase: &Passphrase) -> Result<SecretKey, KeyError> {
    let file = read_secret(path)?;
    if !file.is_protected() {
        return file.unprotected().map_err(format(path));
    }
    let pass = passphrase.get(path)?;
    file.unlock(&pass).map_err(|e| match e {
        SignifyError::WrongPassphrase => KeyError::WrongPassphrase {
            path: path.to_path_buf(),
        },
        SignifyError::EmptyPassphrase => KeyError::EmptyPassphrase { from: None },
        e => format(path)(e),
    })
}

/// Whether the secret key file at `path` is protected by a passphrase (the file is
/// checked as [`load_secret_with`] checks it, nothing is decrypted).
pub fn is_protected(path: &Path) -> Result<bool, KeyError> {
    Ok(read_secret(path)?.is_protected())
}

fn format(path: &Path) -> impl FnOnce(SignifyError) -> KeyError + '_ {
    move |source| KeyError::Format {
        path: path.to_path_buf(),
        source,
    }
}

/// Open a secret key file, check its mode, read and parse it.
fn read_secret(path: &Path) -> Result<SecretKeyFile, KeyError> {
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
    let mut bytes = Zeroizing::new(Vec::new());
    f.take(SMALL + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > SMALL {
        return Err(io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            crate::fsutil::TooLarge(SMALL),
        )));
    }
    SecretKeyFile::parse(&bytes).map_err(format(path))
}

/// Whether `a` (an existing file) and `b` (which may not exist) name the same file: the
/// same name in the same directory, links and `..` resolved.
fn same_file_name(a: &Path, b: &Path) -> bool {
    let dir = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (
        std::fs::canonicalize(a),
        std::fs::canonicalize(dir(b)),
        b.file_name(),
    ) {
        (Ok(a), Ok(d), Some(n)) => d.join(n) == a,
        _ => a == b,
    }
}

/// What `ferry keygen --rotate-from` needs.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// The key rotated away (`OLD.key`).
    pub old_key: PathBuf,
    /// Its passphrase, if it is protected.
    pub old_passphrase: Passphrase,
    /// Path prefix of the new key's files.
    pub new_prefix: PathBuf,
    /// The new key's passphrase (`None`: unencrypted).
    pub new_passphrase: Option<Zeroizing<Vec<u8>>>,
    /// The export state of the old key; default `OLD.state` beside it, which then moves to
    /// the new key's default (`NEW.state`), with a link left at the old place.
    pub state: Option<PathBuf>,
    /// Replace existing new key files.
    pub force: bool,
    /// The statements' time (`YYYY-MM-DDTHH:MM:SSZ`).
    pub created: String,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The key rotated away.
    pub old: PublicKey,
    /// The new key.
    pub new: PublicKey,
    /// The export state the new key continues (its default place).
    pub state: PathBuf,
    /// Where the state was moved from, when it was moved (a link is left there). `None`
    /// when it stayed: given explicitly, or on another file system than the new key (then
    /// `state` is a link to it).
    pub moved_from: Option<PathBuf>,
    /// Each stream continued: organization and the first sequence the new key signs.
    pub streams: Vec<(String, u64)>,
}

/// Make a new key that continues the old key's export streams (`ferry keygen --out NEW
/// --rotate-from OLD.key`): for each organization the old key's state made bundles for,
/// a rotation statement signed by the old key (`spec/FORMAT.md` §5.9) is recorded in the
/// state, which the next bundles signed by the new key carry. The state keeps its
/// sequence numbers and bundles; at its default place it moves to the new key's default
/// place, and a link to it is left at the old place.
///
/// Order: the old key is read and the state checked first (nothing is written if either
/// fails); then the new key is written, then the statements, then the state moved.
pub fn rotate(opts: &RotateOptions) -> Result<Rotated, KeyError> {
    let (new_sec, new_pub) = key_paths(&opts.new_prefix);
    if [&new_sec, &new_pub]
        .iter()
        .any(|p| same_file_name(&opts.old_key, p))
    {
        return Err(KeyError::SameKey {
            path: opts.old_key.clone(),
        });
    }
    let old = load_secret_with(&opts.old_key, &opts.old_passphrase)?;
    let default_old = crate::pack::state::default_dir(&opts.old_key);
    let default_new = crate::pack::state::default_dir(&new_sec);
    let state = opts.state.clone().unwrap_or_else(|| default_old.clone());
    let streams = state_rotation::streams(&state)?;
    if streams.is_empty() {
        return Err(KeyError::NoStream { old: old.id, state });
    }
    let mut rotations = state_rotation::load(&state)?;
    if let Some(r) = state_rotation::rotated_away(&rotations, None, old.id) {
        return Err(KeyError::AlreadyRotated {
            old: old.id,
            new: r.statement.new.id,
            created: r.statement.created.clone(),
        });
    }
    let moving = opts.state.is_none() && default_new != default_old;
    if moving && default_new.symlink_metadata().is_ok() {
        return Err(KeyError::StateExists { path: default_new });
    }

    let new = generate_with(
        &opts.new_prefix,
        opts.force,
        opts.new_passphrase.as_deref().map(|p| &p[..]),
    )?;
    let new_pk = new.public();
    let mut continued = Vec::new();
    for (org, last) in &streams {
        let since = last.saturating_add(1);
        rotations.push(StateRotation {
            organization: org.clone(),
            old_key: old.public(),
            statement: Rotation::sign(&old, org, &new_pk, since, &opts.created),
        });
        continued.push((org.clone(), since));
    }
    state_rotation::save(&state, &rotations)?;

    let mut moved_from = None;
    let mut at = state;
    if moving {
        // The state moves to the new key; the old place points to it, so that a pack with
        // the old key finds the state, which refuses it (the key was rotated), instead of
        // starting a new stream. Across file systems the new place points to the old one.
        let (link, target) = match std::fs::rename(&at, &default_new) {
            Ok(()) => {
                moved_from = Some(at.clone());
                (default_old.clone(), default_new.clone())
            }
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                (default_new.clone(), at.clone())
            }
            Err(e) => return Err(io(&at)(e)),
        };
        let relative = match (link.parent(), target.parent()) {
            (Some(a), Some(b)) if a == b => target.file_name().map(PathBuf::from),
            _ => None,
        };
        let target = match relative {
            Some(t) => t,
            None => std::path::absolute(&target).map_err(io(&target))?,
        };
        std::os::unix::fs::symlink(&target, &link).map_err(io(&link))?;
        if let Some(dir) = link.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            crate::fsutil::sync_dir(dir).map_err(io(dir))?;
        }
        at = default_new;
    }
    Ok(Rotated {
        old: old.public(),
        new: new_pk,
        state: at,
        moved_from,
        streams: continued,
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

    fn private_copy(from: &Path, to: &Path) {
        std::fs::copy(from, to).unwrap();
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn a_protected_key_needs_its_passphrase() {
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("site");
        let sk = generate_with(&prefix, false, Some(b"s3cret phrase")).unwrap();
        let (s, p) = key_paths(&prefix);
        assert_eq!(
            std::fs::metadata(&s).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_public(&p).unwrap(), sk.public());
        assert!(is_protected(&s).unwrap());
        let text = std::fs::read_to_string(&s).unwrap();
        assert!(
            text.starts_with("untrusted comment: ferry secret key site ("),
            "{text}"
        );

        let pf = d.path().join("pass");
        std::fs::write(&pf, "s3cret phrase\nanything after the first line\n").unwrap();
        let got = load_secret_with(&s, &Passphrase::File(pf.clone())).unwrap();
        assert_eq!(got.public(), sk.public());
        let got = load_secret_with(
            &s,
            &Passphrase::Given(Zeroizing::new(b"s3cret phrase".to_vec())),
        )
        .unwrap();
        assert_eq!(got.public(), sk.public());

        std::fs::write(&pf, "s3cret phrasE\n").unwrap();
        let e = load_secret_with(&s, &Passphrase::File(pf.clone())).unwrap_err();
        assert!(
            matches!(&e, KeyError::WrongPassphrase { path } if *path == s),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("wrong passphrase for {}", s.display())
        );

        // The passphrase is asked for only when the key is protected.
        let plain = d.path().join("plain");
        generate(&plain, false).unwrap();
        let (ps, _) = key_paths(&plain);
        assert!(!is_protected(&ps).unwrap());
        let missing = Passphrase::File(d.path().join("no-such-file"));
        load_secret_with(&ps, &missing).unwrap();
        assert!(matches!(
            load_secret_with(&s, &missing),
            Err(KeyError::Io { .. })
        ));

        // No terminal (as under a service manager or CI): a clear error naming the key.
        if std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_err()
        {
            let e = load_secret(&s).unwrap_err();
            assert!(
                matches!(&e, KeyError::NoTerminal { path } if *path == s),
                "{e:?}"
            );
            assert!(
                e.to_string()
                    .starts_with(&format!("{} is protected by a passphrase", s.display())),
                "{e}"
            );
            // An unprotected key never asks.
            load_secret(&ps).unwrap();
        }

        // A protected key that others can read is refused before any passphrase is asked.
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            load_secret_with(&s, &Passphrase::File(pf)),
            Err(KeyError::NotPrivate { mode: 0o640, .. })
        ));
        assert!(matches!(
            generate_with(&d.path().join("x"), false, Some(b"")),
            Err(KeyError::EmptyPassphrase { from: None })
        ));
    }

    #[test]
    fn passphrase_files_give_their_first_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("p");
        for (content, want) in [
            (&b"pass word\n"[..], &b"pass word"[..]),
            (b"pass word", b"pass word"),
            (b"pass word\r\nsecond\n", b"pass word"),
            (b"  spaces kept \n", b"  spaces kept "),
            (b"\xff\xfe binary\n", b"\xff\xfe binary"),
        ] {
            std::fs::write(&f, content).unwrap();
            assert_eq!(&passphrase_from_file(&f).unwrap()[..], want);
        }
        for empty in [&b""[..], b"\n", b"\r\n", b"\nsecond line\n"] {
            std::fs::write(&f, empty).unwrap();
            let e = passphrase_from_file(&f).unwrap_err();
            assert!(matches!(&e, KeyError::EmptyPassphrase { from: Some(p) } if *p == f));
            assert!(e.to_string().contains("is empty"), "{e}");
        }
        let e = passphrase_from_file(&d.path().join("none")).unwrap_err();
        assert!(matches!(e, KeyError::Io { .. }));
    }

    /// `testdata/keys/signify-protected/`, made by `signify-openbsd -G` with a passphrase.
    #[test]
    fn reads_a_key_that_signify_protected() {
        let vec = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keys/signify-protected");
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("protected.sec");
        private_copy(&vec.join("protected.sec"), &s);
        let pf = Passphrase::File(vec.join("passphrase"));
        let sk = load_secret_with(&s, &pf).unwrap();
        assert_eq!(
            sk.public(),
            load_public(&vec.join("protected.pub")).unwrap()
        );
        assert!(matches!(
            load_secret_with(&s, &Passphrase::Given(Zeroizing::new(b"wrong".to_vec()))),
            Err(KeyError::WrongPassphrase { .. })
        ));
    }

    /// A state directory that made bundles for `org` up to `sequence`.
    fn state_with_bundles(dir: &Path, key: &SecretKey, org: &str, sequence: u64) {
        let st = crate::pack::state::ExportState::open(dir).unwrap();
        for seq in 1..=sequence {
            let mut m = crate::format::manifest::tests::sample();
            m.organization = org.into();
            m.signer = key.id;
            m.sequence = seq;
            m.base = None;
            let bytes = m.encode();
            st.record(&m, &bytes, &[]).unwrap();
        }
    }

    #[test]
    fn rotation_moves_the_state_and_records_a_statement_per_stream() {
        let d = tempfile::tempdir().unwrap();
        let old_prefix = d.path().join("site-a");
        let old = generate_with(&old_prefix, false, Some(b"old pass")).unwrap();
        let (old_key, old_pub) = key_paths(&old_prefix);
        let old_state = crate::pack::state::default_dir(&old_key);
        state_with_bundles(&old_state, &old, "acme", 3);
        state_with_bundles(&old_state, &old, "globex", 1);

        let new_prefix = d.path().join("site-b");
        let opts = RotateOptions {
            old_key: old_key.clone(),
            old_passphrase: Passphrase::Given(Zeroizing::new(b"old pass".to_vec())),
            new_prefix: new_prefix.clone(),
            new_passphrase: Some(Zeroizing::new(b"new pass".to_vec())),
            state: None,
            force: false,
            created: "2026-12-05T09:00:00Z".into(),
        };
        // The old key's passphrase is checked first; nothing is written when it is wrong.
        let mut wrong = opts.clone();
        wrong.old_passphrase = Passphrase::Given(Zeroizing::new(b"nope".to_vec()));
        assert!(matches!(
            rotate(&wrong),
            Err(KeyError::WrongPassphrase { .. })
        ));
        assert!(!key_paths(&new_prefix).0.exists());

        let r = rotate(&opts).unwrap();
        let (new_key, new_pub) = key_paths(&new_prefix);
        let new_state = crate::pack::state::default_dir(&new_key);
        assert_eq!(r.old, load_public(&old_pub).unwrap());
        assert_eq!(r.new, load_public(&new_pub).unwrap());
        assert!(is_protected(&new_key).unwrap());
        assert_eq!(r.state, new_state);
        assert_eq!(r.moved_from.as_deref(), Some(old_state.as_path()));
        assert_eq!(
            r.streams,
            vec![("acme".to_string(), 4), ("globex".to_string(), 2)]
        );
        // The state moved; the old place is a link to it (relative: they are side by side).
        assert!(new_state.join("state.db").is_file());
        assert_eq!(
            std::fs::read_link(&old_state).unwrap(),
            PathBuf::from("site-b.state")
        );
        // The statements verify with the old key and lead to the new one.
        let rotations = state_rotation::load(&new_state).unwrap();
        assert_eq!(rotations.len(), 2);
        for sr in &rotations {
            sr.statement.verify(&sr.organization, &r.old).unwrap();
            assert_eq!(sr.statement.new, r.new);
            assert_eq!(sr.statement.created, "2026-12-05T09:00:00Z");
        }
        let c = state_rotation::carried(&new_state, "acme", r.new.id).unwrap();
        assert_eq!(c.statements.len(), 1);
        assert_eq!(c.statements[0].since, 4);
        assert_eq!(c.keys, vec![r.old.clone()]);
        assert!(c.same_stream(r.old.id, r.new.id));
        // The old key, through the link, is refused by the state.
        let e = state_rotation::carried(&old_state, "acme", r.old.id).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("was rotated to key {}", r.new.id)),
            "{e}"
        );
        // And cannot be rotated again.
        let mut again = opts.clone();
        again.new_prefix = d.path().join("site-c");
        assert!(matches!(
            rotate(&again),
            Err(KeyError::AlreadyRotated { .. }) | Err(KeyError::StateExists { .. })
        ));
        again.state = Some(new_state.clone());
        let e = rotate(&again).unwrap_err();
        assert!(matches!(e, KeyError::AlreadyRotated { .. }), "{e:?}");

        // The new key rotates on: the chain of both statements leads to the third key.
        let third = RotateOptions {
            old_key: new_key.clone(),
            old_passphrase: Passphrase::Given(Zeroizing::new(b"new pass".to_vec())),
            new_prefix: d.path().join("site-d"),
            new_passphrase: None,
            state: None,
            force: false,
            created: "2026-12-06T09:00:00Z".into(),
        };
        let r3 = rotate(&third).unwrap();
        let c = state_rotation::carried(&r3.state, "acme", r3.new.id).unwrap();
        assert_eq!(
            c.statements.iter().map(|s| s.old).collect::<Vec<_>>(),
            vec![r.old.id, r.new.id]
        );
    }

    #[test]
    fn rotation_never_replaces_the_old_key() {
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("k");
        generate(&prefix, false).unwrap();
        let before = std::fs::read(key_paths(&prefix).0).unwrap();
        let mut opts = RotateOptions {
            old_key: key_paths(&prefix).0,
            old_passphrase: Passphrase::Prompt,
            new_prefix: prefix.clone(),
            new_passphrase: None,
            state: None,
            force: true,
            created: "2026-12-05T09:00:00Z".into(),
        };
        assert!(matches!(rotate(&opts), Err(KeyError::SameKey { .. })));
        std::fs::create_dir(d.path().join("sub")).unwrap();
        opts.new_prefix = d.path().join("sub/../k");
        assert!(matches!(rotate(&opts), Err(KeyError::SameKey { .. })));
        assert_eq!(std::fs::read(key_paths(&prefix).0).unwrap(), before);
    }

    #[test]
    fn rotation_needs_a_stream_to_continue() {
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("k");
        generate(&prefix, false).unwrap();
        let opts = RotateOptions {
            old_key: key_paths(&prefix).0,
            old_passphrase: Passphrase::Prompt,
            new_prefix: d.path().join("n"),
            new_passphrase: None,
            state: None,
            force: false,
            created: "2026-12-05T09:00:00Z".into(),
        };
        let e = rotate(&opts).unwrap_err();
        assert!(matches!(e, KeyError::NoStream { .. }), "{e:?}");
        assert!(!key_paths(&d.path().join("n")).0.exists());
    }
}
