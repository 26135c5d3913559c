//! `ferry pack`: from a catalog of yum repositories to a signed bundle on media-sized volumes.
//!
//! [`plan`] reads the repositories' metadata and lists the files; [`reserve`] decides how
//! much room every medium keeps for the manifest; [`stream`] reads each file once and
//! [`writer`] places it into packs; [`finish`] writes the manifest and signs every volume.

pub mod again;
pub mod continuity;
pub mod dry;
pub mod encoding;
pub mod finish;
pub mod plan;
pub mod reserve;
pub mod rotation;
pub mod state;
pub mod stream;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError};
use crate::format::constants::{DEFAULT_MAX_FILE_SIZE, VOLUME_DIR_PREFIX};
use crate::format::manifest::{
    BaseRef, ContentView, GpgKey, Manifest, Product, Repository, Tree, ViewRepository,
};
use crate::format::signify::{PublicKey, SecretKey};
use crate::format::{BundleId, KeyId, ObjectId};
use crate::progress::Progress;
pub use again::again;
pub use dry::{DryRun, plan_only};
use plan::{Plan, SourceProblem};
use writer::{Limits, PackWriter, min_piece};

/// Everything `pack` needs.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Output directory (created if missing; must not already hold volumes).
    pub out: PathBuf,
    /// Largest total of one volume's files; `None` for a single volume.
    pub media_size: Option<u64>,
    /// Largest single file.
    pub max_file_size: u64,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// The export state directory: bundles made, sequence numbers, the file cache.
    pub state: PathBuf,
    /// Make an incremental bundle on this base.
    pub since: Option<Since>,
    /// Where URL sources are fetched to; default `STATE/cache`.
    pub cache: Option<PathBuf>,
    /// Files fetched at once from URL sources.
    pub jobs: usize,
}

/// The base of an incremental bundle.
#[derive(Debug, Clone)]
pub enum Since {
    /// The newest bundle the state directory records for the catalog's organization.
    Newest,
    /// A bundle given by its manifest file or one of its volume directories.
    Bundle(PathBuf),
}

impl PackOptions {
    /// Defaults: a full bundle, one volume, FAT32's file size limit.
    pub fn new(out: PathBuf, created: String, state: PathBuf) -> Self {
        Self {
            out,
            media_size: None,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            created,
            state,
            since: None,
            cache: None,
            jobs: crate::fetch::DEFAULT_JOBS,
        }
    }

    /// Media of `size` bytes (`None`: one volume). No file is larger than its medium, so
    /// the largest file shrinks to the media size when that is smaller.
    pub fn set_media_size(&mut self, size: Option<u64>) {
        self.media_size = size;
        if let Some(m) = size
            && m < self.max_file_size
        {
            self.max_file_size = m;
        }
    }
}

