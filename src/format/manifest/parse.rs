//! Reading the canonical manifest form line by line.
//!
//! The canonical form (`spec/FORMAT.md` §10) fixes every line's shape, so the reader
//! needs no generic TOML document: it walks the lines in the order the writer emits them
//! and builds the manifest directly. Memory is about the manifest's own size, however
//! hostile the input. Anything that is not a canonical line is an error naming the line;
//! [`Manifest::parse`](super::Manifest::parse) then compares the whole input with the
//! canonical encoding of the result, which catches everything this reader lets through
//! (ordering, bare versus quoted keys).

use super::{
    BaseRef, ContentView, Encoding, GpgKey, Manifest, ManifestError, Object, Pack, Piece, Product,
    Repository, Retired, RetiredKind, Rotation, Tree, ViewRepository,
};
use crate::format::constants::{
    MANIFEST_FORMAT, MANIFEST_FORMAT_2, MANIFEST_FORMAT_3, MAX_INTEGER,
};
use crate::format::id::{KeyId, ObjectId, Sha256Digest};
use crate::format::signify::PublicKey;

/// The lines of the text, each without its `\n`; the last line must end with one too.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

type Result<T> = std::result::Result<T, ManifestError>;

impl<'a> Lines<'a> {
    fn err<T>(&self, what: impl Into<String>) -> Result<T> {
        Err(ManifestError::Syntax {
            line: self.line,
            what: what.into(),
        })
    }

    fn peek(&self) -> Option<&'a str> {
        self.peek_at(0)
    }

    /// The line `n` lines ahead of the next one.
    fn peek_at(&self, n: usize) -> Option<&'a str> {
        let mut rest = &self.text[self.pos..];
        for _ in 0..n {
            rest = &rest[rest.find('\n')? + 1..];
        }
        rest.find('\n').map(|i| &rest[..i])
    }

    /// The next line, as a cursor for its contents.
    fn next(&mut self, what: &str) -> Result<Line<'a>> {
        let rest = &self.text[self.pos..];
        let Some(i) = rest.find('\n') else {
            self.line += 1;
            return if rest.is_empty() {
                self.err(format!("the text ends where {what} should be"))
            } else {
                self.err("the last line does not end with a newline")
            };
        };
        self.pos += i + 1;
        self.line += 1;
        Ok(Line {
            s: &rest[..i],
            at: 0,
            line: self.line,
        })
    }

    /// The next line must be exactly `s`.
    fn exact(&mut self, s: &str) -> Result<()> {
        let l = self.next(&format!("{s:?}"))?;
        if l.s == s {
            Ok(())
        } else {
            l.err(format!("expected {s:?}"))
        }
    }

    /// A block begins: an empty line, then its header.
    fn block(&mut self, header: &str) -> Result<()> {
        self.exact("")?;
        self.exact(header)
    }

    /// Whether the next block (after an empty line) has this header.
    fn next_block_is(&self, header: &str) -> bool {
        self.peek() == Some("") && self.peek_at(1) == Some(header)
    }

    /// `name = "value"` on a line of its own.
    fn string_field(&mut self, name: &str) -> Result<String> {
        let mut l = self.next(name)?;
        l.lit(name)?;
        l.lit(" = ")?;
        let v = l.string()?;
        l.end()?;
        Ok(v)
    }

    /// `name = 123` on a line of its own.
    fn int_field(&mut self, name: &str) -> Result<u64> {
        let mut l = self.next(name)?;
        l.lit(name)?;
        l.lit(" = ")?;
        let v = l.int()?;
        l.end()?;
        Ok(v)
    }

    /// `content = """` + newline, the text, and `"""` + newline: a multi-line basic string
    /// whose only escapes are `\"` and `\\` (newlines stay as they are).
    fn multiline_field(&mut self, name: &str) -> Result<String> {
        let l = self.next(name)?;
        if l.s != format!("{name} = \"\"\"") {
            return l.err(format!("expected {name} = \"\"\" (a multi-line string)"));
        }
        let rest = &self.text[self.pos..];
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    _ => return self.err("only \\\" and \\\\ are escapes in a manifest"),
                },
                '"' => {
                    if !rest[i..].starts_with("\"\"\"\n") {
                        return self.err("a multi-line string must end with \"\"\" and a newline");
                    }
                    self.pos += i + 4;
                    self.line += 1;
                    return Ok(out);
                }
                '\n' => {
                    self.line += 1;
                    out.push('\n');
                }
                c if c.is_control() => {
                    return self.err(format!("control character {c:?} in a string"));
                }
                c => out.push(c),
            }
        }
        self.err("a multi-line string is not closed")
    }

    fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }
}

