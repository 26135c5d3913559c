//! Volumes received over HTTP, checked as they arrive.
//!
//! The protocol follows tus (tus.io) in spirit: each volume is a resource named by the
//! SHA-256 of its `SHA256.sig`; each file of it is appended to with `PATCH` at an
//! `Upload-Offset`, and `HEAD`/`GET` tell where to resume. The checks, in order:
//!
//! 1. the `SHA256.sig` must be signed by a key the store trusts and verify strictly
//!    (the same [`crate::bundle::volume::signed_list`] as `verify` and `import`); nothing
//!    is written before it does. A well-formed signature by a key the store does not trust
//!    is taken provisionally (a key rotation, `spec/FORMAT.md` §5.9): only its
//!    `manifest.toml` is received, then the manifest's rotation statements are read as
//!    `import` reads them ([`crate::import::rotation::extend_trust`]); if they vouch for
//!    the signer from a key the store trusts, the signature is verified strictly with that
//!    key and the manifest compared with the list it authenticates, and the volume goes on
//!    as any other; if not, it is refused and what was received is deleted;
//! 2. only files the signed list names are accepted, each up to the format's limit
//!    (`volume.toml`, `manifest.toml`, `README.txt`) and hashed as it streams; a file whose
//!    hash differs from the list is discarded the moment its last byte arrives;
//! 3. once those three are in, the volume is opened exactly as `import` opens it
//!    ([`crate::bundle::set::open`]), and the store's own checks run
//!    ([`crate::import::admit`]: already imported, old or replayed media, missing base);
//!    a volume of another bundle than the job's is refused. No pack byte is accepted
//!    before all of this passed;
//! 4. each pack must be sent at exactly the size the manifest declares (a longer body is
//!    cut off and the file discarded) and is hashed as it streams;
//! 5. a complete volume is handed to `import` of that one volume (see [`super::jobs`]).
//!
//! Files live under `STORE/uploads/<key>/` as `<path>.part` until verified, then under
//! their own names: the directory is a volume as `import` reads it. What was received
//! survives a restart of the server: offsets are the lengths on disk.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::jobs::{Job, JobId};
use crate::bundle::findings::ProblemKind;
use crate::bundle::volume::{self, pack_file};
use crate::format::checklist::{self, Entry};
use crate::format::constants::{
    MANIFEST_FILE, MAX_MANIFEST_FILE, MAX_README_FILE, MAX_SIGNATURE_FILE, MAX_VOLUME_FILE,
    PACK_EXTENSION, PACKS_DIR, README_FILE, SIGNATURE_FILE, VOLUME_FILE,
};
use crate::format::signify::decode_embedded;
use crate::format::{BundleId, KeyId, Sha256Digest};
use crate::import::{self, Admission, ImportError, rotation};
use crate::store::{Access, Store};

/// Where a volume upload stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "message", rename_all = "kebab-case")]
pub enum VolumeState {
    /// Waiting for `volume.toml`, `manifest.toml` and `README.txt`.
    Head,
    /// Checked; receiving packs.
    Receiving,
    /// Complete; waiting for its import.
    Queued,
    /// Being imported.
    Importing,
    /// Imported and staged: other volumes are still needed.
    Staged,
    /// Its import published the bundle.
    Imported,
    /// Nothing to do (already imported, or this volume already staged).
    Skipped(String),
    /// Refused; nothing of it was kept.
    Refused(String),
    /// The import failed for a reason that was not the media's (disk full, …); what was
    /// received is kept, and posting the signature again retries.
    Failed(String),
}

impl VolumeState {
    /// Whether nothing more will happen to the volume.
    pub fn finished(&self) -> bool {
        matches!(
            self,
            VolumeState::Staged
                | VolumeState::Imported
                | VolumeState::Skipped(_)
                | VolumeState::Refused(_)
                | VolumeState::Failed(_)
        )
    }
}

/// One file of a volume being received.
#[derive(Debug)]
struct FileUpload {
    path: String,
    sha256: Sha256Digest,
    /// Exact size (packs, once the manifest is known).
    size: Option<u64>,
    /// The total length the client declared.
    declared: Option<u64>,
    received: u64,
    complete: bool,
    busy: bool,
    /// The hash of the first `received` bytes, when held.
    hasher: Option<Sha256>,
}

