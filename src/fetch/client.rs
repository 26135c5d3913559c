//! An HTTP client for one repository, with yum's options: `sslcacert` (added to the
//! system's roots), `sslclientcert`/`sslclientkey`, `sslverify`, `username` and a password
//! read from a file or the environment. Proxies come from the usual environment variables
//! (`https_proxy`, `http_proxy`, `no_proxy`), as reqwest reads them.

use std::time::Duration;

use crate::catalog::{Access, Password};
use crate::fsutil::read_capped;

/// A client and the credentials to send with each request.
#[derive(Clone)]
pub struct RepoClient {
    /// The client.
    pub http: reqwest::blocking::Client,
    /// HTTP Basic credentials.
    pub basic: Option<(String, String)>,
}

impl RepoClient {
    /// A GET of `url`, with the credentials.
    pub fn get(&self, url: &url::Url) -> reqwest::blocking::RequestBuilder {
        let r = self.http.get(url.clone());
        match &self.basic {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }
}

/// Time to connect; a body that stops arriving for this long is an error too.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The client for `access`; the error says what is wrong with the options.
pub fn client(access: &Access) -> Result<RepoClient, String> {
    crate::serve::listen::tls_provider();
    let mut b = reqwest::blocking::Client::builder()
        .connect_timeout(TIMEOUT)
        // Each read and write, not the whole transfer.
        .timeout(TIMEOUT)
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")));
    let read =
        |p: &std::path::Path| read_capped(p, 1 << 20).map_err(|e| format!("{}: {e}", p.display()));
    if let Some(ca) = &access.ca {
        let certs = reqwest::Certificate::from_pem_bundle(&read(ca)?)
            .map_err(|e| format!("{}: not PEM certificates: {e}", ca.display()))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if let (Some(cert), Some(key)) = (&access.client_cert, &access.client_key) {
        let mut pem = read(cert)?;
        pem.push(b'\n');
        pem.extend(read(key)?);
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
            format!(
                "{} and {}: not a client certificate and key: {e}",
                cert.display(),
                key.display()
            )
        })?;
        b = b.identity(id);
    }
    if !access.verify {
        b = b.danger_accept_invalid_certs(true);
    }
    let basic = match (&access.username, &access.password) {
        (Some(u), Some(Password::File(f))) => {
            let text = String::from_utf8(read(f)?)
                .map_err(|_| format!("{}: the password is not UTF-8", f.display()))?;
            let line = text.lines().next().unwrap_or("").to_string();
            Some((u.clone(), line))
        }
        (Some(u), Some(Password::Env(v))) => match std::env::var(v) {
            Ok(p) => Some((u.clone(), p)),
            Err(_) => return Err(format!("password_env names {v}, which is not set")),
        },
        (Some(u), None) => Some((u.clone(), String::new())),
        (None, _) => None,
    };
    let http = b
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
    Ok(RepoClient { http, basic })
}

/// An error of reqwest with its causes, which name what TLS refused (an unknown issuer, an
/// expired certificate, a certificate the server did not accept).
pub fn explain(e: &reqwest::Error) -> String {
    let mut s = if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}
