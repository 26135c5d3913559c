//! The one pass over a bundle's packs, shared by verify and import: every pack on the
//! volumes given is read once, front to back, and hashed; with [`Depth::Objects`] every
//! entry header is checked, every padding and trailer byte must be zero, and every object
//! whose pieces are all on those volumes is decoded, capped at its size and checked
//! against its id on the way (`spec/FORMAT.md` §7). What happens to a decoded object is the
//! [`Sink`]'s business: verify discards it, import stores it.
//!
//! Problems with the media are findings, and the pass goes on to report them all; a
//! failure to write (the store's disk) ends the pass with an error.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use super::findings::{Finding, ProblemKind};
use super::object::{DecodeError, Decoder};
use super::readahead::{PackReader, read_pack};
use super::set::Bundle;
use super::volume::{Volume, media_kind, pack_file};
use crate::format::ObjectId;
use crate::format::constants::{TAR_BLOCK, TAR_TRAILER};
use crate::format::manifest::{Manifest, Pack, pack_number};
use crate::format::tar_entry::{check_header, padding};
use crate::progress::Progress;

/// How deep the pass looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Pack sizes and SHA-256 only (`ferry verify`).
    Packs,
    /// Also every entry header, padding and trailer, and every object decoded and checked
    /// against its id (`ferry verify --deep`, `ferry import`).
    Objects,
}

/// Where decoded objects go.
pub trait Sink {
    /// The output of one object.
    type Out: Write;
    /// The output of one staged piece.
    type Stage: Write;
    /// Object `id` of `size` bytes begins.
    fn begin(&mut self, id: &ObjectId, size: u64) -> std::io::Result<Self::Out>;
    /// Object `id` decoded to its id, size and hash checked: keep it.
    fn keep(&mut self, id: &ObjectId, out: Self::Out) -> std::io::Result<()>;
    /// Whether an object with pieces on volumes not given has the pieces that are here
    /// kept for a later run ([`Sink::stage`]) instead of being left unchecked.
    fn stages(&self) -> bool {
        false
    }
    /// Where piece `k` of object `id` is kept.
    fn stage(&mut self, id: &ObjectId, k: usize) -> std::io::Result<Self::Stage>;
    /// The piece is complete (its pack's hash is checked when the pack ends).
    fn staged(&mut self, stage: Self::Stage) -> std::io::Result<()>;
}

/// A sink that keeps nothing: decoding only checks.
pub struct Discard;

impl Sink for Discard {
    type Out = std::io::Sink;
    type Stage = std::io::Sink;
    fn begin(&mut self, _: &ObjectId, _: u64) -> std::io::Result<Self::Out> {
        Ok(std::io::sink())
    }
    fn keep(&mut self, _: &ObjectId, _: Self::Out) -> std::io::Result<()> {
        Ok(())
    }
    fn stage(&mut self, _: &ObjectId, _: usize) -> std::io::Result<Self::Stage> {
        Ok(std::io::sink())
    }
    fn staged(&mut self, _: Self::Stage) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the pass found and did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// Everything wrong, in the order found.
    pub findings: Vec<Finding>,
    /// Packs read.
    pub packs_checked: usize,
    /// Bytes of packs read in full.
    pub bytes_checked: u64,
    /// Objects decoded and found intact.
    pub objects_checked: u64,
    /// Objects not checked: a piece is on a volume not given, or in a pack that could
    /// not be read (that pack is a finding).
    pub objects_unchecked: u64,
    /// Pieces kept for a later run.
    pub pieces_staged: u64,
    /// Objects not decoded because they continue on a volume not given (with a sink that
    /// does not stage, [`Sink::stages`]): a piece is on the volumes given, another is not.
    /// In pass order; counted in `objects_unchecked` too. Their bytes here are read and
    /// hashed with their pack, and their entry headers checked, like every other's.
    pub continuing: Vec<Continuing>,
    /// Objects with no piece on the volumes given (counted in `objects_unchecked` too).
    pub objects_elsewhere: u64,
}

