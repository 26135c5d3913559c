//! The command line: arguments checked once into typed options, the work done by the
//! library, and the results printed for people or as JSON. One file per subcommand.

pub mod progress;

mod bundles;
mod catalog;
mod common;
mod docs;
mod import;
mod keygen;
mod lifecycle;
pub mod output;
mod pack;
mod prune;
mod remote;
mod repofile;
mod serve;
mod status;
mod trust;
mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// ferry: carry yum repositories to disconnected networks as signed, content-addressed bundles.
#[derive(Parser, Debug)]
#[command(name = "ferry", version, about, long_about = None, after_help = output::exit::HELP)]
pub struct Cli {
    /// Print nothing but errors (and JSON, when asked for); no progress.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a signing key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub.
    Keygen(keygen::Args),
    /// Pack the repositories of a catalog into a signed bundle of media-sized volumes.
    Pack(pack::Args),
    /// List the bundles a key's export state has made, or forget the newest.
    Bundles(bundles::Args),
    /// Check volumes with only the signer's public key.
    Verify(verify::Args),
    /// Verify a bundle completely, then store and publish its repositories.
    Import(import::Args),
    /// Manage the lifecycle environments of a store (Library → Dev → Prod …).
    Env(lifecycle::EnvArgs),
    /// Publish a stored content-view version for an environment (also to back out to an
    /// older one).
    Promote(lifecycle::PromoteArgs),
    /// List the store's history: imports, promotions, retirements, prunes, trust changes.
    History(lifecycle::HistoryArgs),
    /// Manage the keys a store trusts.
    Trust(trust::Args),
    /// Show what a store holds and publishes, and its disk usage.
    Status(status::Args),
    /// Remove old content-view and repository versions, the files only they held, and
    /// abandoned uploads; never what is published or what an environment holds.
    Prune(prune::Args),
    /// Serve a store (its repositories to dnf clients, a web UI, and an HTTP API that takes
    /// volumes uploaded from a browser or `ferry push`), or, on the connected side, make
    /// bundles from a catalog and hand out their volumes (`ferry pull`).
    Serve(serve::Args),
    /// Upload volumes to a `ferry serve`, which checks and imports them; prints the result.
    Push(remote::PushArgs),
    /// Download the volumes of a bundle from a connected-side `ferry serve`, then verify them.
    Pull(remote::PullArgs),
    /// Write a catalog.toml to review: from a dnf .repo file, or from the repositories under a directory.
    Catalog(catalog::Args),
    /// Print a dnf .repo file for the published repositories (all, or those a host should see).
    Repofile(repofile::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write man pages: ferry.1 and one per subcommand (ferry-pack.1, …).
    Man(docs::ManArgs),
}

/// Run the command line; the exit status to use.
pub fn run() -> Result<i32> {
    let cli = Cli::parse();
    output::set_quiet(cli.quiet);
    match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Pack(a) => pack::run(a),
        Command::Bundles(a) => bundles::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Import(a) => import::run(a),
        Command::Env(a) => lifecycle::env(a),
        Command::Promote(a) => lifecycle::promote(a),
        Command::History(a) => lifecycle::history(a),
        Command::Trust(a) => trust::run(a),
        Command::Status(a) => status::run(a),
        Command::Prune(a) => prune::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Push(a) => remote::push(a),
        Command::Pull(a) => remote::pull(a),
        Command::Catalog(a) => catalog::run(a),
        Command::Repofile(a) => repofile::run(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    }
}

/// The advice for media signed by a key that is not trusted.
pub const UNTRUSTED: &str = "if that key is genuine, pass its public key with --trust KEY.pub (or register it once: ferry trust add --store STORE KEY.pub)";

/// What to do about an error, where the command line knows better than the library: the
/// flags to use. `None` when the message says it all.
pub fn hint(e: &anyhow::Error, args: &[String]) -> Option<String> {
    use ferry::catalog_gen::GenError;
    use ferry::import::ImportError;
    use ferry::store::StoreError;
    use ferry::store::environments::EnvError;
    for c in e.chain() {
        let flag = match (
            c.downcast_ref::<ImportError>(),
            c.downcast_ref::<EnvError>(),
            c.downcast_ref::<GenError>(),
        ) {
            (Some(ImportError::NoTrustedKey), _, _) => {
                "pass --trust KEY.pub, or register the key once with `ferry trust add --store STORE KEY.pub`"
            }
            (Some(ImportError::Refused { findings, .. }), _, _)
                if findings
                    .iter()
                    .any(|f| f.kind == ferry::bundle::ProblemKind::UntrustedKey) =>
            {
                UNTRUSTED
            }
            (Some(ImportError::Stale(_)), _, _) => {
                "to roll back to these media deliberately, run the import again with --allow-rollback (recorded in the history)"
            }
            (_, Some(EnvError::InUse { .. }), _) => {
                "to remove it anyway (and unpublish what it holds), pass --force"
            }
            (_, Some(EnvError::Organization(m)), _) if m.contains("several organizations") => {
                "pass --org ORG"
            }
            (_, Some(EnvError::OutOfOrder { .. }), _) => {
                "to promote it anyway, skipping the path, pass --force"
            }
            (_, _, Some(GenError::Exists(_))) => "to replace it, pass --force",
            (_, _, Some(GenError::UnsetVariable { var, .. })) => {
                return Some(match var.as_str() {
                    "$basearch" => "give --basearch ARCH".to_string(),
                    "$releasever" | "$releasever_major" | "$releasever_minor" => {
                        "give --releasever VER".to_string()
                    }
                    v => format!("give --var {}=VALUE", v.trim_start_matches('$')),
                });
            }
            _ if let Some(ferry::pack::PackError::MediaTooSmall { smallest, .. }) =
                c.downcast_ref::<ferry::pack::PackError>() =>
            {
                return Some(format!(
                    "pass --media-size {} or larger (or pack less: a catalog with fewer repositories)",
                    ferry::size::suggest(*smallest)
                ));
            }
            _ if matches!(
                c.downcast_ref::<ferry::pack::PackError>(),
                Some(ferry::pack::PackError::NoBase { .. })
            ) =>
            {
                "make a full bundle first: ferry pack without --incremental"
            }
            _ if matches!(
                c.downcast_ref::<ferry::pack::PackError>(),
                Some(ferry::pack::PackError::BadLimit(_))
            ) =>
            {
                "give a larger --media-size or --max-file-size"
            }
            _ if matches!(
                c.downcast_ref::<ferry::keys::KeyError>(),
                Some(ferry::keys::KeyError::NoTerminal { .. })
            ) =>
            {
                "pass --passphrase-file FILE (its first line is the passphrase)"
            }
            _ if matches!(
                c.downcast_ref::<ferry::keys::KeyError>(),
                Some(ferry::keys::KeyError::Exists(_))
            ) =>
            {
                "to replace the key, pass --force (the old key is lost)"
            }
            _ => continue,
        };
        return Some(flag.to_string());
    }
    match store_error(e) {
        Some(StoreError::NotAStore(p)) => {
            let importing = args.get(1).is_some_and(|a| a == "import");
            Some(if importing {
                format!(
                    "check the path; to create a store there with this import, add --init (or run `ferry trust add --store {} KEY.pub` first)",
                    p.display()
                )
            } else {
                "check the path: a store is made by `ferry import --init` or `ferry trust add`"
                    .to_string()
            })
        }
        Some(StoreError::Busy(_)) => {
            Some("run it again later, or without --no-wait to wait for the other ferry".into())
        }
        _ => None,
    }
}

/// The store error behind `e`, if it is one (the library's errors wrap it transparently).
fn store_error(e: &anyhow::Error) -> Option<&ferry::store::StoreError> {
    use ferry::import::ImportError;
    use ferry::store::StoreError;
    use ferry::store::environments::EnvError;
    use ferry::store::prune::PruneError;
    e.chain().find_map(|c| {
        c.downcast_ref::<StoreError>()
            .or_else(|| match c.downcast_ref::<ImportError>() {
                Some(ImportError::Store(s)) => Some(s),
                _ => None,
            })
            .or_else(|| match c.downcast_ref::<PruneError>() {
                Some(PruneError::Store(s)) => Some(s),
                _ => None,
            })
            .or_else(|| match c.downcast_ref::<EnvError>() {
                Some(EnvError::Store(s)) => Some(s),
                _ => None,
            })
            .or_else(
                || match c.downcast_ref::<ferry::import::abandon::AbandonError>() {
                    Some(ferry::import::abandon::AbandonError::Store(s)) => Some(s),
                    _ => None,
                },
            )
    })
}

/// The exit status for an error: [`output::exit::BUSY`] when the store is held by another
/// ferry, [`output::exit::FAILED`] otherwise.
pub fn exit_status(e: &anyhow::Error) -> i32 {
    if matches!(store_error(e), Some(ferry::store::StoreError::Busy(_))) {
        output::exit::BUSY
    } else {
        output::exit::FAILED
    }
}
