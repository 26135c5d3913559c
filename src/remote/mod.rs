//! Talking to a `ferry serve` from the command line: [`push`] uploads volumes to a
//! store's server; [`pull`] downloads the volumes a connected-side server made.

pub mod pull;
pub mod push;

use std::path::Path;
use std::time::Duration;

/// A server's answer: the response when it succeeded, else the error it names (the API's
/// `{"error": …}`), as a refused token, a refusal of what was sent, or another failure.
pub fn answer(
    r: reqwest::blocking::Response,
    url: &str,
) -> Result<reqwest::blocking::Response, RemoteError> {
    let status = r.status();
    if status.is_success() {
        return Ok(r);
    }
    let message = r
        .json::<serde_json::Value>()
        .ok()
        .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(String::from))
        .unwrap_or_default();
    Err(match status.as_u16() {
        401 | 403 => RemoteError::Auth {
            status: status.as_u16(),
            message,
        },
        413 | 422 => RemoteError::Refused(message),
        s => RemoteError::Http {
            url: url.to_string(),
            status: s,
            message,
        },
    })
}

/// An HTTP client for `server`: rustls with the system's roots, and `cacert` too.
pub fn client(
    server: &str,
    cacert: Option<&Path>,
) -> Result<reqwest::blocking::Client, RemoteError> {
    crate::serve::listen::tls_provider();
    let mut b = reqwest::blocking::Client::builder().timeout(Duration::from_secs(600));
    if let Some(path) = cacert {
        let pem =
            crate::fsutil::read_capped(path, 1024 * 1024).map_err(|source| RemoteError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| RemoteError::Connect {
                url: path.display().to_string(),
                source,
            })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|source| RemoteError::Connect {
        url: server.to_string(),
        source,
    })
}

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
