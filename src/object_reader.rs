//! Reading one object out of packs: seek to each piece, check the tar header before it,
//! decode, cap the output at the declared size, and check the SHA-256.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek as _, SeekFrom, Write};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::format::constants::TAR_BLOCK;
use crate::format::manifest::{Encoding, Object, Piece};
use crate::format::tar_entry::{self, EntryError};
use crate::format::{ObjectId, Sha256Digest};

/// Why an object could not be read intact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// A pack it needs is not available.
    #[error("pack {0} is not available")]
    MissingPack(String),
    /// Reading a pack failed.
    #[error("reading pack {pack}: {source}")]
    Io {
        /// The pack.
        pack: String,
        /// The error.
        source: std::io::Error,
    },
    /// The tar header before a piece is wrong.
    #[error("pack {pack} at offset {offset}: {source}")]
    Header {
        /// The pack.
        pack: String,
        /// Data offset of the piece.
        offset: u64,
        /// What is wrong.
        source: EntryError,
    },
    /// The stored bytes do not decode.
    #[error("the stored bytes do not decode: {0}")]
    Decode(std::io::Error),
    /// Decoded size differs from the manifest.
    #[error("decodes to {found} bytes, the manifest says {expected}")]
    Size {
        /// Bytes produced (capped at expected + 1).
        found: u64,
        /// From the manifest.
        expected: u64,
    },
    /// Content hash differs.
    #[error("content hash is {found}, not {expected}")]
    Hash {
        /// Computed.
        found: Sha256Digest,
        /// Its id.
        expected: ObjectId,
    },
    /// Writing the output failed.
    #[error("writing: {0}")]
    Write(std::io::Error),
}

/// Reads the stored bytes of an object's pieces in order, as one stream.
struct Pieces<'a> {
    pieces: &'a [Piece],
    packs: &'a HashMap<String, PathBuf>,
    current: Option<std::io::Take<File>>,
    next: usize,
    error: Option<ObjectError>,
}

impl Pieces<'_> {
    fn open_next(&mut self) -> Result<bool, ObjectError> {
        let Some(piece) = self.pieces.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        let path = self
            .packs
            .get(&piece.pack)
            .ok_or_else(|| ObjectError::MissingPack(piece.pack.clone()))?;
        let io = |source| ObjectError::Io {
            pack: piece.pack.clone(),
            source,
        };
        let mut f = File::open(path).map_err(io)?;
        f.seek(SeekFrom::Start(piece.offset - TAR_BLOCK))
            .map_err(io)?;
        let mut header = [0u8; 512];
        f.read_exact(&mut header).map_err(io)?;
        tar_entry::check_header(&header, piece.length).map_err(|source| ObjectError::Header {
            pack: piece.pack.clone(),
            offset: piece.offset,
            source,
        })?;
        self.current = Some(f.take(piece.length));
        Ok(true)
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(r) = &mut self.current {
                let n = r.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                if r.limit() > 0 {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "pack ends inside a piece",
                    );
                    return Err(e);
                }
                self.current = None;
            }
            match self.open_next() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(e) => {
                    let msg = e.to_string();
                    self.error = Some(e);
                    return Err(std::io::Error::other(msg));
                }
            }
        }
    }
}

/// Decode object `id` from the packs at `packs` (pack name → path), writing it to `out`
/// only as it is read; the caller must discard the output if this returns an error.
pub fn read_object(
    id: &ObjectId,
    object: &Object,
    packs: &HashMap<String, PathBuf>,
    out: &mut dyn Write,
) -> Result<(), ObjectError> {
    let mut pieces = Pieces {
        pieces: &object.pieces,
        packs,
        current: None,
        next: 0,
        error: None,
    };
    let result = match object.encoding {
        Encoding::Raw => copy_checked(&mut pieces, object.size, out),
        Encoding::Zstd => match zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
            1 << 16,
            &mut pieces,
        )) {
            Ok(mut d) => copy_checked(&mut d, object.size, out),
            Err(e) => Err(ObjectError::Decode(e)),
        },
    };
    let found = match result {
        Ok(h) => h,
        Err(e) => return Err(pieces.error.take().unwrap_or(e)),
    };
    if &found != id {
        return Err(ObjectError::Hash {
            found,
            expected: *id,
        });
    }
    Ok(())
}

fn copy_checked(
    r: &mut dyn Read,
    size: u64,
    out: &mut dyn Write,
) -> Result<Sha256Digest, ObjectError> {
    let mut limited = r.take(size + 1);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ObjectError::Decode(e)),
        };
        total += n as u64;
        if total > size {
            return Err(ObjectError::Size {
                found: total,
                expected: size,
            });
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(ObjectError::Write)?;
    }
    if total != size {
        return Err(ObjectError::Size {
            found: total,
            expected: size,
        });
    }
    Ok(Sha256Digest::from_hasher(hasher))
}
