//! Tests against real metadata: the dnf test-suite fixture and createrepo_c-made vectors
//! (see testdata/yum-vectors/make-vectors.sh), plus path validation.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::checksum::{Checksum, ChecksumKind, Hasher};
use super::decompress::decompressed;
use super::primary::{Package, parse_primary};
use super::repomd::{Repomd, RepomdRecord, parse_repomd};
use super::{YumError, validate_relative_path};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hash(kind: ChecksumKind, data: &[u8]) -> Checksum {
    let mut h = Hasher::new(kind);
    h.update(data);
    h.finish()
}

fn unpack(data: &[u8]) -> Result<Vec<u8>, YumError> {
    let mut out = Vec::new();
    decompressed(data)?
        .read_to_end(&mut out)
        .map_err(|source| YumError::Io {
            context: "test".into(),
            source,
        })?;
    Ok(out)
}

/// Checks a repomd record against the file it points to: size, checksum, and after
/// decompression open-size and open-checksum. Returns the decompressed content.
fn verify_record(repo: &Path, rec: &RepomdRecord) -> Vec<u8> {
    let raw = read(&repo.join(&rec.location));
    assert_eq!(rec.size, Some(raw.len() as u64), "{}", rec.location);
    assert_eq!(
        hash(rec.checksum.kind, &raw),
        rec.checksum,
        "{}",
        rec.location
    );
    let open = unpack(&raw).unwrap();
    assert_eq!(rec.open_size, Some(open.len() as u64), "{}", rec.location);
    let oc = rec.open_checksum.as_ref().expect("open-checksum");
    assert_eq!(&hash(oc.kind, &open), oc, "{}", rec.location);
    open
}

/// Every package's checksum and size equal those of the rpm file at its location.
fn verify_packages(pkg_root: &Path, pkgs: &[Package], kind: ChecksumKind) {
    for p in pkgs {
        assert_eq!(p.checksum.kind, kind, "{}", p.name);
        let rpm = read(&pkg_root.join(&p.location));
        assert_eq!(hash(kind, &rpm), p.checksum, "{}", p.location);
        assert_eq!(p.size, Some(rpm.len() as u64), "{}", p.location);
    }
}

const DNF: &str = "fixtures/dnf-modules-x86_64";

fn dnf_repomd() -> Repomd {
    parse_repomd(&read(&testdata(DNF).join("repodata/repomd.xml"))).unwrap()
}

fn dnf_primary_xml() -> Vec<u8> {
    let repomd = dnf_repomd();
    let rec = repomd.primary().unwrap();
    unpack(&read(&testdata(DNF).join(&rec.location))).unwrap()
}

#[test]
fn dnf_fixture_repomd() {
    let repomd = dnf_repomd();
    assert_eq!(repomd.revision.as_deref(), Some("1598906347"));
    let types: Vec<&str> = repomd.records.iter().map(|r| r.mdtype.as_str()).collect();
    assert_eq!(
        types,
        [
            "primary",
            "filelists",
            "other",
            "primary_db",
            "filelists_db",
            "other_db",
            "modules"
        ]
    );
    let primary = repomd.primary().unwrap();
    assert_eq!(
        primary.location,
        "repodata/3f8c14b8370c818ce4ace942d5539bc275ef89a9fda6bfa7d286455a08680686-primary.xml.gz"
    );
    assert_eq!(primary.checksum.kind, ChecksumKind::Sha256);
    assert_eq!(primary.size, Some(4297));
    assert_eq!(primary.open_size, Some(45852));
    let db = repomd
        .records
        .iter()
        .find(|r| r.mdtype == "primary_db")
        .unwrap();
    assert!(db.location.ends_with("-primary.sqlite.bz2"));
    // Every record (xml.gz, sqlite.bz2, modules.yaml.gz) matches its file, packed and unpacked.
    for rec in &repomd.records {
        verify_record(&testdata(DNF), rec);
    }
}

