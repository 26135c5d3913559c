//! The **logical bundle id**: what a bundle says, without where its bytes lie.
//!
//! A bundle written again onto other media (`ferry pack --again`) carries the same
//! content, base, sequence and creation time as the first copy, but its packs, its
//! objects' pieces and its number of volumes follow the new media, so its manifest (and
//! its bundle id) differs. Both copies have the same logical id: the SHA-256 of
//! [`LOGICAL_ID_PREFIX`] followed by the canonical encoding (§10) of the manifest with
//! `volumes = 1`, no `[packs]`, and every object written as
//! `{ size = S, encoding = "raw", pieces = [] }` (spec/FORMAT.md, "Logical bundle and
//! physical copies").

use sha2::{Digest as _, Sha256};

use super::{Encoding, Manifest};
use crate::format::constants::LOGICAL_ID_PREFIX;
use crate::format::id::{BundleId, Sha256Digest};

impl Manifest {
    /// The logical id of this bundle: equal for every physical copy of it.
    pub fn logical_id(&self) -> BundleId {
        // Every field but the layout, whatever fields later versions add.
        let mut m = self.clone();
        m.volumes = 1;
        m.packs.clear();
        for o in m.objects.values_mut() {
            o.encoding = Encoding::Raw;
            o.pieces.clear();
        }
        struct H(Sha256);
        impl std::fmt::Write for H {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.update(s.as_bytes());
                Ok(())
            }
        }
        let mut h = H(Sha256::new());
        h.0.update(LOGICAL_ID_PREFIX);
        // Writing into a hasher cannot fail.
        let _ = m.write_to(&mut h);
        Sha256Digest::from_hasher(h.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::id::KeyId;
    use crate::format::manifest::Pack;

    /// Parsed, not built field by field: fields that later versions add take their
    /// defaults.
    fn manifest() -> Manifest {
        let id = Sha256Digest::of(b"hello");
        let text = format!(
            "format = \"ferry-bundle/1\"\ncreated = \"2026-12-05T00:00:00Z\"\nsigner = \"0101010101010101\"\nsequence = 3\nvolumes = 1\norganization = \"acme\"\n\n[packs]\n0001 = {{ volume = 1, size = 2048, sha256 = \"{}\" }}\n\n[objects]\n{} = {{ size = 5, encoding = \"raw\", pieces = [{{ pack = \"0001\", offset = 512, length = 5 }}] }}\n",
            Sha256Digest([7; 32]).to_hex(),
            id.to_hex()
        );
        Manifest::parse(text.as_bytes()).unwrap()
    }

    /// The definition pinned: SHA-256 of the prefix and the layout-free canonical text,
    /// computed here by hand.
    #[test]
    fn the_logical_id_is_the_hash_of_the_prefixed_layout_free_text() {
        let m = manifest();
        let text = format!(
            "ferry logical bundle\nformat = \"ferry-bundle/1\"\ncreated = \"2026-12-05T00:00:00Z\"\nsigner = \"0101010101010101\"\nsequence = 3\nvolumes = 1\norganization = \"acme\"\n\n[packs]\n\n[objects]\n{} = {{ size = 5, encoding = \"raw\", pieces = [] }}\n",
            Sha256Digest::of(b"hello").to_hex()
        );
        assert_eq!(m.logical_id(), Sha256Digest::of(text.as_bytes()));
    }

    #[test]
    fn layout_does_not_change_the_logical_id_content_does() {
        let a = manifest();
        let mut b = a.clone();
        b.volumes = 2;
        b.packs.get_mut("0001").unwrap().volume = 2;
        b.packs.insert(
            "0002".into(),
            Pack {
                volume: 2,
                size: 1024,
                sha256: Sha256Digest([8; 32]),
            },
        );
        let o = b.objects.values_mut().next().unwrap();
        o.encoding = Encoding::Zstd;
        o.pieces[0].offset = 1024;
        assert_ne!(Manifest::id_of(&a.encode()), Manifest::id_of(&b.encode()));
        assert_eq!(a.logical_id(), b.logical_id());
        // Not the id of any bundle: the logical encoding is prefixed.
        assert_ne!(a.logical_id(), Manifest::id_of(&a.encode()));

        for change in [
            |m: &mut Manifest| m.sequence += 1,
            |m: &mut Manifest| m.created = "2026-12-05T00:00:01Z".into(),
            |m: &mut Manifest| m.signer = KeyId([2; 8]),
            |m: &mut Manifest| m.objects.values_mut().next().unwrap().size += 1,
        ] {
            let mut c = a.clone();
            change(&mut c);
            assert_ne!(a.logical_id(), c.logical_id());
        }
    }
}
