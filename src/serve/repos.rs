//! `/repos/…`: the published trees, for dnf clients, read-only.
//!
//! A request path is decoded once, split into components, and every component must be a
//! plain name (no `..`, `.`, empty, `/` or NUL after decoding). The path is then walked
//! from `STORE/published` one component at a time without following links, with one
//! exception: the link ferry itself made for a publication, which is read and must name a
//! version (`…/versions/ID`); that version is opened from the store root, again without
//! following links. A link anywhere else, a directory, or anything but a regular file is
//! "not found". Nothing outside `published/` and the versions it names can be reached,
//! and no directory is ever listed.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::UNIX_EPOCH;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// Largest request path accepted (bytes, before decoding).
pub const MAX_REQUEST_PATH: usize = 4096;
/// Read size when streaming a file.
const CHUNK: usize = 256 * 1024;

/// Why a path cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The path is not a plain relative path (`..`, empty or odd components, bad escapes).
    BadPath,
    /// Nothing servable there.
    NotFound,
}

/// Split a raw (still percent-encoded) request path into checked components.
pub fn components(raw: &str) -> Result<Vec<String>, Refusal> {
    if raw.len() > MAX_REQUEST_PATH {
        return Err(Refusal::BadPath);
    }
    let mut out = Vec::new();
    for seg in raw.split('/') {
        let decoded = percent_encoding::percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| Refusal::BadPath)?;
        if decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.contains(['/', '\0', '\\'])
        {
            return Err(Refusal::BadPath);
        }
        out.push(decoded.into_owned());
    }
    Ok(out)
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The version a publication link names, if it is one ferry made: `../…/versions/ID`.
fn version_of_link(target: &std::ffi::OsStr) -> Option<String> {
    let t = target.to_str()?;
    let mut parts: Vec<&str> = t.split('/').collect();
    let id = parts.pop()?;
    if parts.pop()? != "versions" || parts.is_empty() || parts.iter().any(|p| *p != "..") {
        return None;
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    Some(id.to_string())
}

/// Open the published file at `comps` (see the module's rules).
pub fn open(store: &Path, comps: &[String]) -> Result<File, Refusal> {
    let nf = |_| Refusal::NotFound;
    let root = rustix::fs::open(
        store,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|_| Refusal::NotFound)?;
    let mut dir = open_dir_at(&root, "published").map_err(nf)?;
    let mut followed = false;
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let st = rustix::fs::statat(&dir, c.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|_| Refusal::NotFound)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink if !followed && !last => {
                let target = rustix::fs::readlinkat(&dir, c.as_str(), Vec::new())
                    .map_err(|_| Refusal::NotFound)?;
                let id = version_of_link(std::ffi::OsStr::new(
                    target.to_str().map_err(|_| Refusal::NotFound)?,
                ))
                .ok_or(Refusal::NotFound)?;
                let versions = open_dir_at(&root, "versions").map_err(nf)?;
                dir = open_dir_at(&versions, &id).map_err(nf)?;
                followed = true;
            }
            FileType::Directory if !last => {
                dir = open_dir_at(&dir, c).map_err(nf)?;
            }
            FileType::RegularFile if last => {
                let fd = rustix::fs::openat(
                    &dir,
                    c.as_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|_| Refusal::NotFound)?;
                let f = File::from(fd);
                let meta = f.metadata().map_err(|_| Refusal::NotFound)?;
                if !meta.is_file() {
                    return Err(Refusal::NotFound);
                }
                return Ok(f);
            }
            _ => return Err(Refusal::NotFound),
        }
    }
    Err(Refusal::NotFound)
}

/// The content type of a repository file, by its name.
pub fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "xml" => "application/xml",
        "gz" => "application/gzip",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "zst" => "application/zstd",
        "rpm" => "application/x-rpm",
        "asc" => "application/pgp-signature",
        "sqlite" => "application/vnd.sqlite3",
        "txt" | "repo" | "treeinfo" => "text/plain; charset=utf-8",
        "json" => "application/json",
        "iso" => "application/x-iso9660-image",
        "img" => "application/octet-stream",
        _ if lower.starts_with("rpm-gpg-key") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Parse a single `bytes=` range against a file of `len` bytes. `None` means "ignore the
/// header and send everything" (several ranges, or a form we do not take); `Some(Err)`
/// means unsatisfiable.
fn range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len - n.min(len), len - 1)));
    }
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() {
        u64::MAX
    } else {
        b.parse().ok()?
    };
    if end < start {
        return None;
    }
    if start >= len {
        return Some(Err(()));
    }
    Some(Ok((start, end.min(len - 1))))
}

fn etag(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt as _;
    format!("\"{:x}-{:x}-{:x}\"", meta.ino(), meta.len(), meta.mtime())
}

