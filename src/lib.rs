//! ferry: signed, content-addressed bundles of yum repositories for air-gapped sites.
//!
//! Layers, from the bottom: [`format`] (encodings, no I/O), [`yum`] (repository metadata),
//! [`catalog`] (the operator's catalog file), [`keys`] (key files), [`pack`] (writing
//! bundles), [`bundle`] (reading them, for [`verify`] and [`import`]), [`store`], and the
//! command line in `main.rs` + `cli`.

// No unsafe code, except one system call rustix does not wrap (`fsutil::start_writeback`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
pub mod catalog;
pub mod catalog_gen;
pub mod contents;
pub mod crashpoint;
pub mod fetch;
pub mod format;
pub mod fsutil;
pub mod gpgv;
pub mod import;
pub mod keys;
pub mod pack;
pub mod progress;
pub mod remote;
pub mod repofile;
pub mod serve;
pub mod size;
pub mod status;
pub mod store;
pub mod time;
pub mod trust;
pub mod verify;
pub mod yum;
