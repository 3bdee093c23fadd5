//! Keep the C heap from holding on to memory the process no longer uses.
//!
//! glibc serves allocations of at least `M_MMAP_THRESHOLD` (128 KiB) with their own mappings,
//! returned to the system on free — but each time such a block is freed it raises the threshold
//! to that block's size (up to 32 MiB). After the first large buffer is freed (a CSV reader
//! buffer, a 16 MiB extraction chunk, an Arrow batch), later buffers of that size come from the
//! heap, where freed memory stays resident and fragments, so peak RSS grew with the rows a run
//! moved. A fixed threshold of 1 MiB stops the drift: DuckDB's 256 KiB blocks keep coming from
//! the heap (reused, no page faults), anything bigger is mapped and unmapped.
//!
//! Measured with `bench/run.py` workloads, median of 3 (BENCHMARKS.md): CSV → PostgreSQL peak
//! RSS 157 → 124 MiB at 1M rows and 190 → 126 MiB at 5M, MariaDB extract 287 → 226 MiB at 1M,
//! wall times unchanged within noise — except reading large CSV files in the fastest workloads:
//! DuckDB's 32 MB CSV buffers are now fresh mappings whose pages fault in on every `read` (5M-row
//! group-by 1.12 → ~1.4 s). Alternatives measured and rejected: thresholds of 4–16 MiB cost the
//! same, 32 MiB brings the growth back (those buffers are what fragments the heap), and a
//! `malloc_trim` every 100–250 ms keeps the speed but not the memory (group-by 5M 171 MiB,
//! CSV → PostgreSQL 1.25× from 1M to 5M).

/// Fix glibc's mmap threshold at 1 MiB for this process (no-op on other C libraries).
pub fn bound_heap_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once, at start-up, before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
