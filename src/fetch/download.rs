//! One file from a server: checked against its declared checksum and size as it arrives,
//! resumed with a range request after a cut, retried with backoff on connection errors and
//! 5xx, refused at once on another 4xx.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::FetchOptions;
use super::client::{RepoClient, explain};
use crate::progress::Progress;
use crate::yum::checksum::{Checksum, ChecksumKind, Hasher};

/// Bytes per read.
const CHUNK: usize = 256 * 1024;

/// One file to fetch into the cache.
#[derive(Debug, Clone)]
pub struct Want {
    /// Where it is.
    pub url: url::Url,
    /// Where it goes.
    pub dest: PathBuf,
    /// Its checksum, as the metadata declares it (a `.treeinfo` may name a file without
    /// one: then it is fetched every time, as nothing could tell a cached copy is right).
    pub expect: Option<Checksum>,
    /// Its size, when the metadata declares it.
    pub size: Option<u64>,
    /// Largest size accepted when none is declared.
    pub cap: u64,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// The cache had it, with the right checksum.
    Cached,
    /// Fetched: this many bytes came over the network.
    Fetched(u64),
}

/// Why an attempt failed.
enum Fail {
    /// Worth another attempt (connection, 5xx, a body cut off).
    Again(String),
    /// Not worth one (4xx, a bad file, the disk).
    Stop(String),
}

fn io(path: &Path, e: std::io::Error) -> Fail {
    Fail::Stop(format!("{}: {e}", path.display()))
}

/// The checksum of the file at `path` in `expect`'s kind, when it exists.
fn checksum_of(path: &Path, kind: ChecksumKind) -> std::io::Result<Option<(Checksum, u64)>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut h = Hasher::new(kind);
    let n = std::io::copy(&mut f, &mut h)?;
    Ok(Some((h.finish(), n)))
}

/// Fetch `w` unless the cache holds it with the right checksum.
pub fn fetch(
    client: &RepoClient,
    w: &Want,
    opts: &FetchOptions,
    progress: &dyn Progress,
) -> Result<Got, String> {
    let kind = w.expect.as_ref().map_or(ChecksumKind::Sha256, |c| c.kind);
    match checksum_of(&w.dest, kind) {
        Ok(Some((c, n))) if Some(&c) == w.expect.as_ref() && w.size.is_none_or(|s| s == n) => {
            progress.advance(n);
            return Ok(Got::Cached);
        }
        // Damaged or out of date: fetched again.
        Ok(Some(_)) => {
            std::fs::remove_file(&w.dest).map_err(|e| format!("{}: {e}", w.dest.display()))?
        }
        Ok(None) => {}
        Err(e) => return Err(format!("{}: {e}", w.dest.display())),
    }
    if let Some(d) = w.dest.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let part = part_path(&w.dest);
    let mut mismatches = 0;
    let mut attempt = 0;
    let mut pause = opts.backoff;
    loop {
        attempt += 1;
        match try_once(client, w, &part, progress) {
            Ok(n) => {
                std::fs::rename(&part, &w.dest)
                    .map_err(|e| format!("{}: {e}", w.dest.display()))?;
                return Ok(Got::Fetched(n));
            }
            Err(Fail::Stop(m)) => {
                // A complete file with the wrong checksum: once more from the start, in case
                // it was damaged on the way; then refused.
                if m.starts_with("checksum mismatch") && mismatches == 0 {
                    mismatches += 1;
                    let _ = std::fs::remove_file(&part);
                    continue;
                }
                let _ = std::fs::remove_file(&part);
                return Err(m);
            }
            Err(Fail::Again(m)) => {
                if attempt >= opts.attempts {
                    return Err(format!("{m} (after {attempt} attempts)"));
                }
                std::thread::sleep(pause);
                pause *= 2;
            }
        }
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let mut p = dest.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

/// One request: resume `part` from where it stops, or start it.
fn try_once(
    client: &RepoClient,
    w: &Want,
    part: &Path,
    progress: &dyn Progress,
) -> Result<u64, Fail> {
    let limit = w.size.unwrap_or(w.cap);
    let kind = w.expect.as_ref().map_or(ChecksumKind::Sha256, |c| c.kind);
    // What is already there counts: hashed again, then continued.
    let mut hasher = Hasher::new(kind);
    let mut have = 0u64;
    if let Ok(mut f) = File::open(part) {
        have =
            std::io::copy(&mut (&mut f).take(limit + 1), &mut hasher).map_err(|e| io(part, e))?;
        if have > limit {
            std::fs::remove_file(part).map_err(|e| io(part, e))?;
            hasher = Hasher::new(kind);
            have = 0;
        }
    }
    if have == limit && w.size.is_some() {
        return finish(w, hasher, have, 0);
    }
    let mut req = client.get(&w.url);
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let mut resp = req.send().map_err(failed)?;
    let status = resp.status();
    let mut file = match status.as_u16() {
        206 if have > 0 && content_range_start(&resp) == Some(have) => OpenOptions::new()
            .append(true)
            .open(part)
            .map_err(|e| io(part, e))?,
        200 => {
            hasher = Hasher::new(kind);
            have = 0;
            File::create(part).map_err(|e| io(part, e))?
        }
        // A range the server cannot give: start again.
        416 => {
            std::fs::remove_file(part).map_err(|e| io(part, e))?;
            return Err(Fail::Again("the server refused to resume (416)".into()));
        }
        s if s >= 500 || s == 408 || s == 429 => {
            return Err(Fail::Again(format!("HTTP {status}")));
        }
        _ => return Err(Fail::Stop(http_refusal(status))),
    };
    if let Some(len) = resp.content_length()
        && have + len > limit
    {
        return Err(Fail::Stop(format!(
            "the server sends {} bytes; the metadata declares {limit}",
            have + len
        )));
    }
    let mut buf = vec![0u8; CHUNK];
    let mut fetched = 0u64;
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.flush().map_err(|e| io(part, e))?;
                return Err(Fail::Again(format!(
                    "the connection broke after {} bytes: {e}",
                    have
                )));
            }
        };
        if have + n as u64 > limit {
            return Err(Fail::Stop(match w.size {
                Some(s) => {
                    format!("the server sends more than the {s} bytes the metadata declares")
                }
                None => format!("the file is larger than {limit} bytes"),
            }));
        }
        file.write_all(&buf[..n]).map_err(|e| io(part, e))?;
        hasher.update(&buf[..n]);
        have += n as u64;
        fetched += n as u64;
        progress.advance(n as u64);
    }
    file.flush().map_err(|e| io(part, e))?;
    finish(w, hasher, have, fetched)
}