impl FileUpload {
    fn head(&self) -> bool {
        !self.path.starts_with(PACKS_DIR)
    }

    fn cap(&self) -> u64 {
        match self.path.as_str() {
            VOLUME_FILE => MAX_VOLUME_FILE,
            MANIFEST_FILE => MAX_MANIFEST_FILE,
            README_FILE => MAX_README_FILE,
            _ => self.size.unwrap_or(0),
        }
    }
}

/// One volume being received.
#[derive(Debug)]
pub struct VolumeUpload {
    /// Its key: the SHA-256 of its `SHA256.sig`, in hex.
    pub key: String,
    /// The job it was posted to.
    pub job: JobId,
    /// Its directory.
    pub dir: PathBuf,
    files: Vec<FileUpload>,
    /// Where it stands.
    pub state: VolumeState,
    /// Its number, once known.
    pub volume: Option<u32>,
    /// The bundle's volume count, once known.
    pub volumes: Option<u32>,
    /// Its bundle, once known.
    pub bundle: Option<BundleId>,
    /// The key that signed it, while the store does not trust that key: only
    /// `manifest.toml` is taken until its rotation statements vouch for the key.
    unvouched: Option<KeyId>,
}

/// What a client sees of a volume upload.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VolumeView {
    /// The upload's key (the SHA-256 of its `SHA256.sig`).
    pub key: String,
    /// `head`, `receiving`, `queued`, `importing`, `staged`, `imported`, `skipped`,
    /// `refused` or `failed`.
    pub state: String,
    /// Why, for `skipped`, `refused` and `failed`.
    pub message: Option<String>,
    /// The volume's number, once known.
    pub volume: Option<u32>,
    /// The bundle's volume count, once known.
    pub volumes: Option<u32>,
    /// The bundle id, once known.
    pub bundle: Option<String>,
    /// Each file the signed list names, in order.
    pub files: Vec<FileView>,
}

/// What a client sees of one file.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FileView {
    /// Path on the volume.
    pub path: String,
    /// Its exact size, when the manifest gives it (packs).
    pub size: Option<u64>,
    /// Bytes received and kept.
    pub received: u64,
    /// Received in full and matching its signed SHA-256.
    pub complete: bool,
}

impl VolumeUpload {
    /// The client's view.
    pub fn view(&self) -> VolumeView {
        let (state, message) = match &self.state {
            VolumeState::Skipped(m) => ("skipped", Some(m.clone())),
            VolumeState::Refused(m) => ("refused", Some(m.clone())),
            VolumeState::Failed(m) => ("failed", Some(m.clone())),
            VolumeState::Head => ("head", None),
            VolumeState::Receiving => ("receiving", None),
            VolumeState::Queued => ("queued", None),
            VolumeState::Importing => ("importing", None),
            VolumeState::Staged => ("staged", None),
            VolumeState::Imported => ("imported", None),
        };
        VolumeView {
            key: self.key.clone(),
            state: state.into(),
            message,
            volume: self.volume,
            volumes: self.volumes,
            bundle: self.bundle.map(|b| b.to_hex()),
            files: self
                .files
                .iter()
                .map(|f| FileView {
                    path: f.path.clone(),
                    size: f.size,
                    received: f.received,
                    complete: f.complete,
                })
                .collect(),
        }
    }
}

