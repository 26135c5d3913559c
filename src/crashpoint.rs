//! Named points where a test can stop the process, to prove that an interrupted import is
//! completed by the next one and never publishes anything half-written, and to let a test
//! change the world (fill the disk) in the middle of an import.
//!
//! - `FERRY_CRASH_AT=<name>`: the process kills itself with SIGKILL (as `kill -9` would:
//!   no unwinding, no cleanup, no buffers flushed) the first time it reaches that point;
//!   `FERRY_CRASH_AT=#<n>`: at the n-th point reached, whatever its name.
//! - `FERRY_CRASH_TRACE=<file>`: every point reached is appended to the file, one name a
//!   line (so a test can count the points and pick some).
//! - `FERRY_PAUSE_AT=<name>`: the process stops itself (SIGSTOP) the first time it reaches
//!   that point, until it is sent SIGCONT.
//!
//! Unset, each point costs a load of a value read once per process.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::process::{Signal, getpid, kill_process};

struct Config {
    crash_at: Option<String>,
    crash_nth: Option<u64>,
    trace: Option<std::path::PathBuf>,
    pause_at: Option<String>,
}

fn config() -> &'static Option<Config> {
    static C: OnceLock<Option<Config>> = OnceLock::new();
    C.get_or_init(|| {
        let crash = std::env::var("FERRY_CRASH_AT").ok();
        let trace = std::env::var_os("FERRY_CRASH_TRACE").map(Into::into);
        let pause_at = std::env::var("FERRY_PAUSE_AT").ok();
        if crash.is_none() && trace.is_none() && pause_at.is_none() {
            return None;
        }
        let crash_nth = crash
            .as_deref()
            .and_then(|c| c.strip_prefix('#'))
            .and_then(|n| n.parse().ok());
        Some(Config {
            crash_at: crash.filter(|_| crash_nth.is_none()),
            crash_nth,
            trace,
            pause_at,
        })
    })
}

/// Stop here if the environment asks for it.
pub fn hit(name: &str) {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    static PAUSED: AtomicU64 = AtomicU64::new(0);
    let Some(c) = config() else { return };
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(path) = &c.trace
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{name}");
    }
    if c.crash_at.as_deref() == Some(name) || c.crash_nth == Some(n) {
        eprintln!("ferry: crash point {n} ({name}): killing this process");
        let _ = kill_process(getpid(), Signal::KILL);
    }
    if c.pause_at.as_deref() == Some(name) && PAUSED.fetch_add(1, Ordering::SeqCst) == 0 {
        eprintln!("ferry: pause point {name}: stopping until SIGCONT");
        let _ = kill_process(getpid(), Signal::STOP);
    }
}