/// What was packed.
#[derive(Debug, Clone)]
pub struct PackSummary {
    /// The bundle id.
    pub bundle: BundleId,
    /// Volume directories written, in order.
    pub volumes: Vec<PathBuf>,
    /// Distinct objects carried.
    pub objects: usize,
    /// Files in all trees (counting shared ones once per tree).
    pub files: usize,
    /// Bytes of source files read.
    pub source_bytes: u64,
    /// Bytes of packs written.
    pub pack_bytes: u64,
    /// Sequence number given to the bundle.
    pub sequence: u64,
    /// Its base, for an incremental bundle.
    pub base: Option<BundleId>,
    /// Source files read and hashed (the others were known: metadata declared or the
    /// file cache recalled their SHA-256, and the base or the bundle already held them).
    pub files_read: usize,
    /// Bytes of those files.
    pub bytes_read: u64,
}

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The catalog is wrong.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Source repositories are incomplete or inconsistent.
    #[error("the source repositories have {} problem{}; nothing was written:\n{}",
        .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Source(Vec<SourceProblem>),
    /// URL sources could not be fetched.
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    /// A source file's content does not match its metadata.
    #[error("{file}: {kind} of {} is {actual}, the repository metadata says {expected}: the source repository is corrupt; nothing was written", path.display())]
    SourceMismatch {
        /// Tree and relative path.
        file: String,
        /// The file on disk.
        path: PathBuf,
        /// Checksum kind.
        kind: &'static str,
        /// From the metadata.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// A source file changed size while it was read.
    #[error("{file}: {} changed while it was being read; nothing was written", path.display())]
    SourceChanged {
        /// Tree and relative path.
        file: String,
        /// The file on disk.
        path: PathBuf,
    },
    /// The media are too small for this catalog.
    #[error(
        "media of {} ({media} bytes) are too small for this catalog: every volume holds the manifest and signature (up to {}) besides its packs; {} works",
        crate::size::human(*media), crate::size::human(*reserve), crate::size::suggest(*smallest)
    )]
    MediaTooSmall {
        /// Requested media size.
        media: u64,
        /// Bytes needed for the small files on every volume at that size.
        reserve: u64,
        /// A larger media size that works (in bytes): the next one up, in steps of 1%.
        smallest: u64,
    },
    /// A limit is out of range.
    #[error("{0}")]
    BadLimit(String),
    /// An incremental bundle with nothing to build on.
    #[error(
        "the export state {} records no bundle for organization {organization}: an incremental bundle has nothing to build on",
        state.display()
    )]
    NoBase {
        /// The export state directory.
        state: PathBuf,
        /// The catalog's organization.
        organization: String,
    },
    /// The output directory already holds volumes.
    #[error("{} already holds a bundle ({}); choose an empty directory", .0.display(), .1)]
    OutputExists(PathBuf, String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Writing the bundle failed.
    #[error("writing the bundle failed: {0}")]
    Output(std::io::Error),
    /// The export state.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The base for an incremental bundle cannot be used.
    #[error("{0}")]
    Base(String),
    /// The other side of the pipeline stopped.
    #[error("packing was interrupted")]
    Cancelled,
    /// A content-view version the stream shipped before, with other content now.
    #[error(
        "content view {} version {} was shipped with other content (in the bundle of sequence {}): repository {} differs. A version never changes once shipped; give the new content a new version in the catalog. Nothing was written",
        .0.view, .0.version, .0.shipped_in, .0.repository
    )]
    VersionChanged(continuity::Changed),
    /// A dry run needs every source to be local: planning a URL source means fetching it.
    #[error(
        "repository {repository} is fetched from {url}: a dry run reads only local sources and fetches nothing; pack it for real, or describe a local copy in the catalog"
    )]
    NotLocal {
        /// `product/repository` or `view/version: product/repository`.
        repository: String,
        /// Its URL.
        url: String,
    },
    /// `--again`: the export state has no manifest for the bundle of that sequence.
    #[error(
        "the export state {} records bundle {} (sequence {sequence}) but not its manifest, so it cannot be written again; make a new bundle instead",
        state.display(), bundle.short()
    )]
    ManifestMissing {
        /// The state directory.
        state: PathBuf,
        /// The bundle.
        bundle: BundleId,
        /// Its sequence.
        sequence: u64,
    },
    /// `--again` with another key than the one that signed the bundle.
    #[error(
        "bundle {} (sequence {sequence}) was signed by key {signer}, not by this key {key}: write it again with the key that made it",
        bundle.short()
    )]
    WrongSigner {
        /// The bundle.
        bundle: BundleId,
        /// Its sequence.
        sequence: u64,
        /// The key that signed it.
        signer: KeyId,
        /// The key given.
        key: KeyId,
    },
    /// `--again`: a source file no longer holds the object the bundle carries.
    #[error(
        "{}: {} changed since bundle {} (sequence {}) was made: its SHA-256 is now {}, the bundle carries {}. The bundle cannot be written again from these sources: restore the file, or make a new bundle instead; nothing was written",
        .0.file, .0.path.display(), .0.bundle.short(), .0.sequence, .0.actual, .0.expected
    )]
    Changed(Box<again::Changed>),
    /// The key was rotated away from this state, or its rotations cannot be read.
    #[error(transparent)]
    Rotation(#[from] rotation::RotationError),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PackError {
    fn output(e: std::io::Error) -> Self {
        PackError::Output(e)
    }
}

