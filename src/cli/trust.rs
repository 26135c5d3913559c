//! `ferry trust add|list|remove`.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::common::{open_create, open_read, open_write};
use super::output::{print_json, say};
use ferry::{keys, trust};

/// Manage the keys a store trusts.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Trust a signer's public key for every import into the store (creates the store).
    Add {
        /// The store directory (created if missing).
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// The public key file.
        #[arg(value_name = "PREFIX.pub")]
        key: PathBuf,
    },
    /// List the trusted keys.
    List {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting a key.
    Remove {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// The key: its id (16 hex digits) or its public key file.
        #[arg(value_name = "KEYID|PREFIX.pub")]
        key: String,
    },
}

/// `ferry trust …`.
pub fn run(a: Args) -> Result<i32> {
    match a.action {
        Action::Add { store, key } => {
            keys::load_public(&key)?;
            let text = std::fs::read_to_string(&key)?;
            let s = open_create(&store)?;
            let added = trust::add(&s, &text)?;
            say!(
                "trusting key {} ({}) for imports into {}",
                added.key_id,
                added.comment,
                store.display()
            );
        }
        Action::List { store, json } => {
            let s = open_read(&store)?;
            let keys = trust::list(&s)?;
            if json {
                print_json("trust", "keys", &keys)?;
                return Ok(0);
            }
            if keys.is_empty() {
                say!("no trusted keys registered");
            }
            for k in keys {
                say!("{}  added {}  {}", k.key_id, k.added, k.comment);
            }
        }
        Action::Remove { store, key } => {
            // A key id, or a public key file whose id it is.
            let key_id = if key.parse::<ferry::format::KeyId>().is_ok() {
                key
            } else if std::path::Path::new(&key).is_file() {
                keys::load_public(std::path::Path::new(&key))?
                    .id
                    .to_string()
            } else {
                bail!(
                    "{key:?} is neither a key id (16 hex digits, as `ferry trust list` shows) nor a public key file"
                );
            };
            let s = open_write(&store, true)?;
            if !trust::remove(&s, &key_id)? {
                bail!(
                    "key {key_id} is not trusted by {} (`ferry trust list --store {}` shows those that are)",
                    store.display(),
                    store.display()
                );
            }
            say!("no longer trusting key {key_id}");
        }
    }
    Ok(0)
}
