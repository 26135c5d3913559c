//! The rules every manifest obeys (`spec/FORMAT.md` §5), read or written: checked on the
//! manifest alone, before anything it describes is touched.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::{Encoding, Manifest, ManifestError, RetiredKind, Tree, pack_number};
use crate::format::constants::{
    MAX_GPG_KEY, MAX_INTEGER, MAX_NAME, MAX_ROTATIONS, MAX_VOLUMES, TAR_BLOCK, TAR_MAX_ENTRY,
    TAR_TRAILER,
};
use crate::format::id::Sha256Digest;
use crate::format::relpath;
use crate::format::tar_entry::padding;

type Result<T = ()> = std::result::Result<T, ManifestError>;

fn bad<T>(s: String) -> Result<T> {
    Err(ManifestError::Invalid(s))
}

/// A sum that must stay at or below 2^63 − 1.
fn add(a: u64, b: u64, what: &str) -> Result<u64> {
    match a.checked_add(b) {
        Some(s) if s <= MAX_INTEGER => Ok(s),
        _ => bad(format!("{what} add up to more than 2^63 - 1")),
    }
}

impl Manifest {
    /// Every rule of `spec/FORMAT.md` that can be checked on the manifest alone.
    pub fn check(&self) -> Result {
        self.check_header()?;
        let products = self.check_products()?;
        let trees = self.check_trees()?;
        self.check_repositories(&products, &trees)?;
        self.check_views(&trees)?;
        self.check_retired()?;
        self.check_rotations()?;
        self.check_packs()?;
        self.check_objects()?;
        self.check_layout()
    }