/// Pack the catalog into a bundle.
pub fn pack(
    catalog: &Catalog,
    key: &SecretKey,
    opts: &PackOptions,
    progress: &dyn Progress,
) -> Result<PackSummary, PackError> {
    check_limits(opts)?;
    prepare_out(&opts.out)?;
    let state = state::ExportState::open(&opts.state)?;
    let (ctx, known) = context(
        &state,
        catalog,
        &key.public(),
        opts.since.as_ref(),
        progress,
    )?;

    // URL sources: their metadata is fetched into the cache now; their packages while the
    // pack runs, which reads each from the cache once it has arrived.
    if !crate::fetch::has_urls(catalog) {
        return planned(catalog, key, opts, progress, &state, &ctx, &known, None);
    }
    let mut fo = crate::fetch::FetchOptions::new(
        opts.cache
            .clone()
            .unwrap_or_else(|| opts.state.join("cache")),
    );
    fo.jobs = opts.jobs;
    let (fetched, packages) = crate::fetch::prepare(catalog, &fo, progress)?;
    let result = std::thread::scope(|s| {
        // The pack's own progress shows the fetch: it waits for each package it reads.
        s.spawn(|| {
            crate::fetch::mirror::Fetcher::new(&fo, &crate::progress::Silent).packages(&packages)
        });
        let r = planned(
            &fetched,
            key,
            opts,
            progress,
            &state,
            &ctx,
            &known,
            Some(packages.arrivals.clone()),
        );
        if r.is_err() {
            packages.arrivals.cancel();
        }
        r
    });
    if result.is_ok() {
        let c = packages.counts();
        progress.note(&format!(
            "fetched {} files ({}); {} more were in the cache already",
            c.fetched,
            crate::size::human(c.bytes),
            c.cached
        ));
    }
    result
}

/// The media and file size limits must leave room for a useful piece.
fn check_limits(opts: &PackOptions) -> Result<(), PackError> {
    if let Some(m) = opts.media_size
        && m < 16 << 10
    {
        return Err(PackError::BadLimit(format!(
            "media of {} are too small: they must hold at least 16K",
            crate::size::human(m)
        )));
    }
    if opts.max_file_size < 16 << 10 {
        return Err(PackError::BadLimit(
            "the largest file size must be at least 16K".into(),
        ));
    }
    Ok(())
}

/// The sequence, base and retired records of the next bundle for `catalog`, and the
/// objects the receiving side holds with its base.
fn context(
    state: &state::ExportState,
    catalog: &Catalog,
    key: &PublicKey,
    since: Option<&Since>,
    progress: &dyn Progress,
) -> Result<(Ctx, HashSet<ObjectId>), PackError> {
    // What the stream owes to the keys before this one (ferry keygen --rotate-from).
    let chain = rotation::carried(state.dir(), &catalog.organization, key.id)?;
    let made = state.bundles(&catalog.organization)?;
    // The stream's newest bundle: the base of `--incremental`, and what it shipped is
    // retired if the catalog dropped it (read once: for a big repository it is megabytes).
    let newest = made.iter().max_by_key(|b| b.sequence);
    let previous = match newest {
        Some(b) => state.manifest(&b.id)?,
        None => None,
    };
    let (base, known) = resolve_base(state, catalog, key, since, &chain, newest, &previous)?;
    let last = made.iter().map(|b| b.sequence).max().unwrap_or(0);
    let sequence = match &base {
        Some(b) => {
            if last > b.sequence {
                progress.note(&format!(
                    "note: this state already made sequence {last} for {}; a bundle on the older base {} gets sequence {} and a site that imported {last} will refuse it as stale",
                    catalog.organization,
                    b.bundle.short(),
                    b.sequence + 1
                ));
            }
            b.sequence + 1
        }
        None => last + 1,
    };
    let ctx = Ctx {
        sequence,
        retired: continuity::retired(previous.as_ref(), catalog, sequence),
        rotations: chain.for_sequence(sequence),
        base,
    };
    Ok((ctx, known))
}

