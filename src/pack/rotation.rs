//! Key rotation on the export side: which statements the next bundles carry, and which
//! key may sign for a state directory.
//!
//! `ferry keygen --rotate-from OLD.key` writes one statement per organization the state
//! holds into `STATE/rotations.toml` (this module's file; nothing else in the state
//! changes). From then on:
//!
//! - every bundle packed from the state with the new key carries the statements of its
//!   organization's chain (oldest first, the last naming the new key), so that a site that
//!   trusts any earlier key of the chain can follow it, even after a gap or from a full
//!   bundle (the rule of `[[retired]]` records: repeated in every later bundle);
//! - an incremental bundle of the new key may build on a base signed by an earlier key of
//!   the chain;
//! - packing with a key that was rotated away is refused.
//!
//! ```text
//! STATE/rotations.toml
//!   [[rotation]]
//!   organization = "acme"
//!   old_key = "RWQ…"          the old key's public record (base64, as in its .pub file)
//!   new = "RWR…"              the new key's
//!   since = 5                 first sequence the new key signs
//!   created = "2026-12-05T08:00:00Z"
//!   signature = "…"           the old key's signature (spec/FORMAT.md §5.9)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::format::KeyId;
use crate::format::manifest::Rotation;
use crate::format::signify::PublicKey;

/// The file, in the state directory.
pub const ROTATIONS_FILE: &str = "rotations.toml";

/// Largest rotations file read.
const MAX_FILE: u64 = 1024 * 1024;

/// Problems with the rotations of a state directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// The key was rotated: its successor signs for this state now.
    #[error(
        "key {old} was rotated to key {new} on {created} (for {organization}, from sequence {since} on): the export state {} now belongs to the new key; sign with it",
        state.display()
    )]
    Rotated {
        /// The key given.
        old: KeyId,
        /// Its successor.
        new: KeyId,
        /// When.
        created: String,
        /// Organization.
        organization: String,
        /// First sequence of the new key.
        since: u64,
        /// The state directory.
        state: PathBuf,
    },
    /// The rotations file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The rotations file is damaged.
    #[error("{} is damaged: {what}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The export state cannot be read.
    #[error(transparent)]
    State(#[from] super::state::StateError),
}

/// A rotation as the state records it: its organization and the old key's public half
/// besides the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRotation {
    /// The stream's organization.
    pub organization: String,
    /// The key rotated away.
    pub old_key: PublicKey,
    /// The statement, signed by `old_key`.
    pub statement: Rotation,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    #[serde(default)]
    rotation: Vec<Entry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    organization: String,
    old_key: String,
    new: String,
    since: u64,
    created: String,
    signature: String,
}

/// The rotations a state directory records (none when it has no file), each checked: its
/// signature verifies with its old key.
pub fn load(state: &Path) -> Result<Vec<StateRotation>, RotationError> {
    let path = state.join(ROTATIONS_FILE);
    let bytes = match crate::fsutil::read_capped(&path, MAX_FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RotationError::Io { path, source }),
    };
    let damaged = |what: String| RotationError::Damaged {
        path: path.clone(),
        what,
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| damaged("not UTF-8".into()))?;
    let form: FileForm = toml::from_str(text).map_err(|e| damaged(e.to_string()))?;
    let mut out = Vec::new();
    for e in form.rotation {
        let old_key = PublicKey::from_record_base64(&e.old_key)
            .map_err(|x| damaged(format!("old_key: {x}")))?;
        let new =
            PublicKey::from_record_base64(&e.new).map_err(|x| damaged(format!("new: {x}")))?;
        let signature = Rotation::parse_signature(&e.signature)
            .map_err(|x| damaged(format!("signature: {x}")))?;
        let statement = Rotation {
            old: old_key.id,
            new,
            since: e.since,
            created: e.created,
            signature,
        };
        statement
            .verify(&e.organization, &old_key)
            .map_err(|x| damaged(format!("the rotation from key {}: {x}", old_key.id)))?;
        out.push(StateRotation {
            organization: e.organization,
            old_key,
            statement,
        });
    }
    Ok(out)
}

/// Write the rotations file (a new file renamed over the old one, flushed).
pub fn save(state: &Path, rotations: &[StateRotation]) -> Result<(), RotationError> {
    let path = state.join(ROTATIONS_FILE);
    let form = FileForm {
        rotation: rotations
            .iter()
            .map(|r| Entry {
                organization: r.organization.clone(),
                old_key: r.old_key.record_base64(),
                new: r.statement.new.record_base64(),
                since: r.statement.since,
                created: r.statement.created.clone(),
                signature: r.statement.signature_base64(),
            })
            .collect(),
    };
    let mut text = String::from(
        "# Key rotations of this export state (ferry keygen --rotate-from). Written by ferry.\n\n",
    );
    text.push_str(&toml::to_string(&form).map_err(|e| RotationError::Damaged {
        path: path.clone(),
        what: e.to_string(),
    })?);
    let io = |source| RotationError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state).map_err(io)?;
    let tmp = state.join(format!("{ROTATIONS_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    crate::fsutil::write_new_synced(&tmp, text.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    crate::fsutil::sync_dir(state).map_err(io)
}

/// The rotation that took `key` away from `organization`'s stream (any organization
/// when `None`), if there is one.
pub fn rotated_away<'r>(
    rotations: &'r [StateRotation],
    organization: Option<&str>,
    key: KeyId,
) -> Option<&'r StateRotation> {
    rotations
        .iter()
        .find(|r| r.statement.old == key && organization.is_none_or(|o| o == r.organization))
}