fn finish(w: &Want, hasher: Hasher, have: u64, fetched: u64) -> Result<u64, Fail> {
    if let Some(s) = w.size
        && have != s
    {
        return Err(Fail::Again(format!(
            "the server sent {have} bytes; the metadata declares {s}"
        )));
    }
    let got = hasher.finish();
    if let Some(expect) = &w.expect
        && &got != expect
    {
        return Err(Fail::Stop(format!(
            "checksum mismatch: the metadata declares {expect}, the server sent {got}"
        )));
    }
    Ok(fetched)
}

/// A request that got no answer: worth another attempt, unless TLS refused the server or
/// the server refused us (another attempt would meet the same certificates).
fn failed(e: reqwest::Error) -> Fail {
    let m = explain(&e);
    let l = m.to_ascii_lowercase();
    if ["certificate", "handshake", "tls", "alert", "ssl"]
        .iter()
        .any(|w| l.contains(w))
    {
        Fail::Stop(format!("TLS: {m}"))
    } else {
        Fail::Again(m)
    }
}

fn content_range_start(r: &reqwest::blocking::Response) -> Option<u64> {
    let v = r
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let spec = v.strip_prefix("bytes ")?;
    spec.split('-').next()?.trim().parse().ok()
}

/// What a refusal means to the operator.
pub fn http_refusal(status: reqwest::StatusCode) -> String {
    let hint = match status.as_u16() {
        401 => ": the server wants credentials (username, password_file or password_env)",
        403 => ": the server refused access (a client certificate or an entitlement?)",
        404 => ": not found",
        _ => "",
    };
    format!("HTTP {status}{hint}")
}

/// A small file (repomd.xml and its signature) into memory, with retries; `None` when the
/// server says it does not exist (404).
pub fn fetch_small(
    client: &RepoClient,
    url: &url::Url,
    cap: u64,
    opts: &FetchOptions,
) -> Result<Option<Vec<u8>>, String> {
    let mut pause = opts.backoff;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = (|| {
            let resp = client.get(url).send().map_err(failed)?;
            let status = resp.status();
            match status.as_u16() {
                200 => {}
                404 | 410 => return Ok(None),
                s if s >= 500 || s == 408 || s == 429 => {
                    return Err(Fail::Again(format!("HTTP {status}")));
                }
                _ => return Err(Fail::Stop(http_refusal(status))),
            }
            let mut body = Vec::new();
            resp.take(cap + 1)
                .read_to_end(&mut body)
                .map_err(|e| Fail::Again(format!("the connection broke: {e}")))?;
            if body.len() as u64 > cap {
                return Err(Fail::Stop(format!("larger than {cap} bytes")));
            }
            Ok(Some(body))
        })();
        match r {
            Ok(b) => return Ok(b),
            Err(Fail::Stop(m)) => return Err(m),
            Err(Fail::Again(m)) if attempt >= opts.attempts => {
                return Err(format!("{m} (after {attempt} attempts)"));
            }
            Err(Fail::Again(_)) => {
                std::thread::sleep(pause);
                pause *= 2;
            }
        }
    }
}
