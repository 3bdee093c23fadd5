//! `osiris logs bundle`: a run directory as one ZIP file to attach to a ticket or hand to
//! someone else. The exchange database stays out unless asked for (`with_data`): it holds the
//! rows, the rest holds the account of the run.
//!
//! The archive is written by a small stored-entry (uncompressed) ZIP writer: files are streamed
//! through in 64 KiB pieces with a data descriptor after each, so memory does not grow with the
//! run, and every unzip tool reads it. Entries above 4 GiB would need ZIP64 and are refused.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// CRC-32 (IEEE), as ZIP requires.
struct Crc32 {
    table: [u32; 256],
    value: u32,
}

impl Crc32 {
    fn new() -> Self {
        let mut table = [0u32; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        Self { table, value: 0xFFFF_FFFF }
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.value = self.table[((self.value ^ b as u32) & 0xFF) as usize] ^ (self.value >> 8);
        }
    }

    fn finish(&self) -> u32 {
        self.value ^ 0xFFFF_FFFF
    }
}

struct Entry {
    name: String,
    crc: u32,
    size: u32,
    offset: u32,
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading the run or writing the archive failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file needs ZIP64.
    #[error("{0} is larger than 4 GiB, which this bundle format does not hold")]
    TooLarge(PathBuf),
}

/// Files of `run_dir` to bundle, relative, sorted (the exchange file and its WAL only with
/// `with_data`; temporary files never).
pub fn files_of(run_dir: &Path, with_data: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![run_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let rel = path.strip_prefix(run_dir).unwrap_or(&path).to_path_buf();
                let name = rel.to_string_lossy();
                let is_data = name.starts_with(crate::exchange::FILE_NAME);
                if (with_data || !is_data) && !name.starts_with("tmp/") {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    out
}

/// Write `run_dir`'s files into the ZIP `out` (through a temp file and rename), entries under
/// `<run_id>/`. Returns the number of files.
pub fn bundle(run_dir: &Path, out: &Path, with_data: bool) -> Result<usize, BundleError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BundleError::Io { path, source }
    };
    let prefix = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    let tmp = out.with_extension("zip.tmp");
    let mut zip = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
    let mut entries = Vec::new();
    let files = files_of(run_dir, with_data);
    for rel in &files {
        let path = run_dir.join(rel);
        let name = format!("{prefix}/{}", rel.to_string_lossy());
        let offset = zip.stream_position().map_err(io(&tmp))?;
        let offset = u32::try_from(offset).map_err(|_| BundleError::TooLarge(out.to_path_buf()))?;
        // Local header: version 20, flag 0x08 (sizes in the data descriptor), method 0 (stored).
        let mut header = Vec::with_capacity(30 + name.len());
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&[20, 0, 8, 0, 0, 0, 0, 0, 0x21, 0]);
        header.extend_from_slice(&[0; 12]);
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        zip.write_all(&header).map_err(io(&tmp))?;
        let mut file = std::fs::File::open(&path).map_err(io(&path))?;
        let mut crc = Crc32::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(io(&path))?;
            if n == 0 {
                break;
            }
            crc.update(&buf[..n]);
            zip.write_all(&buf[..n]).map_err(io(&tmp))?;
            size += n as u64;
        }
        let size = u32::try_from(size).map_err(|_| BundleError::TooLarge(path.clone()))?;
        let crc = crc.finish();
        let mut descriptor = Vec::with_capacity(16);
        descriptor.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        descriptor.extend_from_slice(&crc.to_le_bytes());
        descriptor.extend_from_slice(&size.to_le_bytes());
        descriptor.extend_from_slice(&size.to_le_bytes());
        zip.write_all(&descriptor).map_err(io(&tmp))?;
        entries.push(Entry { name, crc, size, offset });
    }
    let central_start = zip.stream_position().map_err(io(&tmp))?;
    for e in &entries {
        let mut c = Vec::with_capacity(46 + e.name.len());
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&[20, 3, 20, 0, 8, 0, 0, 0, 0, 0, 0x21, 0]);
        c.extend_from_slice(&e.crc.to_le_bytes());
        c.extend_from_slice(&e.size.to_le_bytes());
        c.extend_from_slice(&e.size.to_le_bytes());
        c.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        // External attributes: a regular file, mode 0644, in the upper 16 bits (Unix "made by").
        c.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        c.extend_from_slice(&e.offset.to_le_bytes());
        c.extend_from_slice(e.name.as_bytes());
        zip.write_all(&c).map_err(io(&tmp))?;
    }
    let central_end = zip.stream_position().map_err(io(&tmp))?;
    let too_large = || BundleError::TooLarge(out.to_path_buf());
    let mut end = Vec::with_capacity(22);
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&[0, 0, 0, 0]);
    let count = u16::try_from(entries.len()).map_err(|_| too_large())?;
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&u32::try_from(central_end - central_start).map_err(|_| too_large())?.to_le_bytes());
    end.extend_from_slice(&u32::try_from(central_start).map_err(|_| too_large())?.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    zip.write_all(&end).map_err(io(&tmp))?;
    let file = zip.into_inner().map_err(|e| BundleError::Io { path: tmp.clone(), source: e.into_error() })?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, out).map_err(io(out))?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::Crc32;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }
}
