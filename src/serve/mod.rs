//! `ferry serve`: the disconnected site's repository server.
//!
//! - `/repos/…`: the published trees, for dnf ([`repos`]; plain HTTP by [`sendfile`]);
//! - `/api/v1/…`: the JSON API and its OpenAPI document ([`api`]);
//! - `/`, `/login`, …: server-rendered pages ([`ui`]);
//! - uploads of volumes, checked as they arrive ([`uploads`]), imported as jobs ([`jobs`]);
//! - who may do what ([`auth`]).
//!
//! The HTTP layer is a front end like the command line: every check and every import is
//! the library's own ([`crate::bundle`], [`crate::import`]).

pub mod api;
pub mod auth;
pub mod export;
pub mod jobs;
pub mod listen;
pub mod repos;
pub mod sendfile;
pub mod tarstream;
pub mod ui;
pub mod uploads;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::store::{Access, Store};
use auth::{Caller, Sessions, Token};
use uploads::Uploads;

/// Which side a server is for.
#[derive(Debug, Clone)]
pub enum Site {
    /// The disconnected side: a store, its repositories, uploads and imports.
    Store(PathBuf),
    /// The connected side: make bundles from a catalog and hand out their volumes.
    Export {
        /// The catalog file.
        catalog: PathBuf,
        /// The secret key.
        key: PathBuf,
        /// The export state directory (default: beside the key).
        state: Option<PathBuf>,
        /// Where a protected key's passphrase comes from (read once, at start).
        passphrase: crate::keys::Passphrase,
    },
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// What to serve.
    pub site: Site,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The admin token's file (default: `STORE/admin-token`, or `STATE/admin-token`).
    pub token_file: Option<PathBuf>,
    /// Require the token for `/repos/` too.
    pub protect_repos: bool,
    /// Let anyone read the pages and the read-only API.
    pub public_ui: bool,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<listen::TlsFiles>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The token file.
    #[error(transparent)]
    Token(#[from] auth::TokenError),
    /// The signing key.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// The catalog.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// Listening.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// TLS.
    #[error(transparent)]
    Tls(#[from] listen::TlsError),
    /// The runtime.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
pub struct Shared {
    /// The store.
    pub store: PathBuf,
    /// The admin token.
    pub token: Token,
    /// Browser sessions.
    pub sessions: Sessions,
    /// Uploads and import jobs.
    pub uploads: Arc<Uploads>,
    /// `/repos/` needs the token.
    pub protect_repos: bool,
    /// Pages and read-only API open to all.
    pub public_ui: bool,
    /// Served over TLS.
    pub tls: bool,
}

/// The handlers' state.
pub type AppState = Arc<Shared>;

/// Serve until interrupted (SIGINT or SIGTERM). `announce` is told the address and the
/// token file once listening.
pub fn run(opts: &ServeOptions, announce: &dyn Fn(&str)) -> Result<(), ServeError> {
    let tls = opts.tls.as_ref().map(listen::acceptor).transpose()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let default_token = |dir: &std::path::Path| {
        opts.token_file
            .clone()
            .unwrap_or_else(|| dir.join("admin-token"))
    };
    let (app, token_file, created) = match &opts.site {
        Site::Store(store) => {
            // Make the store if it is new, and finish anything an interrupted import left.
            {
                let s = Store::open(store, Access::Create { wait: true }, &|m| announce(m))?;
                s.reconcile()?;
            }
            let token_file = default_token(store);
            let (token, created) = Token::load_or_create(&token_file)?;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let uploads = Arc::new(Uploads::new(store, tx));
            rt.spawn(jobs::worker(uploads.clone(), rx));
            let state: AppState = Arc::new(Shared {
                store: store.clone(),
                token,
                sessions: Sessions::default(),
                uploads,
                protect_repos: opts.protect_repos,
                public_ui: opts.public_ui,
                tls: tls.is_some(),
            });
            (router(state), token_file, created)
        }
        Site::Export {
            catalog,
            key,
            state,
            passphrase,
        } => {
            // Both are checked now, so that a mistake shows before anyone logs in.
            crate::catalog::load(catalog)?;
            let sk = crate::keys::load_secret_with(key, passphrase)?;
            let state = state
                .clone()
                .unwrap_or_else(|| crate::pack::state::default_dir(key));
            let out = state.join("served");
            std::fs::create_dir_all(&out)?;
            let token_file = default_token(&state);
            let (token, created) = Token::load_or_create(&token_file)?;
            let st = Arc::new(export::Export {
                catalog: catalog.clone(),
                key: sk,
                state,
                out,
                token,
                sessions: Sessions::default(),
                public_ui: opts.public_ui,
                tls: tls.is_some(),
                jobs: Default::default(),
            });
            (export::router(st), token_file, created)
        }
    };
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr()?;
        announce(&format!(
            "admin token {} {}",
            if created { "written to" } else { "read from" },
            token_file.display()
        ));
        let scheme = if tls.is_some() { "https" } else { "http" };
        announce(&format!("listening on {scheme}://{addr}"));
        // Plain downloads of repositories anyone may read take the sendfile path.
        let files = match &opts.site {
            Site::Store(store) if !opts.protect_repos => Some(store.clone()),
            _ => None,
        };
        listen::serve(listener, app, tls, files, shutdown()).await;
        Ok(())
    })
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Every route.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/repos/{*path}", get(repo_file).head(repo_file))
        .nest("/api/v1", api::routes(state.clone()))
        .merge(ui::routes())
        .with_state(state)
}

/// `GET`/`HEAD /repos/PATH`.
async fn repo_file(State(st): State<AppState>, req: Request) -> Response {
    if st.protect_repos {
        match auth::identify(req.headers(), &st.token, &st.sessions) {
            Caller::Token | Caller::Browser { .. } => {}
            Caller::Wrong => return StatusCode::FORBIDDEN.into_response(),
            Caller::Anonymous => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Basic realm=\"ferry\"")],
                )
                    .into_response();
            }
        }
    }
    let raw = req
        .uri()
        .path()
        .strip_prefix("/repos/")
        .unwrap_or("")
        .to_string();
    let comps = match repos::components(&raw) {
        Ok(c) => c,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad path\n").into_response(),
    };
    let store = st.store.clone();
    let c2 = comps.clone();
    let opened = tokio::task::spawn_blocking(move || repos::open(&store, &c2)).await;
    match opened {
        Ok(Ok(file)) => {
            let method = req.method().clone();
            let name = comps.last().map(String::as_str).unwrap_or("");
            repos::send(file, name, &method, req.headers()).await
        }
        _ if req.method() == Method::HEAD => StatusCode::NOT_FOUND.into_response(),
        _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}