fn etag_matches(list: &str, tag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

/// What to answer to a GET or HEAD of a file: the status, the headers, and which bytes of
/// the file follow (none for HEAD, 304 and 416).
#[derive(Debug)]
pub struct Answer {
    /// 200, 206, 304 or 416.
    pub status: StatusCode,
    /// ETag, Last-Modified, Accept-Ranges, and as they apply Content-Type, Content-Range
    /// and Content-Length.
    pub headers: HeaderMap,
    /// `(start, count)` of the body, if one is sent.
    pub body: Option<(u64, u64)>,
}

/// The answer to a GET or HEAD of a file with metadata `meta`, named `name` (for its content
/// type): conditional requests and one byte range.
pub fn answer(
    meta: &std::fs::Metadata,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Answer {
    let len = meta.len();
    let tag = etag(meta);
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    // Whole seconds, as HTTP dates carry.
    let modified_s = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let last_modified =
        httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(modified_s));
    let header_str = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());

    let not_modified = if let Some(inm) = header_str(header::IF_NONE_MATCH) {
        etag_matches(inm, &tag)
    } else if let Some(ims) = header_str(header::IF_MODIFIED_SINCE) {
        httpdate::parse_http_date(ims)
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|t| modified_s <= t.as_secs())
    } else {
        false
    };
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, HeaderValue::from_str(&tag).expect("ascii"));
    common.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_str(&last_modified).expect("ascii"),
    );
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let bare = |status, headers| Answer {
        status,
        headers,
        body: None,
    };
    if not_modified {
        return bare(StatusCode::NOT_MODIFIED, common);
    }
    common.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );

    // A range applies only if If-Range (when given) still names this file.
    let if_range_ok = match header_str(header::IF_RANGE) {
        None => true,
        Some(v) if v.starts_with('"') || v.starts_with("W/") => v == tag,
        Some(v) => httpdate::parse_http_date(v)
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|t| t.as_secs() >= modified_s),
    };
    let wanted = header_str(header::RANGE)
        .filter(|_| if_range_ok)
        .and_then(|h| range(h, len));
    let (status, start, count) = match wanted {
        Some(Err(())) => {
            common.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"),
            );
            common.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
            return bare(StatusCode::RANGE_NOT_SATISFIABLE, common);
        }
        Some(Ok((a, b))) => {
            common.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")).expect("ascii"),
            );
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
        None => (StatusCode::OK, 0, len),
    };
    common.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    Answer {
        status,
        headers: common,
        body: (method != Method::HEAD).then_some((start, count)),
    }
}

/// Serve `file` (already opened by [`open`]) for a GET or HEAD request, through hyper (TLS,
/// protected repositories; plain requests take [`super::sendfile`]).
pub async fn send(file: File, name: &str, method: &Method, headers: &HeaderMap) -> Response {
    let Ok(meta) = file.metadata() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = answer(&meta, name, method, headers);
    match a.body {
        None => (a.status, a.headers).into_response(),
        Some((start, count)) => (
            a.status,
            a.headers,
            Body::from_stream(file_stream(file, start, count)),
        )
            .into_response(),
    }
}

/// Buffers of one download: at most this many are in flight (read, queued, or being
/// written to the socket).
const BUFFERS: usize = 3;

/// A buffer lent to the body; it goes back to its download's pool when the body is done
/// with it, so that its pages are reused instead of being allocated (and faulted in) again.
struct Lent {
    buf: Vec<u8>,
    len: usize,
    pool: std::sync::mpsc::SyncSender<Vec<u8>>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let _ = self.pool.try_send(std::mem::take(&mut self.buf));
    }
}

/// `count` bytes of `file` from `start`, read by a blocking thread of its own in large
/// chunks into a few reused buffers, so that the async workers only hand buffers to the
/// sockets.
pub fn file_stream(
    file: File,
    start: u64,
    count: u64,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(BUFFERS);
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::FileExt as _;
        let (give_back, pool) = std::sync::mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        for _ in 0..BUFFERS {
            let _ = give_back.try_send(Vec::new());
        }
        let mut at = start;
        let end = start.saturating_add(count);
        while at < end {
            // Wait for a buffer; none comes back once the client has left.
            let Ok(mut buf) = pool.recv_timeout(std::time::Duration::from_secs(600)) else {
                return;
            };
            let n = CHUNK.min((end - at) as usize);
            buf.resize(CHUNK, 0);
            let got = match file.read_at(&mut buf[..n], at) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file shrank",
                    )));
                    return;
                }
                Ok(k) => k,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            at += got as u64;
            let lent = Lent {
                buf,
                len: got,
                pool: give_back.clone(),
            };
            if tx
                .blocking_send(Ok(bytes::Bytes::from_owner(lent)))
                .is_err()
            {
                return; // the client left
            }
        }
    });
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_tree_are_refused() {
        for bad in [
            "..",
            "a/../b",
            "a/%2e%2e/b",
            "%2E%2E",
            "a//b",
            "/etc/passwd",
            "a/./b",
            "a%2fb",
            "a%00b",
            "a%5c..",
            "%ff",
            "",
        ] {
            assert_eq!(components(bad), Err(Refusal::BadPath), "{bad}");
        }
        assert_eq!(
            components("acme/library/p/r/Packages/a%20b.rpm").unwrap(),
            ["acme", "library", "p", "r", "Packages", "a b.rpm"]
        );
    }

    #[test]
    fn only_links_to_versions_are_followed() {
        use std::ffi::OsStr;
        assert_eq!(
            version_of_link(OsStr::new("../../../../versions/abc123")),
            Some("abc123".into())
        );
        for bad in [
            "/versions/abc",
            "../../objects/ab",
            "../../versions/../ferry.db",
            "versions/abc",
            "../../versions/",
            "../x/versions/abc",
        ] {
            assert_eq!(version_of_link(OsStr::new(bad)), None, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(range("bytes=100-", 100), Some(Err(())));
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=5-1", 100), None);
    }
}
