//! The bundle manifest: types, the canonical writer, and the strict reader.
//!
//! The manifest describes the whole bundle and is byte-identical on every volume. Its
//! SHA-256 *is* the bundle id. There is exactly one valid encoding of every manifest (the
//! canonical form, `spec/FORMAT.md` §10): a reader accepts a manifest only if its bytes are
//! the canonical encoding of what it parsed from them, so one content has one id, and
//! readers built on different TOML parsers cannot disagree.
//!
//! - [`parse`](Manifest::parse): the strict reader. It reads the canonical line shapes
//!   directly (memory about the size of the manifest, never a generic TOML tree), compares
//!   the input with the canonical encoding of the result, then applies every rule of
//!   [`check`](Manifest::check).
//! - `encode`: the canonical writer.
//! - `check`: the rules that hold for any manifest, read or written.

mod check;
mod encode;
mod logical;
mod parse;

use std::collections::BTreeMap;

pub use check::{is_label, is_utc_time};

use super::id::{BundleId, KeyId, ObjectId, Sha256Digest};
pub use super::rotation::Rotation;

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
    /// What the export side no longer ships (format version 2, §5.8).
    pub retired: Vec<Retired>,
    /// The stream's key rotations, oldest first, the last naming `signer` (format
    /// version 3, §5.9).
    pub rotations: Vec<Rotation>,
    /// Packs by name.
    pub packs: BTreeMap<String, Pack>,
    /// File trees, one per distinct repository snapshot.
    pub trees: Vec<Tree>,
    /// Objects carried by this bundle, by id.
    pub objects: BTreeMap<ObjectId, Object>,
}

/// Reference to the bundle an incremental bundle builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRef {
    /// The base bundle's id (SHA-256 of its manifest).
    pub bundle: BundleId,
    /// The base bundle's sequence number.
    pub sequence: u64,
    /// The base bundle's creation time (to name it to an operator).
    pub created: String,
}

/// A product: a named group of repositories, optionally with the GPG key that signs its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Short identifier.
    pub label: String,
    /// Display name.
    pub name: String,
    /// The product's package-signing key.
    pub gpg_key: Option<GpgKey>,
}

/// An ASCII-armored GPG public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpgKey {
    /// File name it is published under (one normal path component).
    pub name: String,
    /// The armored key.
    pub content: String,
}

/// A Library repository.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewRepository {
    /// `product/repository` of a Library repository.
    pub repository: String,
    /// Name of the tree holding this version's snapshot of it.
    pub tree: String,
}

/// Something the stream shipped before and the catalog no longer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// A Library repository or a content view.
    pub kind: RetiredKind,
    /// `product/repository`, or the view's label.
    pub label: String,
    /// The first sequence of the stream that no longer carried it.
    pub since: u64,
}

/// What a [`Retired`] record retires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RetiredKind {
    /// A Library repository (`product/repository`).
    Repository,
    /// A content view (every version of it).
    ContentView,
}

impl RetiredKind {
    /// Its name in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            RetiredKind::Repository => "repository",
            RetiredKind::ContentView => "content_view",
        }
    }
}

/// A pack file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    /// Volume number (1-based) it is on.
    pub volume: u32,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: Sha256Digest,
}

/// A repository snapshot: relative path → object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// Unique name, e.g. `library/acme-os/baseos`.
    pub name: String,
    /// Number of packages its primary metadata lists (informative).
    pub packages: u64,
    /// Files by path.
    pub files: BTreeMap<String, ObjectId>,
}

/// How an object's stored bytes encode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Stored as is.
    Raw,
    /// One zstd frame.
    Zstd,
}

impl Encoding {
    /// The name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Zstd => "zstd",
        }
    }
}

/// An object carried by the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Size of the object itself (decoded), in bytes.
    pub size: u64,
    /// Encoding of the concatenated pieces.
    pub encoding: Encoding,
    /// Where the stored bytes are, in order.
    pub pieces: Vec<Piece>,
}

impl Object {
    /// Total stored bytes (`None` if the lengths overflow, which a checked manifest rules out).
    pub fn stored_len(&self) -> Option<u64> {
        self.pieces
            .iter()
            .try_fold(0u64, |a, p| a.checked_add(p.length))
    }
}

