//! `ferry catalog`.

use anyhow::Result;

/// Write a catalog.toml to review.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: ferry::catalog_gen::CatalogCommand,
}

/// `ferry catalog …`.
pub fn run(a: Args) -> Result<i32> {
    Ok(ferry::catalog_gen::run(a.action)?)
}
