//! `ferry completions` and `ferry man`: the command line describes itself.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::CommandFactory as _;

use super::output::say;

/// Print a shell completion script.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `ferry completions SHELL`: the script on standard output, e.g.
/// `ferry completions bash > /etc/bash_completion.d/ferry`.
pub fn completions(a: CompletionsArgs) -> Result<i32> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "ferry", &mut std::io::stdout());
    Ok(0)
}

/// Write man pages.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// The directory to write them to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `ferry man --out DIR`: `ferry.1`, and `ferry-SUB.1` (and `ferry-SUB-SUBSUB.1`) for every
/// subcommand.
pub fn man(a: ManArgs) -> Result<i32> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let cmd = super::Cli::command();
    let written = write_pages(&cmd, "ferry", &a.out)?;
    say!("{written} man pages written to {}", a.out.display());
    Ok(0)
}

/// The page of `cmd` as `name.1`, then its subcommands'; how many pages were written.
fn write_pages(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> Result<usize> {
    let cmd = cmd.clone().name(name.to_string());
    let page = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .with_context(|| format!("rendering {}", page.display()))?;
    std::fs::write(&page, buf).with_context(|| format!("writing {}", page.display()))?;
    let mut n = 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        n += write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(n)
}
