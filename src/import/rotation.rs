//! Key rotation on the importing side (`spec/FORMAT.md` §5.9).
//!
//! A bundle signed by a key the store does not trust yet is accepted when its manifest's
//! rotation statements lead to it from a key the store trusts: the first statement used
//! is signed by that trusted key, each next one by the key the one before names (checked
//! with the manifest), and the last names the bundle's signer. Then:
//!
//! 1. before the volumes are checked, [`extend_trust`] reads the manifest of a volume
//!    signed by an untrusted key (nothing of it is trusted yet) only to learn which keys
//!    its statements vouch for, and adds those whose chain starts at a trusted key to the
//!    keys this import checks signatures with;
//! 2. once the volumes and the manifest are verified, [`plan`] takes the statements again
//!    from the verified manifest: those that start at a trusted key and the store has not
//!    recorded yet;
//! 3. the import's transaction ([`record`]) records them, trusts each new key, stops
//!    trusting each old key (unless the import keeps it), and writes a `key-rotation`
//!    event in the history.
//!
//! A bundle signed by a key the store recorded as rotated away, for the same organization,
//! is refused ([`KeyRotated`]); the sequence checks treat the keys of a chain as one stream
//! ([`stream_signers`]).

use std::path::PathBuf;

use super::ImportError;
use crate::bundle::media::{Dir, read_capped};
use crate::format::KeyId;
use crate::format::constants::{
    MANIFEST_FILE, MANIFEST_FORMAT_3, MAX_MANIFEST_FILE, MAX_SIGNATURE_FILE, SIGNATURE_FILE,
};
use crate::format::manifest::{Manifest, Rotation};
use crate::format::signify::{PublicKey, decode_embedded};
use crate::store::Store;
use crate::store::db::{self, DbError, KeyRotation};
use crate::store::history;

/// A bundle signed by a key that was rotated away.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} is signed by key {old}, which was rotated to key {new} on {created} by bundle {} (imported {time}){}: media signed by the old key after that are refused; nothing was changed",
    match bundle { Some(b) => format!("bundle {}", &b[..b.len().min(16)]), None => "this bundle".into() },
    &by_bundle[..by_bundle.len().min(16)],
    match organization { Some(o) => format!(" for {o}"), None => String::new() }
)]
pub struct KeyRotated {
    /// The refused bundle, when its manifest was read.
    pub bundle: Option<String>,
    /// Its organization, when its manifest was read.
    pub organization: Option<String>,
    /// The key that signed it.
    pub old: String,
    /// The key that replaced it.
    pub new: String,
    /// When the rotation statement was made.
    pub created: String,
    /// The bundle that carried the statement.
    pub by_bundle: String,
    /// When this store accepted it.
    pub time: String,
}

impl KeyRotated {
    fn of(r: &KeyRotation, bundle: Option<&str>, organization: Option<&str>) -> Self {
        Self {
            bundle: bundle.map(str::to_string),
            organization: organization.map(str::to_string),
            old: r.old.clone(),
            new: r.new.clone(),
            created: r.created.clone(),
            by_bundle: r.bundle.clone(),
            time: r.time.clone(),
        }
    }
}

/// The key number that signed a volume, if its signature file can be read at all (the
/// volume checks report anything wrong with it).
fn signer_of(dir: &Dir) -> Option<KeyId> {
    let f = dir.open_file(SIGNATURE_FILE).ok()?;
    let bytes = read_capped(f, MAX_SIGNATURE_FILE).ok()?;
    decode_embedded(&bytes).ok().map(|(sig, _)| sig.key_id)
}

/// The statements of `m` that start at a key of `trusted`: from the newest one signed by a
/// trusted key (its signature checked with it) to the last. Empty if none does.
fn from_trusted<'m>(m: &'m Manifest, trusted: &[PublicKey]) -> &'m [Rotation] {
    for (i, r) in m.rotations.iter().enumerate().rev() {
        if let Some(k) = trusted.iter().find(|k| k.id == r.old)
            && r.verify(&m.organization, k).is_ok()
        {
            return &m.rotations[i..];
        }
    }
    &[]
}

/// Step 1: the keys this import trusts besides `trusted`, vouched for by the rotation
/// statements of the bundle given (see the module's documentation). A volume signed by a
/// key the store recorded as rotated away is refused here, with the rotation named.
pub fn extend_trust(
    store: &Store,
    volumes: &[PathBuf],
    trusted: Vec<PublicKey>,
) -> Result<Vec<PublicKey>, ImportError> {
    let rotations = store.db.key_rotations(None)?;
    extend(volumes, trusted, &rotations).map_err(ImportError::KeyRotated)
}

/// The keys that the rotation statements of the volumes given vouch for, from a key of
/// `trusted` (`trusted` itself first). For a reader without a store, such as `verify`:
/// it learns which new keys to check the volumes with (and then checks them fully).
pub fn vouched_keys(volumes: &[PathBuf], trusted: &[PublicKey]) -> Vec<PublicKey> {
    extend(volumes, trusted.to_vec(), &[]).unwrap_or_else(|_| trusted.to_vec())
}

