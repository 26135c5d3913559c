//! Memory stays bounded by the manifest, whatever it describes: a 50 MB signed manifest
//! (and its 20,000 objects) verifies in well under 400 MiB of peak memory, checking and
//! decoding alike. (A bound, not a timing: measured as the child's peak resident size.)

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use ferry::format::Sha256Digest;
use ferry::format::manifest::{
    ContentView, Encoding, Manifest, Object, Pack, Piece, Product, Repository, Tree, ViewRepository,
};

use crate::common::*;
use crate::forge::{Forge, vector_key};

/// Peak resident memory of a command, in KiB (as the kernel accounts it for a child).
fn peak_kib(cmd: &[&std::ffi::OsStr]) -> (i32, u64) {
    require("python3");
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
             print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        )
        .args(cmd)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace();
    (
        it.next().unwrap().parse().unwrap(),
        it.next().unwrap().parse().unwrap(),
    )
}

/// A bundle of `objects` tiny raw objects in one pack, and `trees` trees of `files`
/// paths each (a Library repository and content-view versions of it).
fn big_bundle(objects: usize, trees: usize, files: usize) -> Forge {
    let mut pack = Vec::with_capacity(objects * 1024 + 1024);
    let mut objs = BTreeMap::new();
    let mut ids = Vec::with_capacity(objects);
    for i in 0..objects {
        let data = format!("object {i:>9}\n");
        let id = Sha256Digest::of(data.as_bytes());
        pack.extend_from_slice(&ferry::format::tar_entry::header(
            &id.to_hex(),
            data.len() as u64,
        ));
        let offset = pack.len() as u64;
        pack.extend_from_slice(data.as_bytes());
        pack.resize(
            pack.len() + ferry::format::tar_entry::padding(data.len() as u64) as usize,
            0,
        );
        objs.insert(
            id,
            Object {
                size: data.len() as u64,
                encoding: Encoding::Raw,
                pieces: vec![Piece {
                    pack: "0001".into(),
                    offset,
                    length: data.len() as u64,
                }],
            },
        );
        ids.push(id);
    }
    pack.resize(pack.len() + 1024, 0);
    let mut tree_list = Vec::new();
    for t in 0..trees {
        let mut f = BTreeMap::new();
        for i in 0..files {
            let c = (b'a' + (i % 26) as u8) as char;
            f.insert(
                format!("Packages/{c}/{c}ackage-with-a-realistic-name-{i:06}-1.el9.x86_64.rpm"),
                ids[(i * 7 + t) % objects],
            );
        }
        let name = if t == 0 {
            "library/p/r".to_string()
        } else {
            format!("views/v/{t}.0/p/r")
        };
        tree_list.push(Tree {
            name,
            packages: files as u64,
            files: f,
        });
    }
    let manifest = Manifest {
        created: "2026-11-27T00:00:00Z".into(),
        signer: vector_key().id,
        sequence: 1,
        base: None,
        volumes: 1,
        organization: "big".into(),
        products: vec![Product {
            label: "p".into(),
            name: "P".into(),
            gpg_key: None,
        }],
        repositories: vec![Repository {
            product: "p".into(),
            label: "r".into(),
            name: "R".into(),
            arch: None,
            content_type: "yum".into(),
            tree: "library/p/r".into(),
        }],
        content_views: (1..trees)
            .map(|t| ContentView {
                label: "v".into(),
                name: "V".into(),
                version: format!("{t}.0"),
                repositories: vec![ViewRepository {
                    repository: "p/r".into(),
                    tree: format!("views/v/{t}.0/p/r"),
                }],
            })
            .collect(),
        retired: Vec::new(),
        rotations: Vec::new(),
        packs: BTreeMap::from([(
            "0001".to_string(),
            Pack {
                volume: 1,
                size: pack.len() as u64,
                sha256: Sha256Digest::of(&pack),
            },
        )]),
        trees: tree_list,
        objects: objs,
    };
    manifest.check().expect("a valid manifest");
    Forge {
        manifest,
        packs: BTreeMap::from([("0001".to_string(), pack)]),
    }
}

#[test]
fn a_50_mb_manifest_verifies_in_under_400_mib() {
    let f = big_bundle(20_000, 10, 36_000);
    let out = tempfile::tempdir().unwrap();
    let vols = f.write(out.path(), &vector_key());
    let size = std::fs::metadata(vols[0].join("manifest.toml"))
        .unwrap()
        .len();
    assert!(size >= 50_000_000, "the manifest is {size} bytes");
    let trust = testdata().join("vectors/keys/vector.pub");
    let ferry = Path::new(env!("CARGO_BIN_EXE_ferry"));
    for deep in [false, true] {
        let mut cmd = vec![
            ferry.as_os_str(),
            "verify".as_ref(),
            "--trust".as_ref(),
            trust.as_os_str(),
        ];
        if deep {
            cmd.push("--deep".as_ref());
        }
        cmd.push(vols[0].as_os_str());
        let (code, kib) = peak_kib(&cmd);
        assert_eq!(code, 0, "verify (deep {deep}) refused the bundle");
        eprintln!(
            "verify (deep {deep}) of a {size}-byte manifest: peak {} MiB",
            kib / 1024
        );
        assert!(
            kib < 400 * 1024,
            "verify (deep {deep}): peak {} MiB",
            kib / 1024
        );
    }
}