/// Why a request about an upload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// No such upload or job.
    #[error("{0}")]
    NotFound(String),
    /// The signature or the volume is refused.
    #[error("{0}")]
    Refused(String),
    /// The file is not one the signed list names.
    #[error("{0} is not a file of this volume's signed list")]
    NotListed(String),
    /// A pack before the volume's head was checked.
    #[error(
        "send volume.toml, manifest.toml and README.txt first: no pack is accepted before the volume is checked"
    )]
    HeadFirst,
    /// Not where the upload stands.
    #[error("{path} continues at byte {expected}, not {given}")]
    WrongOffset {
        /// The file.
        path: String,
        /// Where it stands.
        expected: u64,
        /// What was asked.
        given: u64,
    },
    /// More than the file may hold.
    #[error("{path}: {detail}; what was received of it was discarded")]
    TooLarge {
        /// The file.
        path: String,
        /// How.
        detail: String,
    },
    /// The declared length changed.
    #[error("{path} was declared {before} bytes long, now {now}")]
    LengthChanged {
        /// The file.
        path: String,
        /// First declared.
        before: u64,
        /// Declared now.
        now: u64,
    },
    /// Another request is sending the same file.
    #[error("{0} is being received by another request")]
    Busy(String),
    /// The volume takes no more data.
    #[error("this volume takes no more data: it is {0}")]
    Closed(String),
    /// The file's bytes do not match the signed list.
    #[error(
        "{0} does not match its signed SHA-256; it was discarded: send it again from a good copy"
    )]
    Mismatch(String),
    /// The request ended before the declared bytes came (the bytes that came are kept).
    #[error("{0}: the request ended early; what arrived is kept, resume from the offset")]
    Interrupted(String),
    /// Too many uploads at once.
    #[error("too many uploads at once; try again shortly")]
    TooMany,
    /// The server's own I/O failed.
    #[error("{0}")]
    Io(String),
}

/// Volumes and jobs, shared by the handlers and the import worker.
pub struct Uploads {
    /// The store.
    pub store: PathBuf,
    root: PathBuf,
    /// The registry.
    pub inner: Mutex<Registry>,
    queue: tokio::sync::mpsc::UnboundedSender<String>,
    streams: Arc<tokio::sync::Semaphore>,
}

/// Volumes and jobs by key.
#[derive(Default)]
pub struct Registry {
    /// Volume uploads by key.
    pub volumes: HashMap<String, VolumeUpload>,
    /// Jobs by id.
    pub jobs: BTreeMap<JobId, Job>,
}

/// Most files received at once (each a request streaming to disk).
pub const MAX_STREAMS: usize = 16;

