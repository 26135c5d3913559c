//! `ferry status`.

use std::path::PathBuf;

use anyhow::Result;

use super::common::open_read;
use super::output::{print_json, say};

/// Show what a store holds and publishes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store directory.
    #[arg(long, value_name = "STORE")]
    store: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `ferry status`.
pub fn run(a: Args) -> Result<i32> {
    let s = open_read(&a.store)?;
    let st = match ferry::status::with_disk_usage(&s) {
        Ok(st) => st,
        // The catalog still tells what the store holds.
        Err(ferry::status::StatusError::Disk(e)) => {
            eprintln!("ferry: {e}");
            ferry::status::status(&s)?
        }
        Err(e) => return Err(e.into()),
    };
    if a.json {
        print_json("status", "status", &st)?;
    } else {
        say!("{st}");
    }
    Ok(0)
}
