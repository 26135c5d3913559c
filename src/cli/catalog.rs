//! `ferry catalog`: its arguments, checked here into the library's options
//! ([`ferry::catalog_gen`]), and where the catalog goes.

use std::path::PathBuf;

use anyhow::Result;
use ferry::catalog_gen::{self, RepoGroup, ScanGroup, repofile, scan};

/// Write a catalog.toml to review.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// The `ferry catalog` subcommands.
#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Write a catalog from a dnf .repo file: one repository per enabled section, with its
    /// URL, TLS client options and credentials (a password is never copied: the catalog
    /// names an environment variable to hold it).
    #[command(after_help = REPOFILE_GROUPS)]
    FromRepofile {
        /// The .repo file.
        #[arg(value_name = "FILE.repo")]
        file: PathBuf,
        /// The organization label of the catalog.
        #[arg(long, value_name = "ORG")]
        organization: String,
        /// Value of $basearch (e.g. x86_64).
        #[arg(long, value_name = "ARCH")]
        basearch: Option<String>,
        /// Value of $releasever (e.g. 9 or 9.4; also sets $releasever_major and $releasever_minor).
        #[arg(long, value_name = "VER")]
        releasever: Option<String>,
        /// Any other variable, as in /etc/dnf/vars (repeat for several).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// How sections become products: gpgkey, file or section (see below).
        #[arg(
            long,
            value_enum,
            value_name = "RULE",
            default_value = "gpgkey",
            hide_possible_values = true
        )]
        group: RepoRule,
        /// Where the catalog goes.
        #[command(flatten)]
        output: Output,
    },
    /// Write a catalog for every yum repository (a directory holding repodata/repomd.xml)
    /// under a directory.
    #[command(after_help = SCAN_GROUPS)]
    Scan {
        /// The directory to search (symbolic links are not followed).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The organization label of the catalog.
        #[arg(long, value_name = "ORG")]
        organization: String,
        /// How repositories become products: parent or section (see below).
        #[arg(
            long,
            value_enum,
            value_name = "RULE",
            default_value = "parent",
            hide_possible_values = true
        )]
        group: ScanRule,
        /// Where the catalog goes.
        #[command(flatten)]
        output: Output,
    },
}

/// Where the catalog goes.
#[derive(clap::Args, Debug, Clone)]
struct Output {
    /// Write the catalog to this file instead of standard output (for scan, the paths in it
    /// are then relative to the file's directory, else to the current directory).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "out")]
    force: bool,
}

/// `--group` of `from-repofile` (the rules are told in [`REPOFILE_GROUPS`]).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum RepoRule {
    Gpgkey,
    File,
    Section,
}

impl From<RepoRule> for RepoGroup {
    fn from(r: RepoRule) -> Self {
        match r {
            RepoRule::Gpgkey => RepoGroup::Gpgkey,
            RepoRule::File => RepoGroup::File,
            RepoRule::Section => RepoGroup::Section,
        }
    }
}

/// `--group` of `scan` (the rules are told in [`SCAN_GROUPS`]).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ScanRule {
    Parent,
    Section,
}

impl From<ScanRule> for ScanGroup {
    fn from(r: ScanRule) -> Self {
        match r {
            ScanRule::Parent => ScanGroup::Parent,
            ScanRule::Section => ScanGroup::Section,
        }
    }
}

/// `from-repofile`'s grouping rules, for `--help`.
const REPOFILE_GROUPS: &str = "\
Grouping rules (--group RULE):
  gpgkey   (default) sections with the same gpgkey form one product, labelled after the
           key file's name without RPM-GPG-KEY- (RPM-GPG-KEY-redhat-release: redhat-release);
           sections without a gpgkey form the product \"unsigned\"
  file     one product for the whole file, labelled after the file's name without .repo
  section  one product per section, labelled as the section

Each enabled section becomes a repository labelled as the section. Left out, and listed in a
comment at the top: disabled sections (enabled=0), sections with only a mirrorlist or
metalink, and baseurls other than http://, https:// and file://. A gpgkey file:///PATH
becomes the product's gpg_key; an http(s) gpgkey is left for you to download. A password is
never copied: the catalog names an environment variable (password_env) to hold it.";

/// `scan`'s grouping rules, for `--help`.
const SCAN_GROUPS: &str = "\
Grouping rules (--group RULE):
  parent   (default) repositories in the same parent directory form one product, labelled
           after that directory's name
  section  one product per repository, labelled as the repository

A repository is a directory holding repodata/repomd.xml (or a kickstart tree's .treeinfo);
the search does not go into one and follows no symbolic link. A repository's label is made
from its path under DIR. The nearest RPM-GPG-KEY* file in the repository's directory or a
directory above it, up to DIR, is the key of its product (gpg_key) when all the product's
repositories have the same one.";

/// `--var NAME=VALUE`.
fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if repofile::is_var_name(n) => Ok((n.to_string(), v.to_string())),
        _ => Err(format!(
            "{s:?}: give NAME=VALUE, NAME made of A-Z a-z 0-9 _"
        )),
    }
}

/// `ferry catalog …`: the catalog to standard output (it is the output: `--quiet` does
/// not silence it), or to `--out`, with a line on standard error saying what comes next.
pub fn run(a: Args) -> Result<i32> {
    let (text, Output { out, force }) = match a.action {
        Action::FromRepofile {
            file,
            organization,
            basearch,
            releasever,
            vars,
            group,
            output,
        } => {
            let opts = repofile::Options {
                organization,
                basearch,
                releasever,
                vars,
                group: group.into(),
            };
            (repofile::generate(&file, &opts)?, output)
        }
        Action::Scan {
            dir,
            organization,
            group,
            output,
        } => (
            scan::generate(&dir, &organization, group.into(), output.out.as_deref())?,
            output,
        ),
    };
    match out {
        None => print!("{text}"),
        Some(path) => {
            catalog_gen::write_new(&path, &text, force)?;
            if !super::output::quiet() {
                eprintln!(
                    "wrote {}: review it, then ferry pack --catalog {}",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_is_a_name_and_a_value() {
        assert_eq!(
            parse_var("stream=9-stream").unwrap(),
            ("stream".to_string(), "9-stream".to_string())
        );
        assert_eq!(parse_var("x=").unwrap(), ("x".to_string(), String::new()));
        assert!(parse_var("no-equals").is_err());
        assert!(parse_var("bad name=1").is_err());
        assert!(parse_var("=1").is_err());
    }
}
