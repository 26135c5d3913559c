//! `ferry push` and `ferry pull`: volumes to and from a `ferry serve`.

use std::path::PathBuf;

use anyhow::Result;

use super::common::load_keys;
use super::import::print_outcome;
use super::output::{print_json, say};
use super::progress;
use super::verify::print_report;
use ferry::{import, remote, verify};

/// Upload volumes to a `ferry serve`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The server's URL (http://HOST:PORT).
    #[arg(long, value_name = "URL")]
    server: String,
    /// File holding the server's admin token.
    #[arg(long, value_name = "PATH")]
    token_file: PathBuf,
    /// Trust this CA certificate (PEM) for an https:// server, besides the system's.
    #[arg(long, value_name = "CA.pem")]
    cacert: Option<PathBuf>,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Volume directories.
    #[arg(value_name = "VOLDIR", required = true)]
    volumes: Vec<PathBuf>,
}

/// `ferry push`: exits as `ferry import` would have.
pub fn push(a: PushArgs) -> Result<i32> {
    let token = remote::push::read_token(&a.token_file)?;
    let progress = progress::for_stderr();
    let opts = remote::push::PushOptions {
        server: a.server,
        token,
        cacert: a.cacert,
        volumes: a.volumes,
    };
    let job = remote::push::push(&opts, progress.as_ref())?;
    if a.json {
        print_json("push", "job", &job)?;
    } else if let Some(e) = &job.error {
        eprintln!("ferry: {e}");
    } else if let Some(o) = job
        .outcome
        .clone()
        .and_then(|o| serde_json::from_value::<import::Outcome>(o).ok())
    {
        print_outcome(&o);
    } else {
        for v in &job.volumes {
            say!("{}", v.message.as_deref().unwrap_or(&v.state));
        }
    }
    Ok(job.exit_code.unwrap_or(1))
}

/// Download a bundle's volumes from a connected-side `ferry serve`.
#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// The server's URL (http://HOST:PORT).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The bundle id (or a prefix of it that names one bundle).
    #[arg(long, value_name = "ID")]
    bundle: String,
    /// Directory that receives vol-01, vol-02, … (a pull that stopped continues here).
    #[arg(long, value_name = "OUTDIR")]
    out: PathBuf,
    /// The signer's public key: the bundle must be signed by it.
    #[arg(long, value_name = "PREFIX.pub", required = true)]
    trust: Vec<PathBuf>,
    /// File holding the server's admin token (unless it lets anyone read).
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Trust this CA certificate (PEM) for an https:// server, besides the system's.
    #[arg(long, value_name = "CA.pem")]
    cacert: Option<PathBuf>,
    /// Print the verification report as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// `ferry pull`: downloads, then verifies what arrived as any medium is.
pub fn pull(a: PullArgs) -> Result<i32> {
    let keys = load_keys(&a.trust)?;
    let token = a
        .token_file
        .as_deref()
        .map(remote::push::read_token)
        .transpose()?;
    let progress = progress::for_stderr();
    let opts = remote::pull::PullOptions {
        server: a.server,
        token,
        cacert: a.cacert,
        bundle: a.bundle,
        out: a.out,
        trust: keys.clone(),
    };
    let volumes = remote::pull::pull(&opts, progress.as_ref())?;
    let check = verify::VerifyOptions {
        deep: true,
        partial: false,
    };
    let report = verify::verify(&volumes, &keys, check, progress.as_ref());
    print_report(&report, a.json)
}
