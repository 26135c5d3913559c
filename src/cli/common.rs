//! Pieces several subcommands share: keys given with `--trust`, opening a store, sizes.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use ferry::format::signify::PublicKey;
use ferry::keys;
use ferry::store::{Access, Store};

/// The public keys given with `--trust`.
pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|p| keys::load_public(p).context("--trust"))
        .collect()
}

/// Open a store to change it; `wait` for another ferry to finish (otherwise fail at once).
pub fn open_write(store: &Path, wait: bool) -> Result<Store> {
    Ok(Store::open(store, Access::Write { wait }, &|m| {
        eprintln!("{m}")
    })?)
}

/// Open a store to change it, creating it if there is none.
pub fn open_create(store: &Path) -> Result<Store> {
    Ok(Store::open(store, Access::Create { wait: true }, &|m| {
        eprintln!("{m}")
    })?)
}

/// Open a store to read it.
pub fn open_read(store: &Path) -> Result<Store> {
    Ok(Store::open(store, Access::Read, &|_| {})?)
}

/// A size argument: `700M`, `1.5G`, `32GB` (see [`ferry::size`]); media and files are at
/// least 16K.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let n = ferry::size::parse(s).map_err(|e| e.to_string())?;
    if n < 16 << 10 {
        return Err(format!("{s} is too small: at least 16K"));
    }
    Ok(n)
}
