//! Decoding one object: its stored bytes, piece after piece, go through the decoder its
//! encoding names; the output is capped at the declared size, hashed, and passed on. The
//! one path from stored bytes to content, for verify and import alike (`spec/FORMAT.md`
//! §5.7): from packs as they are read, or from pieces staged between runs.

use std::io::Write;

use sha2::{Digest as _, Sha256};
use zstd::zstd_safe::{self, DCtx, DParameter, InBuffer, OutBuffer};

use crate::format::constants::{ZSTD_MAGIC, ZSTD_WINDOW_LOG_MAX};
use crate::format::manifest::{Encoding, Object};
use crate::format::{ObjectId, Sha256Digest};

/// Why stored bytes do not decode to their object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// The stored bytes do not begin a zstd frame (a skippable frame is not one).
    #[error("the stored bytes are not a zstd frame")]
    NotAFrame,
    /// zstd refused the frame (corrupt data, a window over 8 MiB, a content size that
    /// differs from what is decoded, ...).
    #[error("the zstd frame does not decode: {0}")]
    Zstd(&'static str),
    /// Bytes follow the end of the frame.
    #[error("bytes follow the end of the zstd frame")]
    Trailing,
    /// The frame ends early.
    #[error("the zstd frame is incomplete")]
    Incomplete,
    /// More output than declared.
    #[error("decodes to more than the {size} bytes the manifest declares")]
    TooLong {
        /// Declared size.
        size: u64,
    },
    /// Less output than declared.
    #[error("decodes to {found} bytes, the manifest declares {size}")]
    TooShort {
        /// Produced.
        found: u64,
        /// Declared.
        size: u64,
    },
    /// Output of the right size but the wrong content.
    #[error("its content hashes to {found}, not to its id")]
    Hash {
        /// What it hashes to.
        found: Sha256Digest,
    },
}

