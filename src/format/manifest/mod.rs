//! The bundle manifest: types, the canonical writer, and the strict reader.
//!
//! The manifest describes the whole bundle and is byte-identical on every volume. Its
//! SHA-256 *is* the bundle id. Readers parse it with any TOML parser; writers emit the
//! canonical form below so that equal bundles have equal bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Deserialize;

use super::constants::{MANIFEST_FORMAT, MAX_VOLUMES, TAR_BLOCK};
use super::id::{BundleId, KeyId, ObjectId, Sha256Digest};
use super::relpath;
use super::toml_out::{key, multiline, string};

/// The manifest of one bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Creation time, RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
    pub created: String,
    /// Key id of the signing key.
    pub signer: KeyId,
    /// Position in the stream of bundles from one signer and organization (1 for the first).
    pub sequence: u64,
    /// The bundle this one builds on, for incremental bundles.
    pub base: Option<BaseRef>,
    /// Number of volumes.
    pub volumes: u32,
    /// Organization the catalog belongs to.
    pub organization: String,
    /// Products, in catalog order.
    pub products: Vec<Product>,
    /// Library repositories, in catalog order.
    pub repositories: Vec<Repository>,
    /// Content-view versions, in catalog order.
    pub content_views: Vec<ContentView>,
    /// Packs by name.
    pub packs: BTreeMap<String, Pack>,
    /// File trees, one per distinct repository snapshot.
    pub trees: Vec<Tree>,
    /// Objects carried by this bundle, by id.
    pub objects: BTreeMap<ObjectId, Object>,
}

/// Reference to the bundle an incremental bundle builds on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseRef {
    /// The base bundle's id (SHA-256 of its manifest).
    pub bundle: BundleId,
    /// The base bundle's sequence number.
    pub sequence: u64,
    /// The base bundle's creation time (to name it to an operator).
    pub created: String,
}

/// A product: a named group of repositories, optionally with the GPG key that signs its packages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Short identifier.
    pub label: String,
    /// Display name.
    pub name: String,
    /// The product's package-signing key.
    pub gpg_key: Option<GpgKey>,
}

/// An ASCII-armored GPG public key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpgKey {
    /// File name it is published under (one normal path component).
    pub name: String,
    /// The armored key.
    pub content: String,
}

/// A Library repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// Label of the product it belongs to.
    pub product: String,
    /// Short identifier, unique within the product.
    pub label: String,
    /// Display name.
    pub name: String,
    /// Architecture, when the catalog gives one.
    pub arch: Option<String>,
    /// Content type; `yum` in this version.
    pub content_type: String,
    /// Name of the tree holding its files.
    pub tree: String,
}

/// One version of a content view.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentView {
    /// Short identifier.
    pub label: String,
    /// Display name.
    pub name: String,
    /// Version string, e.g. `1.0`.
    pub version: String,
    /// The repositories in this version, each with its own snapshot tree.
    pub repositories: Vec<ViewRepository>,
}

/// A repository as seen by a content-view version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewRepository {
    /// `product/repository` of a Library repository.
    pub repository: String,
    /// Name of the tree holding this version's snapshot of it.
    pub tree: String,
}

/// A pack file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// Volume number (1-based) it is on.
    pub volume: u32,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: Sha256Digest,
}

/// A repository snapshot: relative path → object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    /// Unique name, e.g. `library/acme-os/baseos`.
    pub name: String,
    /// Number of packages its primary metadata lists (informative).
    pub packages: u64,
    /// Files by path.
    pub files: BTreeMap<String, ObjectId>,
}

/// How an object's stored bytes encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Stored as is.
    Raw,
    /// One zstd frame.
    Zstd,
}

impl Encoding {
    fn as_str(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Zstd => "zstd",
        }
    }
}

/// An object carried by the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// Size of the object itself (decoded), in bytes.
    pub size: u64,
    /// Encoding of the concatenated pieces.
    pub encoding: Encoding,
    /// Where the stored bytes are, in order.
    pub pieces: Vec<Piece>,
}

impl Object {
    /// Total stored bytes.
    pub fn stored_len(&self) -> u64 {
        self.pieces.iter().map(|p| p.length).sum()
    }
}

