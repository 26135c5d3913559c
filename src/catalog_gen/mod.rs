//! `ferry catalog`: write a `catalog.toml` for the operator to review, from a dnf `.repo`
//! file ([`repofile`]) or from the yum repositories found under a directory ([`scan`]).
//!
//! The output is commented (where each entry came from, what was left out and why, what to
//! check) and is a catalog that [`crate::catalog::parse`] accepts as it is. Every value
//! written goes through [`crate::format::toml_out`], and every comment loses its control
//! characters, so nothing read from the input can add a line to the output.

pub mod repofile;
pub mod scan;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::format::constants::MAX_NAME;
use crate::format::manifest::is_label;
use crate::format::toml_out;

/// How `from-repofile` groups sections into products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepoGroup {
    /// Sections with the same gpgkey form one product, labelled after the key file
    /// (RPM-GPG-KEY-redhat-release: redhat-release); sections without one form "unsigned".
    Gpgkey,
    /// One product for the whole file, labelled after the file's name without .repo.
    File,
    /// One product per section, labelled as the section.
    Section,
}

/// How `scan` groups repositories into products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanGroup {
    /// Repositories in the same parent directory form one product, labelled after that
    /// directory's name.
    Parent,
    /// One product per repository, labelled as the repository.
    Section,
}

/// Why no catalog was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// A file or directory could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// A line of the input that cannot be read, or a value that cannot be used.
    #[error("{}:{line}: {message}", file.display())]
    Line {
        /// The input file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A value uses a variable that has no value.
    #[error("{}:{line}: [{section}] {key} uses {var}, which has no value", file.display())]
    UnsetVariable {
        /// The input file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The section.
        section: String,
        /// The key whose value uses it.
        key: String,
        /// The variable, with its `$`.
        var: String,
    },
    /// Nothing to write: the catalog would hold no repository.
    #[error("{}: {message}", path.display())]
    Empty {
        /// The input file or directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A path that TOML cannot hold (not UTF-8).
    #[error("{}: the path is not UTF-8 and cannot be written into a catalog", .0.display())]
    NotUtf8(PathBuf),
    /// `--organization` is not a label.
    #[error(
        "organization {0:?} must be 1-128 characters from A-Z a-z 0-9 . _ - and not start with '.'"
    )]
    Organization(String),
    /// `--out` names an existing file and `--force` was not given.
    #[error("{} exists", .0.display())]
    Exists(PathBuf),
}

/// Write `text` to `path`, refusing to replace a file unless `force`.
pub fn write_new(path: &Path, text: &str, force: bool) -> Result<(), GenError> {
    let io = |error| GenError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    let mut f = o.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            GenError::Exists(path.to_path_buf())
        } else {
            io(e)
        }
    })?;
    f.write_all(text.as_bytes()).map_err(io)
}

/// A catalog to write: comments and values, in output order.
#[derive(Debug, Default)]
struct Doc {
    /// Comment lines at the top.
    header: Vec<String>,
    organization: String,
    products: Vec<Product>,
}

#[derive(Debug, Default)]
struct Product {
    /// Comment lines above `[[product]]`.
    notes: Vec<String>,
    label: String,
    name: String,
    gpg_key: Option<String>,
    repositories: Vec<Repo>,
}