/// A run of an object's stored bytes inside a pack (the data of one tar entry).
#[derive(Debug, Clone, PartialEq, Eq)]
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
        "manifest format is {found:?}; this ferry reads only {MANIFEST_FORMAT:?}, {MANIFEST_FORMAT_2:?} and {MANIFEST_FORMAT_3:?} (a newer ferry wrote this bundle, or it is not a ferry bundle)",
        MANIFEST_FORMAT = super::constants::MANIFEST_FORMAT,
        MANIFEST_FORMAT_2 = super::constants::MANIFEST_FORMAT_2,
        MANIFEST_FORMAT_3 = super::constants::MANIFEST_FORMAT_3
    )]
    UnknownFormat {
        /// The first line, shortened.
        found: String,
    },
    /// A line that is not what the canonical form has there.
    #[error("manifest line {line}: {what}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What was expected or found.
        what: String,
    },
    /// Parsed, but the bytes are not the canonical encoding of what they say.
    #[error(
        "manifest line {line} is not in canonical form (spec/FORMAT.md §10): the same content has exactly one encoding"
    )]
    NotCanonical {
        /// 1-based line of the first difference.
        line: usize,
    },
    /// A field value violates the format.
    #[error("manifest is inconsistent: {0}")]
    Invalid(String),
}

impl Manifest {
    /// Read a manifest: the first line must be exactly `format = "ferry-bundle/1"`, the
    /// text must be the canonical encoding of what it says, and every rule of
    /// [`Manifest::check`] must hold.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m = parse::parse(bytes)?;
        let mut cmp = super::toml_out::Compare::new(bytes);
        let failed = m.write_to(&mut cmp).is_err();
        if let Some(at) = cmp.first_difference(failed) {
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(ManifestError::NotCanonical { line });
        }
        m.check()?;
        Ok(m)
    }

    /// The canonical bytes of this manifest.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(4096 + self.objects.len() * 200);
        // Writing into a String cannot fail.
        let _ = self.write_to(&mut s);
        s.into_bytes()
    }

    /// The bundle id of manifest bytes: their SHA-256.
    pub fn id_of(bytes: &[u8]) -> BundleId {
        Sha256Digest::of(bytes)
    }

    /// Look a tree up by name.
    pub fn tree(&self, name: &str) -> Option<&Tree> {
        self.trees.iter().find(|t| t.name == name)
    }
}

/// The number of a pack from its name, when the name is canonical: the number in decimal,
/// zero-padded to four digits (`0001`; `12345` once past four digits), at least 1.
pub fn pack_number(name: &str) -> Option<u32> {
    let n: u32 = name.parse().ok()?;
    (n >= 1 && name.bytes().all(|b| b.is_ascii_digit()) && pack_name(n) == name).then_some(n)
}

