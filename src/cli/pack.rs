//! `ferry pack`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::common::parse_size;
use super::output::{print_json, say};
use super::progress;
use ferry::format::signify::PublicKey;
use ferry::size::human;
use ferry::{catalog, keys, pack, time};

/// Pack the repositories of a catalog into a signed bundle.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The catalog file.
    #[arg(long, value_name = "CATALOG.toml")]
    catalog: PathBuf,
    /// The secret key to sign with.
    #[arg(long, value_name = "PREFIX.key")]
    key: PathBuf,
    /// Directory that receives vol-01, vol-02, …
    #[arg(long, value_name = "OUTDIR")]
    out: PathBuf,
    /// Size of one medium: 700M, 4G, 1.5G (K, M, G, T: powers of 1024), 32GB (KB, MB, GB,
    /// TB: powers of 1000, as printed on media); default: one volume.
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
    /// Only say what would be carried (repositories, objects new and reused, bytes,
    /// volumes at --media-size, sequence and base); write nothing, not even the export state.
    #[arg(long)]
    dry_run: bool,
    /// Write the bundle of this sequence again, with the same content, base and sequence,
    /// onto new media (another --media-size may be given). The sources must still hold it.
    #[arg(long, value_name = "SEQ", conflicts_with_all = ["dry_run", "incremental", "since"])]
    again: Option<u64>,
    /// Read the secret key's passphrase from the first line of this file (without it, a
    /// protected key's passphrase is asked for on the terminal).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Print the result as JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// The passphrase source `--passphrase-file` gives.
pub fn passphrase(file: Option<PathBuf>) -> keys::Passphrase {
    match file {
        Some(f) => keys::Passphrase::File(f),
        None => keys::Passphrase::Prompt,
    }
}

/// The public half of `key`: `PREFIX.pub` beside it if there is one (no passphrase needed),
/// else from the secret key.
fn public_of(key: &Path, pass: &keys::Passphrase) -> Result<PublicKey> {
    let pubfile = key.with_extension("pub");
    if key.extension().is_some_and(|e| e == "key")
        && let Ok(pk) = keys::load_public(&pubfile)
    {
        return Ok(pk);
    }
    Ok(keys::load_secret_with(key, pass)?.public())
}

/// `ferry pack`.
pub fn run(a: Args) -> Result<i32> {
    let cat = catalog::load(&a.catalog)?;
    let pass = passphrase(a.passphrase_file.clone());
    let state = a
        .state
        .clone()
        .unwrap_or_else(|| pack::state::default_dir(&a.key));
    let mut opts = pack::PackOptions::new(a.out.clone(), time::creation_time()?, state);
    opts.since = match (a.since, a.incremental) {
        (Some(p), _) => Some(pack::Since::Bundle(p)),
        (None, true) => Some(pack::Since::Newest),
        (None, false) => None,
    };
    if let Some(m) = a.max_file_size {
        opts.max_file_size = m;
    }
    opts.set_media_size(a.media_size);
    opts.cache = a.cache;
    opts.jobs = usize::from(a.jobs);
    if a.dry_run {
        let pk = public_of(&a.key, &pass)?;
        let plan = pack::plan_only(&cat, &pk, &opts)?;
        if a.json {
            print_json("pack-plan", "plan", &plan)?;
        } else {
            say!("{plan}");
        }
        return Ok(0);
    }
    let sk = keys::load_secret_with(&a.key, &pass)?;
    let progress = progress::for_stderr();
    let s = match a.again {
        Some(seq) => pack::again(&cat, &sk, seq, &opts, progress.as_ref())?,
        None => pack::pack(&cat, &sk, &opts, progress.as_ref())?,
    };
    if a.json {
        let v = serde_json::json!({
            "bundle": s.bundle.to_hex(),
            "sequence": s.sequence,
            "base": s.base.map(|b| b.to_hex()),
            "signer": sk.id.to_string(),
            "volumes": s.volumes,
            "objects": s.objects,
            "files": s.files,
            "source_bytes": s.source_bytes,
            "pack_bytes": s.pack_bytes,
            "files_read": s.files_read,
            "bytes_read": s.bytes_read,
        });
        print_json("pack", "result", &v)?;
    } else {
        let kind = match s.base {
            Some(b) => format!("incremental on {}", b.short()),
            None => "full".to_string(),
        };
        say!(
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
            say!("  {}", v.display());
        }
    }
    Ok(0)
}
