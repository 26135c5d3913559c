//! Plain-HTTP downloads of published files, answered with `sendfile(2)`: the kernel hands
//! the page cache to the socket, and no byte of a package is copied through the server.
//!
//! Each plain (not TLS) connection starts here. While its requests are `GET` or `HEAD` of a
//! published file (HTTP/1.1, no body, no query), this loop answers them itself: the head
//! through [`repos::answer`], the same function the hyper route uses, then the bytes with
//! `sendfile`. At the first request it does not take (another path, a file that does not
//! open, anything unusual) it hands the connection, with every byte it has read and not
//! answered, to hyper, which answers that request and every later one through the router.
//! The path rules are [`repos::components`] and [`repos::open`], unchanged; a path they
//! refuse goes to hyper, which refuses it the same way.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

use super::listen::{HEAD_TIMEOUT, MAX_HEAD};
use super::repos;

/// Most headers a request taken here may have; one with more goes to hyper.
const MAX_HEADERS: usize = 64;
/// Bodies up to this size are sent from the async worker; larger ones from a blocking
/// thread, so that a read from a cold disk never stalls the other connections.
const SMALL: u64 = 1024 * 1024;
/// A client that takes no byte for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest count handed to one `sendfile` call.
const STEP: usize = 1 << 30;

/// How a connection left this loop.
pub enum Next {
    /// Closed or finished; nothing more to do.
    Done,
    /// Hand the connection to hyper, with the bytes read and not yet answered.
    Hyper(Rewind),
}

/// A request this loop answers.
struct Taken {
    method: Method,
    comps: Vec<String>,
    headers: HeaderMap,
    close: bool,
}

/// Parse one request head; `None` when hyper should have it.
fn take(head: &[u8]) -> Option<Taken> {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    let httparse::Status::Complete(_) = req.parse(head).ok()? else {
        return None;
    };
    let method = match req.method? {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        _ => return None,
    };
    if req.version? != 1 {
        return None;
    }
    let path = req.path?;
    if path.contains(['?', '#']) {
        return None;
    }
    let comps = repos::components(path.strip_prefix("/repos/")?).ok()?;
    let mut headers = HeaderMap::new();
    let mut close = false;
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(h.value).ok()?;
        match name.as_str() {
            // A body, an upgrade, an expectation: hyper's business.
            "content-length" | "transfer-encoding" | "expect" | "upgrade" => return None,
            "connection" => {
                let v = value.to_str().ok()?.to_ascii_lowercase();
                if v.split(',').any(|t| t.trim() == "close") {
                    close = true;
                } else if v.split(',').any(|t| t.trim() == "upgrade") {
                    return None;
                }
            }
            _ => {}
        }
        headers.append(name, value);
    }
    Some(Taken {
        method,
        comps,
        headers,
        close,
    })
}

/// Serve requests on `tcp` from the published trees of `store` until the connection closes
/// or a request is one for hyper.
pub async fn connection(mut tcp: TcpStream, store: PathBuf) -> Next {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // Read a whole request head, in the time a head may take (idle time included).
        let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() >= MAX_HEAD {
                return Next::Hyper(Rewind::new(buf, tcp));
            }
            let mut chunk = [0u8; 4096];
            let want = chunk.len().min(MAX_HEAD - buf.len());
            match tokio::time::timeout_at(deadline, tcp.read(&mut chunk[..want])).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return Next::Done,
            }
        };
        let Some(req) = take(&buf[..end]) else {
            return Next::Hyper(Rewind::new(buf, tcp));
        };
        let s = store.clone();
        let comps = req.comps.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let f = repos::open(&s, &comps).ok()?;
            let meta = f.metadata().ok()?;
            Some((f, meta))
        })
        .await;
        let Ok(Some((file, meta))) = opened else {
            return Next::Hyper(Rewind::new(buf, tcp));
        };
        buf.drain(..end);
        let name = req.comps.last().map(String::as_str).unwrap_or("");
        let a = repos::answer(&meta, name, &req.method, &req.headers);
        let head = response_head(&a, req.close);
        let sent = async move {
            let mut tcp = tcp;
            tokio::time::timeout(SEND_TIMEOUT, tcp.write_all(&head))
                .await
                .map_err(|_| stalled())??;
            if let Some((start, count)) = a.body {
                tcp = send(tcp, file, start, count).await?;
            }
            Ok::<_, io::Error>(tcp)
        };
        tcp = match sent.await {
            Ok(t) => t,
            Err(_) => return Next::Done,
        };
        if req.close {
            let _ = tcp.shutdown().await;
            return Next::Done;
        }
    }
}