/// The canonical name of pack number `n`.
pub fn pack_name(n: u32) -> String {
    format!("{n:04}")
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
                size: 3072,
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
            retired: Vec::new(),
            rotations: Vec::new(),
            packs,
            trees: vec![Tree {
                name: "library/acme-os/baseos".into(),
                packages: 1,
                files,
            }],
            objects,
        }
    }

    fn text() -> String {
        String::from_utf8(sample().encode()).unwrap()
    }

    fn refused(text: &str) -> ManifestError {
        Manifest::parse(text.as_bytes()).expect_err(text)
    }

    #[test]
    fn canonical_round_trip() {
        let m = sample();
        let bytes = m.encode();
        let back = Manifest::parse(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.encode(), bytes);
        // Any TOML parser reads the canonical form as the same thing.
        let t: toml::Table = toml::from_str(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(t["sequence"].as_integer(), Some(1));
        assert_eq!(
            t["product"][0]["gpg_key"]["content"].as_str(),
            Some(m.products[0].gpg_key.as_ref().unwrap().content.as_str())
        );
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
        let t = text().replace("ferry-bundle/1", "ferry-bundle/4");
        match refused(&t) {
            ManifestError::UnknownFormat { found } => assert!(found.contains("ferry-bundle/4")),
            other => panic!("{other:?}"),
        }
    }

    fn retiring() -> Manifest {
        let mut m = sample();
        m.sequence = 4;
        m.retired = vec![
            Retired {
                kind: RetiredKind::Repository,
                label: "old/extras".into(),
                since: 2,
            },
            Retired {
                kind: RetiredKind::ContentView,
                label: "legacy-web".into(),
                since: 4,
            },
        ];
        m
    }

    #[test]
    fn retired_records_make_version_2_and_only_they_do() {
        let m = retiring();
        let bytes = m.encode();
        let t = String::from_utf8(bytes.clone()).unwrap();
        assert!(t.starts_with("format = \"ferry-bundle/2\"\n"), "{t}");
        assert!(
            t.contains("\n[[retired]]\nkind = \"repository\"\nlabel = \"old/extras\"\nsince = 2\n\n[[retired]]\nkind = \"content_view\"\nlabel = \"legacy-web\"\nsince = 4\n\n[packs]\n"),
            "{t}"
        );
        assert_eq!(Manifest::parse(&bytes).unwrap(), m);
        // The version line is part of the canonical form, both ways.
        assert!(matches!(
            refused(&t.replacen("ferry-bundle/2", "ferry-bundle/1", 1)),
            ManifestError::NotCanonical { line: 1 }
        ));
        assert!(matches!(
            refused(&text().replacen("ferry-bundle/1", "ferry-bundle/2", 1)),
            ManifestError::NotCanonical { line: 1 }
        ));
        // Without records, version 1 as before.
        assert!(
            String::from_utf8(sample().encode())
                .unwrap()
                .starts_with("format = \"ferry-bundle/1\"\n")
        );
    }

    fn signing_key(seed: u8) -> crate::format::signify::SecretKey {
        crate::format::signify::SecretKey::from_seed([seed; 32], KeyId([seed; 8]))
    }

    /// A bundle of sequence 6 whose stream went from key 1 to key 2 at 5 and to the
    /// signer at 6.
    fn rotating() -> Manifest {
        let mut m = retiring();
        m.sequence = 6;
        let (a, b, c) = (signing_key(1), signing_key(2), signing_key(3));
        m.signer = c.id;
        m.rotations = vec![
            Rotation::sign(&a, &m.organization, &b.public(), 5, "2026-12-01T10:00:00Z"),
            Rotation::sign(&b, &m.organization, &c.public(), 6, "2026-12-02T10:00:00Z"),
        ];
        m
    }

    #[test]
    fn rotation_statements_make_version_3_and_only_they_do() {
        let m = rotating();
        let bytes = m.encode();
        let t = String::from_utf8(bytes.clone()).unwrap();
        assert!(t.starts_with("format = \"ferry-bundle/3\"\n"), "{t}");
        let r = &m.rotations[0];
        let block = format!(
            "\nsince = 4\n\n[[rotation]]\nold = \"0101010101010101\"\nnew = \"{}\"\nsince = 5\ncreated = \"2026-12-01T10:00:00Z\"\nsignature = \"{}\"\n\n[[rotation]]\n",
            r.new.record_base64(),
            r.signature_base64()
        );
        assert!(t.contains(&block), "{t}");
        assert!(t.contains("\n\n[packs]\n"), "{t}");
        assert_eq!(Manifest::parse(&bytes).unwrap(), m);
        for other in ["ferry-bundle/1", "ferry-bundle/2"] {
            assert!(matches!(
                refused(&t.replacen("ferry-bundle/3", other, 1)),
                ManifestError::NotCanonical { line: 1 }
            ));
        }
        assert!(matches!(
            refused(&text().replacen("ferry-bundle/1", "ferry-bundle/3", 1)),
            ManifestError::NotCanonical { line: 1 }
        ));
        // Rotations without retired records: still 3.
        let mut m = rotating();
        m.retired.clear();
        let t = String::from_utf8(m.encode()).unwrap();
        assert!(t.starts_with("format = \"ferry-bundle/3\"\n"));
        assert_eq!(Manifest::parse(t.as_bytes()).unwrap(), m);
        // The statement's first signature is checked by the importer, against the keys it
        // trusts; a manifest check cannot (the old key is not in the manifest).
        let mut m = rotating();
        m.rotations[0].signature[0] ^= 1;
        assert!(m.check().is_ok());
    }

    #[test]
    fn rotation_statements_are_checked() {
        let cases: Vec<Mutation> = vec![
            (
                "since after the bundle",
                Box::new(|m| m.rotations[1].since = 7),
            ),
            ("since zero", Box::new(|m| m.rotations[0].since = 0)),
            ("out of order", Box::new(|m| m.rotations.swap(0, 1))),
            (
                "last is not the signer",
                Box::new(|m| m.signer = KeyId([9; 8])),
            ),
            (
                "a gap in the chain",
                Box::new(|m| {
                    m.rotations.remove(0);
                    let x = signing_key(7);
                    m.rotations.insert(
                        0,
                        Rotation::sign(
                            &x,
                            &m.organization,
                            &signing_key(8).public(),
                            5,
                            "2026-12-01T10:00:00Z",
                        ),
                    );
                }),
            ),
            (
                "a link not signed by the key before it",
                Box::new(|m| m.rotations[1].signature[3] ^= 1),
            ),
            (
                "a link signed for another organization",
                Box::new(|m| {
                    m.rotations[1] = Rotation::sign(
                        &signing_key(2),
                        "other",
                        &signing_key(3).public(),
                        6,
                        "2026-12-02T10:00:00Z",
                    )
                }),
            ),
            (
                "since going back",
                Box::new(|m| {
                    let org = m.organization.clone();
                    m.rotations[0] = Rotation::sign(
                        &signing_key(1),
                        &org,
                        &signing_key(2).public(),
                        6,
                        "2026-12-01T10:00:00Z",
                    );
                    m.rotations[1] = Rotation::sign(
                        &signing_key(2),
                        &org,
                        &signing_key(3).public(),
                        5,
                        "2026-12-02T10:00:00Z",
                    );
                }),
            ),
            (
                "a key twice",
                Box::new(|m| {
                    let org = m.organization.clone();
                    m.rotations.push(Rotation::sign(
                        &signing_key(3),
                        &org,
                        &signing_key(1).public(),
                        6,
                        "2026-12-03T10:00:00Z",
                    ));
                    m.signer = signing_key(1).id;
                }),
            ),
            (
                "a bad time",
                Box::new(|m| m.rotations[0].created = "yesterday".into()),
            ),
        ];
        assert!(rotating().check().is_ok());
        for (what, change) in cases {
            let mut m = rotating();
            change(&mut m);
            assert!(m.check().is_err(), "{what} was accepted");
        }
        // What the reader refuses before the rules: a key that is not canonical base64.
        let t = String::from_utf8(rotating().encode()).unwrap();
        let new = rotating().rotations[0].new.record_base64();
        assert!(Manifest::parse(t.replacen(&new, &new[..new.len() - 4], 1).as_bytes()).is_err());
        let sig = rotating().rotations[0].signature_base64();
        assert!(
            Manifest::parse(t.replacen(&sig, sig.trim_end_matches('='), 1).as_bytes()).is_err()
        );
    }

    /// A named change to a manifest.
    type Mutation = (&'static str, Box<dyn Fn(&mut Manifest)>);

    #[test]
    fn retired_records_are_checked() {
        let cases: Vec<Mutation> = vec![
            (
                "since after the bundle",
                Box::new(|m| m.retired[0].since = 5),
            ),
            ("since zero", Box::new(|m| m.retired[0].since = 0)),
            (
                "not product/repo",
                Box::new(|m| m.retired[0].label = "extras".into()),
            ),
            (
                "bad label",
                Box::new(|m| m.retired[1].label = "a]\n[b".into()),
            ),
            ("out of order", Box::new(|m| m.retired.swap(0, 1))),
            (
                "twice",
                Box::new(|m| {
                    let r = m.retired[0].clone();
                    m.retired.insert(
                        1,
                        Retired {
                            label: "OLD/extras".into(),
                            ..r
                        },
                    );
                    m.retired.sort_by(|a, b| {
                        (a.kind, a.label.as_bytes()).cmp(&(b.kind, b.label.as_bytes()))
                    });
                }),
            ),
            (
                "a repository this bundle carries",
                Box::new(|m| {
                    let r = &m.repositories[0];
                    m.retired[0].label = format!("{}/{}", r.product, r.label.to_uppercase());
                }),
            ),
            (
                "a view this bundle carries",
                Box::new(|m| m.retired[1].label = m.content_views[0].label.clone()),
            ),
        ];
        assert!(retiring().check().is_ok());
        for (what, change) in cases {
            let mut m = retiring();
            change(&mut m);
            assert!(m.check().is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn only_the_canonical_form_is_read() {
        let t = text();
        for (what, variant) in [
            ("CRLF line ends", t.replace('\n', "\r\n")),
            (
                "a trailing space",
                t.replacen("sequence = 1\n", "sequence = 1 \n", 1),
            ),
            ("no final newline", t.trim_end().to_string()),
            (
                "an extra key",
                t.replacen("sequence = 1\n", "sequence = 1\nsurprise = true\n", 1),
            ),
            (
                "a comment",
                t.replacen("sequence = 1\n", "sequence = 1 # one\n", 1),
            ),
            (
                "an escaped letter",
                t.replacen("name = \"BaseOS\"", "name = \"\\u0042aseOS\"", 1),
            ),
            (
                "a literal string",
                t.replacen("name = \"BaseOS\"", "name = 'BaseOS'", 1),
            ),
            (
                "a leading zero",
                t.replacen("volumes = 1", "volumes = 01", 1),
            ),
            ("a plus sign", t.replacen("volumes = 1", "volumes = +1", 1)),
            (
                "a quoted bare key",
                t.replacen("0001 = {", "\"0001\" = {", 1),
            ),
            (
                "a bare-able key quoted",
                t.replacen("\"repodata/repomd.xml\"", "'repodata/repomd.xml'", 1),
            ),
            (
                "spaces in a table",
                t.replacen("{ volume = 1,", "{volume = 1,", 1),
            ),
            (
                "a blank line too many",
                t.replacen("\n[packs]", "\n\n[packs]", 1),
            ),
            ("a byte-order mark", format!("\u{feff}{t}")),
        ] {
            let e = refused(&variant);
            assert!(
                matches!(
                    e,
                    ManifestError::Syntax { .. }
                        | ManifestError::NotCanonical { .. }
                        | ManifestError::UnknownFormat { .. }
                ),
                "{what}: {e:?}"
            );
        }
        // Files out of order and duplicated.
        let lines: Vec<&str> = t.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.starts_with("\"Packages/"))
            .unwrap();
        let mut swapped = lines.clone();
        swapped.swap(i, i + 1);
        assert!(matches!(
            refused(&(swapped.join("\n") + "\n")),
            ManifestError::Syntax { .. }
        ));
        let mut dup = lines.clone();
        dup.insert(i, lines[i]);
        assert!(matches!(
            refused(&(dup.join("\n") + "\n")),
            ManifestError::Syntax { .. }
        ));
    }

    #[test]
    fn integers_stop_at_2_to_the_63rd_minus_1() {
        let t = text();
        let big = t.replacen("sequence = 1\n", "sequence = 9223372036854775808\n", 1);
        assert!(matches!(refused(&big), ManifestError::Syntax { .. }));
        let mut m = sample();
        m.sequence = i64::MAX as u64;
        Manifest::parse(&m.encode()).unwrap();
        m.sequence = i64::MAX as u64 + 1;
        assert!(m.check().is_err());
    }

    fn invalid(m: &Manifest) -> String {
        match m.check() {
            Err(ManifestError::Invalid(s)) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_values_are_refused() {
        let a = Sha256Digest::of(b"a");
        for path in [
            "../etc/passwd",
            "/etc/passwd",
            "a//b",
            "a\\b",
            "a\u{0}b",
            "a\nb",
            "repodata/repomd.xml/x",
            "REPODATA/repomd.xml",
        ] {
            let mut m = sample();
            m.trees[0].files.insert(path.into(), a);
            invalid(&m);
        }
        let mut m = sample();
        m.trees[0].files.insert("x".repeat(1025), a);
        invalid(&m);
        let mut m = sample();
        m.trees[0].files.insert(format!("{}/x", "d".repeat(256)), a);
        invalid(&m);

        let mut m = sample();
        m.objects.values_mut().next().unwrap().pieces[0].offset = 4096;
        invalid(&m);
        let mut m = sample();
        m.repositories[0].product = "nope".into();
        invalid(&m);
        for label in ["../x", "a/b", ".hidden", "", &"x".repeat(129)] {
            let mut m = sample();
            m.products[0].label = label.to_string();
            invalid(&m);
        }
        let mut m = sample();
        m.products[0].gpg_key.as_mut().unwrap().name = "../../etc/cron.d/x".into();
        invalid(&m);
        let mut m = sample();
        m.products[0].name = "Line\n[evil]".into();
        invalid(&m);
        let mut m = sample();
        m.products[0].gpg_key.as_mut().unwrap().content.push('\r');
        invalid(&m);
        let mut m = sample();
        m.products.push(m.products[0].clone());
        m.products[1].label = "ACME-OS".into();
        m.products[1].gpg_key = None;
        invalid(&m);
        let mut m = sample();
        m.volumes = 10_000;
        invalid(&m);
        let mut m = sample();
        m.created = "2026-02-30T00:00:00Z".into();
        invalid(&m);
    }

    #[test]
    fn objects_and_packs_follow_the_layout() {
        // The empty object needs no pieces; any other object does.
        let mut m = sample();
        m.objects.insert(
            Sha256Digest::of(b""),
            Object {
                size: 0,
                encoding: Encoding::Raw,
                pieces: vec![],
            },
        );
        m.check().unwrap();
        let mut m = sample();
        m.objects.insert(
            Sha256Digest::of(b"x"),
            Object {
                size: 0,
                encoding: Encoding::Raw,
                pieces: vec![],
            },
        );
        assert!(invalid(&m).contains("no pieces"));
        // Sizes that overflow when added.
        let mut m = sample();
        for o in m.objects.values_mut() {
            o.encoding = Encoding::Zstd;
            o.size = i64::MAX as u64;
        }
        assert!(invalid(&m).contains("add up"));
        // A gap between entries, a wrong pack size, a pack name that is not canonical.
        let mut m = sample();
        m.packs.get_mut("0001").unwrap().size = 4096;
        assert!(invalid(&m).contains("trailer"));
        let mut m = sample();
        let b = m.objects.values_mut().nth(1).unwrap();
        b.pieces[0].offset = 2048;
        m.packs.get_mut("0001").unwrap().size = 3584;
        assert!(invalid(&m).contains("does not follow"));
        let mut m = sample();
        let p = m.packs.remove("0001").unwrap();
        m.packs.insert("1".into(), p);
        for o in m.objects.values_mut() {
            o.pieces[0].pack = "1".into();
        }
        assert!(invalid(&m).contains("pack name"));
    }

    #[test]
    fn objects_do_not_interleave() {
        // a: pieces in packs 1 and 2; b: one piece in pack 1 between them would be fine
        // only if b came after a's last piece.
        let a = Sha256Digest::of(b"a");
        let b = Sha256Digest::of(b"b");
        let mut m = sample();
        m.packs.insert(
            "0002".into(),
            Pack {
                volume: 1,
                size: 2048,
                sha256: Sha256Digest::of(b"p2"),
            },
        );
        let oa = m.objects.get_mut(&a).unwrap();
        oa.size = 2;
        oa.pieces.push(Piece {
            pack: "0002".into(),
            offset: 512,
            length: 1,
        });
        // Pack 1: a.0 at 512, b.0 at 1536; pack 2: a.1 at 512 — b sits inside a.
        assert!(invalid(&m).contains("interleaved"), "{:?}", m.check());
        // Moving b after a (b into pack 2, a's first piece last in pack 1) is fine.
        let mut m2 = sample();
        m2.packs.insert(
            "0002".into(),
            Pack {
                volume: 1,
                size: 2048,
                sha256: Sha256Digest::of(b"p2"),
            },
        );
        let ob = m2.objects.get_mut(&b).unwrap();
        ob.pieces = vec![
            Piece {
                pack: "0001".into(),
                offset: 1536,
                length: 10,
            },
            Piece {
                pack: "0002".into(),
                offset: 512,
                length: 10,
            },
        ];
        m2.check().unwrap();
    }
}
