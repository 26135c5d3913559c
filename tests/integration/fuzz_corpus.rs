//! The fuzz targets' bodies (`fuzz/src/lib.rs`, run by `cargo fuzz` on nightly) as an
//! ordinary test: each body over every file of its committed seed corpus
//! (`fuzz/corpus/<target>/`), then over a few thousand inputs made from those seeds by a
//! fixed-seed mutation, so the run is the same every time. A body never panics; its
//! assertions are round trips and verdicts that must hold, so a failure is a bug in ferry.
//! The failing input is written under the target directory and named in the message.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::common::Rng;

#[path = "../../fuzz/src/lib.rs"]
mod bodies;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// The seed files of a target, in name order.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// One to four stacked edits of `seed`, sometimes spliced with `other`.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\0\x01\x7f\x80\xff \n\r\t\"'=<>/&\\.[]{}0789azAZ";
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let i = rng.below(len + 1);
                v.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                v.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let copy: Vec<u8> = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, copy);
            }
            6 => v.truncate(rng.below(len + 1)),
            7 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ if len >= 8 => {
                // An arithmetic edit of a little-endian number (sizes, lengths).
                let i = rng.below(len - 1);
                let x = u16::from_le_bytes([v[i], v[i + 1]]);
                let d = rng.below(33) as u16;
                let y = if rng.next() & 1 == 0 {
                    x.wrapping_add(d)
                } else {
                    x.wrapping_sub(d)
                };
                v[i..i + 2].copy_from_slice(&y.to_le_bytes());
            }
            _ => {}
        }
    }
    v
}

/// Run `body` over the seeds and `mutations` mutated inputs; name the input that fails.
fn run(target: &str, body: fn(&[u8]), mutations: usize) {
    let seeds = seeds(target);
    let call = |what: &str, input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-corpus-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("{target}-{}", what.replace('/', "_")));
            std::fs::write(&file, input).unwrap();
            panic!(
                "fuzz body {target} failed on {what}; the input is in {} \
                 (reproduce: cd fuzz && cargo +nightly fuzz run {target} {})",
                file.display(),
                file.display()
            );
        }
    };
    for (name, bytes) in &seeds {
        call(&format!("seed {name}"), bytes);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    for i in 0..mutations {
        let (name, seed) = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())].1;
        let input = mutate(&mut rng, seed, other);
        call(&format!("mutation {i} of {name}"), &input);
    }
}

#[test]
fn manifest() {
    run("manifest", bodies::manifest, 4000);
}

#[test]
fn volume_and_list() {
    run("volume_and_list", bodies::volume_and_list, 4000);
}

#[test]
fn pack_reader() {
    run("pack_reader", bodies::pack_reader, 2000);
    // The harness builds valid bundles for most inputs, or it would not reach the reader.
    let built = bodies::PACK_READER_BUILT.load(std::sync::atomic::Ordering::Relaxed);
    let skipped = bodies::PACK_READER_SKIPPED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        built > 4 * skipped,
        "only {built} of {} inputs made a bundle",
        built + skipped
    );
}

#[test]
fn object() {
    run("object", bodies::object, 4000);
}

#[test]
fn yum() {
    run("yum", bodies::yum, 4000);
}
