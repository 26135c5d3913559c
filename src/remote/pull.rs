//! `ferry pull`: write the volumes of a bundle that a connected-side `ferry serve` made
//! onto local media, file by file, resuming what an earlier pull left (HTTP ranges). The
//! caller then verifies them with the key the operator trusts: the server's word about
//! its own signer is checked against that key before any byte is written.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::RemoteError;
use crate::format::signify::PublicKey;
use crate::progress::Progress;
use crate::serve::export::BundleView;

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The server's base URL.
    pub server: String,
    /// The admin token, when the server needs one to read.
    pub token: Option<String>,
    /// A CA certificate (PEM) to trust for an https:// server.
    pub cacert: Option<PathBuf>,
    /// The bundle id, or an unambiguous prefix of it.
    pub bundle: String,
    /// Directory that receives vol-01, vol-02, …
    pub out: PathBuf,
    /// Keys the operator trusts: the bundle's signer must be one of them.
    pub trust: Vec<PublicKey>,
}

fn get(
    client: &reqwest::blocking::Client,
    url: &str,
    token: Option<&str>,
) -> reqwest::blocking::RequestBuilder {
    let r = client.get(url);
    match token {
        Some(t) => r.bearer_auth(t),
        None => r,
    }
}

/// Download the bundle's volumes into `out`; returns their directories.
pub fn pull(opts: &PullOptions, progress: &dyn Progress) -> Result<Vec<PathBuf>, RemoteError> {
    let client = super::client(&opts.server, opts.cacert.as_deref())?;
    let token = opts.token.as_deref();
    let base = format!("{}/api/v1", opts.server.trim_end_matches('/'));
    let connect = |url: &str| {
        let url = url.to_string();
        move |source| RemoteError::Connect { url, source }
    };
    let url = format!("{base}/bundles");
    let list: Vec<BundleView> = super::answer(
        get(&client, &url, token).send().map_err(connect(&url))?,
        &url,
    )?
    .json()
    .map_err(connect(&url))?;
    let found: Vec<&BundleView> = list
        .iter()
        .filter(|b| !opts.bundle.is_empty() && b.bundle.starts_with(&opts.bundle))
        .collect();
    let b = match found.as_slice() {
        [b] => *b,
        [] => {
            return Err(RemoteError::Refused(format!(
                "the server has made no bundle {}",
                opts.bundle
            )));
        }
        _ => {
            return Err(RemoteError::Refused(format!(
                "{} names {} bundles: give more of the id",
                opts.bundle,
                found.len()
            )));
        }
    };
    if !opts.trust.iter().any(|k| k.id.to_string() == b.signer) {
        let given: Vec<String> = opts.trust.iter().map(|k| k.id.to_string()).collect();
        return Err(RemoteError::Refused(format!(
            "the server says bundle {} is signed by key {}, which is not one of the keys to trust ({}); nothing was written",
            &b.bundle[..16],
            b.signer,
            given.join(", ")
        )));
    }
    if b.volumes.is_empty() {
        return Err(RemoteError::Refused(format!(
            "the server does not hold the volumes of bundle {}",
            &b.bundle[..16]
        )));
    }
    let total: u64 = b
        .volumes
        .iter()
        .flat_map(|v| v.files.iter().map(|f| f.size))
        .sum();
    progress.begin(&format!("pulling bundle {}", &b.bundle[..16]), Some(total));
    let mut dirs = Vec::new();
    for v in &b.volumes {
        let dir = opts.out.join(format!("vol-{:02}", v.number));
        for f in &v.files {
            let url = format!(
                "{base}/bundles/{}/volumes/{}/files/{}",
                b.bundle, v.number, f.path
            );
            fetch(&client, &url, token, &dir.join(&f.path), f.size, progress)?;
        }
        dirs.push(dir);
    }
    progress.end();
    Ok(dirs)
}

/// One file: kept if complete, continued from its length if shorter, else fetched anew.
fn fetch(
    client: &reqwest::blocking::Client,
    url: &str,
    token: Option<&str>,
    path: &Path,
    size: u64,
    progress: &dyn Progress,
) -> Result<(), RemoteError> {
    let io = |source| RemoteError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let have = std::fs::symlink_metadata(path)
        .map(|m| m.len())
        .unwrap_or(0);
    if have == size && size > 0 {
        progress.advance(size);
        return Ok(());
    }
    let from = if have < size { have } else { 0 };
    let mut req = get(client, url, token);
    if from > 0 {
        req = req.header("Range", format!("bytes={from}-"));
    }
    let mut r = super::answer(
        req.send().map_err(|source| RemoteError::Connect {
            url: url.to_string(),
            source,
        })?,
        url,
    )?;
    // A server that ignored the range sends everything: start over.
    let from = if r.status().as_u16() == 206 { from } else { 0 };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    f.set_len(from).map_err(io)?;
    use std::io::Seek as _;
    f.seek(std::io::SeekFrom::Start(from)).map_err(io)?;
    progress.advance(from);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut at = from;
    loop {
        let n = r.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        if at + n as u64 > size {
            return Err(RemoteError::Refused(format!(
                "{url}: the server sent more than the {size} bytes it listed"
            )));
        }
        f.write_all(&buf[..n]).map_err(io)?;
        at += n as u64;
        progress.advance(n as u64);
    }
    f.sync_all().map_err(io)?;
    if at != size {
        return Err(RemoteError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("got {at} of {size} bytes; run the same pull again to continue"),
            ),
        });
    }
    Ok(())
}