/// An object that the volumes given hold only part of: it cannot be decoded from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuing {
    /// The object.
    pub object: ObjectId,
    /// The volumes not given that hold its other pieces, ascending.
    pub on: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Feed the object's decoder.
    Feed,
    /// Keep the stored bytes for a later run.
    Stage,
    /// Check the header and hash the bytes only.
    Check,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    length: u64,
    object: usize,
    k: usize,
    action: Action,
}

struct Pass<'a, S: Sink> {
    manifest: &'a Manifest,
    volumes: &'a BTreeMap<u32, Volume>,
    ids: Vec<&'a ObjectId>,
    sink: &'a mut S,
    depth: Depth,
    progress: &'a dyn Progress,
    report: PassReport,
    /// The object being decoded (objects do not interleave, so there is at most one).
    open: Option<(usize, Decoder<S::Out>)>,
    /// Objects that failed (damaged, or a bad entry header): their remaining pieces are
    /// only checked.
    failed: HashSet<usize>,
    /// Objects to decode that a pack they need could not be read for.
    abandoned: HashSet<usize>,
    /// What is wrong inside the pack being read (entry headers, padding, trailer): told in
    /// one finding about the pack when it ends.
    notes: Vec<String>,
    /// Tree files using each object, built at the first damaged object.
    users: Option<HashMap<ObjectId, Vec<String>>>,
    buf: Vec<u8>,
}

/// Read every pack of `bundle` on `volumes` once, as deep as `depth` says, handing
/// decoded objects to `sink`. Media problems are findings in the report; an error is the
/// sink's (writing failed).
pub fn run<S: Sink>(
    bundle: &Bundle,
    volumes: &BTreeMap<u32, Volume>,
    depth: Depth,
    sink: &mut S,
    progress: &dyn Progress,
) -> std::io::Result<PassReport> {
    let m = &bundle.manifest;
    let mut pass = Pass {
        manifest: m,
        volumes,
        ids: m.objects.keys().collect(),
        sink,
        depth,
        progress,
        report: PassReport::default(),
        open: None,
        failed: HashSet::new(),
        abandoned: HashSet::new(),
        users: None,
        notes: Vec::new(),
        buf: vec![0u8; 1 << 20],
    };
    let present = |pack: &str| volumes.contains_key(&m.packs[pack].volume);

    // Where each piece on the volumes given is, and what to do with it.
    let mut slots: Vec<(u32, Slot)> = Vec::new();
    if depth == Depth::Objects {
        for (i, (id, o)) in m.objects.iter().enumerate() {
            if o.pieces.is_empty() {
                // The empty object: nothing to read.
                let out = pass.sink.begin(id, 0)?;
                pass.finish(i, Decoder::new(*id, o, out))?;
                continue;
            }
            let whole = o.pieces.iter().all(|p| present(&p.pack));
            let action = match (whole, pass.sink.stages()) {
                (true, _) => Action::Feed,
                (false, true) => Action::Stage,
                (false, false) => {
                    pass.report.objects_unchecked += 1;
                    if o.pieces.iter().any(|p| present(&p.pack)) {
                        let mut on: Vec<u32> = o
                            .pieces
                            .iter()
                            .map(|p| m.packs[&p.pack].volume)
                            .filter(|n| !volumes.contains_key(n))
                            .collect();
                        on.sort_unstable();
                        on.dedup();
                        pass.report.continuing.push(Continuing { object: *id, on });
                    } else {
                        pass.report.objects_elsewhere += 1;
                    }
                    Action::Check
                }
            };
            for (k, p) in o
                .pieces
                .iter()
                .enumerate()
                .filter(|(_, p)| present(&p.pack))
            {
                let n = pack_number(&p.pack).expect("checked manifest");
                slots.push((
                    n,
                    Slot {
                        offset: p.offset,
                        length: p.length,
                        object: i,
                        k,
                        action,
                    },
                ));
            }
        }
        slots.sort_unstable_by_key(|(n, s)| (*n, s.offset));
    }
    let (slot_packs, slots): (Vec<u32>, Vec<Slot>) = slots.into_iter().unzip();

    let mut packs: Vec<(u32, &String, &Pack)> = m
        .packs
        .iter()
        .filter(|(_, p)| volumes.contains_key(&p.volume))
        .map(|(name, p)| (pack_number(name).expect("checked manifest"), name, p))
        .collect();
    packs.sort_unstable_by_key(|(n, _, _)| *n);
    let total = packs.iter().map(|(_, _, p)| p.size).sum();
    progress.begin(
        match depth {
            Depth::Packs => "checking packs",
            Depth::Objects => "reading packs",
        },
        Some(total),
    );
    let mut at = 0;
    for (n, name, pack) in packs {
        let start = at;
        while at < slots.len() && slot_packs[at] == n {
            at += 1;
        }
        pass.pack(name, pack, &volumes[&pack.volume], &slots[start..at])?;
    }
    progress.end();
    debug_assert!(pass.open.is_none(), "every object read to its last piece");
    pass.report.objects_unchecked += pass.abandoned.difference(&pass.failed).count() as u64;
    Ok(pass.report)
}