fn allowed_path(p: &str) -> bool {
    if [VOLUME_FILE, MANIFEST_FILE, README_FILE].contains(&p) {
        return true;
    }
    p.strip_prefix(PACKS_DIR)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_suffix(&format!(".{PACK_EXTENSION}")))
        .is_some_and(|n| {
            !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

fn part(dir: &Path, path: &str) -> PathBuf {
    dir.join(format!("{path}.part"))
}

impl Uploads {
    /// The registry for `store`; complete volumes are sent to `queue`.
    pub fn new(store: &Path, queue: tokio::sync::mpsc::UnboundedSender<String>) -> Self {
        Self {
            store: store.to_path_buf(),
            root: store.join("uploads"),
            inner: Mutex::new(Registry::default()),
            queue,
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
        }
    }

    /// Lock the registry.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().expect("upload registry")
    }

    /// Step 1: a `SHA256.sig` posted to `job`. Verified before anything is written; an
    /// upload of the same signature resumes where it stood.
    pub async fn post_signature(
        self: &Arc<Self>,
        job: &JobId,
        sig: Bytes,
    ) -> Result<VolumeView, UploadError> {
        if sig.len() as u64 > MAX_SIGNATURE_FILE {
            return Err(UploadError::Refused(format!(
                "{SIGNATURE_FILE} is larger than the format's limit ({MAX_SIGNATURE_FILE} bytes)"
            )));
        }
        if !self.lock().jobs.contains_key(job) {
            return Err(UploadError::NotFound(format!("no import job {job}")));
        }
        let key = Sha256Digest::of(&sig).to_hex();
        let this = self.clone();
        let sig2 = sig.clone();
        let (list, unvouched) = tokio::task::spawn_blocking(move || this.check_signature(&sig2))
            .await
            .map_err(|e| UploadError::Io(e.to_string()))??;
        let dir = self.root.join(&key);
        let resumed =
            {
                let mut reg = self.lock();
                let reg = &mut *reg;
                // A volume whose upload ended (imported, staged, skipped, refused) is looked at
                // afresh: the store may have changed since.
                if reg.volumes.get(&key).is_some_and(|v| {
                    v.state.finished() && !matches!(v.state, VolumeState::Failed(_))
                }) {
                    reg.volumes.remove(&key);
                }
                let found = reg.volumes.get_mut(&key).map(|v| {
                    let old = std::mem::replace(&mut v.job, job.clone());
                    if matches!(v.state, VolumeState::Failed(_)) {
                        v.state = VolumeState::Queued;
                        let _ = self.queue.send(key.clone());
                    }
                    (old, v.view())
                });
                if let Some((old, view)) = found {
                    if let Some(j) = reg.jobs.get_mut(&old) {
                        j.volumes.retain(|k| *k != key);
                    }
                    if let Some(j) = reg.jobs.get_mut(job)
                        && !j.volumes.contains(&key)
                    {
                        j.volumes.push(key.clone());
                    }
                    Some(view)
                } else {
                    None
                }
            };
        if let Some(view) = resumed {
            return Ok(view);
        }
        // New here (or left by an earlier run of the server): what is on disk counts.
        let d = dir.clone();
        let s = sig.clone();
        let mut files = tokio::task::spawn_blocking(move || restore(&d, &s, &list))
            .await
            .map_err(|e| UploadError::Io(e.to_string()))?
            .map_err(|e| UploadError::Io(format!("{}: {e}", dir.display())))?;
        if unvouched.is_some() {
            // The manifest first: clients send the files in the order listed here, and
            // nothing else is taken before it vouched for the signer.
            files.sort_by_key(|f| f.path != MANIFEST_FILE);
        }
        let v = VolumeUpload {
            key: key.clone(),
            job: job.clone(),
            dir,
            files,
            state: VolumeState::Head,
            volume: None,
            volumes: None,
            bundle: None,
            unvouched,
        };
        {
            let mut reg = self.lock();
            reg.volumes.entry(key.clone()).or_insert(v);
            if let Some(j) = reg.jobs.get_mut(job)
                && !j.volumes.contains(&key)
            {
                j.volumes.push(key.clone());
            }
        }
        self.after_file(&key).await?;
        self.view(&key)
    }

    /// Step 1: the signed list, and the signer when the store does not trust it (then the
    /// list is well-formed and names the manifest, but is not authenticated yet).
    fn check_signature(&self, sig: &[u8]) -> Result<(Vec<Entry>, Option<KeyId>), UploadError> {
        let store = Store::open(&self.store, Access::Read, &|_| {})
            .map_err(|e| UploadError::Io(e.to_string()))?;
        let trusted =
            import::trusted_keys(&store, &[]).map_err(|e| UploadError::Refused(e.to_string()))?;
        let (list, unvouched) = match volume::signed_list(sig, &trusted) {
            Ok((_, list)) => (list, None),
            Err((ProblemKind::UntrustedKey, detail)) => {
                let refused = || UploadError::Refused(format!("{SIGNATURE_FILE} {detail}"));
                let (s, message) = decode_embedded(sig).map_err(|_| refused())?;
                let list = checklist::decode(message).map_err(|_| refused())?;
                if !list.iter().any(|e| e.path == MANIFEST_FILE)
                    || list.iter().any(|e| !allowed_path(&e.path))
                {
                    return Err(refused());
                }
                (list, Some(s.key_id))
            }
            Err((_, detail)) => {
                return Err(UploadError::Refused(format!("{SIGNATURE_FILE} {detail}")));
            }
        };
        if let Some(bad) = list.iter().find(|e| !allowed_path(&e.path)) {
            return Err(UploadError::Refused(format!(
                "{SIGNATURE_FILE}: the signed list names {}, which is not a file a volume holds",
                bad.path
            )));
        }
        Ok((list, unvouched))
    }

    /// A volume's view.
    pub fn view(&self, key: &str) -> Result<VolumeView, UploadError> {
        self.lock()
            .volumes
            .get(key)
            .map(VolumeUpload::view)
            .ok_or_else(|| UploadError::NotFound(format!("no upload {key}")))
    }

    /// Steps 2 and 4: bytes of `path` from `offset`, `length` the file's whole length.
    pub async fn receive<S, E>(
        self: &Arc<Self>,
        key: &str,
        path: &str,
        offset: u64,
        length: u64,
        mut body: S,
    ) -> Result<VolumeView, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let Ok(_permit) = self.streams.clone().try_acquire_owned() else {
            return Err(UploadError::TooMany);
        };
        // Claim the file.
        let (file, mut hasher, dir) = {
            let mut reg = self.lock();
            let v = reg
                .volumes
                .get_mut(key)
                .ok_or_else(|| UploadError::NotFound(format!("no upload {key}")))?;
            if !matches!(v.state, VolumeState::Head | VolumeState::Receiving) {
                return Err(UploadError::Closed(v.view().state));
            }
            let head_done = v.state == VolumeState::Receiving;
            let f = v
                .files
                .iter_mut()
                .find(|f| f.path == path)
                .ok_or_else(|| UploadError::NotListed(path.to_string()))?;
            if let Some(k) = v.unvouched
                && f.path != MANIFEST_FILE
            {
                return Err(UploadError::Refused(format!(
                    "{path}: this volume is signed by key {k}, which the store does not trust: nothing but {MANIFEST_FILE} is taken until its key rotation statements vouch for the key"
                )));
            }
            if !f.head() && !head_done {
                return Err(UploadError::HeadFirst);
            }
            if f.busy {
                return Err(UploadError::Busy(path.into()));
            }
            if f.complete {
                return Err(UploadError::Closed(format!("{path}: received in full")));
            }
            if offset != f.received {
                return Err(UploadError::WrongOffset {
                    path: path.into(),
                    expected: f.received,
                    given: offset,
                });
            }
            let cap = f.cap();
            if let Some(size) = f.size
                && length != size
            {
                return Err(UploadError::TooLarge {
                    path: path.into(),
                    detail: format!("the manifest says it is {size} bytes, not {length}"),
                });
            }
            if length > cap {
                return Err(UploadError::TooLarge {
                    path: path.into(),
                    detail: format!("{length} bytes is more than the format allows ({cap})"),
                });
            }
            if let Some(d) = f.declared
                && d != length
            {
                return Err(UploadError::LengthChanged {
                    path: path.into(),
                    before: d,
                    now: length,
                });
            }
            f.declared = Some(length);
            f.busy = true;
            (f.path.clone(), f.hasher.take(), v.dir.clone())
        };
        let result = self
            .stream_to_disk(&dir, &file, offset, length, &mut hasher, &mut body)
            .await;
        // Hand the file back.
        let (received, outcome, cut) = match result {
            Ok((n, clean)) => (n, Ok(()), !clean),
            Err((n, e)) => (n, Err(e), false),
        };
        let mut discard = matches!(outcome, Err(UploadError::TooLarge { .. }));
        let mut mismatch = false;
        let finished = received == length && outcome.is_ok();
        let digest = if finished {
            hasher.take().map(|h| Sha256Digest(h.finalize().into()))
        } else {
            None
        };
        {
            let mut reg = self.lock();
            if let Some(v) = reg.volumes.get_mut(key)
                && let Some(f) = v.files.iter_mut().find(|f| f.path == file)
            {
                f.busy = false;
                f.received = received;
                f.hasher = hasher;
                if let Some(d) = digest {
                    if d == f.sha256 {
                        f.complete = true;
                    } else {
                        mismatch = true;
                        discard = true;
                    }
                }
                if discard {
                    f.received = 0;
                    f.declared = None;
                    f.hasher = None;
                }
            }
        }
        if discard {
            let _ = tokio::fs::remove_file(part(&dir, &file)).await;
        } else if finished && !mismatch {
            tokio::fs::rename(part(&dir, &file), dir.join(&file))
                .await
                .map_err(|e| UploadError::Io(format!("{file}: {e}")))?;
        }
        if mismatch {
            return Err(UploadError::Mismatch(file));
        }
        outcome?;
        if cut {
            return Err(UploadError::Interrupted(file));
        }
        if finished {
            self.after_file(key).await?;
        }
        self.view(key)
    }

    /// Append the body to the file's `.part`, hashing as it goes. Returns the bytes now
    /// held and whether the body ended cleanly, or the bytes held and the error.
    async fn stream_to_disk<S, E>(
        &self,
        dir: &Path,
        file: &str,
        offset: u64,
        length: u64,
        hasher: &mut Option<Sha256>,
        body: &mut S,
    ) -> Result<(u64, bool), (u64, UploadError)>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let p = part(dir, file);
        let io = |e: std::io::Error| (offset, UploadError::Io(format!("{file}: {e}")));
        if let Some(parent) = p.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&p)
            .await
            .map_err(io)?;
        f.set_len(offset).await.map_err(io)?;
        if hasher.is_none() {
            // Resuming without the hash of what is held: read it once.
            let p2 = p.clone();
            let h = tokio::task::spawn_blocking(move || -> std::io::Result<Sha256> {
                use std::io::Read as _;
                let mut h = Sha256::new();
                let mut r = std::fs::File::open(&p2)?.take(offset);
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                Ok(h)
            })
            .await
            .map_err(|e| (offset, UploadError::Io(e.to_string())))?
            .map_err(io)?;
            *hasher = Some(h);
        }
        let h = hasher.as_mut().expect("set above");
        let mut f = tokio::io::BufWriter::with_capacity(1024 * 1024, {
            use tokio::io::AsyncSeekExt as _;
            f.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
            f
        });
        let mut at = offset;
        let mut clean = true;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(_) => {
                    clean = false;
                    break;
                }
            };
            if chunk.len() as u64 > length - at {
                return Err((
                    at,
                    UploadError::TooLarge {
                        path: file.into(),
                        detail: format!("more than its declared {length} bytes were sent"),
                    },
                ));
            }
            h.update(&chunk);
            if let Err(e) = f.write_all(&chunk).await {
                // What was hashed may not be on disk: start this file's hash again.
                *hasher = None;
                return Err((offset, UploadError::Io(format!("{file}: {e}"))));
            }
            at += chunk.len() as u64;
        }
        if let Err(e) = f.flush().await {
            *hasher = None;
            return Err((offset, UploadError::Io(format!("{file}: {e}"))));
        }
        Ok((at, clean))
    }

    /// After a file completed: vouch for the signer (step 1), check the head (step 3) or
    /// queue the volume (step 5).
    async fn after_file(self: &Arc<Self>, key: &str) -> Result<(), UploadError> {
        let unvouched = {
            let reg = self.lock();
            let Some(v) = reg.volumes.get(key) else {
                return Ok(());
            };
            let manifest_in = v
                .files
                .iter()
                .any(|f| f.path == MANIFEST_FILE && f.complete);
            match v.unvouched {
                Some(_) if v.state == VolumeState::Head => Some((manifest_in, v.dir.clone())),
                _ => None,
            }
        };
        if let Some((manifest_in, dir)) = unvouched {
            if !manifest_in {
                return Ok(());
            }
            let store = self.store.clone();
            let d = dir.clone();
            let verdict = tokio::task::spawn_blocking(move || vouch(&store, &d))
                .await
                .map_err(|e| UploadError::Io(e.to_string()))?;
            let mut reg = self.lock();
            let Some(v) = reg.volumes.get_mut(key) else {
                return Ok(());
            };
            match verdict {
                Ok(()) => v.unvouched = None,
                Err(why) => {
                    v.state = VolumeState::Refused(why.clone());
                    let _ = std::fs::remove_dir_all(&v.dir);
                    return Err(UploadError::Refused(why));
                }
            }
        }
        let (state, head_done, dir, job_bundle) = {
            let reg = self.lock();
            let Some(v) = reg.volumes.get(key) else {
                return Ok(());
            };
            let job_bundle = reg.jobs.get(&v.job).and_then(|j| j.bundle);
            (
                v.state.clone(),
                v.files.iter().filter(|f| f.head()).all(|f| f.complete),
                v.dir.clone(),
                job_bundle,
            )
        };
        if state == VolumeState::Head && head_done {
            let store = self.store.clone();
            let d = dir.clone();
            let verdict = tokio::task::spawn_blocking(move || check_head(&store, &d, job_bundle))
                .await
                .map_err(|e| UploadError::Io(e.to_string()))?;
            let mut reg = self.lock();
            let reg = &mut *reg;
            let Some(v) = reg.volumes.get_mut(key) else {
                return Ok(());
            };
            match verdict {
                Head::Accepted {
                    volume,
                    volumes,
                    bundle,
                    packs,
                } => {
                    v.volume = Some(volume);
                    v.volumes = Some(volumes);
                    v.bundle = Some(bundle);
                    for f in v.files.iter_mut().filter(|f| !f.head()) {
                        f.size = packs.get(&f.path).copied();
                    }
                    v.state = VolumeState::Receiving;
                    if let Some(j) = reg.jobs.get_mut(&v.job) {
                        j.bundle.get_or_insert(bundle);
                    }
                }
                Head::Skipped {
                    volume,
                    bundle,
                    why,
                } => {
                    v.volume = volume;
                    v.bundle = bundle;
                    v.state = VolumeState::Skipped(why);
                    let _ = std::fs::remove_dir_all(&v.dir);
                }
                Head::Refused(why) => {
                    v.state = VolumeState::Refused(why.clone());
                    let _ = std::fs::remove_dir_all(&v.dir);
                    return Err(UploadError::Refused(why));
                }
            }
        }
        let mut reg = self.lock();
        if let Some(v) = reg.volumes.get_mut(key)
            && v.state == VolumeState::Receiving
            && v.files.iter().all(|f| f.complete)
        {
            v.state = VolumeState::Queued;
            let _ = self.queue.send(key.to_string());
        }
        Ok(())
    }
}

