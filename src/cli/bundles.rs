//! `ferry bundles` and `ferry bundles forget`: what the export state has made.

use std::path::PathBuf;

use anyhow::Result;

use super::output::{print_json, say};
use ferry::pack::state::{self, ExportState};
use ferry::size::human;

/// List the bundles the export state holds, or forget the newest.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(flatten)]
    which: Which,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    action: Option<Action>,
}

/// Whose export state.
#[derive(clap::Args, Debug)]
struct Which {
    /// The secret key whose stream it is (its state is PREFIX.state beside it).
    #[arg(long, value_name = "PREFIX.key", required = true)]
    key: Option<PathBuf>,
    /// The export state directory, if not PREFIX.state beside the key.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The organization (needed when the state holds several).
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
}

impl Which {
    fn dir(&self) -> PathBuf {
        match (&self.state, &self.key) {
            (Some(s), _) => s.clone(),
            (None, Some(k)) => state::default_dir(k),
            (None, None) => unreachable!("clap requires --key"),
        }
    }
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Forget bundle SEQ and every later one (a trip that never left the building): the
    /// next pack reuses SEQ, and an incremental one builds on the newest bundle left.
    Forget {
        #[command(flatten)]
        which: Which,
        /// The sequence to forget from.
        #[arg(value_name = "SEQ")]
        sequence: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ferry bundles …`.
pub fn run(a: Args) -> Result<i32> {
    match a.action {
        None => list(&a.which, a.json),
        Some(Action::Forget {
            which,
            sequence,
            json,
        }) => {
            let st = ExportState::open(&which.dir())?;
            let f = st.forget(which.org.as_deref(), sequence)?;
            if json {
                print_json("bundles-forget", "forgotten", &f)?;
            } else {
                say!("{f}");
            }
            Ok(0)
        }
    }
}

fn list(which: &Which, json: bool) -> Result<i32> {
    let st = ExportState::open_read_only(&which.dir())?;
    let bundles = st.list(which.org.as_deref())?;
    if json {
        print_json("bundles", "bundles", &bundles)?;
        return Ok(0);
    }
    if bundles.is_empty() {
        say!("no bundle made yet from {}", which.dir().display());
    }
    for b in bundles {
        say!(
            "{:>4}  {}  {}  {}  {} volume{}, {}  created {}",
            b.sequence,
            &b.bundle[..16],
            b.organization,
            match &b.base {
                Some(base) => format!("incremental on {}", &base[..16]),
                None => "full".to_string(),
            },
            b.volumes.map_or("?".into(), |v| v.to_string()),
            if b.volumes == Some(1) { "" } else { "s" },
            b.bytes.map_or("?".into(), human),
            b.created
        );
    }
    Ok(0)
}
