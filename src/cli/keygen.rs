//! `ferry keygen`.

use std::path::PathBuf;

use anyhow::Result;

use super::output::say;
use ferry::keys;

/// Generate a signing key pair.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path prefix of the two files.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
    /// Protect the secret key with the passphrase in this file (its first line), as
    /// `signify -G` does; with --rotate-from, also the old key's passphrase if it has one.
    /// Without it, the key is not protected.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Make the new key continue this key's export streams: the same sequence numbers and
    /// export state; the next bundle carries a rotation statement signed by the old key.
    #[arg(long, value_name = "OLD.key")]
    rotate_from: Option<PathBuf>,
}

/// `ferry keygen`.
pub fn run(a: Args) -> Result<i32> {
    let pass = match &a.passphrase_file {
        Some(f) => Some(keys::passphrase_from_file(f)?),
        None => None,
    };
    if let Some(old) = a.rotate_from {
        let r = keys::rotate(&keys::RotateOptions {
            old_key: old,
            old_passphrase: super::pack::passphrase(a.passphrase_file.clone()),
            new_prefix: a.out.clone(),
            new_passphrase: pass,
            state: None,
            force: a.force,
            created: ferry::time::creation_time()?,
        })?;
        say!(
            "key {} continues key {}'s streams (export state {}); the next bundle it signs carries the rotation statement, signed by {}",
            r.new.id,
            r.old.id,
            r.state.display(),
            r.old.id
        );
        return Ok(0);
    }
    let pk = keys::generate_with(&a.out, a.force, pass.as_deref().map(|p| &p[..]))?.public();
    let (s, p) = keys::key_paths(&a.out);
    say!(
        "key {}: secret {} (keep it private), public {}",
        pk.id,
        s.display(),
        p.display()
    );
    Ok(0)
}