/// A failure while decoding: the stored bytes are damaged, or writing the output failed
/// (the output is the caller's: a store, a disk that may be full).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The object's stored bytes are bad.
    #[error(transparent)]
    Damaged(#[from] Damage),
    /// Writing the decoded bytes failed.
    #[error("writing the decoded object: {0}")]
    Output(#[source] std::io::Error),
}

/// Output buffer of the zstd decoder.
const OUT_CHUNK: usize = 128 * 1024;

struct Zstd {
    ctx: DCtx<'static>,
    /// The first four stored bytes, until they are all seen.
    head: Vec<u8>,
    done: bool,
    buf: Box<[u8]>,
}

/// Decodes one object's stored bytes into `out`, checking size and hash.
pub struct Decoder<W> {
    id: ObjectId,
    size: u64,
    written: u64,
    hasher: Sha256,
    out: W,
    zstd: Option<Box<Zstd>>,
}

impl<W: Write> Decoder<W> {
    /// A decoder for object `id` as the manifest describes it.
    pub fn new(id: ObjectId, object: &Object, out: W) -> Self {
        let zstd = (object.encoding == Encoding::Zstd).then(|| {
            let mut ctx = DCtx::create();
            ctx.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
                .expect("zstd accepts a window limit of 2^23");
            Box::new(Zstd {
                ctx,
                head: Vec::with_capacity(4),
                done: false,
                buf: vec![0u8; OUT_CHUNK].into_boxed_slice(),
            })
        });
        Self {
            id,
            size: object.size,
            written: 0,
            hasher: Sha256::new(),
            out,
            zstd,
        }
    }

    fn emit(&mut self, data: &[u8]) -> Result<(), DecodeError> {
        if data.len() as u64 > self.size - self.written {
            return Err(Damage::TooLong { size: self.size }.into());
        }
        self.hasher.update(data);
        self.written += data.len() as u64;
        self.out.write_all(data).map_err(DecodeError::Output)
    }

    /// The next stored bytes.
    pub fn feed(&mut self, stored: &[u8]) -> Result<(), DecodeError> {
        let Some(mut z) = self.zstd.take() else {
            return self.emit(stored);
        };
        let r = self.feed_zstd(&mut z, stored);
        self.zstd = Some(z);
        r
    }

    fn feed_zstd(&mut self, z: &mut Zstd, stored: &[u8]) -> Result<(), DecodeError> {
        if stored.is_empty() {
            return Ok(());
        }
        if z.done {
            return Err(Damage::Trailing.into());
        }
        if z.head.len() < 4 {
            let n = (4 - z.head.len()).min(stored.len());
            z.head.extend_from_slice(&stored[..n]);
            if z.head[..] != ZSTD_MAGIC[..z.head.len()] {
                return Err(Damage::NotAFrame.into());
            }
        }
        let mut input = InBuffer::around(stored);
        loop {
            let mut output = OutBuffer::around(&mut z.buf[..]);
            let hint = z
                .ctx
                .decompress_stream(&mut output, &mut input)
                .map_err(|code| Damage::Zstd(zstd_safe::get_error_name(code)))?;
            let produced = output.pos();
            let full = produced == z.buf.len();
            // `emit` borrows self mutably; the buffer is z's.
            let chunk = &z.buf[..produced];
            if chunk.len() as u64 > self.size - self.written {
                return Err(Damage::TooLong { size: self.size }.into());
            }
            self.hasher.update(chunk);
            self.written += chunk.len() as u64;
            self.out.write_all(chunk).map_err(DecodeError::Output)?;
            if hint == 0 {
                z.done = true;
                if input.pos < stored.len() {
                    return Err(Damage::Trailing.into());
                }
                return Ok(());
            }
            if input.pos == stored.len() && !full {
                return Ok(());
            }
        }
    }

    /// All stored bytes are in: check that the frame ended, the size and the hash, and
    /// hand back the output.
    pub fn finish(self) -> Result<W, DecodeError> {
        if let Some(z) = &self.zstd
            && !z.done
        {
            return Err(Damage::Incomplete.into());
        }
        if self.written != self.size {
            return Err(Damage::TooShort {
                found: self.written,
                size: self.size,
            }
            .into());
        }
        let found = Sha256Digest::from_hasher(self.hasher);
        if found != self.id {
            return Err(Damage::Hash { found }.into());
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::Piece;

    fn object(size: u64, encoding: Encoding) -> Object {
        Object {
            size,
            encoding,
            pieces: vec![Piece {
                pack: "0001".into(),
                offset: 512,
                length: 1,
            }],
        }
    }

    fn decode(
        data: &[u8],
        stored: &[&[u8]],
        size: u64,
        enc: Encoding,
    ) -> Result<Vec<u8>, DecodeError> {
        let mut d = Decoder::new(Sha256Digest::of(data), &object(size, enc), Vec::new());
        for s in stored {
            d.feed(s)?;
        }
        d.finish()
    }

    fn damage(r: Result<Vec<u8>, DecodeError>) -> Damage {
        match r {
            Err(DecodeError::Damaged(d)) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn raw_and_zstd_decode_in_any_piece_split() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            decode(
                &data,
                &[&data[..7], &data[7..]],
                data.len() as u64,
                Encoding::Raw
            )
            .unwrap(),
            data
        );
        let z = zstd::bulk::compress(&data, 3).unwrap();
        for cut in [1, 3, 4, 5, z.len() / 2, z.len() - 1] {
            let out = decode(
                &data,
                &[&z[..cut], &z[cut..]],
                data.len() as u64,
                Encoding::Zstd,
            )
            .unwrap();
            assert_eq!(out, data, "cut at {cut}");
        }
    }

    #[test]
    fn every_kind_of_damage_is_named() {
        let data = b"hello, world: some object content".repeat(100);
        let n = data.len() as u64;
        let z = zstd::bulk::compress(&data, 3).unwrap();
        assert_eq!(
            damage(decode(&data, &[&data], n - 1, Encoding::Raw)),
            Damage::TooLong { size: n - 1 }
        );
        assert_eq!(
            damage(decode(&data, &[&data[1..]], n, Encoding::Raw)),
            Damage::TooShort {
                found: n - 1,
                size: n
            }
        );
        let mut other = data.clone();
        other[0] ^= 1;
        assert!(matches!(
            damage(decode(&data, &[&other], n, Encoding::Raw)),
            Damage::Hash { .. }
        ));
        assert_eq!(
            damage(decode(&data, &[&z[..z.len() - 1]], n, Encoding::Zstd)),
            Damage::Incomplete
        );
        let mut trailing = z.clone();
        trailing.extend_from_slice(&zstd::bulk::compress(b"", 3).unwrap());
        assert_eq!(
            damage(decode(&data, &[&trailing], n, Encoding::Zstd)),
            Damage::Trailing
        );
        assert_eq!(
            damage(decode(&data, &[&z, b"x"], n, Encoding::Zstd)),
            Damage::Trailing
        );
        // A skippable frame first is not allowed.
        let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0];
        skippable.extend_from_slice(&z);
        assert_eq!(
            damage(decode(&data, &[&skippable], n, Encoding::Zstd)),
            Damage::NotAFrame
        );
        let mut corrupt = z.clone();
        let last = corrupt.len() - 3;
        corrupt[last] ^= 0xff;
        assert!(matches!(
            damage(decode(&data, &[&corrupt], n, Encoding::Zstd)),
            Damage::Zstd(_) | Damage::Hash { .. }
        ));
        // A bomb: far more output than declared stops at the declared size.
        let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 3).unwrap();
        assert_eq!(
            damage(decode(&data, &[&bomb], n, Encoding::Zstd)),
            Damage::TooLong { size: n }
        );
    }

    #[test]
    fn windows_over_8_mib_are_refused() {
        let data: Vec<u8> = (0..(20u32 << 20))
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut c = zstd::bulk::Compressor::new(1).unwrap();
        c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(25))
            .unwrap();
        c.include_contentsize(false).unwrap();
        let z = c.compress(&data).unwrap();
        assert!(matches!(
            damage(decode(&data, &[&z], data.len() as u64, Encoding::Zstd)),
            Damage::Zstd(_)
        ));
    }
}
