//! `ferry verify`, and the report `ferry pull` prints too.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::common::load_keys;
use super::output::{document, exit, say};
use super::progress;
use ferry::verify;

/// Check volumes with only the signer's public key.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Public key(s) to trust (signify format).
    #[arg(long, value_name = "PREFIX.pub", required = true)]
    trust: Vec<PathBuf>,
    /// Also decode every object inside the packs and check its SHA-256.
    #[arg(long)]
    deep: bool,
    /// Check only the volumes given (e.g. one stick at a time): each completely, and
    /// exit 0 if they are intact; the volumes not given are named, not required.
    #[arg(long)]
    partial: bool,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Volume directories.
    #[arg(value_name = "VOLDIR", required = true)]
    volumes: Vec<PathBuf>,
}

/// `ferry verify`.
pub fn run(a: Args) -> Result<i32> {
    let keys = load_keys(&a.trust)?;
    for v in &a.volumes {
        if !v.is_dir() {
            bail!(
                "{} is not a directory (give the volume directories, e.g. /media/usb/vol-01)",
                v.display()
            );
        }
    }
    // A key that the bundle's rotation statements show a trusted key handed over to is
    // trusted too (then checked as fully as any other).
    let keys = ferry::import::rotation::vouched_keys(&a.volumes, &keys);
    let progress = progress::for_stderr();
    let opts = verify::VerifyOptions {
        deep: a.deep,
        partial: a.partial,
    };
    let report = verify::verify(&a.volumes, &keys, opts, progress.as_ref());
    print_report(&report, a.json)
}

/// A verify report, as text or JSON; the exit status it gives.
pub fn print_report(report: &verify::Report, json: bool) -> Result<i32> {
    if json {
        let mut v = document("verify", "report", report)?;
        v["ok"] = serde_json::Value::Bool(report.ok());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        say!("{report}");
        if !super::output::quiet()
            && report
                .findings
                .iter()
                .any(|f| f.kind == ferry::bundle::ProblemKind::UntrustedKey)
        {
            eprintln!("hint: {}", super::UNTRUSTED);
        }
    }
    Ok(if report.ok() { exit::OK } else { exit::FAILED })
}