/// The verdict on a volume's head.
enum Head {
    Accepted {
        volume: u32,
        volumes: u32,
        bundle: BundleId,
        packs: BTreeMap<String, u64>,
    },
    Skipped {
        volume: Option<u32>,
        bundle: Option<BundleId>,
        why: String,
    },
    Refused(String),
}

/// Step 1 for a volume signed by a key the store does not trust, once its manifest is in
/// (nothing else of it is): the keys its rotation statements vouch for from a key the
/// store trusts, found and checked as `import` does ([`rotation::extend_trust`], which
/// also refuses a key rotated away); then the signature strictly, and the manifest against
/// the list the signature now authenticates. The reason to refuse the volume, if any.
fn vouch(store: &Path, dir: &Path) -> Result<(), String> {
    let store = Store::open(store, Access::Read, &|_| {}).map_err(|e| e.to_string())?;
    let trusted = import::trusted_keys(&store, &[]).map_err(|e| e.to_string())?;
    let keys = rotation::extend_trust(&store, &[dir.to_path_buf()], trusted.clone())
        .map_err(|e| e.to_string())?;
    let sig = crate::fsutil::read_capped(&dir.join(SIGNATURE_FILE), MAX_SIGNATURE_FILE)
        .map_err(|e| format!("{SIGNATURE_FILE}: {e}"))?;
    let list = match volume::signed_list(&sig, &keys) {
        Ok((_, list)) => list,
        // No statement vouched for it: what a volume of an untrusted key is told.
        Err((ProblemKind::UntrustedKey, _)) => {
            return Err(match volume::signed_list(&sig, &trusted) {
                Err((_, detail)) => format!("{SIGNATURE_FILE} {detail}"),
                Ok(_) => format!("{SIGNATURE_FILE} is not signed by a trusted key"),
            });
        }
        Err((_, detail)) => return Err(format!("{SIGNATURE_FILE} {detail}")),
    };
    let manifest = crate::fsutil::read_capped(&dir.join(MANIFEST_FILE), MAX_MANIFEST_FILE)
        .map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
    if !list
        .iter()
        .any(|e| e.path == MANIFEST_FILE && e.sha256 == Sha256Digest::of(&manifest))
    {
        return Err(format!(
            "{MANIFEST_FILE} does not match its signed SHA-256; nothing of the volume was kept"
        ));
    }
    Ok(())
}