/// A run of an object's stored bytes inside a pack (the data of one tar entry).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Piece {
    /// Pack name.
    pub pack: String,
    /// Byte offset of the entry's data in the pack file.
    pub offset: u64,
    /// Number of bytes.
    pub length: u64,
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not UTF-8.
    #[error("manifest is not UTF-8 text")]
    NotText,
    /// The first line names another format or version.
    #[error(
        "manifest format is {found:?}; this ferry reads only {MANIFEST_FORMAT:?} (a newer ferry wrote this bundle, or it is not a ferry bundle)"
    )]
    UnknownFormat {
        /// The first line, shortened.
        found: String,
    },
    /// Not valid TOML, or not the schema.
    #[error("manifest does not parse: {0}")]
    Parse(String),
    /// A field value violates the format.
    #[error("manifest is inconsistent: {0}")]
    Invalid(String),
}

// ---------------------------------------------------------------------------------------
// Reading

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: String,
    created: String,
    signer: KeyId,
    sequence: u64,
    base: Option<BaseRef>,
    volumes: u32,
    organization: String,
    #[serde(default, rename = "product")]
    products: Vec<Product>,
    #[serde(default, rename = "repository")]
    repositories: Vec<Repository>,
    #[serde(default, rename = "content_view")]
    content_views: Vec<ContentView>,
    #[serde(default)]
    packs: BTreeMap<String, Pack>,
    #[serde(default, rename = "tree")]
    trees: Vec<Tree>,
    #[serde(default)]
    objects: BTreeMap<ObjectId, Object>,
}