#[derive(Debug, Default)]
struct Repo {
    /// Comment lines above `[[product.repository]]`.
    notes: Vec<String>,
    label: String,
    name: String,
    /// `path`, `url`, TLS and credential keys, in output order.
    fields: Vec<(&'static str, Value)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(String),
    Bool(bool),
}

impl Doc {
    /// The catalog text.
    fn render(&self) -> String {
        let mut s = String::new();
        comments(&mut s, &self.header);
        if !self.header.is_empty() {
            s.push('\n');
        }
        let _ = writeln!(s, "organization = {}", toml_out::string(&self.organization));
        for p in &self.products {
            s.push('\n');
            comments(&mut s, &p.notes);
            s.push_str("[[product]]\n");
            let _ = writeln!(s, "label = {}", toml_out::string(&p.label));
            let _ = writeln!(s, "name = {}", toml_out::string(&p.name));
            if let Some(k) = &p.gpg_key {
                let _ = writeln!(s, "gpg_key = {}", toml_out::string(k));
            }
            for r in &p.repositories {
                s.push('\n');
                comments(&mut s, &r.notes);
                s.push_str("[[product.repository]]\n");
                let _ = writeln!(s, "label = {}", toml_out::string(&r.label));
                let _ = writeln!(s, "name = {}", toml_out::string(&r.name));
                for (k, v) in &r.fields {
                    let _ = match v {
                        Value::Str(v) => writeln!(s, "{k} = {}", toml_out::string(v)),
                        Value::Bool(b) => writeln!(s, "{k} = {b}"),
                    };
                }
            }
        }
        s
    }
}

/// Comment lines, each on one line of its own (control characters become spaces).
fn comments(s: &mut String, lines: &[String]) {
    for l in lines {
        let l: String = l
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(s, "# {}", l.trim_end());
    }
}

/// `s` made into a label: characters outside A-Z a-z 0-9 . _ - become '-' (runs of them
/// one), no leading '.', at most 128 characters; `fallback` if nothing is left.
fn to_label(s: &str, fallback: &str) -> String {
    let mut l = String::new();
    for c in s.chars() {
        let ok = c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if ok {
            l.push(c);
        } else if !l.ends_with('-') {
            l.push('-');
        }
    }
    let l = l.trim_start_matches('.');
    let l = &l[..l.len().min(128)];
    if l.is_empty() || l == "-" {
        fallback.to_string()
    } else {
        l.to_string()
    }
}

/// `s` made into a name: one line of printable text (control characters become spaces),
/// at most [`MAX_NAME`] bytes; `fallback` if nothing is left.
fn to_name(s: &str, fallback: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if s.is_empty() {
        fallback.to_string()
    } else {
        s[..end].to_string()
    }
}

/// Labels handed out so far, to keep them unique.
#[derive(Debug, Default)]
struct Labels(BTreeSet<String>);

impl Labels {
    /// `base`, or `base-2`, `base-3`, … if it is taken.
    fn unique(&mut self, base: &str) -> String {
        let mut n = 1usize;
        loop {
            let l = if n == 1 {
                base.to_string()
            } else {
                let suffix = format!("-{n}");
                format!("{}{suffix}", &base[..base.len().min(128 - suffix.len())])
            };
            if self.0.insert(l.clone()) {
                return l;
            }
            n += 1;
        }
    }
}

fn check_organization(org: &str) -> Result<(), GenError> {
    if is_label(org) {
        Ok(())
    } else {
        Err(GenError::Organization(org.to_string()))
    }
}

/// A path as a string for the catalog.
fn path_str(p: &Path) -> Result<String, GenError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| GenError::NotUtf8(p.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sanitised_and_unique() {
        assert_eq!(
            to_label("rhel-9-for-x86_64-baseos-rpms", "x"),
            "rhel-9-for-x86_64-baseos-rpms"
        );
        assert_eq!(to_label("epel:9 / extras", "x"), "epel-9-extras");
        assert_eq!(to_label("..hidden", "x"), "hidden");
        assert_eq!(to_label("€€", "x"), "x");
        assert_eq!(to_label(&"a".repeat(300), "x").len(), 128);
        for s in ["a b", ".x", "é", &"z".repeat(200)] {
            assert!(is_label(&to_label(s, "x")), "{s}");
        }
        let mut l = Labels::default();
        assert_eq!(l.unique("a"), "a");
        assert_eq!(l.unique("a"), "a-2");
        assert_eq!(l.unique("a"), "a-3");
        let long = "b".repeat(128);
        assert_eq!(l.unique(&long), long);
        let second = l.unique(&long);
        assert_eq!(second.len(), 128);
        assert!(second.ends_with("-2"));
    }

    #[test]
    fn names_are_one_line_and_bounded() {
        assert_eq!(to_name("a\tb\nc", "x"), "a b c");
        assert_eq!(to_name("  ", "x"), "x");
        let n = to_name(&"é".repeat(MAX_NAME), "x");
        assert!(n.len() <= MAX_NAME && n.len() >= MAX_NAME - 1);
    }

    #[test]
    fn comments_cannot_add_lines() {
        let d = Doc {
            header: vec!["a\nlabel = \"x\"".into()],
            organization: "o".into(),
            ..Doc::default()
        };
        let text = d.render();
        assert_eq!(text, "# a label = \"x\"\n\norganization = \"o\"\n");
        toml::from_str::<toml::Table>(&text).unwrap();
    }

    #[test]
    fn an_existing_file_is_kept_without_force() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.toml");
        write_new(&f, "one", false).unwrap();
        assert!(matches!(
            write_new(&f, "two", false),
            Err(GenError::Exists(_))
        ));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "one");
        write_new(&f, "three", true).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "three");
    }
}