/// The status line and headers of `a`, with `Date` (and `Connection: close` when asked).
fn response_head(a: &repos::Answer, close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(a.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(a.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in &a.headers {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `count` bytes of `file` from `start` onto `tcp`, by `sendfile`.
async fn send(tcp: TcpStream, file: File, start: u64, count: u64) -> io::Result<TcpStream> {
    if count <= SMALL {
        let mut at = start;
        let end = start + count;
        while at < end {
            tokio::time::timeout(SEND_TIMEOUT, tcp.writable())
                .await
                .map_err(|_| stalled())??;
            let step = ((end - at) as usize).min(STEP);
            match tcp.try_io(tokio::io::Interest::WRITABLE, || {
                Ok(rustix::fs::sendfile(&tcp, &file, Some(&mut at), step)?)
            }) {
                Ok(0) => return Err(shrank()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(tcp);
    }
    // A blocking socket in a thread of its own, with a send timeout for clients that stop
    // reading.
    let std = tcp.into_std()?;
    std.set_nonblocking(false)?;
    std.set_write_timeout(Some(SEND_TIMEOUT))?;
    let std = tokio::task::spawn_blocking(move || {
        let mut at = start;
        let end = start + count;
        while at < end {
            let step = ((end - at) as usize).min(STEP);
            match rustix::fs::sendfile(&std, &file, Some(&mut at), step) {
                Ok(0) => return Err(shrank()),
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(std)
    })
    .await
    .map_err(io::Error::other)??;
    std.set_nonblocking(true)?;
    TcpStream::from_std(std)
}

fn stalled() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the file shrank while it was sent",
    )
}

/// A connection with bytes already read from it, given back first.
pub struct Rewind {
    pre: Vec<u8>,
    at: usize,
    tcp: TcpStream,
}

impl Rewind {
    fn new(pre: Vec<u8>, tcp: TcpStream) -> Self {
        Rewind { pre, at: 0, tcp }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.pre.len() {
            let n = out.remaining().min(self.pre.len() - self.at);
            let at = self.at;
            out.put_slice(&self.pre[at..at + n]);
            self.at += n;
            if self.at == self.pre.len() {
                self.pre = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.tcp).poll_read(cx, out)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, b)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, b)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_gets_of_repository_files_are_taken() {
        let ok = take(b"GET /repos/a/b.rpm HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n")
            .expect("taken");
        assert_eq!(ok.comps, ["a", "b.rpm"]);
        assert_eq!(ok.headers.get("range").unwrap(), "bytes=0-1");
        assert!(!ok.close);
        assert!(
            take(b"HEAD /repos/a HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap()
                .close
        );
        for other in [
            &b"GET /api/v1/status HTTP/1.1\r\n\r\n"[..],
            b"POST /repos/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"GET /repos/a HTTP/1.0\r\n\r\n",
            b"GET /repos/a?x=1 HTTP/1.1\r\n\r\n",
            b"GET /repos/../ferry.db HTTP/1.1\r\n\r\n",
            b"GET /repos/a/%2e%2e/b HTTP/1.1\r\n\r\n",
            b"GET /repos/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /repos/a HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            b"GET /repos/a HTTP/1.1\r\nBad Header\r\n\r\n",
        ] {
            assert!(take(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }
}
