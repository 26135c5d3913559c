//! Making bundles by hand, as a signer whose key leaked could: read a bundle's manifest
//! and packs, change anything (objects' stored bytes, pack bytes, the manifest's values or
//! its very text), lay the packs out again, and sign the volumes with ferry's own code.
//! Used by the hostile-content tests and by `examples/forge_vectors.rs`, which makes the
//! committed test vectors of that kind.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferry::format::checklist::{self, Entry};
use ferry::format::constants::{TAR_BLOCK, TAR_TRAILER};
use ferry::format::manifest::{Encoding, Manifest, Piece, pack_number};
use ferry::format::signify::{SecretKey, encode_embedded};
use ferry::format::tar_entry;
use ferry::format::{ObjectId, Sha256Digest};
use ferry::pack::finish::{volume_dir_name, volume_files};

/// A bundle in memory.
#[derive(Clone)]
pub struct Forge {
    /// The manifest (written canonically unless a text is given).
    pub manifest: Manifest,
    /// Pack bytes by name.
    pub packs: BTreeMap<String, Vec<u8>>,
}

impl Forge {
    /// Read a bundle from its volume directories (the manifest of the first).
    pub fn read(vols: &[PathBuf]) -> Self {
        let manifest = Manifest::parse(&std::fs::read(vols[0].join("manifest.toml")).unwrap())
            .expect("a valid manifest to start from");
        let mut packs = BTreeMap::new();
        for v in vols {
            let dir = v.join("packs");
            if !dir.exists() {
                continue;
            }
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let name = e
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".ferrypack")
                    .to_string();
                packs.insert(name, std::fs::read(e.path()).unwrap());
            }
        }
        Self { manifest, packs }
    }

    /// The stored bytes of an object.
    pub fn stored(&self, id: &ObjectId) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.manifest.objects[id].pieces {
            let pack = &self.packs[&p.pack];
            out.extend_from_slice(&pack[p.offset as usize..(p.offset + p.length) as usize]);
        }
        out
    }

    /// Give objects new stored bytes (and keep the others), then lay every pack out again
    /// as a writer would: entries back to back, each changed object in one piece in the
    /// pack of its first piece, every other piece as it was.
    pub fn restore(&mut self, new: &BTreeMap<ObjectId, Vec<u8>>) {
        let mut stored: BTreeMap<ObjectId, Vec<u8>> = BTreeMap::new();
        for id in self.manifest.objects.keys() {
            stored.insert(*id, new.get(id).cloned().unwrap_or_else(|| self.stored(id)));
        }
        // Pieces in pass order: (pack number, offset) → (object, k, length).
        let mut order: Vec<(u32, u64, ObjectId, usize)> = Vec::new();
        for (id, o) in &self.manifest.objects {
            for (k, p) in o.pieces.iter().enumerate() {
                if new.contains_key(id) && k > 0 {
                    continue;
                }
                order.push((pack_number(&p.pack).unwrap(), p.offset, *id, k));
            }
        }
        order.sort();
        let mut packs: BTreeMap<String, Vec<u8>> = self
            .manifest
            .packs
            .keys()
            .map(|n| (n.clone(), Vec::new()))
            .collect();
        let mut pieces: BTreeMap<ObjectId, Vec<Piece>> = BTreeMap::new();
        for (n, _, id, k) in order {
            let name = ferry::format::manifest::pack_name(n);
            let o = &self.manifest.objects[&id];
            let all = &stored[&id];
            let data: &[u8] = if new.contains_key(&id) {
                all
            } else {
                let start: u64 = o.pieces[..k].iter().map(|p| p.length).sum();
                &all[start as usize..(start + o.pieces[k].length) as usize]
            };
            let mut entry = id.to_hex();
            if k > 0 {
                entry.push_str(&format!(".{k}"));
            }
            if o.encoding == Encoding::Zstd {
                entry.push_str(".zst");
            }
            let pack = packs.get_mut(&name).unwrap();
            pack.extend_from_slice(&tar_entry::header(&entry, data.len() as u64));
            let offset = pack.len() as u64;
            pack.extend_from_slice(data);
            pack.resize(
                pack.len() + tar_entry::padding(data.len() as u64) as usize,
                0,
            );
            pieces.entry(id).or_default().push(Piece {
                pack: name,
                offset,
                length: data.len() as u64,
            });
        }
        for (id, o) in self.manifest.objects.iter_mut() {
            o.pieces = pieces.remove(id).unwrap_or_default();
        }
        for pack in packs.values_mut() {
            pack.resize(pack.len() + TAR_TRAILER as usize, 0);
        }
        debug_assert!(
            packs
                .values()
                .all(|p| (p.len() as u64).is_multiple_of(TAR_BLOCK))
        );
        self.packs = packs;
        self.refresh();
    }

    /// The 512-byte tar header of the entry whose data begins at `offset` in `pack`.
    pub fn header_mut(&mut self, pack: &str, offset: u64) -> &mut [u8] {
        &mut self.packs.get_mut(pack).unwrap()[(offset - TAR_BLOCK) as usize..offset as usize]
    }

    /// Make the manifest's pack sizes and hashes those of the pack bytes.
    pub fn refresh(&mut self) {
        for (name, bytes) in &self.packs {
            let p = self.manifest.packs.get_mut(name).unwrap();
            p.size = bytes.len() as u64;
            p.sha256 = Sha256Digest::of(bytes);
        }
    }

    /// Write the volumes under `out` (`vol-01`, …) with the canonical manifest.
    pub fn write(&self, out: &Path, key: &SecretKey) -> Vec<PathBuf> {
        self.write_text(out, key, &self.manifest.encode())
    }

    /// Write the volumes with `manifest` as the manifest's bytes (the layout and the
    /// signed lists still follow `self.manifest`).
    pub fn write_text(&self, out: &Path, key: &SecretKey, manifest: &[u8]) -> Vec<PathBuf> {
        let id = Sha256Digest::of(manifest);
        let n = self.manifest.volumes;
        let mut vols = Vec::new();
        for v in 1..=n {
            let dir = out.join(volume_dir_name(v, n));
            std::fs::create_dir_all(dir.join("packs")).unwrap();
            let files = volume_files(&self.manifest, manifest, id, v, key);
            std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
            std::fs::write(dir.join("volume.toml"), &files.volume).unwrap();
            std::fs::write(dir.join("README.txt"), &files.readme).unwrap();
            std::fs::write(dir.join("SHA256.sig"), &files.signature).unwrap();
            for (name, p) in &self.manifest.packs {
                if p.volume == v {
                    std::fs::write(
                        dir.join(format!("packs/{name}.ferrypack")),
                        &self.packs[name],
                    )
                    .unwrap();
                }
            }
            vols.push(dir);
        }
        vols
    }
}

