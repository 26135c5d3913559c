//! Accepting connections, with every limit explicit: how many connections at once, how
//! large the request head may be, how long a client may take to send it, how long a
//! connection may sit idle; and TLS (rustls) when a certificate is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// Most connections open at once; more are closed as they arrive.
pub const MAX_CONNECTIONS: usize = 256;
/// Request heads (request line and headers) are read into a buffer of at most this size;
/// a head that does not fit once the buffer is full is refused (431). hyper reads
/// adaptively, so a head of up to twice this may fit in one read: heads over 128 KiB are
/// always refused.
pub const MAX_HEAD: usize = 64 * 1024;
/// Time a client has to send a request's head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A certificate and key for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the pair.
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The process's TLS provider (ring), for the server and for push/pull.
pub fn tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS acceptor from PEM files.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    tls_provider();
    let bad = |path: &Path, detail: String| TlsError::File {
        path: path.to_path_buf(),
        detail,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "holds no certificate".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad(&files.key, e.to_string()))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serve `app` on `listener` until `shutdown` completes. With `files` (a store whose
/// published trees anyone may read), plain connections start in [`super::sendfile`].
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    files: Option<PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let app = app.layer(axum::middleware::from_fn(close_after_refused_body));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                // Out of file descriptors and the like: wait a little, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let files = files.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = TowerToHyperService::new(app);
            match (tls, files) {
                (None, Some(store)) => match super::sendfile::connection(tcp, store).await {
                    super::sendfile::Next::Done => {}
                    super::sendfile::Next::Hyper(io) => connection(TokioIo::new(io), svc).await,
                },
                (None, None) => connection(TokioIo::new(tcp), svc).await,
                (Some(acc), _) => {
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(tcp)).await
                    {
                        connection(TokioIo::new(s), svc).await;
                    }
                }
            }
        });
    }
}

/// A request with a body that was refused may not have had its body read: the answer says
/// `Connection: close` (and hyper closes after it), so that a client does not send its next
/// request on a connection the server is about to drop.
async fn close_after_refused_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = req.headers();
    let has_body = h
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || h.contains_key(header::TRANSFER_ENCODING);
    let mut resp = next.run(req).await;
    let s = resp.status();
    if has_body && (s.is_client_error() || s.is_server_error()) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

async fn connection<I>(io: I, svc: TowerToHyperService<axum::Router>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true)
        // Bodies are written from their own buffers (vectored writes), not copied into
        // hyper's.
        .writev(true)
        .serve_connection(io, svc)
        .await;
}
