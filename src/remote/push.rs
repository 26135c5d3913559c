//! `ferry push`: upload volumes to a `ferry serve`, resuming where an earlier upload
//! stopped, then wait for the import and return its result.
//!
//! The protocol is the server's ([`crate::serve::uploads`]): create an import job, post
//! each volume's `SHA256.sig`, then send each file the signed list names from the offset
//! the server holds, in chunks, so that an interruption loses at most one chunk.

use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client, Response};

use super::RemoteError;
use crate::format::constants::{MAX_SIGNATURE_FILE, SIGNATURE_FILE};
use crate::progress::Progress;
use crate::serve::jobs::JobView;
use crate::serve::uploads::VolumeView;

/// Bytes sent per request.
pub const CHUNK: u64 = 16 * 1024 * 1024;
/// Attempts at one chunk before giving up.
const ATTEMPTS: u32 = 5;

/// What to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The server's base URL (`http://host:8080`).
    pub server: String,
    /// The admin token.
    pub token: String,
    /// A CA certificate (PEM) to trust for an https:// server, besides the system's.
    pub cacert: Option<PathBuf>,
    /// Volume directories.
    pub volumes: Vec<PathBuf>,
}

/// Read a token file.
pub fn read_token(path: &Path) -> Result<String, RemoteError> {
    let t = crate::fsutil::read_capped(path, 4096).map_err(|source| RemoteError::Token {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&t).trim().to_string())
}

struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base.trim_end_matches('/'))
    }

    fn send(
        &self,
        req: reqwest::blocking::RequestBuilder,
        url: &str,
    ) -> Result<Response, RemoteError> {
        let r = req
            .bearer_auth(&self.token)
            .send()
            .map_err(|source| RemoteError::Connect {
                url: url.to_string(),
                source,
            })?;
        super::answer(r, url)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        r: Response,
        url: &str,
    ) -> Result<T, RemoteError> {
        r.json().map_err(|source| RemoteError::Connect {
            url: url.to_string(),
            source,
        })
    }
}

