//! `ferry serve`.

use std::path::PathBuf;

use anyhow::{Result, bail};

use ferry::serve;

/// Serve a store, or make and hand out bundles on the connected side.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("site").required(true).args(["store", "catalog"])))]
pub struct Args {
    /// Disconnected side: the store directory (created if missing).
    #[arg(long, value_name = "STORE", conflicts_with_all = ["catalog", "key", "state"])]
    store: Option<PathBuf>,
    /// Connected side: the catalog to make bundles from.
    #[arg(long, value_name = "CATALOG.toml", requires = "key")]
    catalog: Option<PathBuf>,
    /// Connected side: the secret key to sign with.
    #[arg(long, value_name = "PREFIX.key", requires = "catalog")]
    key: Option<PathBuf>,
    /// Connected side: the export state directory (default: PREFIX.state beside the key).
    #[arg(long, value_name = "DIR", requires = "catalog")]
    state: Option<PathBuf>,
    /// Connected side: the passphrase of a protected key, from the first line of this file
    /// (read once, at start; without it the passphrase is asked for on the terminal).
    #[arg(long, value_name = "FILE", requires = "key")]
    passphrase_file: Option<PathBuf>,
    /// Address and port to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// The admin token's file, created (mode 0600) if missing; default STORE/admin-token.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Require the admin token for the repositories too (dnf: username any, password the token).
    #[arg(long)]
    protect_repos: bool,
    /// Let anyone read the pages and the read-only API (changes still need the token).
    #[arg(long)]
    public_ui: bool,
    /// Serve HTTPS: the certificate chain (PEM).
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Serve HTTPS: the private key (PEM).
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// `ferry serve`: runs until stopped. Its lines (the address, requests refused) print even
/// with `--quiet`: they are how the operator learns where it listens.
pub fn run(a: Args) -> Result<i32> {
    let site = match (a.store, a.catalog, a.key) {
        (Some(store), _, _) => serve::Site::Store(store),
        (None, Some(catalog), Some(key)) => serve::Site::Export {
            catalog,
            key,
            state: a.state,
            passphrase: super::pack::passphrase(a.passphrase_file),
        },
        _ => bail!("give --store STORE, or --catalog CATALOG.toml --key PREFIX.key"),
    };
    let opts = serve::ServeOptions {
        site,
        listen: a.listen,
        token_file: a.token_file,
        protect_repos: a.protect_repos,
        public_ui: a.public_ui,
        tls: a
            .tls_cert
            .zip(a.tls_key)
            .map(|(cert, key)| serve::listen::TlsFiles { cert, key }),
    };
    serve::run(&opts, &|line| {
        println!("{line}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    })?;
    Ok(0)
}