#[test]
fn dnf_fixture_primary() {
    let pkgs = parse_primary(&dnf_primary_xml()[..]).unwrap();
    assert_eq!(pkgs.len(), 44);
    // As many packages as .rpm files in the fixture, each listed once.
    let rpms = std::fs::read_dir(testdata(DNF))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("rpm".as_ref()))
        .count();
    assert_eq!(rpms, 44);
    let mut locations: Vec<&str> = pkgs.iter().map(|p| p.location.as_str()).collect();
    locations.sort();
    locations.dedup();
    assert_eq!(locations.len(), 44);

    assert_eq!(
        pkgs[0],
        Package {
            name: "basesystem".into(),
            arch: "noarch".into(),
            epoch: "0".into(),
            version: "10.0".into(),
            release: "7".into(),
            location: "basesystem-10.0-7.noarch.rpm".into(),
            checksum: Checksum::new(
                ChecksumKind::Sha256,
                "0a5304b672fd5995627c3f420800f8b801cfeb3d4afc874cca673dc65bc8eae1"
            )
            .unwrap(),
            size: Some(5940),
        }
    );
    let lib = pkgs
        .iter()
        .find(|p| p.location == "libnghttp2-1.21.1-1.1.x86_64.rpm")
        .unwrap();
    assert_eq!(
        (
            lib.name.as_str(),
            lib.version.as_str(),
            lib.release.as_str()
        ),
        ("libnghttp2", "1.21.1", "1.1")
    );
    verify_packages(&testdata(DNF), &pkgs, ChecksumKind::Sha256);
}

#[test]
fn dnf_fixture_primary_streams_from_compressed_reader() {
    // The intended pipeline: file reader -> decompressed() -> parse_primary, no full buffering.
    let repomd = dnf_repomd();
    let path = testdata(DNF).join(&repomd.primary().unwrap().location);
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let pkgs = parse_primary(decompressed(file).unwrap()).unwrap();
    assert_eq!(pkgs.len(), 44);
}