impl Manifest {
    /// Parse and check a manifest. The first line must be exactly
    /// `format = "ferry-bundle/1"`; everything is then checked by [`Manifest::check`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::NotText)?;
        let first = text.lines().next().unwrap_or("");
        if first != format!("format = {}", string(MANIFEST_FORMAT)) {
            return Err(ManifestError::UnknownFormat {
                found: first.chars().take(100).collect(),
            });
        }
        let raw: Raw = toml::from_str(text).map_err(|e| ManifestError::Parse(e.to_string()))?;
        debug_assert_eq!(raw.format, MANIFEST_FORMAT);
        let m = Manifest {
            created: raw.created,
            signer: raw.signer,
            sequence: raw.sequence,
            base: raw.base,
            volumes: raw.volumes,
            organization: raw.organization,
            products: raw.products,
            repositories: raw.repositories,
            content_views: raw.content_views,
            packs: raw.packs,
            trees: raw.trees,
            objects: raw.objects,
        };
        m.check()?;
        Ok(m)
    }

    /// Every rule of `spec/FORMAT.md` that can be checked on the manifest alone.
    pub fn check(&self) -> Result<(), ManifestError> {
        let bad = |s: String| Err(ManifestError::Invalid(s));
        if !is_rfc3339_utc(&self.created) {
            return bad(format!(
                "created {:?} is not YYYY-MM-DDTHH:MM:SSZ",
                self.created
            ));
        }
        if self.sequence == 0 {
            return bad("sequence must be at least 1".into());
        }
        if let Some(b) = &self.base {
            if b.sequence >= self.sequence {
                return bad(format!(
                    "base sequence {} is not below this bundle's sequence {}",
                    b.sequence, self.sequence
                ));
            }
            if !is_rfc3339_utc(&b.created) {
                return bad(format!(
                    "base created {:?} is not YYYY-MM-DDTHH:MM:SSZ",
                    b.created
                ));
            }
        }
        if self.volumes == 0 || self.volumes > MAX_VOLUMES {
            return bad(format!(
                "volumes = {} is out of range 1..={MAX_VOLUMES}",
                self.volumes
            ));
        }
        check_label(&self.organization, "organization")?;

        let mut products = HashMap::new();
        for p in &self.products {
            check_label(&p.label, "product label")?;
            if products.insert(p.label.as_str(), p).is_some() {
                return bad(format!("product {:?} is listed twice", p.label));
            }
            if let Some(k) = &p.gpg_key
                && (k.name.contains('/') || relpath::check(&k.name).is_err())
            {
                return bad(format!(
                    "product {:?}: GPG key name {:?} is not a plain file name",
                    p.label, k.name
                ));
            }
        }
        let trees: HashMap<&str, &Tree> = self.trees.iter().map(|t| (t.name.as_str(), t)).collect();
        if trees.len() != self.trees.len() {
            return bad("two trees have the same name".into());
        }
        let mut repos = BTreeSet::new();
        for r in &self.repositories {
            check_label(&r.label, "repository label")?;
            if !products.contains_key(r.product.as_str()) {
                return bad(format!(
                    "repository {:?} names undefined product {:?}",
                    r.label, r.product
                ));
            }
            if r.content_type != "yum" {
                return bad(format!(
                    "repository {}/{} has content type {:?}; this version knows only \"yum\"",
                    r.product, r.label, r.content_type
                ));
            }
            if let Some(a) = &r.arch {
                check_label(a, "arch")?;
            }
            if !repos.insert(format!("{}/{}", r.product, r.label)) {
                return bad(format!(
                    "repository {}/{} is listed twice",
                    r.product, r.label
                ));
            }
            if !trees.contains_key(r.tree.as_str()) {
                return bad(format!(
                    "repository {}/{} names undefined tree {:?}",
                    r.product, r.label, r.tree
                ));
            }
        }
        let mut views = BTreeSet::new();
        for v in &self.content_views {
            check_label(&v.label, "content view label")?;
            check_label(&v.version, "content view version")?;
            if !views.insert((v.label.as_str(), v.version.as_str())) {
                return bad(format!(
                    "content view {} version {} is listed twice",
                    v.label, v.version
                ));
            }
            let mut seen = BTreeSet::new();
            for vr in &v.repositories {
                if !repos.contains(&vr.repository) {
                    return bad(format!(
                        "content view {} {} names undefined repository {:?}",
                        v.label, v.version, vr.repository
                    ));
                }
                if !seen.insert(vr.repository.as_str()) {
                    return bad(format!(
                        "content view {} {} lists {} twice",
                        v.label, v.version, vr.repository
                    ));
                }
                if !trees.contains_key(vr.tree.as_str()) {
                    return bad(format!(
                        "content view {} {} names undefined tree {:?}",
                        v.label, v.version, vr.tree
                    ));
                }
            }
        }
        for (name, p) in &self.packs {
            if name.len() < 4 || !name.bytes().all(|b| b.is_ascii_digit()) {
                return bad(format!("pack name {name:?} is not four or more digits"));
            }
            if p.volume == 0 || p.volume > self.volumes {
                return bad(format!(
                    "pack {name} is on volume {}, outside 1..={}",
                    p.volume, self.volumes
                ));
            }
            if p.size < 2 * TAR_BLOCK || p.size % TAR_BLOCK != 0 {
                return bad(format!(
                    "pack {name} size {} is not a whole tar archive",
                    p.size
                ));
            }
        }
        for t in &self.trees {
            relpath::check(&t.name)
                .map_err(|e| ManifestError::Invalid(format!("tree name: {e}")))?;
            for (path, id) in &t.files {
                relpath::check(path)
                    .map_err(|e| ManifestError::Invalid(format!("tree {}: {e}", t.name)))?;
                if self.base.is_none() && !self.objects.contains_key(id) {
                    return bad(format!(
                        "tree {}: {path} refers to object {id} that the bundle does not carry",
                        t.name
                    ));
                }
            }
            check_no_file_is_a_directory(t)?;
        }
        let mut spans: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
        for (id, o) in &self.objects {
            if o.size > 0 && o.pieces.is_empty() {
                return bad(format!("object {id} has no pieces"));
            }
            if o.encoding == Encoding::Raw && o.stored_len() != o.size {
                return bad(format!(
                    "raw object {id}: pieces hold {} bytes, size is {}",
                    o.stored_len(),
                    o.size
                ));
            }
            let order = |p: &Piece| (p.pack.len(), p.pack.clone(), p.offset);
            if o.pieces.windows(2).any(|w| order(&w[0]) >= order(&w[1])) {
                return bad(format!(
                    "object {id}: pieces are not in pack and offset order"
                ));
            }
            for piece in &o.pieces {
                let Some(pack) = self.packs.get(&piece.pack) else {
                    return bad(format!("object {id} names undefined pack {}", piece.pack));
                };
                let end = piece.offset.checked_add(piece.length);
                if piece.length == 0
                    || piece.offset < TAR_BLOCK
                    || piece.offset % TAR_BLOCK != 0
                    || end.is_none_or(|e| e > pack.size - 2 * TAR_BLOCK)
                {
                    return bad(format!(
                        "object {id}: a piece lies outside pack {}",
                        piece.pack
                    ));
                }
                spans
                    .entry(&piece.pack)
                    .or_default()
                    .push((piece.offset, piece.length));
            }
        }
        for (pack, mut v) in spans {
            v.sort_unstable();
            for w in v.windows(2) {
                // Each entry's data is preceded by its own 512-byte header.
                if w[0].0 + w[0].1.div_ceil(TAR_BLOCK) * TAR_BLOCK + TAR_BLOCK > w[1].0 {
                    return bad(format!("pack {pack}: two pieces overlap"));
                }
            }
        }
        Ok(())
    }

    /// Look a tree up by name.
    pub fn tree(&self, name: &str) -> Option<&Tree> {
        self.trees.iter().find(|t| t.name == name)
    }
}

