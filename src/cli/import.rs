//! `ferry import`, and the outcome `ferry push` prints too.

use std::path::PathBuf;

use anyhow::Result;

use super::common::load_keys;
use super::output::{print_json, say};
use super::{lifecycle, progress, prune};
use ferry::import;
use ferry::size::human;

/// Verify a bundle completely, then store and publish its repositories.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The store directory: a store made by an earlier import or by `ferry trust add`.
    #[arg(long, value_name = "STORE")]
    store: PathBuf,
    /// Create the store if there is none (it is removed again if the import is refused).
    #[arg(long)]
    init: bool,
    /// Public key(s) to trust for this import, besides those registered with `trust add`.
    #[arg(long, value_name = "PREFIX.pub")]
    trust: Vec<PathBuf>,
    /// Fail at once if another ferry is changing the store, instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Accept a bundle older than the store's newest from the same signer and
    /// organization: a deliberate rollback, recorded in the history.
    #[arg(long)]
    allow_rollback: bool,
    /// Also promote the newest version of each content view the bundle carries to
    /// this environment (in the import's own transaction).
    #[arg(long, value_name = "ENV")]
    promote: Option<String>,
    /// When the bundle carries a key rotation, keep trusting the old key too (by default
    /// the store then trusts only the new one).
    #[arg(long)]
    keep_old_key: bool,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Instead of importing, discard a partly staged bundle (its id, or a prefix of at
    /// least 8 hex digits): its staged volumes, staging area and uploads. The objects
    /// it stored are left to `ferry prune`.
    #[arg(long, value_name = "BUNDLE", conflicts_with_all = ["volumes", "allow_rollback", "promote", "init"])]
    abandon: Option<String>,
    /// Volume directories.
    #[arg(value_name = "VOLDIR", required_unless_present = "abandon")]
    volumes: Vec<PathBuf>,
}

/// `ferry import`.
pub fn run(a: Args) -> Result<i32> {
    if let Some(bundle) = a.abandon {
        return prune::abandon(&a.store, &bundle, !a.no_wait, a.json);
    }
    let keys = load_keys(&a.trust)?;
    let progress = progress::for_stderr();
    let opts = import::ImportOptions {
        store: a.store,
        init: a.init,
        volumes: a.volumes,
        trust: keys,
        wait: !a.no_wait,
        allow_rollback: a.allow_rollback,
        promote: a.promote,
        keep_old_key: a.keep_old_key,
    };
    let outcome = import::import(&opts, progress.as_ref())?;
    if a.json {
        print_json("import", "outcome", &outcome)?;
    } else {
        print_outcome(&outcome);
    }
    Ok(0)
}

/// What `import` (or the import a server ran for `push`) did, for a human.
pub fn print_outcome(outcome: &import::Outcome) {
    match outcome {
        import::Outcome::Imported(s) => {
            say!(
                "imported bundle {} (organization {}, sequence {}): {} objects added ({}), {} already in the store",
                &s.bundle[..16],
                s.organization,
                s.sequence,
                s.objects_added,
                human(s.bytes_added),
                s.objects_present
            );
            for p in &s.published {
                say!(
                    "  {} {}  version {}",
                    if p.changed { "published" } else { "unchanged" },
                    p.path,
                    p.version
                );
            }
            for r in &s.retired {
                say!("  retired {r}");
            }
            for p in &s.promoted {
                say!("  {}", lifecycle::promotion_line(p));
            }
        }
        import::Outcome::Staged {
            bundle,
            volumes,
            staged,
            remaining,
        } => {
            let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            say!(
                "bundle {}: volume{} {} of {volumes} verified and staged in the store; still needed: {}. Insert {} and run ferry import again (any order); nothing is published until the last one is in",
                &bundle[..16],
                if staged.len() == 1 { "" } else { "s" },
                list(staged),
                list(remaining),
                if remaining.len() == 1 { "it" } else { "them" }
            );
        }
        import::Outcome::AlreadyImported {
            bundle,
            imported,
            copy_of: None,
            ..
        } => {
            say!(
                "bundle {} was already imported on {imported}: nothing to do",
                &bundle[..16]
            );
        }
        import::Outcome::AlreadyImported {
            bundle,
            imported,
            copy_of: Some(held),
            ..
        } => {
            say!(
                "bundle {} is another copy of bundle {} (the same bundle, written again onto other media), which was imported on {imported}: nothing to do",
                &bundle[..16],
                &held[..held.len().min(16)]
            );
        }
    }
}
