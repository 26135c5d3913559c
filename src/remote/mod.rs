//! Talking to a `ferry serve` from the command line: [`push`] uploads volumes to it.

pub mod push;

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The token was refused.
    #[error("the server refused the token ({status}): {message}")]
    Auth {
        /// HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The server refused a volume or a file.
    #[error("{0}")]
    Refused(String),
    /// The server answered with an error.
    #[error("{url}: {status}: {message}")]
    Http {
        /// What was asked.
        url: String,
        /// HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// No answer.
    #[error("{url}: {source}")]
    Connect {
        /// What was asked.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// A local file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token file.
    #[error("token file {path}: {source}")]
    Token {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
