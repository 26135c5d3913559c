//! Objects whose pieces arrived on volumes given in different runs: once every volume has
//! been seen, each is decoded from its staged pieces through the same decoder the pass
//! uses, and kept if the store lacks it.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use super::sink::{Out, StoreSink, piece_file};
use crate::bundle::object::{DecodeError, Decoder};
use crate::bundle::{Finding, ProblemKind, Sink as _};
use crate::format::ObjectId;
use crate::format::manifest::Manifest;
use crate::store::objects::at;

/// Decode `ids` from the pieces under `pieces`. A piece that does not decode to its object
/// is a finding (it was checked by its pack's hash when staged, so the signer made it so).
pub fn assemble(
    sink: &mut StoreSink,
    pieces: &Path,
    manifest: &Manifest,
    ids: &[ObjectId],
    findings: &mut Vec<Finding>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    for id in ids {
        let o = &manifest.objects[id];
        let out: Out = sink.begin(id, o.size)?;
        let mut d = Decoder::new(*id, o, out);
        let mut damage = None;
        let mut missing = false;
        'pieces: for k in 0..o.pieces.len() {
            let file = piece_file(pieces, id, k);
            let mut f = match File::open(&file) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let vol = manifest.packs[&o.pieces[k].pack].volume;
                    findings.push(Finding::new(
                        pieces,
                        Some(vol),
                        None,
                        ProblemKind::Missing,
                        format!(
                            "piece {k} of object {} was not kept when volume {vol} was imported: give volume {vol} again",
                            id.short()
                        ),
                    ));
                    damage = None;
                    missing = true;
                    break 'pieces;
                }
                Err(e) => return Err(at(&file)(e)),
            };
            loop {
                let n = f.read(&mut buf).map_err(at(&file))?;
                if n == 0 {
                    break;
                }
                match d.feed(&buf[..n]) {
                    Ok(()) => {}
                    Err(DecodeError::Output(e)) => return Err(e),
                    Err(DecodeError::Damaged(x)) => {
                        damage = Some(x);
                        break 'pieces;
                    }
                }
            }
        }
        if missing {
            continue;
        }
        let result = match damage {
            Some(x) => Err(DecodeError::Damaged(x)),
            None => d.finish(),
        };
        match result {
            Ok(out) => sink.keep(id, out)?,
            Err(DecodeError::Output(e)) => return Err(e),
            Err(DecodeError::Damaged(x)) => findings.push(Finding::new(
                pieces,
                None,
                None,
                ProblemKind::DamagedObject,
                format!(
                    "object {} (split across volumes {}) is damaged: {x}",
                    id.short(),
                    volumes_of(manifest, id)
                ),
            )),
        }
    }
    Ok(())
}

fn volumes_of(m: &Manifest, id: &ObjectId) -> String {
    let mut v: Vec<u32> = m.objects[id]
        .pieces
        .iter()
        .map(|p| m.packs[&p.pack].volume)
        .collect();
    v.dedup();
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