/// Step 3: open the volume as `import` does (with the keys a rotation in its manifest
/// vouches for, as `import` trusts them), and ask the store.
fn check_head(store: &Path, dir: &Path, job_bundle: Option<BundleId>) -> Head {
    let store = match Store::open(store, Access::Read, &|_| {}) {
        Ok(s) => s,
        Err(e) => return Head::Refused(e.to_string()),
    };
    let trusted = match import::trusted_keys(&store, &[])
        .and_then(|t| rotation::extend_trust(&store, &[dir.to_path_buf()], t))
    {
        Ok(t) => t,
        Err(e) => return Head::Refused(e.to_string()),
    };
    let set = crate::bundle::set::open(&[dir.to_path_buf()], &trusted);
    let volumes = set.bundle.as_ref().map(|b| b.manifest.volumes);
    let Some(bundle) = &set.bundle else {
        return Head::Refused(
            ImportError::Refused {
                findings: set.findings,
                missing: Vec::new(),
                volumes,
            }
            .to_string(),
        );
    };
    if !set.findings.is_empty() {
        return Head::Refused(
            ImportError::Refused {
                findings: set.findings,
                missing: Vec::new(),
                volumes,
            }
            .to_string(),
        );
    }
    let Some((&number, _)) = set.volumes.iter().next() else {
        return Head::Refused("the volume could not be opened".into());
    };
    if let Some(b) = job_bundle
        && b != bundle.id
    {
        return Head::Refused(format!(
            "volume {number} belongs to bundle {}, not to bundle {} like the other volumes of this upload: keep media of different bundles apart; nothing was changed",
            bundle.id.short(),
            b.short()
        ));
    }
    match import::admit(&store, bundle, false) {
        Err(e) => Head::Refused(e.to_string()),
        Ok(Admission::AlreadyImported { imported, copy_of }) => Head::Skipped {
            volume: Some(number),
            bundle: Some(bundle.id),
            why: match copy_of {
                None => format!(
                    "bundle {} was already imported ({imported}); nothing to do",
                    bundle.id.short()
                ),
                Some(held) => format!(
                    "bundle {} is another copy of bundle {}, already imported ({imported}); nothing to do",
                    bundle.id.short(),
                    &held[..held.len().min(16)]
                ),
            },
        },
        Ok(Admission::New { staged, .. }) if staged.contains(&number) => Head::Skipped {
            volume: Some(number),
            bundle: Some(bundle.id),
            why: format!(
                "volume {number} of bundle {} is already staged",
                bundle.id.short()
            ),
        },
        Ok(Admission::New { .. }) => Head::Accepted {
            volume: number,
            volumes: bundle.manifest.volumes,
            bundle: bundle.id,
            packs: bundle
                .manifest
                .packs
                .iter()
                .filter(|(_, p)| p.volume == number)
                .map(|(name, p)| (pack_file(name), p.size))
                .collect(),
        },
    }
}