    fn check_header(&self) -> Result {
        if !is_utc_time(&self.created) {
            return bad(format!(
                "created {:?} is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
                self.created
            ));
        }
        if self.sequence == 0 || self.sequence > MAX_INTEGER {
            return bad(format!("sequence {} is outside 1..=2^63-1", self.sequence));
        }
        if let Some(b) = &self.base {
            if b.sequence == 0 || b.sequence >= self.sequence {
                return bad(format!(
                    "base sequence {} is not in 1..{} (below this bundle's sequence)",
                    b.sequence, self.sequence
                ));
            }
            if !is_utc_time(&b.created) {
                return bad(format!(
                    "base created {:?} is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
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
        check_label(&self.organization, "organization")
    }

    /// The product labels.
    fn check_products(&self) -> Result<HashSet<&str>> {
        let mut seen = HashSet::new();
        let mut folded = HashSet::new();
        for p in &self.products {
            check_label(&p.label, "product label")?;
            check_name(&p.name, &format!("product {}", p.label))?;
            if !seen.insert(p.label.as_str()) || !folded.insert(p.label.to_ascii_lowercase()) {
                return bad(format!(
                    "product {:?} is listed twice (labels are compared ignoring case)",
                    p.label
                ));
            }
            if let Some(k) = &p.gpg_key {
                if k.name.contains('/') || relpath::check(&k.name).is_err() {
                    return bad(format!(
                        "product {:?}: GPG key name {:?} is not a plain file name",
                        p.label, k.name
                    ));
                }
                if k.content.len() > MAX_GPG_KEY
                    || k.content.chars().any(|c| c.is_control() && c != '\n')
                {
                    return bad(format!(
                        "product {:?}: the GPG key is longer than {MAX_GPG_KEY} bytes or holds control characters other than newlines",
                        p.label
                    ));
                }
            }
        }
        Ok(seen)
    }

    fn check_trees(&self) -> Result<HashMap<&str, &Tree>> {
        let mut trees = HashMap::new();
        for t in &self.trees {
            relpath::check(&t.name)
                .map_err(|e| ManifestError::Invalid(format!("tree name: {e}")))?;
            if trees.insert(t.name.as_str(), t).is_some() {
                return bad(format!("tree {:?} is listed twice", t.name));
            }
            if t.packages > MAX_INTEGER {
                return bad(format!("tree {}: packages is out of range", t.name));
            }
            check_tree_paths(t)?;
            if self.base.is_none()
                && let Some((path, id)) = t
                    .files
                    .iter()
                    .find(|(_, id)| !self.objects.contains_key(id))
            {
                return bad(format!(
                    "tree {}: {path} refers to object {id} that this full bundle does not carry",
                    t.name
                ));
            }
        }
        Ok(trees)
    }

    fn check_repositories(&self, products: &HashSet<&str>, trees: &HashMap<&str, &Tree>) -> Result {
        let mut seen = HashSet::new();
        for r in &self.repositories {
            check_label(&r.label, "repository label")?;
            let full = format!("{}/{}", r.product, r.label);
            check_name(&r.name, &format!("repository {full}"))?;
            if !products.contains(r.product.as_str()) {
                return bad(format!(
                    "repository {:?} names undefined product {:?}",
                    r.label, r.product
                ));
            }
            if r.content_type != "yum" {
                return bad(format!(
                    "repository {full} has content type {:?}; this version knows only \"yum\"",
                    r.content_type
                ));
            }
            if let Some(a) = &r.arch {
                check_label(a, "arch")?;
            }
            if !seen.insert(full.to_ascii_lowercase()) {
                return bad(format!(
                    "repository {full} is listed twice (labels are compared ignoring case)"
                ));
            }
            if !trees.contains_key(r.tree.as_str()) {
                return bad(format!(
                    "repository {full} names undefined tree {:?}",
                    r.tree
                ));
            }
        }
        Ok(())
    }

    /// §5.8: each retired record names something this manifest does not carry, once, and
    /// a sequence of this stream at or before this bundle.
    fn check_retired(&self) -> Result {
        let mut seen = HashSet::new();
        for w in self.retired.windows(2) {
            if (w[0].kind, w[0].label.as_bytes()) >= (w[1].kind, w[1].label.as_bytes()) {
                return bad(format!(
                    "retired records are out of order at {} {:?} (sorted by kind, then label)",
                    w[1].kind.as_str(),
                    w[1].label
                ));
            }
        }
        for r in &self.retired {
            let what = format!("retired {} {:?}", r.kind.as_str(), r.label);
            match r.kind {
                RetiredKind::Repository => {
                    let Some((product, repo)) = r.label.split_once('/') else {
                        return bad(format!("{what}: a repository is named product/repository"));
                    };
                    check_label(product, &what)?;
                    check_label(repo, &what)?;
                    if self.repositories.iter().any(|x| {
                        x.product.eq_ignore_ascii_case(product)
                            && x.label.eq_ignore_ascii_case(repo)
                    }) {
                        return bad(format!("{what} is also carried by this bundle"));
                    }
                }
                RetiredKind::ContentView => {
                    check_label(&r.label, &what)?;
                    if self
                        .content_views
                        .iter()
                        .any(|v| v.label.eq_ignore_ascii_case(&r.label))
                    {
                        return bad(format!("{what} is also carried by this bundle"));
                    }
                }
            }
            if r.since == 0 || r.since > self.sequence {
                return bad(format!(
                    "{what}: since {} is not in 1..={} (this bundle's sequence)",
                    r.since, self.sequence
                ));
            }
            if !seen.insert((r.kind, r.label.to_ascii_lowercase())) {
                return bad(format!(
                    "{what} is listed twice (labels are compared ignoring case)"
                ));
            }
        }
        Ok(())
    }

    /// §5.9: the rotation statements form one chain, oldest first, that ends at the
    /// signer; each after the first is signed by the key the one before names (the
    /// first one's old key is checked by the importer against the keys it trusts).
    fn check_rotations(&self) -> Result {
        if self.rotations.len() > MAX_ROTATIONS {
            return bad(format!(
                "{} rotation statements; at most {MAX_ROTATIONS}",
                self.rotations.len()
            ));
        }
        let mut keys = HashSet::new();
        for (i, r) in self.rotations.iter().enumerate() {
            let what = format!("rotation from key {} to key {}", r.old, r.new.id);
            if r.since == 0 || r.since > self.sequence {
                return bad(format!(
                    "{what}: since {} is not in 1..={} (this bundle's sequence)",
                    r.since, self.sequence
                ));
            }
            if !is_utc_time(&r.created) {
                return bad(format!(
                    "{what}: created {:?} is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
                    r.created
                ));
            }
            if i == 0 {
                keys.insert(r.old);
            }
            if !keys.insert(r.new.id) {
                return bad(format!(
                    "{what}: key {} appears twice in the chain of rotations",
                    r.new.id
                ));
            }
            if let Some(prev) = i.checked_sub(1).map(|p| &self.rotations[p]) {
                if r.old != prev.new.id {
                    return bad(format!(
                        "{what} does not follow the rotation before it, which names key {}",
                        prev.new.id
                    ));
                }
                if r.since < prev.since {
                    return bad(format!(
                        "{what}: since {} is before the rotation before it ({})",
                        r.since, prev.since
                    ));
                }
                if r.verify(&self.organization, &prev.new).is_err() {
                    return bad(format!(
                        "{what}: its signature does not verify with key {}",
                        prev.new.id
                    ));
                }
            }
        }
        if let Some(last) = self.rotations.last()
            && last.new.id != self.signer
        {
            return bad(format!(
                "the last rotation names key {}, but the signer is {}",
                last.new.id, self.signer
            ));
        }
        Ok(())
    }

    fn check_views(&self, trees: &HashMap<&str, &Tree>) -> Result {
        let repos: HashSet<String> = self
            .repositories
            .iter()
            .map(|r| format!("{}/{}", r.product, r.label))
            .collect();
        let mut views = HashSet::new();
        for v in &self.content_views {
            check_label(&v.label, "content view label")?;
            check_label(&v.version, "content view version")?;
            check_name(&v.name, &format!("content view {}", v.label))?;
            if !views.insert((v.label.to_ascii_lowercase(), v.version.to_ascii_lowercase())) {
                return bad(format!(
                    "content view {} version {} is listed twice (labels are compared ignoring case)",
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
        Ok(())
    }

    fn check_packs(&self) -> Result {
        let mut total = 0u64;
        for (name, p) in &self.packs {
            if pack_number(name).is_none() {
                return bad(format!(
                    "pack name {name:?} is not a pack number zero-padded to four digits (0001)"
                ));
            }
            if p.volume == 0 || p.volume > self.volumes {
                return bad(format!(
                    "pack {name} is on volume {}, outside 1..={}",
                    p.volume, self.volumes
                ));
            }
            if p.size < TAR_TRAILER || p.size % TAR_BLOCK != 0 {
                return bad(format!(
                    "pack {name} size {} is not a whole tar archive",
                    p.size
                ));
            }
            total = add(total, p.size, "the pack sizes")?;
        }
        Ok(())
    }

    fn check_objects(&self) -> Result {
        let empty = Sha256Digest::of(b"");
        let mut total = 0u64;
        for (id, o) in &self.objects {
            total = add(total, o.size, "the object sizes")?;
            if o.pieces.is_empty() {
                if o.size != 0 || o.encoding != Encoding::Raw || *id != empty {
                    return bad(format!(
                        "object {id} has no pieces: only the empty object (raw, size 0, id {empty}) may"
                    ));
                }
                continue;
            }
            let mut stored = 0u64;
            let mut last: Option<(u32, u64)> = None;
            for piece in &o.pieces {
                let Some(pack) = self.packs.get(&piece.pack) else {
                    return bad(format!("object {id} names undefined pack {}", piece.pack));
                };
                let n = pack_number(&piece.pack).expect("checked pack names");
                if piece.length == 0 || piece.length > TAR_MAX_ENTRY {
                    return bad(format!(
                        "object {id}: a piece of {} bytes in pack {} (pieces hold 1 to 8 GiB - 1 bytes)",
                        piece.length, piece.pack
                    ));
                }
                if piece.offset < TAR_BLOCK
                    || piece.offset % TAR_BLOCK != 0
                    || piece
                        .offset
                        .checked_add(piece.length)
                        .is_none_or(|end| end > pack.size - TAR_TRAILER)
                {
                    return bad(format!(
                        "object {id}: a piece lies outside pack {}",
                        piece.pack
                    ));
                }
                if last.is_some_and(|l| l >= (n, piece.offset)) {
                    return bad(format!(
                        "object {id}: pieces are not in pack and offset order"
                    ));
                }
                last = Some((n, piece.offset));
                stored = add(stored, piece.length, "an object's piece lengths")?;
            }
            if o.encoding == Encoding::Raw && stored != o.size {
                return bad(format!(
                    "raw object {id}: pieces hold {stored} bytes, size is {}",
                    o.size
                ));
            }
        }
        Ok(())
    }

    /// Every pack is exactly its entries, one per piece, back to back in offset order, then
    /// the trailer; and objects do not interleave: going through the packs in number order,
    /// an object's pieces come one right after the other. So every byte of a pack is
    /// accounted for, and a reader has at most one object open at a time.
    fn check_layout(&self) -> Result {
        // (pack number, offset, length, object index, piece index)
        let mut all: Vec<(u32, u64, u64, usize, usize)> = Vec::new();
        for (i, o) in self.objects.values().enumerate() {
            for (k, p) in o.pieces.iter().enumerate() {
                let n = pack_number(&p.pack).expect("checked pack names");
                all.push((n, p.offset, p.length, i, k));
            }
        }
        all.sort_unstable();
        let ids: Vec<_> = self.objects.keys().collect();
        let mut packs: Vec<(u32, u64)> = self
            .packs
            .iter()
            .map(|(n, p)| (pack_number(n).expect("checked pack names"), p.size))
            .collect();
        packs.sort_unstable();
        let mut at = all.iter().peekable();
        for (name, size) in packs {
            let mut end = 0u64; // end of the previous entry
            while let Some(&&(n, offset, length, _, _)) = at.peek() {
                if n != name {
                    break;
                }
                if offset != end + TAR_BLOCK {
                    return bad(format!(
                        "pack {}: the entry at {offset} does not follow the previous one (expected data at {}): a pack holds only its pieces, back to back",
                        super::pack_name(name),
                        end + TAR_BLOCK
                    ));
                }
                end = offset + length + padding(length);
                at.next();
            }
            if size != end + TAR_TRAILER {
                return bad(format!(
                    "pack {}: size {} is not its entries plus the trailer ({} bytes)",
                    super::pack_name(name),
                    size,
                    end + TAR_TRAILER
                ));
            }
        }
        let mut prev: Option<(usize, usize)> = None;
        for &(_, _, _, i, k) in &all {
            let ok = match prev {
                None => k == 0,
                Some((pi, pk)) if pi == i => k == pk + 1,
                Some((pi, pk)) => k == 0 && pk + 1 == self.objects[ids[pi]].pieces.len(),
            };
            if !ok {
                return bad(format!(
                    "object {}: its pieces are interleaved with another object's (each object's pieces come one right after the other)",
                    ids[i]
                ));
            }
            prev = Some((i, k));
        }
        Ok(())
    }
}

/// Paths: each a relative path; none equal to another or a directory of another, even
/// ignoring case (the published tree must be creatable on case-insensitive file systems).
fn check_tree_paths(t: &Tree) -> Result {
    let mut folded: HashSet<String> = HashSet::with_capacity(t.files.len());
    for path in t.files.keys() {
        relpath::check(path)
            .map_err(|e| ManifestError::Invalid(format!("tree {}: {e}", t.name)))?;
        if !folded.insert(path.to_lowercase()) {
            return bad(format!(
                "tree {}: {path:?} collides with another path when case is ignored",
                t.name
            ));
        }
    }
    for path in t.files.keys() {
        let lower = path.to_lowercase();
        let mut at = 0;
        while let Some(i) = lower[at..].find('/') {
            let dir = &lower[..at + i];
            if folded.contains(dir) {
                return bad(format!(
                    "tree {}: {:?} is both a file and a directory (case ignored)",
                    t.name,
                    &path[..at + i]
                ));
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

fn check_label(s: &str, what: &str) -> Result {
    if is_label(s) {
        Ok(())
    } else {
        bad(format!(
            "{what} {s:?} must be 1-128 characters from A-Z a-z 0-9 . _ - and not start with '.'"
        ))
    }
}

/// Display names: at most [`MAX_NAME`] bytes, no control characters.
fn check_name(s: &str, what: &str) -> Result {
    if s.len() > MAX_NAME || s.chars().any(char::is_control) {
        return bad(format!(
            "{what}: its name is longer than {MAX_NAME} bytes or holds control characters"
        ));
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, a real date and time (no leap second).
pub fn is_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return false;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
    let (y, mo, d, h, mi, se) = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d) && h < 24 && mi < 60 && se < 60
}