/// Upload the volumes, wait for the import, and return the job as the server last
/// described it.
pub fn push(opts: &PushOptions, progress: &dyn Progress) -> Result<JobView, RemoteError> {
    let api = Api {
        client: super::client(&opts.server, opts.cacert.as_deref())?,
        base: opts.server.clone(),
        token: opts.token.clone(),
    };
    // A body-less request first: a wrong token is refused before any byte is sent.
    let url = api.url("/imports");
    let r = api.send(api.client.post(&url), &url)?;
    let job: serde_json::Value = api.json(r, &url)?;
    let job = job["id"].as_str().unwrap_or_default().to_string();

    for dir in &opts.volumes {
        push_volume(&api, &job, dir, progress)?;
    }

    // Wait for the imports.
    let url = api.url(&format!("/imports/{job}"));
    let mut phase = String::new();
    loop {
        let r = api.send(api.client.get(&url), &url)?;
        let j: JobView = api.json(r, &url)?;
        match &j.phase {
            Some(p) if p.name != phase => {
                phase = p.name.clone();
                progress.note(&format!("server: {}", p.name));
            }
            _ => {}
        }
        if j.state == "done" {
            return Ok(j);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn push_volume(
    api: &Api,
    job: &str,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<(), RemoteError> {
    let io = |path: PathBuf| move |source| RemoteError::Io { path, source };
    let sig_path = dir.join(SIGNATURE_FILE);
    let sig =
        crate::fsutil::read_capped(&sig_path, MAX_SIGNATURE_FILE).map_err(io(sig_path.clone()))?;
    let url = api.url(&format!("/imports/{job}/volumes"));
    let r = api
        .send(api.client.post(&url).body(sig), &url)
        .map_err(|e| match e {
            RemoteError::Refused(m) => RemoteError::Refused(format!("{}: {m}", dir.display())),
            e => e,
        })?;
    let mut view: VolumeView = api.json(r, &url)?;
    let files: Vec<(String, u64)> = view
        .files
        .iter()
        .map(|f| {
            let p = dir.join(&f.path);
            std::fs::metadata(&p)
                .map(|m| (f.path.clone(), m.len()))
                .map_err(io(p))
        })
        .collect::<Result<_, _>>()?;
    let total: u64 = files.iter().map(|(_, n)| n).sum();
    let held: u64 = view.files.iter().map(|f| f.received).sum();
    progress.begin(&format!("uploading {}", dir.display()), Some(total));
    progress.advance(held);
    for (path, len) in files {
        if !matches!(view.state.as_str(), "head" | "receiving") {
            break;
        }
        let Some(f) = view.files.iter().find(|f| f.path == path) else {
            continue;
        };
        if f.complete {
            continue;
        }
        let mut offset = f.received;
        let local = dir.join(&path);
        let mut file = std::fs::File::open(&local).map_err(io(local.clone()))?;
        let url = api.url(&format!("/uploads/{}/{path}", view.key));
        loop {
            let mut chunk = read_chunk(&mut file, &local, offset, CHUNK.min(len - offset))?;
            let mut attempt = 0;
            let r = loop {
                attempt += 1;
                let req = api
                    .client
                    .patch(&url)
                    .header("Upload-Offset", offset)
                    .header("Upload-Length", len)
                    .header("Content-Type", "application/offset+octet-stream")
                    .body(chunk.clone());
                match api.send(req, &url) {
                    Ok(r) => break r,
                    Err(
                        RemoteError::Connect { .. }
                        | RemoteError::Http {
                            status: 500..=599, ..
                        },
                    ) if attempt < ATTEMPTS => {
                        progress.note(&format!("{path}: connection lost; resuming"));
                        std::thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
                        // Where does the server stand now?
                        let v: VolumeView = {
                            let u = api.url(&format!("/uploads/{}", view.key));
                            let r = api.send(api.client.get(&u), &u)?;
                            api.json(r, &u)?
                        };
                        let now = v
                            .files
                            .iter()
                            .find(|f| f.path == path)
                            .map(|f| f.received)
                            .unwrap_or(0);
                        if now != offset {
                            // The server kept part of the chunk: continue from there.
                            break_resume(&mut offset, now, progress);
                            chunk = read_chunk(&mut file, &local, offset, CHUNK.min(len - offset))?;
                        }
                        continue;
                    }
                    Err(RemoteError::Refused(m)) => {
                        progress.end();
                        return Err(RemoteError::Refused(format!("{}: {m}", dir.display())));
                    }
                    Err(e) => {
                        progress.end();
                        return Err(e);
                    }
                }
            };
            view = api.json(r, &url)?;
            let now = view
                .files
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.received)
                .unwrap_or(offset);
            progress.advance(now.saturating_sub(offset));
            offset = now;
            let done = view
                .files
                .iter()
                .find(|f| f.path == path)
                .is_some_and(|f| f.complete);
            if done || offset >= len || !matches!(view.state.as_str(), "head" | "receiving") {
                break;
            }
        }
    }
    progress.end();
    match view.state.as_str() {
        "refused" => Err(RemoteError::Refused(format!(
            "{}: {}",
            dir.display(),
            view.message.unwrap_or_default()
        ))),
        "skipped" => {
            progress.note(&format!(
                "{}: {}",
                dir.display(),
                view.message.unwrap_or_default()
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `n` bytes of `file` from `offset` (one request's body).
fn read_chunk(
    file: &mut std::fs::File,
    path: &Path,
    offset: u64,
    n: u64,
) -> Result<bytes::Bytes, RemoteError> {
    let io = |source| RemoteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut buf = Vec::with_capacity(n as usize);
    file.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
    file.take(n).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 != n {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file shrank while it was sent",
        )));
    }
    Ok(bytes::Bytes::from(buf))
}

fn break_resume(offset: &mut u64, now: u64, progress: &dyn Progress) {
    if now > *offset {
        progress.advance(now - *offset);
    }
    *offset = now;
}