/// No path in a tree may be a proper prefix directory of another one.
fn check_no_file_is_a_directory(t: &Tree) -> Result<(), ManifestError> {
    for path in t.files.keys() {
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let dir = &path[..at + i];
            if t.files.contains_key(dir) {
                return Err(ManifestError::Invalid(format!(
                    "tree {}: {dir:?} is both a file and a directory",
                    t.name
                )));
            }
            at += i + 1;
        }
    }
    Ok(())
}

/// Labels (organization, product, repository, view, version, arch): 1–128 characters from
/// `A-Za-z0-9._-`, not starting with `.` — they become directory names on the import side.
pub fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn check_label(s: &str, what: &str) -> Result<(), ManifestError> {
    if is_label(s) {
        Ok(())
    } else {
        Err(ManifestError::Invalid(format!(
            "{what} {s:?} must be 1-128 characters from A-Z a-z 0-9 . _ - and not start with '.'"
        )))
    }
}

fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Writing

impl Manifest {
    /// The canonical bytes of this manifest.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(4096 + self.objects.len() * 200);
        let w = &mut s;
        let _ = writeln!(w, "format = {}", string(MANIFEST_FORMAT));
        let _ = writeln!(w, "created = {}", string(&self.created));
        let _ = writeln!(w, "signer = {}", string(&self.signer.to_string()));
        let _ = writeln!(w, "sequence = {}", self.sequence);
        if let Some(b) = &self.base {
            let _ = writeln!(
                w,
                "base = {{ bundle = {}, sequence = {}, created = {} }}",
                string(&b.bundle.to_hex()),
                b.sequence,
                string(&b.created)
            );
        }
        let _ = writeln!(w, "volumes = {}", self.volumes);
        let _ = writeln!(w, "organization = {}", string(&self.organization));
        for p in &self.products {
            let _ = writeln!(
                w,
                "\n[[product]]\nlabel = {}\nname = {}",
                string(&p.label),
                string(&p.name)
            );
            if let Some(k) = &p.gpg_key {
                let _ = writeln!(
                    w,
                    "\n[product.gpg_key]\nname = {}\ncontent = {}",
                    string(&k.name),
                    multiline(&k.content)
                );
            }
        }
        for r in &self.repositories {
            let _ = writeln!(
                w,
                "\n[[repository]]\nproduct = {}\nlabel = {}\nname = {}",
                string(&r.product),
                string(&r.label),
                string(&r.name)
            );
            if let Some(a) = &r.arch {
                let _ = writeln!(w, "arch = {}", string(a));
            }
            let _ = writeln!(
                w,
                "content_type = {}\ntree = {}",
                string(&r.content_type),
                string(&r.tree)
            );
        }
        for v in &self.content_views {
            let _ = writeln!(
                w,
                "\n[[content_view]]\nlabel = {}\nname = {}\nversion = {}\nrepositories = [",
                string(&v.label),
                string(&v.name),
                string(&v.version)
            );
            for vr in &v.repositories {
                let _ = writeln!(
                    w,
                    "  {{ repository = {}, tree = {} }},",
                    string(&vr.repository),
                    string(&vr.tree)
                );
            }
            w.push_str("]\n");
        }
        w.push_str("\n[packs]\n");
        for (name, p) in &self.packs {
            let _ = writeln!(
                w,
                "{} = {{ volume = {}, size = {}, sha256 = {} }}",
                key(name),
                p.volume,
                p.size,
                string(&p.sha256.to_hex())
            );
        }
        for t in &self.trees {
            let _ = writeln!(
                w,
                "\n[[tree]]\nname = {}\npackages = {}\n\n[tree.files]",
                string(&t.name),
                t.packages
            );
            for (path, id) in &t.files {
                let _ = writeln!(w, "{} = {}", key(path), string(&id.to_hex()));
            }
        }
        w.push_str("\n[objects]\n");
        for (id, o) in &self.objects {
            let _ = write!(
                w,
                "{} = {{ size = {}, encoding = {}, pieces = [",
                id.to_hex(),
                o.size,
                string(o.encoding.as_str())
            );
            for (i, p) in o.pieces.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(
                    w,
                    "{sep}{{ pack = {}, offset = {}, length = {} }}",
                    string(&p.pack),
                    p.offset,
                    p.length
                );
            }
            w.push_str("] }\n");
        }
        s.into_bytes()
    }

    /// The bundle id: SHA-256 of the canonical bytes.
    pub fn id_of(bytes: &[u8]) -> BundleId {
        Sha256Digest::of(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small manifest exercising every field.
    pub(crate) fn sample() -> Manifest {
        let a = Sha256Digest::of(b"a");
        let b = Sha256Digest::of(b"b");
        let mut files = BTreeMap::new();
        files.insert("repodata/repomd.xml".to_string(), a);
        files.insert(
            "Packages/f/ferry-tilde-1.0~rc1+git5-1.noarch.rpm".to_string(),
            b,
        );
        let mut packs = BTreeMap::new();
        packs.insert(
            "0001".to_string(),
            Pack {
                volume: 1,
                size: 512 * 8,
                sha256: Sha256Digest::of(b"pack"),
            },
        );
        let mut objects = BTreeMap::new();
        objects.insert(
            a,
            Object {
                size: 1,
                encoding: Encoding::Raw,
                pieces: vec![Piece {
                    pack: "0001".into(),
                    offset: 512,
                    length: 1,
                }],
            },
        );
        objects.insert(
            b,
            Object {
                size: 100,
                encoding: Encoding::Zstd,
                pieces: vec![Piece {
                    pack: "0001".into(),
                    offset: 1536,
                    length: 20,
                }],
            },
        );
        Manifest {
            created: "2026-11-27T19:00:00Z".into(),
            signer: KeyId([1, 2, 3, 4, 5, 6, 7, 8]),
            sequence: 1,
            base: None,
            volumes: 1,
            organization: "acme".into(),
            products: vec![Product {
                label: "acme-os".into(),
                name: "ACME \"OS\" 9".into(),
                gpg_key: Some(GpgKey {
                    name: "RPM-GPG-KEY-acme".into(),
                    content: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n".into(),
                }),
            }],
            repositories: vec![Repository {
                product: "acme-os".into(),
                label: "baseos".into(),
                name: "BaseOS".into(),
                arch: Some("x86_64".into()),
                content_type: "yum".into(),
                tree: "library/acme-os/baseos".into(),
            }],
            content_views: vec![ContentView {
                label: "web".into(),
                name: "Web".into(),
                version: "1.0".into(),
                repositories: vec![ViewRepository {
                    repository: "acme-os/baseos".into(),
                    tree: "library/acme-os/baseos".into(),
                }],
            }],
            packs,
            trees: vec![Tree {
                name: "library/acme-os/baseos".into(),
                packages: 1,
                files,
            }],
            objects,
        }
    }

    #[test]
    fn canonical_round_trip() {
        let m = sample();
        let bytes = m.encode();
        let back = Manifest::parse(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn incremental_round_trip_allows_objects_from_the_base() {
        let mut m = sample();
        m.sequence = 2;
        m.base = Some(BaseRef {
            bundle: Sha256Digest::of(b"base"),
            sequence: 1,
            created: "2026-01-01T00:00:00Z".into(),
        });
        m.trees[0]
            .files
            .insert("Packages/old.rpm".into(), Sha256Digest::of(b"in the base"));
        let bytes = m.encode();
        assert_eq!(Manifest::parse(&bytes).unwrap(), m);
        m.base = None;
        assert!(m.check().is_err(), "a full bundle must carry every object");
    }

    #[test]
    fn unknown_version_is_named() {
        let bytes = sample().encode();
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("ferry-bundle/1", "ferry-bundle/2");
        match Manifest::parse(text.as_bytes()) {
            Err(ManifestError::UnknownFormat { found }) => {
                assert!(found.contains("ferry-bundle/2"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_inconsistencies_are_refused() {
        let text = String::from_utf8(sample().encode()).unwrap();
        let extra = text.replacen("sequence = 1\n", "sequence = 1\nsurprise = true\n", 1);
        assert!(matches!(
            Manifest::parse(extra.as_bytes()),
            Err(ManifestError::Parse(_))
        ));

        let mut m = sample();
        m.trees[0]
            .files
            .insert("../etc/passwd".into(), Sha256Digest::of(b"a"));
        assert!(matches!(m.check(), Err(ManifestError::Invalid(_))));

        let mut m = sample();
        m.trees[0]
            .files
            .insert("repodata/repomd.xml/x".into(), Sha256Digest::of(b"a"));
        assert!(matches!(m.check(), Err(ManifestError::Invalid(_))));

        let mut m = sample();
        m.objects.values_mut().next().unwrap().pieces[0].offset = 4096;
        assert!(
            matches!(m.check(), Err(ManifestError::Invalid(_))),
            "piece past the pack end"
        );

        let mut m = sample();
        m.repositories[0].product = "nope".into();
        assert!(matches!(m.check(), Err(ManifestError::Invalid(_))));

        let mut m = sample();
        m.products[0].label = "../x".into();
        assert!(matches!(m.check(), Err(ManifestError::Invalid(_))));
    }
}