/// A cursor inside one line.
struct Line<'a> {
    s: &'a str,
    at: usize,
    line: usize,
}

impl<'a> Line<'a> {
    fn err<T>(&self, what: impl Into<String>) -> Result<T> {
        let found: String = self.s[self.at..].chars().take(60).collect();
        Err(ManifestError::Syntax {
            line: self.line,
            what: format!("{} (found {found:?})", what.into()),
        })
    }

    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn lit(&mut self, s: &str) -> Result<()> {
        if self.rest().starts_with(s) {
            self.at += s.len();
            Ok(())
        } else {
            self.err(format!("expected {s:?}"))
        }
    }

    fn try_lit(&mut self, s: &str) -> bool {
        let ok = self.rest().starts_with(s);
        if ok {
            self.at += s.len();
        }
        ok
    }

    fn end(&self) -> Result<()> {
        if self.at == self.s.len() {
            Ok(())
        } else {
            self.err("expected the end of the line")
        }
    }

    /// A basic string whose only escapes are `\"` and `\\`, with no control characters.
    fn string(&mut self) -> Result<String> {
        self.lit("\"")?;
        let rest = self.rest();
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    _ => return self.err("only \\\" and \\\\ are escapes in a manifest"),
                },
                c if c.is_control() => {
                    return self.err(format!("control character {c:?} in a string"));
                }
                c => out.push(c),
            }
        }
        self.err("the string is not closed")
    }

    /// A decimal integer without sign or leading zeros, at most 2^63 − 1.
    fn int(&mut self) -> Result<u64> {
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        let d = &self.rest()[..digits];
        if d.is_empty() || (d.len() > 1 && d.starts_with('0')) {
            return self.err("expected a decimal integer without sign or leading zeros");
        }
        match d.parse::<u64>() {
            Ok(v) if v <= MAX_INTEGER => {
                self.at += digits;
                Ok(v)
            }
            _ => self.err("integer larger than 2^63 - 1 (9223372036854775807)"),
        }
    }

    /// A key: bare (`A-Za-z0-9_-`) or a quoted basic string.
    fn key(&mut self) -> Result<String> {
        if self.rest().starts_with('"') {
            return self.string();
        }
        let n = self
            .rest()
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            .count();
        if n == 0 {
            return self.err("expected a key");
        }
        let k = &self.rest()[..n];
        self.at += n;
        Ok(k.to_string())
    }

    fn digest(&mut self) -> Result<Sha256Digest> {
        let s = self.string()?;
        match s.parse() {
            Ok(d) => Ok(d),
            Err(e) => self.err(e.to_string()),
        }
    }
}

fn u32_of(v: u64, l: &Lines<'_>, what: &str) -> Result<u32> {
    u32::try_from(v).or_else(|_| l.err(format!("{what} {v} is out of range")))
}