#[test]
fn dnf_fixture_package_count_mismatch() {
    let xml = String::from_utf8(dnf_primary_xml()).unwrap();
    assert!(xml.contains("packages=\"44\""));
    let more = xml.replace("packages=\"44\"", "packages=\"45\"");
    match parse_primary(more.as_bytes()) {
        Err(YumError::PackageCountMismatch {
            declared: 45,
            found: 44,
        }) => {}
        other => panic!("{other:?}"),
    }
    // Drop the last <package> element: one missing package must be noticed.
    let start = xml.rfind("<package ").unwrap();
    let end = xml.rfind("</package>").unwrap() + "</package>".len();
    let fewer = format!("{}{}", &xml[..start], &xml[end..]);
    let err = parse_primary(fewer.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            YumError::PackageCountMismatch {
                declared: 44,
                found: 43
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("packages=\"44\""), "{err}");
}

#[test]
fn dnf_fixture_truncated_gzip_is_an_error_at_every_length() {
    let repomd = dnf_repomd();
    let gz = read(&testdata(DNF).join(&repomd.primary().unwrap().location));
    for cut in (0..gz.len()).step_by(7).chain([gz.len() - 1]) {
        let res = decompressed(&gz[..cut]).and_then(parse_primary);
        assert!(res.is_err(), "cut at {cut} of {}", gz.len());
    }
    // In the middle of the deflate data the decoder itself reports the problem.
    let err = decompressed(&gz[..gz.len() / 2])
        .and_then(parse_primary)
        .unwrap_err();
    match &err {
        YumError::Io { source, .. } => assert!(source.to_string().contains("gzip"), "{err}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dnf_fixture_repomd_tampering() {
    let orig = String::from_utf8(read(&testdata(DNF).join("repodata/repomd.xml"))).unwrap();
    let href = "href=\"repodata/3f8c14b8370c818ce4ace942d5539bc275ef89a9fda6bfa7d286455a08680686-primary.xml.gz\"";
    assert!(orig.contains(href));

    let based = orig.replace(
        href,
        &format!("xml:base=\"https://mirror.example/f26/\" {href}"),
    );
    match parse_repomd(based.as_bytes()) {
        Err(YumError::RemoteLocation {
            document,
            href,
            base,
        }) => {
            assert_eq!(document, "repomd.xml");
            assert!(href.starts_with("repodata/3f8c14b8"));
            assert_eq!(base, "https://mirror.example/f26/");
        }
        other => panic!("{other:?}"),
    }

    for (bad, why) in [
        ("href=\"../../etc/passwd\"", "'..'"),
        ("href=\"/etc/passwd\"", "absolute"),
        ("href=\"./repodata/x.xml.gz\"", "'.'"),
        ("href=\"repodata//x.xml.gz\"", "empty"),
        ("href=\"\"", "empty path"),
        ("href=\"repodata\\x.xml.gz\"", "backslash"),
        ("href=\"repodata/x&#0;.gz\"", ""), // NUL char ref: refused by the XML layer or by us
    ] {
        let s = orig.replace(href, bad);
        let err = parse_repomd(s.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(why), "{bad}: {err}");
        if !why.is_empty() {
            assert!(matches!(err, YumError::BadPath { .. }), "{bad}: {err:?}");
            // The message says where the path was found.
            assert!(err.to_string().contains("<data type=\"primary\">"), "{err}");
        }
    }

    let hex = "3f8c14b8370c818ce4ace942d5539bc275ef89a9fda6bfa7d286455a08680686";
    let short = orig.replacen(&format!(">{hex}<"), &format!(">{}<", &hex[1..]), 1);
    let err = parse_repomd(short.as_bytes()).unwrap_err();
    assert!(
        matches!(err, YumError::BadChecksum { kind: "sha256", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("63 hex digits"), "{err}");

    let md5 = orig.replacen("<checksum type=\"sha256\"", "<checksum type=\"md5\"", 1);
    assert!(matches!(
        parse_repomd(md5.as_bytes()),
        Err(YumError::UnsupportedChecksum(t)) if t == "md5"
    ));

    let huge = orig.replace("<size>4297</size>", "<size>18446744073709551616</size>");
    let err = parse_repomd(huge.as_bytes()).unwrap_err();
    assert!(matches!(err, YumError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("<size>"), "{err}");

    let dup = orig.replacen("type=\"filelists\"", "type=\"primary\"", 1);
    assert!(matches!(
        parse_repomd(dup.as_bytes()).unwrap().primary(),
        Err(YumError::DuplicatePrimary(2))
    ));
    let none = orig.replacen("type=\"primary\"", "type=\"primary_old\"", 1);
    assert!(matches!(
        parse_repomd(none.as_bytes()).unwrap().primary(),
        Err(YumError::NoPrimary)
    ));
}

/// Deterministic mutations of real metadata: parsing may fail but must never panic.
#[test]
fn mutated_real_metadata_never_panics() {
    let inputs = [
        read(&testdata(DNF).join("repodata/repomd.xml")),
        dnf_primary_xml(),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for input in &inputs {
        for cut in (0..input.len()).step_by(97) {
            let _ = parse_repomd(&input[..cut]);
            let _ = parse_primary(&input[..cut]);
        }
        for _ in 0..300 {
            let mut m = input.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() % m.len() as u64) as usize;
                const BYTES: &[u8] = b"<>/&;\"'=x0 \x00\xff#";
                m[i] = BYTES[(next() % BYTES.len() as u64) as usize];
            }
            let _ = parse_repomd(&m);
            let _ = parse_primary(&m[..]);
            let _ = decompressed(&m[..]).and_then(parse_primary);
        }
    }
}

// ---- createrepo_c vectors (testdata/yum-vectors) ----

const VECTORS: &str = "yum-vectors";

fn vector_repomd(name: &str) -> Repomd {
    parse_repomd(&read(
        &testdata(VECTORS).join(name).join("repodata/repomd.xml"),
    ))
    .unwrap()
}

/// What createrepo_c wrote for the two tiny packages built from testdata/yum-vectors/specs.
fn check_tiny_packages(pkgs: &[Package], kind: ChecksumKind) {
    assert_eq!(pkgs.len(), 2);
    let dep = &pkgs[0];
    assert_eq!(dep.name, "ferry-dep");
    assert_eq!(
        (
            dep.epoch.as_str(),
            dep.version.as_str(),
            dep.release.as_str()
        ),
        ("0", "0.1", "3.fc99")
    );
    // Written as extras/R&amp;D/... in the XML.
    assert_eq!(dep.location, "extras/R&D/ferry-dep-0.1-3.fc99.noarch.rpm");
    let tiny = &pkgs[1];
    assert_eq!(tiny.name, "ferry-tiny+extra");
    assert_eq!(tiny.arch, "noarch");
    assert_eq!(
        (
            tiny.epoch.as_str(),
            tiny.version.as_str(),
            tiny.release.as_str()
        ),
        ("2", "1.0~rc1", "1")
    );
    assert_eq!(
        tiny.location,
        "Packages/f/ferry-tiny+extra-1.0~rc1-1.noarch.rpm"
    );
    verify_packages(&testdata(VECTORS).join("packages"), pkgs, kind);
}

#[test]
fn createrepo_c_vectors() {
    use ChecksumKind::*;
    for (name, kind, suffix) in [
        ("sha256-gz", Sha256, ".xml.gz"),
        ("sha1-gz", Sha1, ".xml.gz"),
        ("sha-gz", Sha1, ".xml.gz"),
        ("sha224-gz", Sha224, ".xml.gz"),
        ("sha384-bz2", Sha384, ".xml.bz2"),
        ("sha512-xz", Sha512, ".xml.xz"),
        ("simple-names-gz", Sha256, ".xml.gz"),
        ("zck-gz", Sha256, ".xml.gz"),
    ] {
        let repomd = vector_repomd(name);
        let rec = repomd.primary().unwrap();
        assert_eq!(rec.checksum.kind, kind, "{name}");
        assert!(rec.location.starts_with("repodata/"), "{name}");
        assert!(
            rec.location.ends_with(&format!("primary{suffix}")),
            "{name}"
        );
        if name != "simple-names-gz" {
            // Unique names: <hex of the compressed file>-primary.xml.gz
            let file = rec.location.strip_prefix("repodata/").unwrap();
            assert_eq!(
                file,
                format!("{}-primary{suffix}", rec.checksum.hex),
                "{name}"
            );
        }
        let xml = verify_record(&testdata(VECTORS).join(name), rec);
        check_tiny_packages(&parse_primary(&xml[..]).unwrap(), kind);
    }
}

#[test]
fn createrepo_c_sha_and_sha1_spellings() {
    let raw = |name: &str| {
        String::from_utf8(read(
            &testdata(VECTORS).join(name).join("repodata/repomd.xml"),
        ))
        .unwrap()
    };
    // `--checksum sha` writes type="sha", `--checksum sha1` type="sha1": both are SHA-1.
    assert!(raw("sha-gz").contains("<checksum type=\"sha\">"));
    assert!(raw("sha1-gz").contains("<checksum type=\"sha1\">"));
    assert_eq!(
        vector_repomd("sha-gz").primary().unwrap().checksum.kind,
        vector_repomd("sha1-gz").primary().unwrap().checksum.kind
    );
}

#[test]
fn createrepo_c_zck_records() {
    let repomd = vector_repomd("zck-gz");
    let types: Vec<&str> = repomd.records.iter().map(|r| r.mdtype.as_str()).collect();
    for t in ["primary", "primary_zck", "filelists_zck", "other_zck"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let zck = repomd
        .records
        .iter()
        .find(|r| r.mdtype == "primary_zck")
        .unwrap();
    assert!(zck.location.ends_with("-primary.xml.zck"));
    assert!(zck.open_checksum.is_some());
}

#[test]
fn zstd_primary() {
    // createrepo_c 0.17.3 cannot write zstd; this is the sha256-gz primary recompressed by `zstd`.
    let reference = vector_repomd("sha256-gz");
    let oc = reference.primary().unwrap().open_checksum.clone().unwrap();
    let xml = unpack(&read(&testdata(VECTORS).join("zstd/primary.xml.zst"))).unwrap();
    assert_eq!(hash(oc.kind, &xml), oc);
    check_tiny_packages(&parse_primary(&xml[..]).unwrap(), ChecksumKind::Sha256);
}

#[test]
fn createrepo_c_md5_is_refused() {
    let path = testdata(VECTORS).join("md5-gz/repodata/repomd.xml");
    match parse_repomd(&read(&path)) {
        Err(YumError::UnsupportedChecksum(t)) => assert_eq!(t, "md5"),
        other => panic!("{other:?}"),
    }
    let dir = testdata(VECTORS).join("md5-gz/repodata");
    let gz = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-primary.xml.gz"))
        .unwrap();
    match decompressed(&read(&gz)[..]).and_then(parse_primary) {
        Err(YumError::UnsupportedChecksum(t)) => assert_eq!(t, "md5"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn createrepo_c_baseurl_is_refused() {
    // `createrepo_c --baseurl URL` puts xml:base on every package <location>.
    let repomd = vector_repomd("xmlbase-gz");
    let rec = repomd.primary().unwrap();
    let xml = verify_record(&testdata(VECTORS).join("xmlbase-gz"), rec);
    let err = parse_primary(&xml[..]).unwrap_err();
    match &err {
        YumError::RemoteLocation {
            document,
            href,
            base,
        } => {
            assert_eq!(*document, "primary.xml");
            assert_eq!(href, "extras/R&D/ferry-dep-0.1-3.fc99.noarch.rpm");
            assert_eq!(base, "http://example.invalid/repo/");
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("http://example.invalid/repo/") && msg.contains("extras/R&D"),
        "{msg}"
    );
}

#[test]
fn every_truncation_of_every_vector_primary_is_an_error() {
    for name in ["sha256-gz", "sha384-bz2", "sha512-xz"] {
        let repomd = vector_repomd(name);
        let raw = read(
            &testdata(VECTORS)
                .join(name)
                .join(&repomd.primary().unwrap().location),
        );
        for cut in 0..raw.len() {
            let res = decompressed(&raw[..cut]).and_then(parse_primary);
            assert!(res.is_err(), "{name} cut at {cut}/{}", raw.len());
        }
    }
    let zst = read(&testdata(VECTORS).join("zstd/primary.xml.zst"));
    for cut in 0..zst.len() {
        let res = decompressed(&zst[..cut]).and_then(parse_primary);
        assert!(res.is_err(), "zstd cut at {cut}/{}", zst.len());
    }
}

#[test]
fn empty_input() {
    for parse in [
        parse_repomd(b"").map(|_| ()),
        parse_primary(&b""[..]).map(|_| ()),
        decompressed(&b""[..]).and_then(parse_primary).map(|_| ()),
        parse_repomd(b"<?xml version=\"1.0\"?>\n").map(|_| ()),
        parse_repomd(b"   \n").map(|_| ()),
    ] {
        match parse {
            Err(YumError::Invalid { message, .. }) => {
                assert!(message.contains("root element"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn errors_are_send_sync_static() {
    fn check<T: std::error::Error + Send + Sync + 'static>() {}
    check::<YumError>();
}

// ---- validate_relative_path ----

#[test]
fn relative_paths_accepted() {
    for p in [
        "a",
        "a.rpm",
        "Packages/f/ferry-tiny+extra-1.0~rc1-1.noarch.rpm",
        "extras/R&D/x.rpm",
        "repodata/3f8c-primary.xml.gz",
        "..a/b..",
        ".hidden/.x",
        "a/.../b",
        "with space/ü-ñ.rpm",
        "c++/g++-1:2.rpm",
    ] {
        validate_relative_path(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    }
    let max_component = "x".repeat(255);
    validate_relative_path(&max_component).unwrap();
    let max_path = [
        max_component.as_str(),
        max_component.as_str(),
        max_component.as_str(),
        &"x".repeat(254),
        "y",
    ]
    .join("/");
    assert_eq!(max_path.len(), 1024);
    validate_relative_path(&max_path).unwrap();
}

#[test]
fn relative_paths_refused() {
    let long_component = "x".repeat(256);
    let long_path = vec!["x".repeat(200); 6].join("/");
    assert!(long_path.len() > 1024);
    for (p, why) in [
        ("", "empty path"),
        ("/", "absolute"),
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("..", "'..'"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        (".", "'.'"),
        ("./a", "'.'"),
        ("a/./b", "'.'"),
        ("a//b", "empty"),
        ("a/", "ends with '/'"),
        ("a\\b", "backslash"),
        ("..\\..\\x", "backslash"),
        ("a\0b", "NUL"),
        ("a\nb", "control"),
        ("a\tb", "control"),
        ("a\u{7f}b", "control"),
        ("a\u{85}b", "control"),
        (long_component.as_str(), "component 1 is 256 bytes"),
        (long_path.as_str(), "limit is 1024"),
    ] {
        match validate_relative_path(p) {
            Err(YumError::BadPath { path, reason }) => {
                assert_eq!(path, p);
                assert!(reason.contains(why), "{p:?}: {reason}");
            }
            other => panic!("{p:?}: {other:?}"),
        }
    }
    let msg = validate_relative_path("../x").unwrap_err().to_string();
    assert!(msg.contains("\"../x\"") && msg.contains(".."), "{msg}");
}
