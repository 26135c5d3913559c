//! `ferry pack`: from a catalog of yum repositories to a signed bundle on media-sized volumes.
//!
//! [`plan`] reads the repositories' metadata and lists the files; [`reserve`] decides how
//! much room every medium keeps for the manifest; [`stream`] reads each file once and
//! [`writer`] places it into packs; [`finish`] writes the manifest and signs every volume.

pub mod encoding;
pub mod finish;
pub mod plan;
pub mod reserve;
pub mod stream;
pub mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError};
use crate::format::constants::{DEFAULT_MAX_FILE_SIZE, VOLUME_DIR_PREFIX};
use crate::format::manifest::{
    BaseRef, ContentView, GpgKey, Manifest, Product, Repository, Tree, ViewRepository,
};
use crate::format::signify::SecretKey;
use crate::format::{BundleId, ObjectId};
use crate::progress::Progress;
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
    /// Sequence number in the signer's stream.
    pub sequence: u64,
    /// Base bundle, for incremental bundles.
    pub base: Option<BaseRef>,
}

impl PackOptions {
    /// Defaults: one volume, FAT32's file size limit, sequence 1.
    pub fn new(out: PathBuf, created: String) -> Self {
        Self {
            out,
            media_size: None,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            created,
            sequence: 1,
            base: None,
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
    /// The media are too small for the manifest.
    #[error(
        "--media-size {media} is too small: every volume must also hold the manifest and signature, up to {reserve} bytes for this catalog"
    )]
    MediaTooSmall {
        /// Requested media size.
        media: u64,
        /// Bytes needed for the small files.
        reserve: u64,
    },
    /// A limit is out of range.
    #[error("{0}")]
    BadLimit(String),
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
    /// The other side of the pipeline stopped.
    #[error("packing was interrupted")]
    Cancelled,
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
    if let Some(m) = opts.media_size
        && m < 16 << 10
    {
        return Err(PackError::BadLimit(format!(
            "--media-size {} is too small: media must hold at least 16K",
            crate::size::human(m)
        )));
    }
    if opts.max_file_size < 16 << 10 {
        return Err(PackError::BadLimit(
            "--max-file-size must be at least 16K".into(),
        ));
    }
    prepare_out(&opts.out)?;

    progress.begin("reading repository metadata", None);
    let plan = plan::plan(catalog).map_err(PackError::Source)?;
    progress.end();

    let skeleton = skeleton(catalog, &plan, key, opts, &[]);
    let sizes: Vec<u64> = plan.files.iter().map(|f| f.size).collect();
    let capacity = match opts.media_size {
        None => u64::MAX,
        Some(media) => {
            reserve::room(&skeleton, &sizes, media, opts.max_file_size, key.id)
                .map_err(|t| PackError::MediaTooSmall {
                    media,
                    reserve: t.reserve,
                })?
                .capacity
        }
    };
    let m = min_piece(capacity, opts.max_file_size);
    if capacity < 2 * m || opts.max_file_size < 2 * m {
        return Err(PackError::BadLimit("--media-size is too small".into()));
    }

    let staging = opts
        .out
        .join(format!(".ferry-partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|source| PackError::Io {
        path: staging.clone(),
        source,
    })?;
    let result = write(catalog, key, opts, progress, &plan, capacity, &staging);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn write(
    catalog: &Catalog,
    key: &SecretKey,
    opts: &PackOptions,
    progress: &dyn Progress,
    plan: &Plan,
    capacity: u64,
    staging: &Path,
) -> Result<PackSummary, PackError> {
    let source_bytes: u64 = plan.files.iter().map(|f| f.size).sum();
    let writer = PackWriter::new(
        staging,
        Limits {
            volume_capacity: capacity,
            max_pack: opts.max_file_size,
        },
    );
    progress.begin("packing", Some(source_bytes));
    let (ids, written) = stream::stream(plan, writer, progress)?;
    progress.end();

    let mut manifest = skeleton(catalog, plan, key, opts, &ids);
    manifest.volumes = written.volumes;
    manifest.packs = written
        .packs
        .iter()
        .map(|(n, (p, _))| (n.clone(), p.clone()))
        .collect();
    manifest.objects = written.objects;
    manifest
        .check()
        .map_err(|e| PackError::Internal(format!("the manifest written does not check: {e}")))?;
    let pack_bytes = manifest.packs.values().map(|p| p.size).sum();
    let objects = manifest.objects.len();
    let files = manifest.trees.iter().map(|t| t.files.len()).sum();
    progress.begin("signing volumes", None);
    let volumes = finish::write_volumes(
        staging,
        &opts.out,
        &manifest,
        key,
        opts.media_size,
        opts.max_file_size,
    )?;
    progress.end();
    Ok(PackSummary {
        bundle: Manifest::id_of(&manifest.encode()),
        volumes,
        objects,
        files,
        source_bytes,
        pack_bytes,
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
    key: &SecretKey,
    opts: &PackOptions,
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
        signer: key.id,
        sequence: opts.sequence,
        base: opts.base.clone(),
        volumes: 1,
        organization: catalog.organization.clone(),
        products,
        repositories,
        content_views,
        packs: BTreeMap::new(),
        trees,
        objects: BTreeMap::new(),
    }
}
