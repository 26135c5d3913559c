//! Reading a bundle from its volumes: the one reader behind `verify` and `import`, so
//! that their verdicts on the same media cannot differ.
//!
//! - [`media`]: files on a medium, opened without following links, regular files only,
//!   sizes capped before reading;
//! - [`volume`]: one volume, signature first (`spec/FORMAT.md` §6.4), and the accounting
//!   of its signed list against the manifest;
//! - [`set`]: volumes given together (§6.5): one bundle, its manifest read once, volumes
//!   by number, strays and duplicates named;
//! - [`pass`]: one pass over the packs: pack hashes, entry headers, and objects decoded;
//! - [`readahead`]: each pack read and hashed on a thread of its own, ahead of the pass;
//! - [`object`]: the one decoding path from stored bytes to a checked object;
//! - [`findings`]: what is wrong, where.

pub mod findings;
pub mod media;
pub mod object;
pub mod pass;
pub mod readahead;
pub mod set;
pub mod volume;

pub use findings::{Finding, ProblemKind};
pub use pass::{Continuing, Depth, PassReport, Sink};
pub use set::{Bundle, VolumeSet};
pub use volume::Volume;
