//! Physical copies of one logical bundle (`spec/FORMAT.md`, "Logical bundle and physical
//! copies"): `ferry pack --again` writes a bundle again onto other media, with another
//! layout and so another bundle id, but the same content, sequence and creation time.
//!
//! - A copy of a bundle the store imported is already imported: the same organization,
//!   signer, sequence and `created`, and the same logical id ([`Manifest::logical_id`],
//!   computed from the manifest the store kept).
//! - An incremental bundle's base is held when the store holds the base by id, or a copy
//!   of it: a bundle of the same organization with the base's sequence and `created`.

use crate::format::manifest::{BaseRef, Manifest};
use crate::store::Store;

use super::ImportError;

/// The copy of `m` that the store imported already, if any: `(its id, when imported)`.
pub fn imported_copy(store: &Store, m: &Manifest) -> Result<Option<(String, String)>, ImportError> {
    let signer = m.signer.to_string();
    let mut logical = None;
    for b in store.db.bundles_at(&m.organization, m.sequence)? {
        if b.signer != signer || b.created != m.created {
            continue;
        }
        let path = store.root.join("bundles").join(format!("{}.toml", b.id));
        // The store wrote it; one it cannot read is not taken for a copy (the usual
        // checks then refuse the bundle as old media).
        let Ok(Ok(held)) = std::fs::read(&path).map(|bytes| Manifest::parse(&bytes)) else {
            continue;
        };
        let want = *logical.get_or_insert_with(|| m.logical_id());
        if held.logical_id() == want {
            return Ok(Some((b.id, b.imported)));
        }
    }
    Ok(None)
}

/// Whether the store holds `base` (by id) or another copy of it.
pub fn holds_base(store: &Store, organization: &str, base: &BaseRef) -> Result<bool, ImportError> {
    if store.db.bundle_imported(&base.bundle.to_hex())?.is_some() {
        return Ok(true);
    }
    Ok(store
        .db
        .bundles_at(organization, base.sequence)?
        .iter()
        .any(|b| b.created == base.created))
}
