//! The canonical manifest writer (`spec/FORMAT.md` §10). It writes into any
//! [`fmt::Write`], so that a reader can compare input with it without a second copy.

use std::fmt::{self, Write};

use super::Manifest;
use crate::format::constants::{MANIFEST_FORMAT, MANIFEST_FORMAT_2, MANIFEST_FORMAT_3};
use crate::format::toml_out::{write_key, write_multiline, write_string};

/// `name = "value"` and a newline.
fn kv(w: &mut impl Write, name: &str, value: &str) -> fmt::Result {
    w.write_str(name)?;
    w.write_str(" = ")?;
    write_string(w, value)?;
    w.write_char('\n')
}

impl Manifest {
    /// Write the canonical encoding.
    pub fn write_to(&self, w: &mut impl Write) -> fmt::Result {
        // The lowest version that holds the content (§9): 3 with rotation statements, 2
        // with retired records (and no rotation), else 1.
        let format = if !self.rotations.is_empty() {
            MANIFEST_FORMAT_3
        } else if !self.retired.is_empty() {
            MANIFEST_FORMAT_2
        } else {
            MANIFEST_FORMAT
        };
        kv(w, "format", format)?;
        kv(w, "created", &self.created)?;
        kv(w, "signer", &self.signer.to_string())?;
        writeln!(w, "sequence = {}", self.sequence)?;
        if let Some(b) = &self.base {
            w.write_str("base = { bundle = ")?;
            write_string(w, &b.bundle.to_hex())?;
            write!(w, ", sequence = {}, created = ", b.sequence)?;
            write_string(w, &b.created)?;
            w.write_str(" }\n")?;
        }
        writeln!(w, "volumes = {}", self.volumes)?;
        kv(w, "organization", &self.organization)?;
        for p in &self.products {
            w.write_str("\n[[product]]\n")?;
            kv(w, "label", &p.label)?;
            kv(w, "name", &p.name)?;
            if let Some(k) = &p.gpg_key {
                w.write_str("\n[product.gpg_key]\n")?;
                kv(w, "name", &k.name)?;
                w.write_str("content = ")?;
                write_multiline(w, &k.content)?;
                w.write_char('\n')?;
            }
        }
        for r in &self.repositories {
            w.write_str("\n[[repository]]\n")?;
            kv(w, "product", &r.product)?;
            kv(w, "label", &r.label)?;
            kv(w, "name", &r.name)?;
            if let Some(a) = &r.arch {
                kv(w, "arch", a)?;
            }
            kv(w, "content_type", &r.content_type)?;
            kv(w, "tree", &r.tree)?;
        }
        for v in &self.content_views {
            w.write_str("\n[[content_view]]\n")?;
            kv(w, "label", &v.label)?;
            kv(w, "name", &v.name)?;
            kv(w, "version", &v.version)?;
            w.write_str("repositories = [\n")?;
            for vr in &v.repositories {
                w.write_str("  { repository = ")?;
                write_string(w, &vr.repository)?;
                w.write_str(", tree = ")?;
                write_string(w, &vr.tree)?;
                w.write_str(" },\n")?;
            }
            w.write_str("]\n")?;
        }
        for r in &self.retired {
            w.write_str("\n[[retired]]\n")?;
            kv(w, "kind", r.kind.as_str())?;
            kv(w, "label", &r.label)?;
            writeln!(w, "since = {}", r.since)?;
        }
        for r in &self.rotations {
            w.write_str("\n[[rotation]]\n")?;
            kv(w, "old", &r.old.to_string())?;
            kv(w, "new", &r.new.record_base64())?;
            writeln!(w, "since = {}", r.since)?;
            kv(w, "created", &r.created)?;
            kv(w, "signature", &r.signature_base64())?;
        }
        w.write_str("\n[packs]\n")?;
        for (name, p) in &self.packs {
            write_key(w, name)?;
            write!(
                w,
                " = {{ volume = {}, size = {}, sha256 = ",
                p.volume, p.size
            )?;
            write_string(w, &p.sha256.to_hex())?;
            w.write_str(" }\n")?;
        }
        for t in &self.trees {
            w.write_str("\n[[tree]]\n")?;
            kv(w, "name", &t.name)?;
            writeln!(w, "packages = {}", t.packages)?;
            w.write_str("\n[tree.files]\n")?;
            for (path, id) in &t.files {
                write_key(w, path)?;
                w.write_str(" = ")?;
                write_string(w, &id.to_hex())?;
                w.write_char('\n')?;
            }
        }
        w.write_str("\n[objects]\n")?;
        for (id, o) in &self.objects {
            write!(w, "{} = {{ size = {}, encoding = ", id.to_hex(), o.size)?;
            write_string(w, o.encoding.as_str())?;
            w.write_str(", pieces = [")?;
            for (i, p) in o.pieces.iter().enumerate() {
                if i > 0 {
                    w.write_str(", ")?;
                }
                w.write_str("{ pack = ")?;
                write_string(w, &p.pack)?;
                write!(w, ", offset = {}, length = {} }}", p.offset, p.length)?;
            }
            w.write_str("] }\n")?;
        }
        Ok(())
    }
}
