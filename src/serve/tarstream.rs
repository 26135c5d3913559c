//! A volume directory as one tar stream, written as it is sent: no temporary copy, memory
//! bounded by a few buffers. Its length is known in advance (ustar: a 512-byte header per
//! entry, data padded to 512 bytes, two zero blocks at the end), so clients see progress.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::format::constants::{PACK_EXTENSION, PACKS_DIR};

/// Bytes buffered before a chunk is sent.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight.
const DEPTH: usize = 4;

/// The files of a volume directory, in the order a volume lists them: the signature, the
/// small files, then the packs by name. Regular files only; links are refused.
pub fn volume_files(dir: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let regular = |p: &Path| -> std::io::Result<Option<u64>> {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Err(std::io::Error::other(format!(
                "{} is not a regular file",
                p.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    for name in ["SHA256.sig", "volume.toml", "manifest.toml", "README.txt"] {
        if let Some(n) = regular(&dir.join(name))? {
            out.push((name.to_string(), n));
        }
    }
    let mut packs: Vec<String> = match std::fs::read_dir(dir.join(PACKS_DIR)) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(&format!(".{PACK_EXTENSION}")))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    packs.sort();
    for p in packs {
        let rel = format!("{PACKS_DIR}/{p}");
        if let Some(n) = regular(&dir.join(&rel))? {
            out.push((rel, n));
        }
    }
    Ok(out)
}

/// The size of the tar of `files` under directory `prefix` (with entries for the directory
/// and its `packs/`).
pub fn tar_size(files: &[(String, u64)]) -> u64 {
    let dirs = 2;
    let data: u64 = files.iter().map(|(_, n)| 512 + n.div_ceil(512) * 512).sum();
    dirs * 512 + data + 1024
}

/// Sends what is written as chunks on a channel.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

fn write_tar(
    dir: &Path,
    prefix: &str,
    files: &[(String, u64)],
    w: ChannelWriter,
) -> std::io::Result<()> {
    let mut b = tar::Builder::new(w);
    let mtime = std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for d in [format!("{prefix}/"), format!("{prefix}/{PACKS_DIR}/")] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_path(&d)?;
        h.set_size(0);
        h.set_mode(0o755);
        h.set_mtime(mtime);
        h.set_cksum();
        b.append(&h, std::io::empty())?;
    }
    for (rel, size) in files {
        let f = std::fs::File::open(dir.join(rel))?;
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_path(format!("{prefix}/{rel}"))?;
        h.set_size(*size);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_cksum();
        // Exactly the declared size, even if the file changed meanwhile.
        use std::io::Read as _;
        let mut r = f.take(*size);
        b.append(&h, &mut r)?;
    }
    let mut w = b.into_inner()?;
    w.flush()
}

/// The tar of volume directory `dir`, its entries under `prefix/`, as a body stream.
pub fn stream(
    dir: PathBuf,
    prefix: String,
    files: Vec<(String, u64)>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(DEPTH);
    tokio::task::spawn_blocking(move || {
        let w = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = write_tar(&dir, &prefix, &files, w) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_known_before_the_stream() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("packs")).unwrap();
        std::fs::write(d.path().join("SHA256.sig"), b"sig\n").unwrap();
        std::fs::write(d.path().join("packs/0001.ferrypack"), vec![7u8; 1000]).unwrap();
        let files = volume_files(d.path()).unwrap();
        assert_eq!(files.len(), 2);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let bytes: Vec<u8> = rt.block_on(async {
            use futures_util::StreamExt as _;
            let s = stream(d.path().to_path_buf(), "vol-01".into(), files.clone());
            let chunks: Vec<_> = s.collect().await;
            chunks
                .into_iter()
                .flat_map(|c| c.unwrap().to_vec())
                .collect()
        });
        assert_eq!(bytes.len() as u64, tar_size(&files));
        let mut a = tar::Archive::new(&bytes[..]);
        let names: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "vol-01/",
                "vol-01/packs/",
                "vol-01/SHA256.sig",
                "vol-01/packs/0001.ferrypack"
            ]
        );
    }
}
