//! The keys a store trusts: adding one from its public-key text, listing, removing. The
//! command line (`ferry trust`) and the server call these same functions.

use crate::format::signify::{PublicKey, SignifyError};
use crate::store::Store;
use crate::store::db::{DbError, TrustedKey};

/// Why a key could not be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not a signify public key.
    #[error("not a signify public key: {0}")]
    Format(#[from] SignifyError),
    /// Database.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A key that is now trusted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Added {
    /// Its key number.
    pub key_id: String,
    /// The comment of its first line.
    pub comment: String,
}

/// Trust the public key whose file text is `text` (recorded in the history).
pub fn add(store: &Store, text: &str) -> Result<Added, TrustError> {
    let pk = PublicKey::parse(text.as_bytes())?;
    let comment = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("untrusted comment: ")
        .to_string();
    let key_id = pk.id.to_string();
    store.db.add_trusted_key(&key_id, text, &comment)?;
    Ok(Added { key_id, comment })
}

/// The trusted keys.
pub fn list(store: &Store) -> Result<Vec<TrustedKey>, DbError> {
    store.db.trusted_keys()
}

/// Stop trusting a key; false if it was not trusted.
pub fn remove(store: &Store, key_id: &str) -> Result<bool, DbError> {
    store.db.remove_trusted_key(key_id)
}
