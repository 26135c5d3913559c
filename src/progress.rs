//! How long-running work reports progress. The library calls a [`Progress`]; the command
//! line decides whether that becomes a bar on a terminal, plain lines, or JSON.

/// Receives progress from packing, verifying and importing.
pub trait Progress: Sync {
    /// A new phase begins; `total` is its size in bytes when known.
    fn begin(&self, phase: &str, total: Option<u64>);
    /// `bytes` more of the current phase are done.
    fn advance(&self, bytes: u64);
    /// The current phase is over.
    fn end(&self);
    /// A line worth telling the operator (not an error).
    fn note(&self, line: &str);
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
    fn note(&self, _: &str) {}
}
