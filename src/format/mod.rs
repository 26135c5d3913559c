//! The bundle format: encodings only, bytes in and bytes out, no filesystem.
//!
//! `spec/FORMAT.md` is the normative description of everything here.

pub mod checklist;
pub mod constants;
pub mod id;
pub mod manifest;
pub mod readme;
pub mod relpath;
pub mod rotation;
pub mod signify;
pub mod tar_entry;
pub mod toml_out;
pub mod volume_info;

pub use id::{BundleId, KeyId, ObjectId, Sha256Digest};
