//! Parsing of yum (rpm-md) repository metadata: `repodata/repomd.xml` and `primary.xml[.gz|.bz2|.xz|.zst]`.
//!
//! Everything here is pure: bytes or readers in, typed values out, no filesystem access.
//! Hrefs found in metadata are validated with [`validate_relative_path`] and `<location xml:base=..>`
//! (files living on another server) is refused, so a caller can safely join them onto the
//! repository root it is packing.

pub mod checksum;
pub mod decompress;
mod error;
pub mod primary;
pub mod repomd;
pub mod treeinfo;
pub mod updateinfo;
mod xml;

pub use error::YumError;

/// A repository-relative path as used by location href, checked by the one rule the whole
/// crate uses ([`crate::format::relpath::check`]): only normal components, so it can be
/// joined onto a directory safely. Returns [`YumError::BadPath`] naming the path and why.
pub fn validate_relative_path(p: &str) -> Result<(), YumError> {
    crate::format::relpath::check(p).map_err(|e| YumError::BadPath {
        path: p.to_owned(),
        reason: e.why,
    })
}

#[cfg(test)]
mod tests;