/// Parse the canonical form. The caller checks the rules and canonical equality.
pub(super) fn parse(bytes: &[u8]) -> Result<Manifest> {
    let text = std::str::from_utf8(bytes).map_err(|_| ManifestError::NotText)?;
    let first = text.split('\n').next().unwrap_or("");
    if first != format!("format = \"{MANIFEST_FORMAT}\"")
        && first != format!("format = \"{MANIFEST_FORMAT_2}\"")
        && first != format!("format = \"{MANIFEST_FORMAT_3}\"")
    {
        return Err(ManifestError::UnknownFormat {
            found: first.chars().take(100).collect(),
        });
    }
    let mut l = Lines {
        text,
        pos: first.len() + 1,
        line: 1,
    };
    if bytes.len() <= first.len() {
        return l.err("the text ends after the first line");
    }
    let created = l.string_field("created")?;
    let signer_text = l.string_field("signer")?;
    let signer: KeyId = match signer_text.parse() {
        Ok(k) => k,
        Err(e) => return l.err(e.to_string()),
    };
    let sequence = l.int_field("sequence")?;
    let base = if l.peek().is_some_and(|s| s.starts_with("base = ")) {
        let mut b = l.next("base")?;
        b.lit("base = { bundle = ")?;
        let bundle = b.digest()?;
        b.lit(", sequence = ")?;
        let sequence = b.int()?;
        b.lit(", created = ")?;
        let created = b.string()?;
        b.lit(" }")?;
        b.end()?;
        Some(BaseRef {
            bundle,
            sequence,
            created,
        })
    } else {
        None
    };
    let volumes = l.int_field("volumes")?;
    let volumes = u32_of(volumes, &l, "volumes")?;
    let organization = l.string_field("organization")?;

    let mut products = Vec::new();
    while l.next_block_is("[[product]]") {
        l.block("[[product]]")?;
        let label = l.string_field("label")?;
        let name = l.string_field("name")?;
        let gpg_key = if l.next_block_is("[product.gpg_key]") {
            l.block("[product.gpg_key]")?;
            let name = l.string_field("name")?;
            let content = l.multiline_field("content")?;
            Some(GpgKey { name, content })
        } else {
            None
        };
        products.push(Product {
            label,
            name,
            gpg_key,
        });
    }

    let mut repositories = Vec::new();
    while l.next_block_is("[[repository]]") {
        l.block("[[repository]]")?;
        let product = l.string_field("product")?;
        let label = l.string_field("label")?;
        let name = l.string_field("name")?;
        let arch = if l.peek().is_some_and(|s| s.starts_with("arch = ")) {
            Some(l.string_field("arch")?)
        } else {
            None
        };
        let content_type = l.string_field("content_type")?;
        let tree = l.string_field("tree")?;
        repositories.push(Repository {
            product,
            label,
            name,
            arch,
            content_type,
            tree,
        });
    }

    let mut content_views = Vec::new();
    while l.next_block_is("[[content_view]]") {
        l.block("[[content_view]]")?;
        let label = l.string_field("label")?;
        let name = l.string_field("name")?;
        let version = l.string_field("version")?;
        l.exact("repositories = [")?;
        let mut repos = Vec::new();
        loop {
            let mut r = l.next("a repository of the content view, or ]")?;
            if r.s == "]" {
                break;
            }
            r.lit("  { repository = ")?;
            let repository = r.string()?;
            r.lit(", tree = ")?;
            let tree = r.string()?;
            r.lit(" },")?;
            r.end()?;
            repos.push(ViewRepository { repository, tree });
        }
        content_views.push(ContentView {
            label,
            name,
            version,
            repositories: repos,
        });
    }

    // Version 2 only; a version-1 text holding one fails the canonical comparison (its
    // first line would say 2).
    let mut retired = Vec::new();
    while l.next_block_is("[[retired]]") {
        l.block("[[retired]]")?;
        let kind = match l.string_field("kind")?.as_str() {
            "repository" => RetiredKind::Repository,
            "content_view" => RetiredKind::ContentView,
            k => return l.err(format!("unknown kind of retired record {k:?}")),
        };
        let label = l.string_field("label")?;
        let since = l.int_field("since")?;
        retired.push(Retired { kind, label, since });
    }

    // Version 3 only (the canonical comparison refuses them under another first line).
    let mut rotations = Vec::new();
    while l.next_block_is("[[rotation]]") {
        l.block("[[rotation]]")?;
        let old: KeyId = match l.string_field("old")?.parse() {
            Ok(k) => k,
            Err(e) => return l.err(format!("rotation: {e}")),
        };
        let new = match PublicKey::from_record_base64(&l.string_field("new")?) {
            Ok(k) => k,
            Err(e) => return l.err(format!("rotation: new key: {e}")),
        };
        let since = l.int_field("since")?;
        let created = l.string_field("created")?;
        let signature = match Rotation::parse_signature(&l.string_field("signature")?) {
            Ok(s) => s,
            Err(e) => return l.err(format!("rotation: {e}")),
        };
        rotations.push(Rotation {
            old,
            new,
            since,
            created,
            signature,
        });
    }

    l.block("[packs]")?;
    let mut packs: Vec<(String, Pack)> = Vec::new();
    while l.peek().is_some_and(|s| !s.is_empty()) {
        let mut p = l.next("a pack")?;
        let name = p.key()?;
        p.lit(" = { volume = ")?;
        let volume = p.int()?;
        p.lit(", size = ")?;
        let size = p.int()?;
        p.lit(", sha256 = ")?;
        let sha256 = p.digest()?;
        p.lit(" }")?;
        p.end()?;
        if packs.last().is_some_and(|(last, _)| *last >= name) {
            return p.err(format!(
                "pack {name:?} is a duplicate or out of order (packs are sorted by name)"
            ));
        }
        let volume = u32_of(volume, &l, "pack volume")?;
        packs.push((
            name,
            Pack {
                volume,
                size,
                sha256,
            },
        ));
    }

    let mut trees = Vec::new();
    while l.next_block_is("[[tree]]") {
        l.block("[[tree]]")?;
        let name = l.string_field("name")?;
        let packages = l.int_field("packages")?;
        l.block("[tree.files]")?;
        let mut files: Vec<(String, ObjectId)> = Vec::new();
        while l.peek().is_some_and(|s| !s.is_empty()) {
            let mut f = l.next("a file")?;
            let path = f.key()?;
            f.lit(" = ")?;
            let id = f.digest()?;
            f.end()?;
            if files.last().is_some_and(|(last, _)| *last >= path) {
                return f.err(format!(
                    "path {path:?} is a duplicate or out of order (files are sorted bytewise)"
                ));
            }
            files.push((path, id));
        }
        trees.push(Tree {
            name,
            packages,
            files: files.into_iter().collect(),
        });
    }

    l.block("[objects]")?;
    let mut objects: Vec<(ObjectId, Object)> = Vec::new();
    while !l.at_end() {
        let mut o = l.next("an object")?;
        let hex = o.key()?;
        let id: ObjectId = match hex.parse() {
            Ok(id) => id,
            Err(e) => return o.err(e.to_string()),
        };
        o.lit(" = { size = ")?;
        let size = o.int()?;
        o.lit(", encoding = ")?;
        let encoding = match o.string()?.as_str() {
            "raw" => Encoding::Raw,
            "zstd" => Encoding::Zstd,
            e => return o.err(format!("unknown encoding {e:?}")),
        };
        o.lit(", pieces = [")?;
        let mut pieces = Vec::new();
        while !o.try_lit("] }") {
            if !pieces.is_empty() {
                o.lit(", ")?;
            }
            o.lit("{ pack = ")?;
            let pack = o.string()?;
            o.lit(", offset = ")?;
            let offset = o.int()?;
            o.lit(", length = ")?;
            let length = o.int()?;
            o.lit(" }")?;
            pieces.push(Piece {
                pack,
                offset,
                length,
            });
        }
        o.end()?;
        if objects.last().is_some_and(|(last, _)| *last >= id) {
            return o.err(format!(
                "object {id} is a duplicate or out of order (objects are sorted by id)"
            ));
        }
        objects.push((
            id,
            Object {
                size,
                encoding,
                pieces,
            },
        ));
    }

    Ok(Manifest {
        created,
        signer,
        sequence,
        base,
        volumes,
        organization,
        products,
        repositories,
        content_views,
        retired,
        rotations,
        packs: packs.into_iter().collect(),
        trees,
        objects: objects.into_iter().collect(),
    })
}
