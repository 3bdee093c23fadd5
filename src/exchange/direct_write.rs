//! Writing a large file that is read back much later (or not at all) without passing through the
//! page cache: `O_DIRECT` from an aligned buffer.
//!
//! Staged extraction text is written once and read once by DuckDB, often after a while. Through
//! the page cache every byte costs a kernel copy into freshly allocated pages: on this project's
//! VMs (ext4 on virtio) buffered writes of 159 MB took 0.37 s of system CPU, the same bytes with
//! `O_DIRECT` 0.01 s of CPU and 0.08 s of wall time (`dd`, BENCHMARKS.md). The MariaDB → CSV
//! extract is CPU-bound on two cores, so that CPU is wall time.
//!
//! `O_DIRECT` needs the buffer address, file offset and length aligned to the device's block
//! size; 4096 covers every common device. The unaligned tail is written with `O_DIRECT` cleared.
//! Where the file system refuses `O_DIRECT` (tmpfs, some overlays), the writer falls back to
//! ordinary buffered writes, so it works everywhere and is only faster where it can be.

use std::alloc::{alloc, dealloc, Layout};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Alignment of buffer, offsets and lengths.
const ALIGN: usize = 4096;
/// Bytes gathered before one direct write.
const BUFFER: usize = 4 << 20;

/// An aligned heap buffer of [`BUFFER`] bytes.
struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is exclusively owned; the raw pointer is never shared.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn new() -> Self {
        let layout = Layout::from_size_align(BUFFER, ALIGN).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Self { ptr, len: 0 }
    }

    fn filled(&self) -> &[u8] {
        // SAFETY: `len` bytes from `ptr` were written by `push` and lie inside the allocation.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Copy as much of `data` as fits; returns the bytes taken.
    fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(BUFFER - self.len);
        // SAFETY: the destination range lies inside the allocation and cannot overlap `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(self.len), n) };
        self.len += n;
        n
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, Layout::from_size_align(BUFFER, ALIGN).expect("valid layout")) };
    }
}

/// A file written with `O_DIRECT` where the file system allows it. Call [`DirectWriter::finish`]
/// to write the tail; dropping without it loses the buffered bytes.
pub struct DirectWriter {
    file: File,
    buf: AlignedBuf,
    direct: bool,
}

impl DirectWriter {
    /// Create (truncate) `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let (file, direct) =
            match OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_DIRECT).open(path) {
                Ok(f) => (f, true),
                Err(_) => (File::create(path)?, false),
            };
        Ok(Self { file, buf: AlignedBuf::new(), direct })
    }

    /// Append `data`.
    pub fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let taken = self.buf.push(data);
            data = &data[taken..];
            if self.buf.len == BUFFER {
                self.write_buffer(BUFFER)?;
            }
        }
        Ok(())
    }

    /// Write what is buffered and close the file.
    pub fn finish(mut self) -> std::io::Result<()> {
        let aligned = self.buf.len / ALIGN * ALIGN;
        if aligned > 0 {
            self.write_buffer(aligned)?;
        }
        if self.buf.len > 0 {
            self.buffered();
            self.file.write_all(self.buf.filled())?;
        }
        Ok(())
    }

    /// Write the first `n` buffered bytes (a multiple of [`ALIGN`]) and keep the rest.
    fn write_buffer(&mut self, n: usize) -> std::io::Result<()> {
        let result = self.file.write_all(&self.buf.filled()[..n]);
        if let Err(e) = result {
            // A file system may accept O_DIRECT at open and refuse the write; write buffered.
            if !(self.direct && e.raw_os_error() == Some(libc::EINVAL)) {
                return Err(e);
            }
            self.buffered();
            self.file.write_all(&self.buf.filled()[..n])?;
        }
        let rest = self.buf.len - n;
        // SAFETY: both ranges lie inside the allocation; `copy` allows overlap.
        unsafe { std::ptr::copy(self.buf.ptr.add(n), self.buf.ptr, rest) };
        self.buf.len = rest;
        Ok(())
    }

    /// Clear `O_DIRECT` so later writes need no alignment.
    fn buffered(&mut self) {
        if self.direct {
            let fd = self.file.as_raw_fd();
            // SAFETY: `fd` is a valid descriptor owned by `self.file`; this only changes its flags.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT);
            }
            self.direct = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_arrives_in_order_whatever_the_piece_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged.csv");
        let data: Vec<u8> = (0..(BUFFER * 2 + 12345)).map(|i| (i % 251) as u8).collect();
        let mut w = DirectWriter::create(&path).unwrap();
        let mut at = 0;
        for piece in [1, 4095, 4097, BUFFER, 77, BUFFER / 3].iter().cycle() {
            if at >= data.len() {
                break;
            }
            let end = (at + piece).min(data.len());
            w.write_all(&data[at..end]).unwrap();
            at = end;
        }
        w.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);

        let empty = dir.path().join("empty.csv");
        DirectWriter::create(&empty).unwrap().finish().unwrap();
        assert_eq!(std::fs::read(&empty).unwrap(), b"");
    }
}