fn extend(
    volumes: &[PathBuf],
    mut trusted: Vec<PublicKey>,
    rotations: &[KeyRotation],
) -> Result<Vec<PublicKey>, Box<KeyRotated>> {
    // The first line of a manifest that may carry rotation statements.
    let version_3 = format!("format = \"{MANIFEST_FORMAT_3}\"\n");
    let mut tried: Vec<KeyId> = Vec::new();
    for v in volumes {
        let Ok(dir) = Dir::open(v) else { continue };
        let Some(signer) = signer_of(&dir) else {
            continue;
        };
        if trusted.iter().any(|k| k.id == signer) || tried.contains(&signer) {
            continue;
        }
        tried.push(signer);
        let rotated_away = rotations.iter().any(|r| r.old == signer.to_string());
        // Only a manifest of version 3 carries statements: others are not parsed here (a
        // bundle of an untrusted key is refused by the volume checks anyway).
        let manifest = dir
            .open_file(MANIFEST_FILE)
            .ok()
            .and_then(|f| read_capped(f, MAX_MANIFEST_FILE).ok())
            .filter(|b| rotated_away || b.starts_with(version_3.as_bytes()))
            .and_then(|b| Some((Manifest::id_of(&b).to_hex(), Manifest::parse(&b).ok()?)));
        if let Some(r) = rotations.iter().rev().find(|r| {
            r.old == signer.to_string()
                && manifest
                    .as_ref()
                    .is_none_or(|(_, m)| m.organization == r.organization)
        }) {
            let id = manifest.as_ref().map(|(id, _)| id.clone());
            let org = manifest.as_ref().map(|(_, m)| m.organization.as_str());
            return Err(Box::new(KeyRotated::of(r, id.as_deref(), org)));
        }
        let Some((_, m)) = manifest else { continue };
        if m.signer != signer {
            continue;
        }
        let vouched: Vec<PublicKey> = from_trusted(&m, &trusted)
            .iter()
            .map(|r| r.new.clone())
            .collect();
        for k in vouched {
            if !trusted.iter().any(|t| t.id == k.id) {
                trusted.push(k);
            }
        }
    }
    Ok(trusted)
}

/// A bundle signed by a key that this store recorded as rotated away from the bundle's
/// organization is refused (whether or not the old key is still trusted).
pub fn check_not_rotated(store: &Store, id: &str, m: &Manifest) -> Result<(), ImportError> {
    let signer = m.signer.to_string();
    if let Some(r) = store
        .db
        .key_rotations(Some(&m.organization))?
        .iter()
        .rev()
        .find(|r| r.old == signer)
    {
        return Err(ImportError::KeyRotated(Box::new(KeyRotated::of(
            r,
            Some(id),
            Some(&m.organization),
        ))));
    }
    Ok(())
}

/// Every key whose bundles are in the same stream as `m`'s signer: the signer, the keys
/// its manifest's statements rotated away, and those this store recorded (transitively).
pub fn stream_signers(store: &Store, m: &Manifest) -> Result<Vec<String>, DbError> {
    let recorded = store.db.key_rotations(Some(&m.organization))?;
    let mut out = vec![m.signer.to_string()];
    for r in &m.rotations {
        let old = r.old.to_string();
        if !out.contains(&old) {
            out.push(old);
        }
    }
    let mut i = 0;
    while i < out.len() {
        let at = out[i].clone();
        for r in recorded.iter().filter(|r| r.new == at) {
            if !out.contains(&r.old) {
                out.push(r.old.clone());
            }
        }
        i += 1;
    }
    Ok(out)
}

/// What the import's transaction does about key rotations.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Statements to record, oldest first.
    pub statements: Vec<Rotation>,
    /// Keep trusting the old keys.
    pub keep_old_key: bool,
}

/// Step 2: from the verified manifest, the statements that start at a key `trusted`
/// holds and that the store has not recorded yet.
pub fn plan(
    store: &Store,
    m: &Manifest,
    trusted: &[PublicKey],
    keep_old_key: bool,
) -> Result<Plan, DbError> {
    let recorded = store.db.key_rotations(Some(&m.organization))?;
    let statements = from_trusted(m, trusted)
        .iter()
        .filter(|r| {
            let old = r.old.to_string();
            !recorded.iter().any(|x| x.old == old)
        })
        .cloned()
        .collect();
    Ok(Plan {
        statements,
        keep_old_key,
    })
}

/// Step 3, inside the import's transaction: record each rotation, trust its new key, stop
/// trusting its old key unless asked to keep it, and write the history. Returns a line per
/// rotation for the summary.
pub fn record(
    tx: &rusqlite::Connection,
    now: &str,
    bundle: &str,
    m: &Manifest,
    plan: &Plan,
) -> rusqlite::Result<Vec<String>> {
    let mut lines = Vec::new();
    for r in &plan.statements {
        let (old, new) = (r.old.to_string(), r.new.id.to_string());
        db::add_key_rotation(
            tx,
            &KeyRotation {
                organization: m.organization.clone(),
                old: old.clone(),
                new: new.clone(),
                since: r.since,
                created: r.created.clone(),
                bundle: bundle.to_string(),
                time: now.to_string(),
            },
        )?;
        let comment = format!(
            "key {new}, rotated from key {old} by bundle {}",
            &bundle[..bundle.len().min(16)]
        );
        let text = String::from_utf8_lossy(&r.new.encode(&comment)).into_owned();
        db::put_trusted_key(tx, &new, &text, &comment, now)?;
        let untrusted = !plan.keep_old_key && db::delete_trusted_key(tx, &old)?;
        let line = format!(
            "key {old} rotated to key {new} for {} from sequence {} (statement made {}); {}",
            m.organization,
            r.since,
            r.created,
            if plan.keep_old_key {
                format!("key {new} is trusted, and key {old} stays trusted as asked")
            } else if untrusted {
                format!("key {new} is trusted, key {old} no longer")
            } else {
                format!("key {new} is trusted")
            }
        );
        history::record(tx, now, "key-rotation", Some(bundle), &line)?;
        lines.push(line);
    }
    Ok(lines)
}
