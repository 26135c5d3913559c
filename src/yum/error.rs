use std::io;

/// Everything that can go wrong while reading yum repository metadata.
///
/// Messages name the document, element or path involved so that a user can find the problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum YumError {
    /// A checksum `type` this crate does not accept (e.g. `md5`).
    #[error(
        "unsupported checksum type {0:?} (supported: sha, sha1, sha224, sha256, sha384, sha512)"
    )]
    UnsupportedChecksum(String),

    /// A checksum value that is not a valid hex digest of the declared kind.
    #[error("invalid {kind} checksum {hex:?}: {reason}")]
    BadChecksum {
        /// Canonical name of the declared kind (`sha256`, ...).
        kind: &'static str,
        /// The value as found.
        hex: String,
        /// What is wrong with it, and where it was found.
        reason: String,
    },

    /// A location href that is not a safe repository-relative path.
    #[error(
        "invalid repository-relative path {:?}: {reason}",
        crate::format::relpath::shorten(path)
    )]
    BadPath {
        /// The path as found (after XML unescaping).
        path: String,
        /// What is wrong with it, and (from the parsers) where it was found.
        reason: String,
    },

    /// A `<location>` with `xml:base`: the file lives on another server.
    #[error(
        "{document}: <location href={href:?}> has xml:base={base:?}: the file lives elsewhere, \
         and only files inside the repository itself can be packed"
    )]
    RemoteLocation {
        /// `repomd.xml` or `primary.xml`.
        document: &'static str,
        /// The `href` attribute.
        href: String,
        /// The `xml:base` attribute.
        base: String,
    },

    /// The document is not well-formed XML (or not UTF-8).
    #[error("{document}: malformed XML near byte {position}: {source}")]
    Xml {
        /// `repomd.xml` or `primary.xml`.
        document: &'static str,
        /// Byte offset in the (decompressed) document where the error was noticed.
        position: u64,
        /// The parser's error.
        #[source]
        source: quick_xml::Error,
    },

    /// Well-formed XML that does not have the expected structure or values.
    #[error("{document}: {context}: {message}")]
    Invalid {
        /// `repomd.xml` or `primary.xml`.
        document: &'static str,
        /// Which element, e.g. `<data type="primary"> (record 1)` or `<package> #3 (bash)`.
        context: String,
        /// What is wrong.
        message: String,
    },

    /// `<metadata packages="N">` disagrees with the number of `<package>` elements.
    #[error(
        "primary.xml: root <metadata> declares packages=\"{declared}\" but {found} <package> \
         elements were found (truncated or altered metadata)"
    )]
    PackageCountMismatch {
        /// The `packages` attribute.
        declared: u64,
        /// The number of `<package>` elements.
        found: u64,
    },

    /// repomd.xml has no `<data type="primary">` record.
    #[error("repomd.xml: no <data type=\"primary\"> record")]
    NoPrimary,

    /// repomd.xml has more than one `<data type="primary">` record.
    #[error("repomd.xml: {0} <data type=\"primary\"> records, expected exactly one")]
    DuplicatePrimary(usize),

    /// A compressed format that is recognised but not supported (e.g. zchunk).
    #[error("unsupported compression format: {0}")]
    UnsupportedCompression(&'static str),

    /// Reading the input failed (including corrupt or truncated compressed streams).
    #[error("{context}: {source}")]
    Io {
        /// What was being read.
        context: String,
        /// The underlying error; for compressed input its message starts with the format
        /// (`gzip data: unexpected end of file`).
        #[source]
        source: io::Error,
    },
}

impl YumError {
    pub(crate) fn invalid(
        document: &'static str,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        YumError::Invalid {
            document,
            context: context.into(),
            message: message.into(),
        }
    }
}