/// Sign a volume's list anew: `edit` changes the entries (the hashes of the files as they
/// are on the volume) before the list is signed.
pub fn resign(vol: &Path, key: &SecretKey, edit: impl FnOnce(&mut Vec<Entry>)) {
    let sig = std::fs::read(vol.join("SHA256.sig")).unwrap();
    let (_, message) = ferry::format::signify::decode_embedded(&sig).unwrap();
    let mut entries = checklist::decode(message).unwrap();
    for e in entries.iter_mut() {
        if let Ok(bytes) = std::fs::read(vol.join(&e.path)) {
            e.sha256 = Sha256Digest::of(&bytes);
        }
    }
    edit(&mut entries);
    let message = checklist::encode(&entries);
    let s = key.sign(message.as_bytes());
    std::fs::write(
        vol.join("SHA256.sig"),
        encode_embedded(
            &s,
            "verify with ferry key (forged for a test)",
            message.as_bytes(),
        ),
    )
    .unwrap();
}

/// Set a tar header's checksum field after changing it.
pub fn fix_checksum(header: &mut [u8]) {
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header[..512].iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// The vector signing key (a copy readable by this user only, as ferry insists).
pub fn vector_key() -> SecretKey {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors/keys/vector.key");
    SecretKey::parse(&std::fs::read(p).unwrap()).unwrap()
}
