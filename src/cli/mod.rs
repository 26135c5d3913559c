//! The command line: argument parsing and printing only; the work is in the library.

pub mod progress;

mod lifecycle;
mod prune;

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

use ferry::format::signify::PublicKey;
use ferry::size::{self, human};
use ferry::store::{Access, Store};
use ferry::{catalog, import, keys, pack, remote, serve, time, trust, verify};

/// ferry: carry yum repositories to disconnected networks as signed, content-addressed bundles.
#[derive(Parser, Debug)]
#[command(name = "ferry", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a signing key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub.
    Keygen {
        /// Path prefix of the two files.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Pack the repositories of a catalog into a signed bundle of media-sized volumes.
    Pack {
        /// The catalog file.
        #[arg(long, value_name = "CATALOG.toml")]
        catalog: PathBuf,
        /// The secret key to sign with.
        #[arg(long, value_name = "PREFIX.key")]
        key: PathBuf,
        /// Directory that receives vol-01, vol-02, …
        #[arg(long, value_name = "OUTDIR")]
        out: PathBuf,
        /// Size of one medium (binary units: 700M, 4G, 32G); default: one volume.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        media_size: Option<u64>,
        /// Largest file written (default 4G − 1 byte, for FAT32).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_file_size: Option<u64>,
        /// Carry only what changed since this bundle (its manifest, or one of its volume directories).
        #[arg(long, value_name = "PREV", conflicts_with = "incremental")]
        since: Option<PathBuf>,
        /// Carry only what changed since the newest bundle made from the state directory.
        #[arg(long)]
        incremental: bool,
        /// The export state directory (bundles made, sequence numbers, file cache);
        /// default: PREFIX.state beside the key.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Where repositories given by URL are fetched to (kept, so that the next pack
        /// fetches only what changed); default: STATE/cache.
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Files fetched at once from repositories given by URL.
        #[arg(long, value_name = "N", default_value_t = ferry::fetch::DEFAULT_JOBS as u16, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Check volumes with only the signer's public key.
    Verify {
        /// Public key(s) to trust (signify format).
        #[arg(long, value_name = "PREFIX.pub", required = true)]
        trust: Vec<PathBuf>,
        /// Also decode every object inside the packs and check its SHA-256.
        #[arg(long)]
        deep: bool,
        /// Print the report as JSON on standard output.
        #[arg(long)]
        json: bool,
        /// Volume directories.
        #[arg(value_name = "VOLDIR", required = true)]
        volumes: Vec<PathBuf>,
    },
    /// Verify a bundle completely, then store and publish its repositories.
    Import {
        /// The store directory (created if missing).
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
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
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
        /// Instead of importing, discard a partly staged bundle (its id, or a prefix of at
        /// least 8 hex digits): its staged volumes, staging area and uploads. The objects
        /// it stored are left to `ferry prune`.
        #[arg(long, value_name = "BUNDLE", conflicts_with_all = ["volumes", "allow_rollback", "promote"])]
        abandon: Option<String>,
        /// Volume directories.
        #[arg(value_name = "VOLDIR", required_unless_present = "abandon")]
        volumes: Vec<PathBuf>,
    },
    /// Manage the lifecycle environments of a store (Library → Dev → Prod …).
    Env {
        #[command(subcommand)]
        action: EnvAction,
    },
    /// Publish a stored content-view version for an environment (also to back out to an
    /// older one).
    Promote {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// The environment.
        #[arg(long, value_name = "ENV")]
        to: String,
        /// The organization (needed when the store holds several).
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        /// Promote even if the version has not reached the environment before this one.
        #[arg(long)]
        force: bool,
        /// Fail at once if another ferry is changing the store, instead of waiting.
        #[arg(long)]
        no_wait: bool,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
        /// The content view's label.
        #[arg(value_name = "VIEW")]
        view: String,
        /// The version.
        #[arg(value_name = "VERSION")]
        version: String,
    },
    /// List the store's history: imports, promotions, retirements, prunes, trust changes.
    History {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Only the newest N events.
        #[arg(long, value_name = "N")]
        last: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the keys a store trusts.
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
    /// Show what a store holds and publishes.
    Status {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove old content-view and repository versions, the files only they held, and
    /// abandoned uploads; never what is published or what an environment holds.
    Prune {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Versions to keep of each content view and of each Library repository (besides
        /// those an environment holds).
        #[arg(long, value_name = "N", default_value_t = ferry::store::prune::DEFAULT_KEEP, value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
        /// Only say what would be removed and freed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove uploads (STORE/uploads/KEY/) untouched for longer than this: 7d, 12h, 30m.
        #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = ferry::store::prune::parse_duration)]
        uploads_older_than: std::time::Duration,
        /// Fail at once if another ferry is changing the store, instead of waiting.
        #[arg(long)]
        no_wait: bool,
        /// Print the result as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Serve a store (its repositories to dnf clients, a web UI, and an HTTP API that takes
    /// volumes uploaded from a browser or `ferry push`), or, on the connected side, make
    /// bundles from a catalog and hand out their volumes (`ferry pull`).
    #[command(group(clap::ArgGroup::new("site").required(true).args(["store", "catalog"])))]
    Serve {
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
    },
    /// Upload volumes to a `ferry serve`, which checks and imports them; prints the result.
    Push {
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
    },
    /// Download the volumes of a bundle from a connected-side `ferry serve`, then verify them.
    Pull {
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
    },
    /// Write a catalog.toml to review: from a dnf .repo file, or from the repositories under a directory.
    Catalog {
        #[command(subcommand)]
        action: ferry::catalog_gen::CatalogCommand,
    },
    /// Print a dnf .repo file for the published repositories (all, or those a host should see).
    Repofile {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// URL under which a web server serves STORE/published (default: file:// paths).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Only the content views this environment holds (ignoring case; Library: the newest versions).
        #[arg(long, value_name = "ENV", conflicts_with = "library")]
        env: Option<String>,
        /// Only this content view (in --env, or in Library without it).
        #[arg(long, value_name = "VIEW", conflicts_with = "library")]
        view: Option<String>,
        /// Only the Library repositories (no content views).
        #[arg(long)]
        library: bool,
        /// Only this repository, among what the other options select (repeatable).
        #[arg(long = "repo", value_name = "PRODUCT/REPO", value_parser = ferry::repofile::parse_repo_arg)]
        repos: Vec<(String, String)>,
        /// Only this organization.
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum EnvAction {
    /// Add an environment to the path (at its end, or after PREV).
    Create {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Put it right after this environment (Library, or one created before).
        #[arg(long, value_name = "PREV")]
        after: Option<String>,
        /// Its name (A-Z a-z 0-9 . _ -).
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List the path and what each environment holds.
    List {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an environment (one that holds content only with --force).
    Remove {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// Remove it and unpublish what it holds.
        #[arg(long)]
        force: bool,
        /// Its name.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum TrustAction {
    /// Trust a signer's public key for every import into the store.
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
    },
    /// Stop trusting a key.
    Remove {
        /// The store directory.
        #[arg(long, value_name = "STORE")]
        store: PathBuf,
        /// The key id (16 hex digits).
        #[arg(value_name = "KEYID")]
        key_id: String,
    },
}

fn parse_size(s: &str) -> Result<u64, String> {
    size::parse(s).map_err(|e| e.to_string())
}

/// Run the command line; the exit code to use.
pub fn run() -> Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Command::Keygen { out, force } => {
            let pk = keys::generate(&out, force)?;
            let (s, p) = keys::key_paths(&out);
            println!(
                "key {}: secret {} (keep it private), public {}",
                pk.id,
                s.display(),
                p.display()
            );
            Ok(0)
        }
        Command::Pack {
            catalog,
            key,
            out,
            media_size,
            max_file_size,
            since,
            incremental,
            state,
            cache,
            jobs,
            json,
        } => {
            let cat = catalog::load(&catalog)?;
            let sk = keys::load_secret(&key)?;
            let state = state.unwrap_or_else(|| pack::state::default_dir(&key));
            let mut opts = pack::PackOptions::new(out, time::creation_time()?, state);
            opts.since = match (since, incremental) {
                (Some(p), _) => Some(pack::Since::Bundle(p)),
                (None, true) => Some(pack::Since::Newest),
                (None, false) => None,
            };
            if let Some(m) = max_file_size {
                opts.max_file_size = m;
            }
            opts.set_media_size(media_size);
            opts.cache = cache;
            opts.jobs = usize::from(jobs);
            let progress = progress::for_stderr();
            let s = pack::pack(&cat, &sk, &opts, progress.as_ref())?;
            if json {
                let v = serde_json::json!({
                    "bundle": s.bundle.to_hex(),
                    "volumes": s.volumes,
                    "objects": s.objects,
                    "files": s.files,
                    "source_bytes": s.source_bytes,
                    "pack_bytes": s.pack_bytes,
                    "sequence": s.sequence,
                    "base": s.base.map(|b| b.to_hex()),
                    "files_read": s.files_read,
                    "bytes_read": s.bytes_read,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let kind = match s.base {
                    Some(b) => format!("incremental on {}", b.short()),
                    None => "full".to_string(),
                };
                println!(
                    "bundle {} ({kind}, sequence {}) signed by key {}: {} volume{}, {} files, {} objects carried ({} in packs); read {} files ({})",
                    s.bundle.short(),
                    s.sequence,
                    sk.id,
                    s.volumes.len(),
                    if s.volumes.len() == 1 { "" } else { "s" },
                    s.files,
                    s.objects,
                    human(s.pack_bytes),
                    s.files_read,
                    human(s.bytes_read)
                );
                for v in &s.volumes {
                    println!("  {}", v.display());
                }
            }
            Ok(0)
        }
        Command::Verify {
            trust,
            deep,
            json,
            volumes,
        } => {
            let keys = load_keys(&trust)?;
            for v in &volumes {
                if !v.is_dir() {
                    bail!(
                        "{} is not a directory (give the volume directories, e.g. /media/usb/vol-01)",
                        v.display()
                    );
                }
            }
            let progress = progress::for_stderr();
            let report = verify::verify(&volumes, &keys, deep, progress.as_ref());
            print_report(&report, json)
        }
        Command::Import {
            store,
            trust,
            no_wait,
            allow_rollback,
            promote,
            json,
            abandon,
            volumes,
        } => {
            if let Some(bundle) = abandon {
                return prune::abandon(&store, &bundle, !no_wait, json);
            }
            let keys = load_keys(&trust)?;
            let progress = progress::for_stderr();
            let opts = import::ImportOptions {
                store,
                volumes,
                trust: keys,
                wait: !no_wait,
                allow_rollback,
                promote,
            };
            let outcome = import::import(&opts, progress.as_ref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
                return Ok(0);
            }
            print_outcome(&outcome);
            Ok(0)
        }
        Command::Serve {
            store,
            catalog,
            key,
            state,
            listen,
            token_file,
            protect_repos,
            public_ui,
            tls_cert,
            tls_key,
        } => {
            let site = match (store, catalog, key) {
                (Some(store), _, _) => serve::Site::Store(store),
                (None, Some(catalog), Some(key)) => serve::Site::Export {
                    catalog,
                    key,
                    state,
                },
                _ => bail!("give --store STORE, or --catalog CATALOG.toml --key PREFIX.key"),
            };
            let opts = serve::ServeOptions {
                site,
                listen,
                token_file,
                protect_repos,
                public_ui,
                tls: tls_cert
                    .zip(tls_key)
                    .map(|(cert, key)| serve::listen::TlsFiles { cert, key }),
            };
            serve::run(&opts, &|line| {
                println!("{line}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            })?;
            Ok(0)
        }
        Command::Push {
            server,
            token_file,
            cacert,
            json,
            volumes,
        } => {
            let token = remote::push::read_token(&token_file)?;
            let progress = progress::for_stderr();
            let opts = remote::push::PushOptions {
                server,
                token,
                cacert,
                volumes,
            };
            let job = remote::push::push(&opts, progress.as_ref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&job)?);
            } else if let Some(e) = &job.error {
                eprintln!("error: {e}");
            } else if let Some(o) = job
                .outcome
                .clone()
                .and_then(|o| serde_json::from_value::<import::Outcome>(o).ok())
            {
                print_outcome(&o);
            } else {
                for v in &job.volumes {
                    println!("{}", v.message.as_deref().unwrap_or(&v.state));
                }
            }
            Ok(job.exit_code.unwrap_or(1))
        }
        Command::Pull {
            server,
            bundle,
            out,
            trust,
            token_file,
            cacert,
            json,
        } => {
            let keys = load_keys(&trust)?;
            let token = token_file
                .as_deref()
                .map(remote::push::read_token)
                .transpose()?;
            let progress = progress::for_stderr();
            let opts = remote::pull::PullOptions {
                server,
                token,
                cacert,
                bundle,
                out,
                trust: keys.clone(),
            };
            let volumes = remote::pull::pull(&opts, progress.as_ref())?;
            // What arrived is checked as any medium is, with the operator's key.
            let report = verify::verify(&volumes, &keys, true, progress.as_ref());
            print_report(&report, json)
        }
        Command::Trust { action } => match action {
            TrustAction::Add { store, key } => {
                keys::load_public(&key)?;
                let text = std::fs::read_to_string(&key)?;
                let s = Store::open(&store, Access::Write { wait: true }, &|m| eprintln!("{m}"))?;
                let added = trust::add(&s, &text)?;
                println!(
                    "trusting key {} ({}) for imports into {}",
                    added.key_id,
                    added.comment,
                    store.display()
                );
                Ok(0)
            }
            TrustAction::List { store } => {
                let s = Store::open(&store, Access::Read, &|_| {})?;
                let keys = trust::list(&s)?;
                if keys.is_empty() {
                    println!("no trusted keys registered");
                }
                for k in keys {
                    println!("{}  added {}  {}", k.key_id, k.added, k.comment);
                }
                Ok(0)
            }
            TrustAction::Remove { store, key_id } => {
                let s = Store::open(&store, Access::Write { wait: true }, &|m| eprintln!("{m}"))?;
                if trust::remove(&s, &key_id)? {
                    println!("no longer trusting key {key_id}");
                    Ok(0)
                } else {
                    bail!("key {key_id} is not trusted by {}", store.display());
                }
            }
        },
        Command::Status { store, json } => {
            let s = Store::open(&store, Access::Read, &|_| {})?;
            let st = match ferry::status::with_disk_usage(&s) {
                Ok(st) => st,
                // The catalog still tells what the store holds.
                Err(ferry::status::StatusError::Disk(e)) => {
                    eprintln!("ferry: {e}");
                    ferry::status::status(&s)?
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                println!("{st}");
            }
            Ok(0)
        }
        Command::Env { action } => lifecycle::env(action),
        Command::Prune {
            store,
            keep,
            dry_run,
            uploads_older_than,
            no_wait,
            json,
        } => prune::prune(&store, keep, dry_run, uploads_older_than, !no_wait, json),
        Command::Promote {
            store,
            to,
            org,
            force,
            no_wait,
            json,
            view,
            version,
        } => lifecycle::promote(
            &store,
            &to,
            org.as_deref(),
            force,
            !no_wait,
            json,
            &view,
            &version,
        ),
        Command::History { store, last, json } => lifecycle::history(&store, last, json),
        Command::Catalog { action } => Ok(ferry::catalog_gen::run(action)?),
        Command::Repofile {
            store,
            base_url,
            env,
            view,
            library,
            repos,
            org,
        } => {
            let s = Store::open(&store, Access::Read, &|_| {})?;
            let filter = ferry::repofile::Filter {
                library,
                env,
                view,
                repos,
                org,
            };
            print!(
                "{}",
                ferry::repofile::repofile_for(&s, base_url.as_deref(), &filter)?
            );
            Ok(0)
        }
    }
}

fn load_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|p| keys::load_public(p).with_context(|| format!("--trust {}", p.display())))
        .collect()
}

/// A verify report, as text or JSON; the exit code it gives.
fn print_report(report: &verify::Report, json: bool) -> Result<i32> {
    if json {
        let mut v = serde_json::to_value(report)?;
        v["ok"] = serde_json::Value::Bool(report.ok());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{report}");
    }
    Ok(if report.ok() { 0 } else { 1 })
}

/// What `import` (or the import a server ran for `push`) did, for a human.
fn print_outcome(outcome: &import::Outcome) {
    match outcome {
        import::Outcome::Imported(s) => {
            println!(
                "imported bundle {} (organization {}, sequence {}): {} objects added ({}), {} already in the store",
                &s.bundle[..16],
                s.organization,
                s.sequence,
                s.objects_added,
                human(s.bytes_added),
                s.objects_present
            );
            for p in &s.published {
                println!(
                    "  {} {}  version {}",
                    if p.changed { "published" } else { "unchanged" },
                    p.path,
                    p.version
                );
            }
            for r in &s.retired {
                println!("  retired {r}");
            }
            for p in &s.promoted {
                println!("  {}", lifecycle::promotion_line(p));
            }
        }
        import::Outcome::Staged {
            bundle,
            volumes,
            staged,
            remaining,
        } => {
            let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
            println!(
                "bundle {}: volume{} {} of {volumes} verified and staged in the store; still needed: {}. Insert {} and run ferry import again (any order); nothing is published until the last one is in",
                &bundle[..16],
                if staged.len() == 1 { "" } else { "s" },
                list(staged),
                list(remaining),
                if remaining.len() == 1 { "it" } else { "them" }
            );
        }
        import::Outcome::AlreadyImported {
            bundle, imported, ..
        } => {
            println!(
                "bundle {} was already imported on {imported}: nothing to do",
                &bundle[..16]
            );
        }
    }
}