/// The bytes of packs one volume may hold: the medium less the room kept on every volume
/// for the manifest and the small files (`skeleton`: the manifest without packs and
/// objects; `sizes`: every file that may be carried).
fn capacity(
    skeleton: &Manifest,
    sizes: &[u64],
    opts: &PackOptions,
    signer: KeyId,
) -> Result<u64, PackError> {
    // The room for packs on media of `m` bytes, if they can hold a volume at all. Media
    // smaller than the largest file size also bound it (`PackOptions::set_media_size`).
    let given = opts.media_size.unwrap_or(u64::MAX);
    let room = |m: u64| -> Result<u64, u64> {
        let max_file = if opts.max_file_size >= given {
            m.min(opts.max_file_size.max(DEFAULT_MAX_FILE_SIZE))
        } else {
            opts.max_file_size
        };
        let r = reserve::room(skeleton, sizes, m, max_file, signer).map_err(|t| t.reserve)?;
        let p = min_piece(r.capacity, max_file);
        if r.capacity < 2 * p || max_file < 2 * p {
            return Err(r.reserve);
        }
        Ok(r.capacity)
    };
    let Some(media) = opts.media_size else {
        let m = min_piece(u64::MAX, opts.max_file_size);
        if opts.max_file_size < 2 * m {
            return Err(PackError::BadLimit(format!(
                "the largest file size is too small: at least {} bytes",
                2 * m
            )));
        }
        return Ok(u64::MAX);
    };
    match room(media) {
        Ok(capacity) => Ok(capacity),
        Err(reserve) => {
            // The next size up that works, for the message. The room does not always grow
            // with the media (more volumes mean a longer manifest on each), so sizes are
            // tried upwards in steps of 1%, and the size suggested (rounded up for people)
            // is itself checked.
            let mut hi = media.max(1 << 14);
            loop {
                while room(hi).is_err() && hi < 1 << 62 {
                    hi += (hi / 100).max(1 << 10);
                }
                let said = crate::size::parse(&crate::size::suggest(hi)).unwrap_or(hi);
                if room(said).is_ok() || hi >= 1 << 62 {
                    break;
                }
                hi = said;
            }
            Err(PackError::MediaTooSmall {
                media,
                reserve,
                smallest: hi,
            })
        }
    }
}

/// Plan and write a catalog whose sources are all directories (`arrivals`: files that are
/// still on their way into the cache).
#[allow(clippy::too_many_arguments)]
fn planned(
    catalog: &Catalog,
    key: &SecretKey,
    opts: &PackOptions,
    progress: &dyn Progress,
    state: &state::ExportState,
    ctx: &Ctx,
    known: &HashSet<ObjectId>,
    arrivals: Option<std::sync::Arc<crate::fetch::mirror::Arrivals>>,
) -> Result<PackSummary, PackError> {
    progress.begin("reading repository metadata", None);
    let mut plan = plan::plan(catalog, arrivals, known).map_err(PackError::Source)?;
    plan::apply_cache(&mut plan, state)?;
    progress.end();
    for w in &plan.warnings {
        progress.note(w);
    }

    let skeleton = skeleton(catalog, &plan, key.id, opts, ctx, &[]);
    let sizes: Vec<u64> = plan.files.iter().map(|f| f.size).collect();
    let capacity = capacity(&skeleton, &sizes, opts, key.id)?;

    in_staging(&opts.out, |staging| {
        write(
            catalog, key, opts, progress, &plan, known, ctx, capacity, staging, state,
        )
    })
}

