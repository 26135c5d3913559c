//! Named points where a test can make the process die, to prove that an interrupted
//! import is completed by the next one and never publishes anything half-written.
//!
//! `FERRY_CRASH_AT=<name>` makes the process abort (as `kill -9` would end it: no unwinding,
//! no cleanup) the first time it reaches the point of that name. Unset, it costs one
//! environment lookup per process.

use std::sync::OnceLock;

/// Abort here if `FERRY_CRASH_AT` names this point.
pub fn hit(name: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    if AT
        .get_or_init(|| std::env::var("FERRY_CRASH_AT").ok())
        .as_deref()
        == Some(name)
    {
        eprintln!("ferry: FERRY_CRASH_AT={name}: aborting here");
        std::process::abort();
    }
}