/// The statements that lead to `key` in `organization`'s stream, oldest first (empty
/// when the key was never rotated to).
pub fn chain(rotations: &[StateRotation], organization: &str, key: KeyId) -> Vec<Rotation> {
    let mut out: Vec<Rotation> = Vec::new();
    let mut at = key;
    while let Some(r) = rotations
        .iter()
        .find(|r| r.organization == organization && r.statement.new.id == at)
    {
        if out.iter().any(|x| x.new.id == r.statement.old) || out.len() > rotations.len() {
            break; // a loop (a damaged or hand-edited file): stop there
        }
        out.push(r.statement.clone());
        at = r.statement.old;
    }
    out.reverse();
    out
}

/// What the stream of a key owes to the keys before it: the statements of the chain that
/// leads to the key (oldest first) and those keys' public halves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Continuity {
    /// The statements, oldest first; the last names the key.
    pub statements: Vec<Rotation>,
    /// The keys that signed the stream before, oldest first.
    pub keys: Vec<PublicKey>,
}

impl Continuity {
    /// Whether a bundle signed by `signer` is in the stream that `key` signs now: the same
    /// key, or one that the chain leading to `key` rotated away (an incremental bundle of
    /// the new key may build on it).
    pub fn same_stream(&self, signer: KeyId, key: KeyId) -> bool {
        signer == key || self.keys.iter().any(|k| k.id == signer)
    }

    /// The statements a bundle of `sequence` carries: those that apply from it or before.
    pub fn for_sequence(&self, sequence: u64) -> Vec<Rotation> {
        self.statements
            .iter()
            .filter(|r| r.since <= sequence)
            .cloned()
            .collect()
    }
}

/// What a pack signed by `key` for `organization` owes to earlier keys. Refused when the
/// key was rotated away from that organization's stream.
///
/// `pack` calls it once the state is open; the manifest then carries
/// [`Continuity::for_sequence`] of the new bundle's sequence, and the base of an
/// incremental bundle may be signed by any key of [`Continuity::same_stream`].
pub fn carried(state: &Path, organization: &str, key: KeyId) -> Result<Continuity, RotationError> {
    let rotations = load(state)?;
    if let Some(r) = rotated_away(&rotations, Some(organization), key) {
        return Err(RotationError::Rotated {
            old: key,
            new: r.statement.new.id,
            created: r.statement.created.clone(),
            organization: r.organization.clone(),
            since: r.statement.since,
            state: state.to_path_buf(),
        });
    }
    let statements = chain(&rotations, organization, key);
    let keys = statements
        .iter()
        .filter_map(|s| {
            rotations
                .iter()
                .find(|r| r.statement == *s)
                .map(|r| r.old_key.clone())
        })
        .collect();
    Ok(Continuity { statements, keys })
}

/// The highest sequence the state recorded for each organization.
pub fn streams(state: &Path) -> Result<BTreeMap<String, u64>, RotationError> {
    let st = super::state::ExportState::open_read_only(state)?;
    let mut out = BTreeMap::new();
    for org in st.organizations()? {
        let last = st.bundles(&org)?.iter().map(|b| b.sequence).max();
        if let Some(last) = last {
            out.insert(org, last);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::format::signify::SecretKey;

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_seed([seed; 32], KeyId([seed; 8]))
    }

    fn rotate(old: &SecretKey, new: &SecretKey, org: &str, since: u64) -> StateRotation {
        StateRotation {
            organization: org.into(),
            old_key: old.public(),
            statement: Rotation::sign(old, org, &new.public(), since, "2026-12-05T08:00:00Z"),
        }
    }

    #[test]
    fn the_file_round_trips_and_chains_lead_to_the_key() {
        let d = tempfile::tempdir().unwrap();
        let (a, b, c) = (key(1), key(2), key(3));
        assert!(load(d.path()).unwrap().is_empty());
        let rs = vec![
            rotate(&a, &b, "acme", 4),
            rotate(&a, &b, "other", 2),
            rotate(&b, &c, "acme", 9),
        ];
        save(d.path(), &rs).unwrap();
        assert_eq!(load(d.path()).unwrap(), rs);

        let chain_c = carried(d.path(), "acme", c.id).unwrap();
        assert_eq!(
            chain_c
                .statements
                .iter()
                .map(|r| (r.old, r.new.id))
                .collect::<Vec<_>>(),
            vec![(a.id, b.id), (b.id, c.id)]
        );
        assert_eq!(chain_c.keys, vec![a.public(), b.public()]);
        assert!(chain_c.same_stream(a.id, c.id));
        assert!(chain_c.same_stream(c.id, c.id));
        assert!(!chain_c.same_stream(key(4).id, c.id));
        assert_eq!(chain_c.for_sequence(8).len(), 1);
        assert_eq!(
            carried(d.path(), "other", b.id).unwrap().statements.len(),
            1
        );
        assert_eq!(
            carried(d.path(), "acme", key(5).id).unwrap(),
            Continuity::default()
        );

        // A key rotated away may not sign for the state any more.
        let e = carried(d.path(), "acme", b.id).unwrap_err();
        assert!(
            matches!(&e, RotationError::Rotated { old, new, since: 9, .. } if *old == b.id && *new == c.id),
            "{e:?}"
        );
        assert!(e.to_string().contains("was rotated to key"), "{e}");
        assert!(carried(d.path(), "acme", a.id).is_err());
    }

    #[test]
    fn a_forged_or_damaged_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (key(1), key(2));
        let mut r = rotate(&a, &b, "acme", 4);
        r.statement.since = 2; // not what a signed
        save(d.path(), &[r]).unwrap();
        assert!(matches!(load(d.path()), Err(RotationError::Damaged { .. })));
        std::fs::write(d.path().join(ROTATIONS_FILE), "[[rotation]]\nbogus = 1\n").unwrap();
        assert!(matches!(load(d.path()), Err(RotationError::Damaged { .. })));
    }
}
