//! What the command line prints: human lines (silenced by `--quiet`), JSON documents (each
//! with its schema name and version), and the exit statuses.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use serde::Serialize;

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silence human output and progress (`--quiet`); errors and asked-for JSON still print.
pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
}

/// Whether `--quiet` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Print a line for people unless `--quiet` was given.
macro_rules! say {
    ($($t:tt)*) => {
        if !$crate::cli::output::quiet() {
            println!($($t)*);
        }
    };
}
pub(crate) use say;

/// The version of every JSON document's layout; documented in spec/JSON.md.
pub const JSON_VERSION: u32 = 1;

/// Print `value` as a JSON document named `schema` (`ferry.import`, …): an object whose
/// first field is `"schema": "ferry.NAME/1"`. A value that is not an object (a list) goes
/// under `field`.
pub fn print_json(schema: &str, field: &str, value: &impl Serialize) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&document(schema, field, value)?)?
    );
    Ok(())
}

/// The JSON document [`print_json`] prints.
pub fn document(schema: &str, field: &str, value: &impl Serialize) -> Result<serde_json::Value> {
    let v = serde_json::to_value(value)?;
    let mut out = serde_json::Map::new();
    out.insert(
        "schema".into(),
        serde_json::Value::String(format!("ferry.{schema}/{JSON_VERSION}")),
    );
    match v {
        serde_json::Value::Object(m) => out.extend(m),
        other => {
            out.insert(field.into(), other);
        }
    }
    Ok(serde_json::Value::Object(out))
}

/// Exit statuses, as `--help` and the README give them (2, a wrong command line, is clap's).
pub mod exit {
    /// Done; or every volume given is intact.
    pub const OK: i32 = 0;
    /// Findings (damaged, missing or untrusted media), a refused bundle, or an error.
    pub const FAILED: i32 = 1;
    /// Another ferry holds the store and `--no-wait` was given: try again later.
    pub const BUSY: i32 = 3;
    /// The text `--help` shows.
    pub const HELP: &str = "\
Exit status:
  0  done; verify: every volume given is intact
  1  findings (damaged, missing or untrusted media), a refused bundle, or an error
  2  the command line is wrong
  3  another ferry is changing the store and --no-wait was given: try again later";
}