/// Run `write` with a fresh staging directory under `out` (volumes are written there, then
/// moved into `out` when complete); the directory is removed afterwards, whatever happened.
fn in_staging<T>(
    out: &Path,
    write: impl FnOnce(&Path) -> Result<T, PackError>,
) -> Result<T, PackError> {
    let staging = out.join(format!("{STAGING_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|source| PackError::Io {
        path: staging.clone(),
        source,
    })?;
    let result = write(&staging);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Numbers of the bundle being made, and what it owes to the stream's earlier bundles.
struct Ctx {
    sequence: u64,
    base: Option<BaseRef>,
    retired: Vec<crate::format::manifest::Retired>,
    rotations: Vec<crate::format::manifest::Rotation>,
}

/// The base of an incremental bundle, and the objects the receiving side holds with it
/// (`newest`: the stream's newest bundle in the export state, and its manifest).
fn resolve_base(
    state: &state::ExportState,
    catalog: &Catalog,
    key: &PublicKey,
    since: Option<&Since>,
    chain: &rotation::Continuity,
    newest: Option<&state::MadeBundle>,
    newest_manifest: &Option<Manifest>,
) -> Result<(Option<BaseRef>, HashSet<ObjectId>), PackError> {
    let loaded;
    let (manifest, id) = match since {
        None => return Ok((None, HashSet::new())),
        Some(Since::Newest) => {
            let newest = newest.ok_or_else(|| PackError::NoBase {
                state: state.dir().to_path_buf(),
                organization: catalog.organization.clone(),
            })?;
            let m = newest_manifest.as_ref().ok_or_else(|| {
                PackError::Base(format!(
                    "the manifest of the newest bundle {} is missing from the export state {}",
                    newest.id.short(),
                    state.dir().display()
                ))
            })?;
            (m, newest.id)
        }
        Some(Since::Bundle(p)) => {
            loaded = load_previous(p, key, &chain.keys)?;
            (&loaded, Manifest::id_of(&loaded.encode()))
        }
    };
    if manifest.organization != catalog.organization {
        return Err(PackError::Base(format!(
            "the base bundle is for organization {}, the catalog for {}",
            manifest.organization, catalog.organization
        )));
    }
    if !chain.same_stream(manifest.signer, key.id) {
        return Err(PackError::Base(format!(
            "the base bundle was signed by key {}, not by this key {}: a stream has one signer",
            manifest.signer, key.id
        )));
    }
    let known = state.known_objects(&id, manifest)?;
    Ok((
        Some(BaseRef {
            bundle: id,
            sequence: manifest.sequence,
            created: manifest.created.clone(),
        }),
        known,
    ))
}

/// `--since PREV`: a manifest file, or a volume directory whose signature is checked
/// with the signing key's public half.
fn load_previous(p: &Path, key: &PublicKey, earlier: &[PublicKey]) -> Result<Manifest, PackError> {
    let bytes = if p.is_dir() {
        let fail = |f: crate::bundle::Finding| PackError::Base(format!("the base bundle: {f}"));
        let mut keys = vec![key.clone()];
        keys.extend_from_slice(earlier);
        let (v, _) = crate::bundle::volume::open(p, &keys).map_err(fail)?;
        v.read_manifest().map_err(fail)?
    } else {
        std::fs::read(p).map_err(|source| PackError::Io {
            path: p.to_path_buf(),
            source,
        })?
    };
    Manifest::parse(&bytes)
        .map_err(|e| PackError::Base(format!("the base bundle {}: {e}", p.display())))
}

#[allow(clippy::too_many_arguments)]
fn write(
    catalog: &Catalog,
    key: &SecretKey,
    opts: &PackOptions,
    progress: &dyn Progress,
    plan: &Plan,
    known: &HashSet<ObjectId>,
    ctx: &Ctx,
    capacity: u64,
    staging: &Path,
    state: &state::ExportState,
) -> Result<PackSummary, PackError> {
    let source_bytes: u64 = plan.files.iter().map(|f| f.size).sum();
    let writer = PackWriter::new(
        staging,
        Limits {
            volume_capacity: capacity,
            max_pack: opts.max_file_size,
        },
    );
    // With URL sources, this one bar is the fetch too: the pack waits for each package.
    let fetching = plan.files.iter().filter(|f| f.pending).count();
    let phase = if fetching > 0 {
        format!("fetching {fetching} and packing {} files", plan.files.len())
    } else {
        "packing".to_string()
    };
    progress.begin(&phase, Some(source_bytes));
    let (log, written) = stream::stream(plan, known, writer, progress)?;
    progress.end();

    let mut manifest = skeleton(catalog, plan, key.id, opts, ctx, &log.ids);
    manifest.volumes = written.volumes;
    manifest.packs = written
        .packs
        .iter()
        .map(|(n, (p, _))| (n.clone(), p.clone()))
        .collect();
    manifest.objects = written.objects;
    if let Some(c) = continuity::changed_version(state, &manifest)? {
        return Err(PackError::VersionChanged(c));
    }
    let pack_bytes = manifest.packs.values().map(|p| p.size).sum();
    let objects = manifest.objects.len();
    let files = manifest.trees.iter().map(|t| t.files.len()).sum();
    let (manifest_bytes, volumes) = finish::seal(staging, &manifest, key, opts, progress)?;
    // Remember the bundle (the base of the next one) and what was learnt about the files.
    let read: Vec<_> = log
        .read
        .iter()
        .map(|&i| {
            let f = &plan.files[i];
            (
                f.key.clone(),
                f.stamp.clone(),
                log.ids[i],
                f.declared.clone(),
            )
        })
        .collect();
    let bytes_read = log.read.iter().map(|&i| plan.files[i].size).sum::<u64>()
        + plan
            .files
            .iter()
            .filter(|f| f.preloaded.is_some())
            .map(|f| f.size)
            .sum::<u64>();
    let bundle = state.record(&manifest, &manifest_bytes, &read)?;
    state.remember_known(&bundle, &manifest, known)?;
    Ok(PackSummary {
        bundle,
        volumes,
        objects,
        files,
        source_bytes,
        pack_bytes,
        sequence: ctx.sequence,
        base: ctx.base.as_ref().map(|b| b.bundle),
        files_read: log.read.len() + plan.files.iter().filter(|f| f.preloaded.is_some()).count(),
        bytes_read,
    })
}

/// Staging directories are named this plus the packing process's id.
const STAGING_PREFIX: &str = ".ferry-partial-";

/// The output directory must be empty of volumes; create it if missing, and remove the
/// staging directories of earlier runs that were killed.
fn prepare_out(out: &Path) -> Result<(), PackError> {
    std::fs::create_dir_all(out).map_err(|source| PackError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let entries = std::fs::read_dir(out).map_err(|source| PackError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(VOLUME_DIR_PREFIX) {
            return Err(PackError::OutputExists(out.to_path_buf(), name));
        }
        if let Some(pid) = name.strip_prefix(STAGING_PREFIX)
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

/// The manifest's catalog and trees; `ids` maps plan files to objects (placeholders when empty).
fn skeleton(
    catalog: &Catalog,
    plan: &Plan,
    signer: KeyId,
    opts: &PackOptions,
    ctx: &Ctx,
    ids: &[ObjectId],
) -> Manifest {
    let placeholder = crate::format::Sha256Digest([0; 32]);
    let products = catalog
        .products
        .iter()
        .map(|p| Product {
            label: p.label.clone(),
            name: p.name.clone(),
            gpg_key: plan.gpg_keys.get(&p.label).map(|(name, content)| GpgKey {
                name: name.clone(),
                content: content.clone(),
            }),
        })
        .collect();
    let repositories = catalog
        .products
        .iter()
        .flat_map(|p| {
            p.repositories.iter().map(|r| Repository {
                product: p.label.clone(),
                label: r.label.clone(),
                name: r.name.clone(),
                arch: r.arch.clone(),
                content_type: "yum".into(),
                tree: plan.library_tree[&format!("{}/{}", p.label, r.label)].clone(),
            })
        })
        .collect();
    let content_views = catalog
        .content_views
        .iter()
        .map(|v| ContentView {
            label: v.label.clone(),
            name: v.name.clone(),
            version: v.version.clone(),
            repositories: v
                .repositories
                .iter()
                .map(|(key, _)| ViewRepository {
                    repository: key.clone(),
                    tree: plan.view_tree[&(v.label.clone(), v.version.clone(), key.clone())]
                        .clone(),
                })
                .collect(),
        })
        .collect();
    let trees = plan
        .trees
        .iter()
        .map(|t| Tree {
            name: t.name.clone(),
            packages: t.packages,
            files: t
                .files
                .iter()
                .map(|(path, i)| (path.clone(), ids.get(*i).copied().unwrap_or(placeholder)))
                .collect(),
        })
        .collect();
    Manifest {
        created: opts.created.clone(),
        signer,
        sequence: ctx.sequence,
        base: ctx.base.clone(),
        volumes: 1,
        organization: catalog.organization.clone(),
        products,
        repositories,
        content_views,
        retired: ctx.retired.clone(),
        rotations: ctx.rotations.clone(),
        packs: BTreeMap::new(),
        trees,
        objects: BTreeMap::new(),
    }
}
