//! Every wire constant of the bundle format, declared once.
//!
//! `spec/FORMAT.md` is the normative description; the names here follow it.

/// First line of every manifest: the format and its major version. A manifest is written
/// in the lowest version that can hold its content (`spec/FORMAT.md` §9).
pub const MANIFEST_FORMAT: &str = "ferry-bundle/1";
/// Version 2: version 1 plus `[[retired]]` records. Written only by a bundle that carries one.
pub const MANIFEST_FORMAT_2: &str = "ferry-bundle/2";
/// Version 3: version 2 plus `[[rotation]]` statements. Written only by a bundle that
/// carries one.
pub const MANIFEST_FORMAT_3: &str = "ferry-bundle/3";
/// First line of the message a key rotation statement's old key signs (§5.9). It cannot
/// begin a volume's signed message ([`SIGNED_PREFIX`]).
pub const ROTATION_MESSAGE_FIRST_LINE: &str = "ferry-key-rotation/1";
/// Most rotation statements in one manifest (a chain of this many key changes).
pub const MAX_ROTATIONS: usize = 64;
/// First line of every `volume.toml`.
pub const VOLUME_FORMAT: &str = "ferry-volume/1";
/// Hashed before the layout-free encoding of a manifest to give its logical id (§2.1), so
/// that a logical id is never the id of a bundle.
pub const LOGICAL_ID_PREFIX: &[u8] = b"ferry logical bundle\n";

/// File names on a volume (all lowercase ASCII except the signify-conventional `SHA256.sig`).
pub const SIGNATURE_FILE: &str = "SHA256.sig";
/// The per-volume identity file; always the first line of the signed checksum list.
pub const VOLUME_FILE: &str = "volume.toml";
/// The whole bundle's manifest, byte-identical on every volume.
pub const MANIFEST_FILE: &str = "manifest.toml";
/// Plain-text note for whoever finds the medium.
pub const README_FILE: &str = "README.txt";
/// Directory holding the packs of a volume.
pub const PACKS_DIR: &str = "packs";
/// Extension of a pack file.
pub const PACK_EXTENSION: &str = "ferrypack";
/// Volume directory names are `vol-01`, `vol-02`, … (at least two digits).
pub const VOLUME_DIR_PREFIX: &str = "vol-";

/// Domain separation: the signed message of every volume begins with exactly these bytes,
/// i.e. its first checksum line names `volume.toml`, whose own first line is
/// [`VOLUME_FORMAT`]. No other kind of message ferry signs can begin this way.
pub const SIGNED_PREFIX: &str = "SHA256 (volume.toml) = ";

/// signify's algorithm tags.
pub const SIGNIFY_PKALG: &[u8; 2] = b"Ed";
/// signify's KDF tag for secret keys (bcrypt_pbkdf; 0 rounds means "not encrypted").
pub const SIGNIFY_KDFALG: &[u8; 2] = b"BK";
/// bcrypt_pbkdf rounds of a passphrase-protected secret key, as `signify -G` writes.
pub const SIGNIFY_KDF_ROUNDS: u32 = 42;
/// Most bcrypt_pbkdf rounds a reader computes (a key file asking for more is refused
/// rather than computed for hours).
pub const SIGNIFY_KDF_MAX_ROUNDS: u32 = 4096;
/// Prefix of the first line of every signify file.
pub const SIGNIFY_COMMENT_PREFIX: &str = "untrusted comment: ";
/// signify refuses comments this long or longer.
pub const SIGNIFY_COMMENT_MAX: usize = 1023;

/// Tar block size; every pack entry's data starts on a multiple of it.
pub const TAR_BLOCK: u64 = 512;
/// Two zero blocks end every pack.
pub const TAR_TRAILER: u64 = 2 * TAR_BLOCK;
/// Largest entry a ustar header can describe in octal (8 GiB − 1).
pub const TAR_MAX_ENTRY: u64 = 8 * 1024 * 1024 * 1024 - 1;
/// Modification time written in every pack entry header (the Unix epoch: packs are
/// reproducible and the time means nothing).
pub const TAR_MTIME: u64 = 0;

/// Largest `SHA256.sig` a reader accepts (bytes): a list of a few hundred packs is a few
/// tens of KiB.
pub const MAX_SIGNATURE_FILE: u64 = 1024 * 1024;
/// Largest `manifest.toml` a reader accepts (bytes). A 50,000-package repository needs
/// about 6 MB; this leaves room for dozens of such snapshots while bounding what a reader
/// holds in memory (about twice the manifest's size).
pub const MAX_MANIFEST_FILE: u64 = 256 * 1024 * 1024;
/// Largest `volume.toml` a reader accepts (bytes).
pub const MAX_VOLUME_FILE: u64 = 64 * 1024;
/// Largest `README.txt` a reader accepts (bytes).
pub const MAX_README_FILE: u64 = 64 * 1024;
/// Largest integer in a manifest: TOML integers are signed 64-bit.
pub const MAX_INTEGER: u64 = i64::MAX as u64;
/// Longest display name (product, repository, content view) in bytes.
pub const MAX_NAME: usize = 1024;
/// Longest armored GPG key in bytes.
pub const MAX_GPG_KEY: usize = 1024 * 1024;
/// Largest zstd window a reader allocates: `Window_Size` ≤ 2^23 bytes (8 MiB). Writers
/// at level 3 use at most 2^21.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;
/// The four bytes that begin every zstd frame (RFC 8878 `Magic_Number`, little-endian).
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Largest number of volumes in one bundle.
pub const MAX_VOLUMES: u32 = 9999;

/// Default largest file written to a medium: FAT32's limit (4 GiB − 1).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 * 1024 * 1024 * 1024 - 1;
