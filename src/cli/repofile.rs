//! `ferry repofile`.

use std::path::PathBuf;

use anyhow::Result;

use super::common::open_read;

/// Print a dnf .repo file for the published repositories.
#[derive(clap::Args, Debug)]
pub struct Args {
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
}

/// `ferry repofile`: the file is the output, so `--quiet` does not silence it.
pub fn run(a: Args) -> Result<i32> {
    let s = open_read(&a.store)?;
    let filter = ferry::repofile::Filter {
        library: a.library,
        env: a.env,
        view: a.view,
        repos: a.repos,
        org: a.org,
    };
    print!(
        "{}",
        ferry::repofile::repofile_for(&s, a.base_url.as_deref(), &filter)?
    );
    Ok(0)
}
