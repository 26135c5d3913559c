//! A pack read on a thread of its own: while the pass decodes and checks the objects of
//! one chunk, the next chunks are read from the medium and added to the pack's SHA-256.
//! Every byte is still read once and hashed once for the pack; only the work is spread
//! over two cores (issue 12: `verify --deep` and `import` hash every byte twice, once for
//! the pack and once for its object).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use sha2::{Digest as _, Sha256};

use crate::format::Sha256Digest;

/// Bytes per chunk handed from the reading thread.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead at most: memory stays at `(AHEAD + 2) * CHUNK` whatever the pack.
const AHEAD: usize = 4;

/// The consuming side: bytes in pack order, with the position reached.
pub struct PackReader {
    rx: Receiver<std::io::Result<Vec<u8>>>,
    free: Sender<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
    /// Bytes consumed so far.
    pub pos: u64,
}

impl PackReader {
    /// Fill `buf` with the next bytes of the pack; `UnexpectedEof` if it ends first, or the
    /// error reading it gave.
    pub fn read_exact(&mut self, mut buf: &mut [u8]) -> std::io::Result<()> {
        while !buf.is_empty() {
            if self.at == self.cur.len() {
                let next = match self.rx.recv() {
                    Ok(chunk) => chunk?,
                    Err(_) => return Err(ErrorKind::UnexpectedEof.into()),
                };
                let used = std::mem::replace(&mut self.cur, next);
                let _ = self.free.send(used);
                self.at = 0;
            }
            let n = buf.len().min(self.cur.len() - self.at);
            buf[..n].copy_from_slice(&self.cur[self.at..self.at + n]);
            self.at += n;
            self.pos += n as u64;
            buf = &mut buf[n..];
        }
        Ok(())
    }
}

/// Read the `size` bytes of `file` on another thread while `consume` takes them; returns
/// what `consume` returned and the SHA-256 of the whole pack, if all of it could be read
/// (and `consume` did not stop before the end).
pub fn read_pack<T>(
    file: File,
    size: u64,
    consume: impl FnOnce(&mut PackReader) -> T,
) -> (T, Option<Sha256Digest>) {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel(AHEAD);
        let (free, recycled) = channel();
        let reader = s.spawn(move || read_ahead(file, size, &tx, &recycled));
        let mut r = PackReader {
            rx,
            free,
            cur: Vec::new(),
            at: 0,
            pos: 0,
        };
        let out = consume(&mut r);
        // The reader stops at its next send once nobody takes its chunks.
        drop(r);
        let digest = reader.join().unwrap_or(None);
        (out, digest)
    })
}

fn read_ahead(
    mut file: File,
    size: u64,
    tx: &SyncSender<std::io::Result<Vec<u8>>>,
    recycled: &Receiver<Vec<u8>>,
) -> Option<Sha256Digest> {
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let mut chunk = recycled.try_recv().unwrap_or_default();
        chunk.resize(left.min(CHUNK as u64) as usize, 0);
        if let Err(e) = fill(&mut file, &mut chunk) {
            let _ = tx.send(Err(e));
            return None;
        }
        hasher.update(&chunk);
        left -= chunk.len() as u64;
        if tx.send(Ok(chunk)).is_err() {
            return None;
        }
    }
    Some(Sha256Digest::from_hasher(hasher))
}

/// `read_exact`, retrying interrupted reads.
fn fill(file: &mut File, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match file.read(buf) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> (tempfile::TempDir, File) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p");
        std::fs::write(&p, bytes).unwrap();
        let f = File::open(&p).unwrap();
        (d, f)
    }

    #[test]
    fn bytes_arrive_in_order_and_the_hash_is_the_whole_packs() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let (_d, f) = file(&data);
        let (got, digest) = read_pack(f, data.len() as u64, |r| {
            let mut got = Vec::new();
            // Odd sizes, across chunk boundaries.
            for n in [1usize, 511, 4096, CHUNK + 3, 999_999].iter().cycle() {
                let n = (*n).min(data.len() - got.len());
                if n == 0 {
                    break;
                }
                let mut b = vec![0u8; n];
                r.read_exact(&mut b).unwrap();
                got.extend_from_slice(&b);
            }
            assert_eq!(r.pos, data.len() as u64);
            got
        });
        assert_eq!(got, data);
        assert_eq!(digest, Some(Sha256Digest(Sha256::digest(&data).into())));
    }

    #[test]
    fn a_short_file_ends_with_unexpected_eof_and_no_hash() {
        let (_d, f) = file(&[1u8; 1000]);
        let (err, digest) = read_pack(f, 5000, |r| {
            let mut b = vec![0u8; 5000];
            r.read_exact(&mut b).unwrap_err()
        });
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(digest, None);
    }

    #[test]
    fn stopping_early_ends_the_reader() {
        let data = vec![9u8; 8 * CHUNK];
        let (_d, f) = file(&data);
        let ((), digest) = read_pack(f, data.len() as u64, |r| {
            let mut b = [0u8; 10];
            r.read_exact(&mut b).unwrap();
        });
        assert_eq!(digest, None, "the whole pack was not consumed");
    }
}