/// Why reading a pack stopped.
enum Stop {
    /// The medium: a finding has been recorded.
    Media,
    /// The sink: the pass ends.
    Store(std::io::Error),
}

impl<S: Sink> Pass<'_, S> {
    fn pack(
        &mut self,
        name: &str,
        pack: &Pack,
        vol: &Volume,
        slots: &[Slot],
    ) -> std::io::Result<()> {
        let rel = pack_file(name);
        let file = match vol.root.open_file(&rel) {
            Ok(f) => f,
            Err(e) => {
                self.report
                    .findings
                    .push(vol.finding(Some(&rel), media_kind(&e), e.to_string()));
                self.abandon(slots);
                return Ok(());
            }
        };
        let len = match file.metadata() {
            Ok(m) => m.len(),
            Err(e) => {
                self.report.findings.push(vol.finding(
                    Some(&rel),
                    ProblemKind::Unreadable,
                    format!("cannot be read: {e}"),
                ));
                self.abandon(slots);
                return Ok(());
            }
        };
        if len != pack.size {
            self.report.findings.push(if len < pack.size {
                vol.finding(
                    Some(&rel),
                    ProblemKind::Truncated,
                    format!("is truncated: {len} of {} bytes", pack.size),
                )
            } else {
                vol.finding(
                    Some(&rel),
                    ProblemKind::Corrupt,
                    format!("is {len} bytes, {} more than signed", len - pack.size),
                )
            });
            self.abandon(slots);
            return Ok(());
        }
        self.report.packs_checked += 1;
        let mut done = 0;
        self.notes.clear();
        // Read (and hashed for the pack) on another thread, ahead of the decoding here.
        let (result, digest) = read_pack(file, pack.size, |r| {
            self.entries(r, pack, vol, &rel, slots, &mut done)
        });
        match result {
            Ok(()) => {}
            Err(Stop::Store(e)) => return Err(e),
            Err(Stop::Media) => {
                self.abandon(&slots[done..]);
                return Ok(());
            }
        }
        // One finding for the pack: its hash, and what is wrong inside it.
        let notes = std::mem::take(&mut self.notes);
        let hash_ok = digest == Some(pack.sha256);
        let mut detail = String::new();
        if !hash_ok {
            detail.push_str("is corrupt: its SHA-256 does not match the signed one");
        }
        if !notes.is_empty() {
            detail.push_str(if hash_ok {
                "is signed, but has "
            } else {
                "; it has "
            });
            detail.push_str(&notes.join("; "));
        }
        if detail.is_empty() {
            self.report.bytes_checked += pack.size;
        } else {
            self.report
                .findings
                .push(vol.finding(Some(&rel), ProblemKind::Corrupt, detail));
        }
        Ok(())
    }

    /// Read the pack's entries (depth permitting) and the rest of it.
    fn entries(
        &mut self,
        r: &mut PackReader,
        pack: &Pack,
        vol: &Volume,
        rel: &str,
        slots: &[Slot],
        done: &mut usize,
    ) -> Result<(), Stop> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = (|| {
            let media = |this: &mut Self, pos: u64, e: std::io::Error| {
                let f = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    vol.finding(
                        Some(rel),
                        ProblemKind::Truncated,
                        format!("ends at byte {pos}, before its signed size {}", pack.size),
                    )
                } else {
                    vol.finding(
                        Some(rel),
                        ProblemKind::Unreadable,
                        format!("cannot be read at byte {pos}: {e}"),
                    )
                };
                this.report.findings.push(f);
                Stop::Media
            };
            for (j, slot) in slots.iter().enumerate() {
                *done = j;
                // The manifest's layout puts every header right where the last entry ended.
                debug_assert_eq!(r.pos + TAR_BLOCK, slot.offset);
                let mut header = [0u8; 512];
                r.read_exact(&mut header)
                    .map_err(|e| media(self, r.pos, e))?;
                self.progress.advance(TAR_BLOCK);
                let mut action = slot.action;
                if let Err(e) = check_header(&header, slot.length) {
                    self.notes.push(format!(
                        "a bad entry header at byte {}: {e}",
                        slot.offset - TAR_BLOCK
                    ));
                    self.fail(slot.object);
                    action = Action::Check;
                }
                if action == Action::Feed
                    && (self.failed.contains(&slot.object) || self.abandoned.contains(&slot.object))
                {
                    action = Action::Check;
                }
                let mut stage = match action {
                    Action::Stage => Some(
                        self.sink
                            .stage(self.ids[slot.object], slot.k)
                            .map_err(Stop::Store)?,
                    ),
                    _ => None,
                };
                if action == Action::Feed && slot.k == 0 {
                    let id = self.ids[slot.object];
                    let o = &self.manifest.objects[id];
                    let out = self.sink.begin(id, o.size).map_err(Stop::Store)?;
                    self.open = Some((slot.object, Decoder::new(*id, o, out)));
                }
                let mut left = slot.length;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    r.read_exact(&mut buf[..n])
                        .map_err(|e| media(self, r.pos, e))?;
                    self.progress.advance(n as u64);
                    left -= n as u64;
                    match action {
                        Action::Feed => {
                            let Some((_, d)) = &mut self.open else {
                                unreachable!("a live object's decoder is open")
                            };
                            match d.feed(&buf[..n]) {
                                Ok(()) => {}
                                Err(DecodeError::Output(e)) => return Err(Stop::Store(e)),
                                Err(DecodeError::Damaged(damage)) => {
                                    self.open = None;
                                    self.damaged(slot.object, &damage.to_string());
                                    action = Action::Check;
                                }
                            }
                        }
                        Action::Stage => {
                            let s = stage.as_mut().expect("staging");
                            s.write_all(&buf[..n]).map_err(Stop::Store)?;
                        }
                        Action::Check => {}
                    }
                }
                // Padding up to the next block: zero bytes.
                let pad = padding(slot.length) as usize;
                r.read_exact(&mut buf[..pad])
                    .map_err(|e| media(self, r.pos, e))?;
                self.progress.advance(pad as u64);
                if buf[..pad].iter().any(|&b| b != 0) {
                    self.notes.push(format!(
                        "non-zero padding after the entry at byte {}",
                        slot.offset
                    ));
                }
                if let Some(s) = stage {
                    self.sink.staged(s).map_err(Stop::Store)?;
                    self.report.pieces_staged += 1;
                }
                let id = self.ids[slot.object];
                if action == Action::Feed
                    && slot.k + 1 == self.manifest.objects[id].pieces.len()
                    && let Some((i, d)) = self.open.take()
                {
                    self.finish(i, d).map_err(Stop::Store)?;
                }
            }
            *done = slots.len();
            // The rest: the trailer of zero bytes (all of the rest, by the layout), or with
            // `Depth::Packs` everything.
            let mut zero = true;
            while r.pos < pack.size {
                let n = (pack.size - r.pos).min(buf.len() as u64) as usize;
                r.read_exact(&mut buf[..n])
                    .map_err(|e| media(self, r.pos, e))?;
                self.progress.advance(n as u64);
                zero &= buf[..n].iter().all(|&b| b == 0);
            }
            if self.depth == Depth::Objects && !zero {
                self.notes.push(format!(
                    "not {TAR_TRAILER} zero bytes after the last entry (a tar reader would see more entries)"
                ));
            }
            Ok(())
        })();
        self.buf = buf;
        result
    }

    /// The last piece is in: check and keep, or report.
    fn finish(&mut self, i: usize, d: Decoder<S::Out>) -> std::io::Result<()> {
        let id = self.ids[i];
        match d.finish() {
            Ok(out) => {
                self.sink.keep(id, out)?;
                self.report.objects_checked += 1;
            }
            Err(DecodeError::Output(e)) => return Err(e),
            Err(DecodeError::Damaged(damage)) => self.damaged(i, &damage.to_string()),
        }
        Ok(())
    }

    /// Object `i` does not decode: a finding on the pack of its last piece (wherever the
    /// damage showed, so that every reader names the same pack, spec §12.1).
    fn damaged(&mut self, i: usize, what: &str) {
        self.fail(i);
        let id = *self.ids[i];
        let last = self.manifest.objects[&id]
            .pieces
            .last()
            .expect("the empty object decodes to its id");
        let vol = &self.volumes[&self.manifest.packs[&last.pack].volume];
        let rel = pack_file(&last.pack);
        let users = self.users.get_or_insert_with(|| users(self.manifest));
        let names = named(users.get(&id).map_or(&[], Vec::as_slice));
        self.report.findings.push(vol.finding(
            Some(&rel),
            ProblemKind::DamagedObject,
            format!(
                "holds object {} ({names}) which is damaged: {what}",
                id.short()
            ),
        ));
    }

    /// Object `i` failed: it is not decoded further.
    fn fail(&mut self, i: usize) {
        self.close(i);
        self.failed.insert(i);
    }

    fn close(&mut self, i: usize) {
        if self.open.as_ref().is_some_and(|(o, _)| *o == i) {
            self.open = None;
        }
    }

    /// A pack (or its rest) could not be read: the objects to decode with pieces there
    /// are not checked in this pass.
    fn abandon(&mut self, slots: &[Slot]) {
        for s in slots {
            if s.action == Action::Feed {
                self.close(s.object);
                self.abandoned.insert(s.object);
            }
        }
    }
}

/// Tree files that use an object, for a message: at most three named.
pub fn named(files: &[String]) -> String {
    match files.len() {
        0 => "no tree file".into(),
        1..=3 => files.join(", "),
        n => format!("{} and {} more", files[..3].join(", "), n - 3),
    }
}

/// The tree files (`TREE/PATH`) that use each of `ids` (only those: a manifest can name
/// millions of files).
pub fn users_of(m: &Manifest, ids: &[ObjectId]) -> HashMap<ObjectId, Vec<String>> {
    let mut out: HashMap<ObjectId, Vec<String>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    for t in &m.trees {
        for (path, id) in &t.files {
            if let Some(u) = out.get_mut(id) {
                u.push(format!("{}/{path}", t.name));
            }
        }
    }
    out
}

/// Tree files (`TREE/PATH`) by the object they use.
fn users(m: &Manifest) -> HashMap<ObjectId, Vec<String>> {
    let mut out: HashMap<ObjectId, Vec<String>> = HashMap::new();
    for t in &m.trees {
        for (path, id) in &t.files {
            out.entry(*id)
                .or_default()
                .push(format!("{}/{path}", t.name));
        }
    }
    out
}