/// Make the volume's directory and write its signature (or find them from an earlier
/// run); the files' state is what is on disk.
fn restore(dir: &Path, sig: &[u8], list: &[Entry]) -> std::io::Result<Vec<FileUpload>> {
    std::fs::create_dir_all(dir.join(PACKS_DIR))?;
    let sig_path = dir.join(SIGNATURE_FILE);
    if std::fs::read(&sig_path).ok().as_deref() != Some(sig) {
        let tmp = dir.join(format!("{SIGNATURE_FILE}.part"));
        std::fs::write(&tmp, sig)?;
        std::fs::rename(&tmp, &sig_path)?;
    }
    let mut out = Vec::new();
    for e in list {
        let done = std::fs::symlink_metadata(dir.join(&e.path))
            .ok()
            .filter(|m| m.is_file());
        let partial = std::fs::symlink_metadata(part(dir, &e.path))
            .ok()
            .filter(|m| m.is_file());
        let (received, complete) = match (done, partial) {
            (Some(m), _) => (m.len(), true),
            (None, Some(m)) => (m.len(), false),
            _ => (0, false),
        };
        out.push(FileUpload {
            path: e.path.clone(),
            sha256: e.sha256,
            size: None,
            declared: None,
            received,
            complete,
            busy: false,
            hasher: if received == 0 {
                Some(Sha256::new())
            } else {
                None
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_volume_files_may_be_listed() {
        for ok in [
            "volume.toml",
            "manifest.toml",
            "README.txt",
            "packs/0001.ferrypack",
        ] {
            assert!(allowed_path(ok), "{ok}");
        }
        for bad in [
            "packs/../x.ferrypack",
            "packs/.ferrypack",
            "../manifest.toml",
            "packs/a/b.ferrypack",
            "packs/0001.tar",
            "SHA256.sig",
            "x",
        ] {
            assert!(!allowed_path(bad), "{bad}");
        }
    }
}
